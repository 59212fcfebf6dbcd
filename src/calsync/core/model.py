"""The domain model shared by every step of the pipeline.

Plain frozen dataclasses: no I/O, no iCalendar objects. Times are either timezone-aware
``datetime`` (timed items) or ``date`` (all-day items, ``end`` exclusive as in iCalendar).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import cached_property

When = datetime | date

LONG_RACE_KM = 21.0
"""R17: a race this long or longer (a half marathon) counts as a long run."""

# Made once: building a timedelta costs ten times more than adding one, and the planner adds
# them in its inner loops.
ONE_DAY = timedelta(days=1)
JUST_BEFORE = timedelta(microseconds=1)
"""From an exclusive end to the last moment it covers."""
WEEKDAY_OFFSETS = tuple(timedelta(days=i) for i in range(7))
"""From a Monday to each day of its week (and from a day back to its Monday)."""


class RunKind(StrEnum):
    """What kind of run a source event is."""

    LONG = "long"
    QUALITY = "quality"
    EASY = "easy"
    RACE = "race"


class SessionKind(StrEnum):
    """What kind of session calsync generates."""

    HEAVY_LOWER = "heavy_lower"
    LIGHT_LOWER = "light_lower"
    UPPER = "upper"
    CORE = "core"
    BODYWEIGHT = "bodyweight"
    REST = "rest"

    @property
    def is_lower(self) -> bool:
        """Whether the session loads the lower body (R8-R12 apply)."""
        return self in _LOWER_KINDS

    @property
    def is_strength(self) -> bool:
        """Every kind but rest counts as strength (R2, R3, R6, R16)."""
        return self is not _REST


_LOWER_KINDS = frozenset({SessionKind.HEAVY_LOWER, SessionKind.LIGHT_LOWER})
_REST = SessionKind.REST


class Phase(StrEnum):
    """The training phase of a week (PRODUCT.md section 2)."""

    BASE = "base"
    BUILD = "build"
    PEAK = "peak"
    TAPER = "taper"
    RACE = "race"
    RECOVERY = "recovery"
    UNSTRUCTURED = "unstructured"


Version = tuple[str, str]
"""Where a calendar stores an event and its version there: ``(href, etag)``; ``("", "")`` when
the calendar has no such things (a file, Home Assistant)."""

NO_VERSION: Version = ("", "")


def instant(when: When, zone: tzinfo) -> datetime:
    """The one way a start or end becomes a comparable moment: an aware time stays as it is, a
    floating time is read in ``zone``, an all-day date is its midnight in ``zone``."""
    if isinstance(when, datetime):
        return when if when.tzinfo is not None else when.replace(tzinfo=zone)
    return datetime.combine(when, time(0), tzinfo=zone)


def first_day(start: When) -> date:
    """The calendar day an item starts on (in its own zone)."""
    return start.date() if isinstance(start, datetime) else start


def last_day(start: When, end: When) -> date:
    """The last calendar day an item occupies (all-day ``end`` is exclusive)."""
    last = (end - JUST_BEFORE).date() if isinstance(end, datetime) else end - ONE_DAY
    return max(first_day(start), last)


def days_of(start: When, end: When) -> list[date]:
    """Every calendar day an item occupies."""
    day, stop = first_day(start), last_day(start, end)
    out = []
    while day <= stop:
        out.append(day)
        day += ONE_DAY
    return out


@dataclass(frozen=True)
class SourceEvent:
    """One occurrence of an event read from a source calendar, times resolved.

    Timed events carry aware datetimes (floating times already placed in the plan's zone);
    all-day events carry dates.
    """

    uid: str
    """The event's UID (shared by every occurrence of a recurring event)."""
    summary: str
    start: When
    end: When
    recurrence_id: str | None = None
    """ISO form of the occurrence's original start, for recurring events."""
    description: str = ""
    categories: tuple[str, ...] = ()
    location: str = ""
    busy: bool = True
    """False for ``TRANSP:TRANSPARENT`` (free time); such events never block sessions."""
    source: str = ""
    """Name of the source this came from (for messages)."""

    @property
    def all_day(self) -> bool:
        """All-day events have dates, not times."""
        return not isinstance(self.start, datetime)

    @property
    def key(self) -> str:
        """Unique per occurrence."""
        return f"{self.uid}/{self.recurrence_id}" if self.recurrence_id else self.uid


def source_order(event: SourceEvent, zone: tzinfo) -> tuple[datetime, str, datetime, str, str]:
    """The order sources give their events in: start, key, then end and text as tie-breakers
    (deterministic whatever order the calendar listed them in)."""
    return (instant(event.start, zone), event.key, instant(event.end, zone), event.summary, event.description)


@dataclass(frozen=True)
class ReadResult:
    """What one read of a source produced."""

    events: list[SourceEvent]
    """Occurrences overlapping the window, sorted by start, then key."""
    problems: list[str] = field(default_factory=list)
    """One human line per skipped or repaired event (or unreadable part of the feed)."""


@dataclass(frozen=True)
class Run:
    """A source event classified as a run."""

    uid: str
    title: str
    kind: RunKind
    start: When
    end: When
    distance_km: float | None = None
    minutes: int | None = None
    """The duration the event's text states (``40 min``, ``1:30``, ``Planned Time:``), else None.

    A timed event's length is not a stated duration: a typed block ("Long run 18 mi" in a 3-hour
    slot) is a placeholder. :func:`calsync.volume.run_minutes` turns a run into planned minutes."""
    priority: str | None = None
    """``A``, ``B`` or ``C`` for races, else None."""
    recurrence_id: str | None = None
    unit: str = "km"
    """``km`` or ``mi``: the unit the event's text gives its distance in (for the words a runner reads)."""

    @property
    def all_day(self) -> bool:
        """All-day runs take the configured default run time for planning."""
        return not isinstance(self.start, datetime)

    @cached_property
    def first_day(self) -> date:
        """Day the run starts."""
        return first_day(self.start)

    @cached_property
    def last_day(self) -> date:
        """Last day the run occupies (multi-day races)."""
        return last_day(self.start, self.end)

    @property
    def is_long(self) -> bool:
        """Long runs get the long-run protections (R8-R12); so do races of half-marathon
        distance or longer (R17), and races of unknown distance (the safe side)."""
        if self.kind is RunKind.RACE:
            return self.distance_km is None or self.distance_km >= LONG_RACE_KM
        return self.kind is RunKind.LONG


@dataclass(frozen=True)
class Busy:
    """Time a session must not overlap: a timed non-run event, or a whole blocked day."""

    start: datetime
    end: datetime
    title: str = ""
    training: bool = False
    """Another sport or a workout (``Bike: 3:30``, a gym class): training, so never a rest day (R14)."""
    transparent: bool = False
    """``TRANSP:TRANSPARENT``: blocks no time (R19), still counts as training for R14 and is shown."""


@dataclass(frozen=True)
class Exercise:
    """One line of a session's content."""

    name: str
    prescription: str
    """Sets x reps or time, e.g. ``4 x 5`` or ``3 x 30 s``."""


@dataclass(frozen=True)
class Session:
    """A session calsync places: strength or rest."""

    uid: str
    kind: SessionKind
    title: str
    start: When
    end: When
    week: str
    """ISO week label, e.g. ``2026-W49``."""
    slot: str
    """Slot within the week (``s1``, ``s2``, ``rest``): with plan and week, it makes the UID."""
    muscle_groups: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    exercises: tuple[Exercise, ...] = ()
    load: str | None = None
    """``heavy`` / ``moderate`` / ``light`` for lower-body sessions (R5)."""
    fixed: bool = False
    """True when the session already exists and is kept as it is (past, or edited by a person)."""
    rules: tuple[str, ...] = ()
    """The rule ids behind the placement (``R8``, ``R5``...); ``reasons`` are the plain sentences."""
    effort: str = ""
    """How hard: an RPE or reps-in-reserve cue."""
    warmup: str = ""
    """The 5-minute warm-up line."""
    alternative: str = ""
    """What to do without a gym."""

    @property
    def all_day(self) -> bool:
        """Rest days are all-day."""
        return not isinstance(self.start, datetime)

    @cached_property
    def day(self) -> date:
        """Day the session is on."""
        return first_day(self.start)

    @property
    def minutes(self) -> int:
        """Length in minutes (0 for all-day)."""
        if isinstance(self.start, datetime) and isinstance(self.end, datetime):
            return int((self.end.astimezone(UTC) - self.start.astimezone(UTC)).total_seconds() // 60)
        return 0


class WarningCode(StrEnum):
    """What a :class:`PlanWarning` is about; the JSON output and scripts match on these names."""

    SKIPPED_EVENT = "SKIPPED_EVENT"
    """A source event could not be read; the rest of the feed was used."""
    NO_RUNS = "NO_RUNS"
    """The sources hold no run in the planning window."""
    PEAK_UNKNOWN = "PEAK_UNKNOWN"
    """Neither an A race nor ``peak_week_minutes``: the peak week is a guess (R4)."""
    A_RACE_NOT_FOUND = "A_RACE_NOT_FOUND"
    """The configured A race date has no race event in the sources."""
    PERSON_BREAKS_RULE = "PERSON_BREAKS_RULE"
    """A session a person moved or edited, kept as they left it, breaks a rule."""
    STRENGTH_NOT_PLACED = "STRENGTH_NOT_PLACED"
    """A session of the week found no day and time that keeps the hard rules."""
    LOW_STRENGTH = "LOW_STRENGTH"
    """Fewer sessions than R3's floor in a week that should have them."""
    NO_REST_DAY = "NO_REST_DAY"
    """No training-free day for R14's rest day."""
    STRENGTH_BELOW_TARGET = "STRENGTH_BELOW_TARGET"
    """R18: the rolling average of sessions is below its minimum."""
    STRENGTH_GAP = "STRENGTH_GAP"
    """R18: too many days between two strength sessions."""


@dataclass(frozen=True)
class PlanWarning:
    """Something the runner should know: a rule that could not be met, a skipped event."""

    code: WarningCode
    message: str
    week: str | None = None


@dataclass(frozen=True)
class WeekPlan:
    """One planned week (Monday to Sunday)."""

    week: str
    start: date
    phase: Phase
    run_minutes: int
    rest_day: date | None
    strength_minutes: int
    """Strength minutes planned for the week (the sessions placed and kept)."""
    peak_fraction: float
    """Run minutes as a fraction of the peak week (R4, R5)."""
    strength_target_minutes: int = 0
    """R4's target S_w for the week (0 in race and recovery weeks)."""
    cutback: bool = False
    """A planned down week inside base / build / peak (it keeps its block's phase and load)."""
    load: str | None = None
    """The week's lower-body load (R5, eased in): ``heavy`` / ``moderate`` / ``light``."""


@dataclass(frozen=True)
class PlanResult:
    """Everything the planner decided for one plan."""

    plan_id: str
    timezone: str
    runs: tuple[Run, ...]
    weeks: tuple[WeekPlan, ...]
    sessions: tuple[Session, ...]
    warnings: tuple[PlanWarning, ...] = field(default_factory=tuple)
    unit: str = "km"
    """The distance unit the plan is written in (``km`` or ``mi``): distances are shown in it."""
    busy: tuple[Busy, ...] = ()
    """The other events of the planned weeks (other training and busy time), for the week table."""
    run_minutes: dict[str, int] = field(default_factory=dict)
    """The minutes calsync counts for each training run, by :func:`run_key` (races are not counted)."""


def run_key(run: Run) -> str:
    """One run occurrence's key: its UID with its RECURRENCE-ID, else with its start (two events
    of a careless feed may share a UID)."""
    return f"{run.uid}/{run.recurrence_id or run.start.isoformat()}"


def iso_week(day: date) -> str:
    """ISO week label of a day, e.g. ``2026-W49``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(day: date) -> date:
    """Monday of the day's ISO week."""
    return day - WEEKDAY_OFFSETS[day.weekday()]
