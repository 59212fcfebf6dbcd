"""The "plan" step: place strength sessions and rest days around the runs (pure).

Input: runs, busy time, rules, the catalogue, ``now``, the sessions that must stay (past ones,
ones a person edited) and the ones calsync placed before. Output: a
:class:`~calsync.core.model.PlanResult`. No I/O, no clock reads: the same input gives the same plan,
whatever the order of the runs.

How a week is planned:

1. :mod:`calsync.core.phases` gives its phase, load and R4 fraction; the phase picks a template of
   slots (``s1``, ``s2``...), each a chain of session kinds, best first;
2. the rest day is chosen among training-free days (R14), and stays where it was while valid;
3. every (slot, day, kind) is checked against the hard rules (R6-R8, R10-R12, R14, R16, R17, R19)
   and scored on the soft ones (R9, R10's quality-day penalty, R13, spacing, staying put);
4. the cheapest assignment of slots to distinct days wins; a slot nothing fits becomes a warning.

Every placement carries plain sentences (``reasons``) and the rule ids behind them (``rules``).
"""

from __future__ import annotations

import itertools
import math
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from calsync.core.catalogue import Catalogue
from calsync.core.identity import session_uid, week_prefix
from calsync.core.model import (
    Busy,
    Phase,
    PlanResult,
    PlanWarning,
    Run,
    RunKind,
    Session,
    SessionKind,
    WarningCode,
    WeekPlan,
    iso_week,
    week_start,
)
from calsync.core.phases import (
    PhaseModel,
    Race,
    WeekModel,
    phase_model,
    races_of,
    run_minutes,
    training_minutes,
)
from calsync.core.settings import WEEKDAYS, Rules

HEAVY, LIGHT = SessionKind.HEAVY_LOWER, SessionKind.LIGHT_LOWER
UPPER, CORE, BODYWEIGHT = SessionKind.UPPER, SessionKind.CORE, SessionKind.BODYWEIGHT
LIGHT_ONLY_KINDS = frozenset({LIGHT, CORE, BODYWEIGHT})
"""What R16 allows in the second half of a race recovery: light or bodyweight work."""
STEP = timedelta(minutes=15)
"""Granularity of start times inside a window."""
LEVEL_COST = 10.0
"""Cost of each step down a slot's chain of kinds."""
MOVE_COST = 15.0
"""Cost of moving a session calsync placed before away from its day (Stability)."""
SHORT_SESSION_MINUTES = 30
"""When a session's full length does not fit the day's window, a shorter one of this length is
tried before a lighter kind (the content shrinks with the minutes, R4)."""
SHORT_COST = 2.0
"""Cost of shortening a session to fit: less than a step down the chain."""
UNPLACED_COST = 60.0
"""Cost of leaving a slot empty: worse than any placement."""
KM_PER_MILE = 1.609344
NORMAL_PHASES = (Phase.BASE, Phase.BUILD, Phase.PEAK)
RACE_PREFIX = re.compile(r"^\s*(?:race|wettkampf|course)\s*[:\-–]\s*", re.IGNORECASE)
"""A race title's leading "Race:" (the sentence already says it is a race)."""
KIND_WORDS = {
    HEAVY: "heavy legs",
    LIGHT: "light legs",
    UPPER: "upper body and core",
    CORE: "core",
    BODYWEIGHT: "a bodyweight session",
}
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class PlanInput:
    """Everything the planner needs for one plan."""

    plan_id: str
    zone: ZoneInfo
    runs: Sequence[Run]
    busy: Sequence[Busy]
    rules: Rules
    now: datetime
    horizon_weeks: int = 16
    catalogue: Catalogue = field(default_factory=Catalogue)
    fixed: Sequence[Session] = ()
    """Sessions that exist and stay as they are (past, in progress, or edited by a person)."""
    a_race: date | None = None
    """The A race's date from the config, to warn when no race is found on it."""
    dismissed: frozenset[str] = frozenset()
    """UIDs of sessions a person deleted: their slots stay empty (PRODUCT.md section 4)."""
    previous: Sequence[Session] = ()
    """Sessions calsync placed before and nobody changed: they stay on their day while still
    valid (Stability), so a moved run changes only what it made invalid."""


@dataclass(frozen=True)
class Why:
    """A rule id and the plain sentence a runner reads."""

    rule: str
    text: str


@dataclass(frozen=True)
class _Slot:
    slot: str
    chain: tuple[SessionKind, ...]
    with_upper: bool = False


class _Fit(NamedTuple):
    """A start time inside the day's windows, and how it sits with the day's runs (R13)."""

    start: datetime
    end: datetime
    order: Why | None
    against_order: bool = False
    """The session could not go where R13 asks (after the run instead of before)."""


class _Option(NamedTuple):
    """A kind of session on a day at a time, with its cost (tuples: the inner loop makes many)."""

    cost: float
    day: date
    kind: SessionKind
    level: int
    fit: _Fit

    @property
    def minutes(self) -> int:
        """Length of the placed session."""
        return int((self.fit.end.astimezone(UTC) - self.fit.start.astimezone(UTC)).total_seconds() // 60)


def _round5(minutes: float) -> int:
    return int(5 * round(minutes / 5))


def _spacing(a: date, a_lower: bool, b: date, b_lower: bool, weight: float) -> float:
    """Soft cost of two strength sessions close together: worse on consecutive days, and worse
    again when both load the lower body (they need 48 h between them)."""
    gap = abs((a - b).days)
    both_lower = a_lower and b_lower
    if gap == 1:
        return weight * (8.0 + (8.0 if both_lower else 0.0))
    if gap == 2:
        return weight * (2.0 + (2.0 if both_lower else 0.0))
    return 0.0


def _in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """The instant as a wall time in ``zone``, the same whatever zone it was written in.

    Through UTC: ``astimezone`` into the zone a time already has returns it unchanged, so a wall
    time the zone skips (02:30 on a spring-forward night) would stay as written, and differ from
    the same instant written in another zone (03:30 after the switch).
    """
    return moment.astimezone(UTC).astimezone(zone)


def _run_in_zone(run: Run, zone: ZoneInfo) -> Run:
    """The run with its times in the plan's zone, so its days are the plan's days."""
    if isinstance(run.start, datetime) and isinstance(run.end, datetime):
        return replace(run, start=_in_zone(run.start, zone), end=_in_zone(run.end, zone))
    return run


def _session_in_zone(session: Session, zone: ZoneInfo) -> Session:
    """The session with its times in the plan's zone."""
    if isinstance(session.start, datetime) and isinstance(session.end, datetime):
        return replace(session, start=_in_zone(session.start, zone), end=_in_zone(session.end, zone))
    return session


def _not_after(end: datetime, start: datetime) -> bool:
    """``end <= start`` as instants (times in one zone compare as wall times, fold ignored)."""
    return end.astimezone(UTC) <= start.astimezone(UTC)


_ALL_DAY = datetime.min.replace(tzinfo=UTC)


def _order_instant(when: date) -> datetime:
    """A time as a UTC instant (all-day items sort first on their day)."""
    return when.astimezone(UTC) if isinstance(when, datetime) else _ALL_DAY


def _run_order(run: Run) -> tuple[object, ...]:
    """A total order of runs (by instants, then every field), so nothing depends on the order
    of the input or on the zone its times are written in."""
    return (
        run.first_day,
        run.all_day is False,
        _order_instant(run.start),
        _order_instant(run.end),
        run.last_day,
        run.uid,
        run.recurrence_id or "",
        run.title,
        run.kind,
        run.distance_km or 0.0,
        run.minutes or 0,
    )


def _on_grid(origin: datetime, after: datetime) -> datetime:
    """The first start on the 15-minute grid from ``origin`` that is later than ``after``."""
    steps = (after - origin) // STEP + 1
    return origin + max(steps, 0) * STEP


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day_label(day: date) -> str:
    """``Sat 5 Dec`` (no strftime: it is slow and follows the locale)."""
    return f"{WEEKDAYS[day.weekday()].capitalize()} {day.day} {_MONTHS[day.month - 1]}"


def plan_unit(runs: Sequence[Run]) -> str:
    """The unit a plan is written in: miles when most runs that give a distance give miles."""
    miles = sum(1 for r in runs if r.distance_km is not None and r.unit == "mi")
    km = sum(1 for r in runs if r.distance_km is not None and r.unit != "mi")
    return "mi" if miles > km else "km"


def distance_words(km: float, unit: str) -> str:
    """A distance as a runner writes it: ``18 mi``, ``30 km``, ``21.1 km``, ``5 km``."""
    value = km / KM_PER_MILE if unit == "mi" else km
    text = f"{value:.0f}" if value >= 10 and abs(value - round(value)) < 0.25 else f"{value:.1f}"
    return f"{text.removesuffix('.0')} {unit}"


def _run_noun(run: Run) -> str:
    if run.kind is RunKind.RACE:
        return "race"
    if run.kind is RunKind.LONG:
        return "long run"
    if run.kind is RunKind.QUALITY:
        return "quality session"
    return "run"


class _Words:
    """How the plan names its runs in sentences, in the plan's unit."""

    def __init__(self, unit: str) -> None:
        self.unit = unit

    def run(self, run: Run, seen_from: date | None = None) -> str:
        """``Saturday's 30 km long run``; ``the long run on Sat 12 Dec`` when more than a week
        away; races by their title: ``your A race, Lavaredo 120K``."""
        if run.kind is RunKind.RACE:
            title = RACE_PREFIX.sub("", run.title).strip() or run.title
            return f"{'your A race' if run.priority == 'A' else 'the race'}, {title}"
        size = f"{distance_words(run.distance_km, self.unit)} " if run.distance_km else ""
        noun = _run_noun(run)
        if seen_from is not None and 0 <= (run.first_day - seen_from).days < 7:
            return f"{DAY_NAMES[run.first_day.weekday()]}'s {size}{noun}"
        return f"the {size}{noun} on {_day_label(run.first_day)}"


class _Days:
    """Per-day facts of one plan: which kinds each hard rule forbids (and why), busy intervals."""

    def __init__(
        self,
        *,
        runs: Sequence[Run],
        busy: Sequence[Busy],
        races: Sequence[Race],
        rules: Rules,
        zone: ZoneInfo,
        first: date,
        last: date,
        words: _Words,
    ) -> None:
        self.rules = rules
        self.zone = zone
        self.words = words
        self.first, self.last = first, last
        self.no_strength: dict[date, Why] = {}
        self.no_heavy: dict[date, Why] = {}
        self.no_lower: dict[date, Why] = {}
        self.light_only: dict[date, Why] = {}
        self.heavy_soft: dict[date, Why] = {}
        self.runs_on: dict[date, list[Run]] = {}
        self.training_on: dict[date, list[Busy]] = {}
        self.blocked: dict[date, list[tuple[datetime, datetime]]] = {}
        self.run_times: dict[date, list[tuple[datetime, datetime]]] = {}
        self.longs = sorted((r for r in runs if r.is_long), key=lambda r: (r.first_day, r.uid))
        self._long_firsts = [r.first_day for r in self.longs]
        self._longs_by_end = sorted(self.longs, key=lambda r: (r.last_day, r.first_day, r.uid))
        self._long_lasts = [r.last_day for r in self._longs_by_end]
        self._fits: dict[tuple[date, int], _Fit | None] = {}
        self._day_windows: dict[date, list[tuple[datetime, datetime]]] = {}
        self.windows_by_weekday = [rules.windows_for(weekday) for weekday in range(7)]
        self.lift_first = rules.same_day_order == "lift_first"
        for run in runs:
            if run.last_day >= first - timedelta(days=1) and run.first_day <= last + timedelta(days=1):
                self._add_run(run)
        for block in busy:
            if block.training:
                if _not_after(block.end, block.start):  # a training event without length
                    self.training_on.setdefault(_in_zone(block.start, zone).date(), []).append(block)
                self._add_interval(block.start, block.end, self.training_on, block)
            if not block.transparent:
                self._add_interval(block.start, block.end, self.blocked)
        self._add_rules(races)

    # -- building ---------------------------------------------------------------------------
    def _mark(self, table: dict[date, Why], first: date, last: date, why: Why) -> None:
        day = max(first, self.first - timedelta(days=1))
        while day <= min(last, self.last + timedelta(days=1)):
            table.setdefault(day, why)
            day += timedelta(days=1)

    def _add_run(self, run: Run) -> None:
        minutes = run_minutes(run, self.rules.default_pace_min_per_km)
        if isinstance(run.start, datetime) and isinstance(run.end, datetime):
            start, end = run.start, run.end  # already in the plan's zone (see _Planner)
            if _not_after(end, start):
                end = start + timedelta(minutes=minutes)
            self._add_run_time(start, end)
            days = {start.date(), (end - timedelta(microseconds=1)).date()}
        else:
            days = set()
            day = run.first_day
            while day <= run.last_day:
                days.add(day)
                start = datetime.combine(day, self.rules.default_run_time, self.zone)
                end = min(start + timedelta(minutes=minutes), datetime.combine(day, time(23, 59), self.zone))
                self._add_run_time(start, end)
                day += timedelta(days=1)
        for day in days:
            self.runs_on.setdefault(day, []).append(run)

    def _add_run_time(self, start: datetime, end: datetime) -> None:
        """A run's time: it blocks sessions (R19) and orders them on its days (R13)."""
        if _not_after(end, start):
            return
        day = max(start.date(), self.first - timedelta(days=1))
        last = min((end - timedelta(microseconds=1)).date(), self.last + timedelta(days=1))
        while day <= last:
            self.run_times.setdefault(day, []).append((start, end))
            self.blocked.setdefault(day, []).append((start, end))
            day += timedelta(days=1)

    def _add_interval(
        self,
        start: datetime,
        end: datetime,
        table: dict[date, list[tuple[datetime, datetime]]] | dict[date, list[Busy]],
        item: Busy | None = None,
    ) -> None:
        if _not_after(end, start):
            return
        day = max(start.date(), self.first - timedelta(days=1))
        last = min((end - timedelta(microseconds=1)).date(), self.last + timedelta(days=1))
        while day <= last:
            table.setdefault(day, []).append(item if item is not None else (start, end))  # type: ignore[arg-type]
            day += timedelta(days=1)

    def _add_rules(self, races: Sequence[Race]) -> None:
        rules, words = self.rules, self.words
        for race in races:
            name, day0 = words.run(race.run), race.first_day
            if race.priority == "A":
                n = rules.a_race_no_strength_days
                self._mark(
                    self.no_strength,
                    day0 - timedelta(days=n),
                    day0,
                    Why("R6", f"no strength in the last {n} days before {name}"),
                )
                n = rules.a_race_no_heavy_days
                self._mark(
                    self.no_heavy,
                    day0 - timedelta(days=n),
                    day0,
                    Why("R7", f"no heavy legs within {n} days of {name}"),
                )
            else:
                n = rules.bc_race_no_strength_days
                self._mark(
                    self.no_strength,
                    day0 - timedelta(days=n),
                    day0,
                    Why(
                        "R17",
                        f"no strength the day before {name}"
                        if n == 1
                        else f"no strength in the {n} days before {name}",
                    ),
                )
                n = rules.bc_race_no_heavy_days
                self._mark(
                    self.no_heavy,
                    day0 - timedelta(days=n),
                    day0,
                    Why("R17", f"no heavy legs in the {n} days before {name}"),
                )
                n = rules.bc_long_race_no_lower_days
                if race.run.is_long and n:
                    self._mark(
                        self.no_lower,
                        day0 - timedelta(days=n),
                        day0,
                        Why("R17", f"no leg work in the {n} days before {name}"),
                    )
            self._mark(self.no_strength, day0, race.last_day, Why("R6", f"race day: {name}"))
            rd = race.recovery_days
            self._mark(
                self.no_strength,
                race.last_day,
                race.last_day + timedelta(days=rd),
                Why("R16", f"{rd} days of recovery after {name}: no strength yet"),
            )
            self._mark(
                self.light_only,
                race.last_day + timedelta(days=rd + 1),
                race.last_day + timedelta(days=2 * rd),
                Why("R16", f"still recovering from {name}: light work only until {2 * rd} days after it"),
            )
        before = rules.heavy_before_long_days
        for run in self.longs:
            name = words.run(run)
            if before:
                self._mark(
                    self.no_heavy,
                    run.first_day - timedelta(days=before),
                    run.first_day,
                    Why("R8", f"heavy legs need {before} full days before {name}"),
                )
            self._mark(
                self.no_lower,
                run.first_day - timedelta(days=1),
                run.last_day,
                Why("R10", f"no leg work the day before or the day of {name}"),
            )
            if rules.heavy_after_long_days:
                self._mark(
                    self.no_heavy,
                    run.last_day + timedelta(days=1),
                    run.last_day + timedelta(days=rules.heavy_after_long_days),
                    Why("R12", f"no heavy legs the day after {name}"),
                )
        for day, runs in self.runs_on.items():
            for run in runs:
                if run.kind is RunKind.QUALITY:
                    name = words.run(run)
                    self.no_heavy.setdefault(day, Why("R11", f"no heavy legs on the day of {name}"))
                    self.heavy_soft.setdefault(
                        day - timedelta(days=1), Why("R10", f"heavy legs the day before {name}")
                    )

    # -- queries ----------------------------------------------------------------------------
    def forbids(self, kind: SessionKind, day: date) -> Why | None:
        """The hard rule that forbids this kind on this day, if any."""
        if day in self.no_strength:
            return self.no_strength[day]
        if (kind.is_lower or kind is BODYWEIGHT) and day in self.no_lower:
            return self.no_lower[day]  # bodyweight squats and lunges are leg work too
        if kind is HEAVY and day in self.no_heavy:
            return self.no_heavy[day]
        if day in self.light_only and kind not in LIGHT_ONLY_KINDS:
            return self.light_only[day]
        return None

    def is_training_day(self, day: date) -> bool:
        """A run or another sport on the day (R14: never a rest day)."""
        return day in self.runs_on or day in self.training_on

    def training_load(self, day: date) -> int:
        """Minutes of training on a day: its runs and its other sports."""
        total = sum(run_minutes(r, self.rules.default_pace_min_per_km) for r in self.runs_on.get(day, []))
        for block in self.training_on.get(day, []):
            total += int(
                (
                    min(block.end, _next_midnight(day, self.zone))
                    - max(block.start, _midnight(day, self.zone))
                ).total_seconds()
                // 60
            )
        return total

    def fit(self, day: date, minutes: int, now: datetime) -> _Fit | None:
        """The best start inside the day's windows (R19) and how it sits with the runs (R13).

        Starts lie on a 15-minute grid from the window's start; a clash jumps past the blocking
        interval instead of stepping through it.
        """
        key = (day, minutes)
        if key in self._fits:
            return self._fits[key]
        best: _Fit | None = None
        blocked = self.blocked.get(day, ())
        runs = self.run_times.get(day, ())
        first_run = min((s for s, _ in runs), default=None)
        lift_first = self.lift_first
        kept_after = None
        if runs and not lift_first:
            kept_after = max(e for _, e in runs) + timedelta(hours=self.rules.run_first_gap_hours)
        length = timedelta(minutes=minutes)
        for origin, stop in self._windows(day):
            start = origin if origin > now else _on_grid(origin, now)
            while start + length <= stop:
                end = start + length
                clash = max((e for s, e in blocked if s < end and start < e), default=None)
                if clash is not None:
                    start = _on_grid(origin, clash - timedelta(microseconds=1))
                    continue
                if first_run is None:
                    self._fits[key] = _Fit(start, end, None)
                    return self._fits[key]
                if lift_first and end <= first_run:
                    self._fits[key] = _Fit(start, end, Why("R13", "lift first, then run"))
                    return self._fits[key]
                if kept_after is not None and start >= kept_after:
                    gap = f"{self.rules.run_first_gap_hours:g}"
                    self._fits[key] = _Fit(start, end, Why("R13", f"at least {gap} hours after the run"))
                    return self._fits[key]
                if best is None:
                    note = (
                        "after the run: there is no time to lift first that day"
                        if lift_first
                        else "less than the usual gap after the run: there is no later time that day"
                    )
                    best = _Fit(start, end, Why("R13", note), against_order=True)
                if lift_first:
                    break  # every later start is after the run too
                assert kept_after is not None
                start = _on_grid(origin, max(start, kept_after - timedelta(microseconds=1)))
        self._fits[key] = best
        return best

    def _windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's strength windows as times (R19), computed once per day."""
        found = self._day_windows.get(day)
        if found is None:
            found = []
            for window in self.windows_by_weekday[day.weekday()]:
                origin = datetime.combine(day, window.start, self.zone)
                if window.end == time.max:  # a window "until 24:00" ends at midnight
                    stop = datetime.combine(day + timedelta(days=1), time(0), self.zone)
                else:
                    stop = datetime.combine(day, window.end, self.zone)
                found.append((origin, stop))
            self._day_windows[day] = found
        return found

    def next_long(self, day: date) -> Run | None:
        """The first long run or race on or after the day, within a week."""
        i = bisect_left(self._long_firsts, day)
        if i < len(self.longs) and self._long_firsts[i] <= day + timedelta(days=7):
            return self.longs[i]
        return None

    def previous_long(self, day: date) -> Run | None:
        """The long run or race that ended last before the day, within a week."""
        i = bisect_left(self._long_lasts, day)
        if i and self._long_lasts[i - 1] >= day - timedelta(days=7):
            return self._longs_by_end[i - 1]
        return None


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def _next_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), zone)


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


class _Planner:
    """Plans the weeks of one plan, in order."""

    def __init__(self, inp: PlanInput) -> None:
        self.inp = inp
        self.rules = inp.rules
        self.now = _in_zone(inp.now, inp.zone)
        self.today = self.now.date()
        self.first_week = week_start(self.today)
        self.horizon_end = self.first_week + timedelta(weeks=inp.horizon_weeks)
        zone = inp.zone
        self.runs = sorted((_run_in_zone(r, zone) for r in inp.runs), key=_run_order)
        self.busy = sorted(
            (replace(b, start=_in_zone(b.start, zone), end=_in_zone(b.end, zone)) for b in inp.busy),
            key=lambda b: (b.start, b.end, b.title),
        )
        self.unit = plan_unit(self.runs)
        self.words = _Words(self.unit)
        self.races = races_of(self.runs, self.rules)
        self.model: PhaseModel = phase_model(
            self.runs, self.races, self.rules, first_week=self.first_week, horizon_end=self.horizon_end
        )
        self.weeks = list(self.model.planned)
        last = self.weeks[-1] + timedelta(days=6) if self.weeks else self.first_week
        self.days = _Days(
            runs=self.runs,
            busy=self.busy,
            races=self.races,
            rules=self.rules,
            zone=zone,
            first=self.first_week,
            last=last,
            words=self.words,
        )
        # A kept session counts where it lies now (a person may have moved it into another week),
        # while its slot stays taken in the week its UID names, so the UID is never planned twice.
        self.fixed_in_week: dict[date, list[Session]] = {}
        self.fixed_slots: dict[str, set[str]] = {}
        for session in sorted(
            (_session_in_zone(s, zone) for s in inp.fixed), key=lambda s: (s.week, s.slot, s.uid)
        ):
            self.fixed_in_week.setdefault(week_start(session.day), []).append(session)
            self.fixed_slots.setdefault(session.week, set()).add(session.slot)
        self.previous: dict[tuple[str, str], Session] = {
            (s.week, s.slot): _session_in_zone(s, zone) for s in inp.previous if s.kind.is_strength
        }
        self.previous_rest: dict[tuple[str, str], Session] = {
            (s.week, s.slot): s for s in inp.previous if s.kind is SessionKind.REST
        }
        self.previous_weeks = {week for week, _ in self.previous}
        self.warnings: list[PlanWarning] = []
        self.sessions: list[Session] = []
        self.week_plans: list[WeekPlan] = []
        self._soft_costs: dict[tuple[SessionKind, date], float] = {}
        self._lengths: dict[tuple[SessionKind, str | None, float, Phase], int] = {}
        self._race_day_counts: dict[date, int] = {}

    # -- the whole plan ---------------------------------------------------------------------
    def plan(self) -> PlanResult:
        if not self.weeks:
            self.warnings.append(
                PlanWarning(
                    WarningCode.NO_RUNS,
                    f"no runs found from {self.first_week} to {self.horizon_end}: nothing to plan around",
                )
            )
        self._check_a_race()
        if self.model.peak_unknown and not self.rules.peak_week_minutes:
            if any(r.priority == "A" and r.first_day >= self.today for r in self.races):
                what = "the weeks up to your A race yet"
                fix = "Set peak_week_minutes (your biggest planned week, in minutes of running)"
            else:
                what = "your peak week or a race to build up to"
                fix = "Set a_race (your goal race's date) or peak_week_minutes"
            self.warnings.append(
                PlanWarning(
                    WarningCode.PEAK_UNKNOWN,
                    f"the calendar does not show {what}, so calsync cannot tell how close you are "
                    f"to your peak: lower-body work stays at a moderate load. {fix} in the config.",
                )
            )
        previous: list[tuple[date, bool]] = []
        for monday in self.weeks:
            previous = self._plan_week(monday, previous)
        self._list_kept_elsewhere()
        self._check_kept()
        self._check_rolling()
        runs = tuple(r for r in self.runs if self.first_week <= r.first_day < self.horizon_end)
        sessions = tuple(
            sorted(self.sessions, key=lambda s: (s.day, s.all_day is False, str(s.start), s.uid))
        )
        shown_from = self.weeks[0] if self.weeks else self.first_week
        shown_to = self.weeks[-1] + timedelta(days=7) if self.weeks else self.first_week
        busy = tuple(b for b in self.busy if b.start.date() < shown_to and b.end.date() >= shown_from)
        return PlanResult(
            plan_id=self.inp.plan_id,
            timezone=self.inp.zone.key,
            runs=runs,
            weeks=tuple(self.week_plans),
            sessions=sessions,
            warnings=tuple(self.warnings),
            unit=self.unit,
            busy=busy,
            run_minutes=training_minutes(runs, self.rules.default_pace_min_per_km),
        )

    def _list_kept_elsewhere(self) -> None:
        """Kept sessions outside the planned weeks still belong to the plan (a person may have
        moved one past the last planned week, or out of a week that is now planned)."""
        listed = {s.uid for s in self.sessions}
        labels = {iso_week(m) for m in self.weeks}
        for monday in sorted(self.fixed_in_week):
            for session in self.fixed_in_week[monday]:
                if session.uid not in listed and (monday >= self.first_week or session.week in labels):
                    self.sessions.append(session)
                    listed.add(session.uid)

    def _check_kept(self) -> None:
        """A kept session that breaks a hard rule stays (the person wins), with a warning in
        plain words (PERSON_BREAKS_RULE); the rest of its week was planned around it."""
        rest_days = {s.day for s in self.sessions if s.kind is SessionKind.REST}
        for session in self.sessions:
            if not session.fixed or not session.kind.is_strength or session.day < self.first_week:
                continue
            why = self.days.forbids(session.kind, session.day)
            if why is None and session.day in rest_days:
                why = Why("R14", "it is on this week's rest day")
            if why is None:
                continue
            self.warnings.append(
                PlanWarning(
                    WarningCode.PERSON_BREAKS_RULE,
                    f"'{session.title}' on {_day_label(session.day)} stays where it is, though it "
                    f"breaks a rule: {why.text}. The rest of the week is planned around it.",
                    iso_week(session.day),
                )
            )

    def _check_a_race(self) -> None:
        wanted = self.inp.a_race
        if wanted and not any(r.first_day == wanted for r in self.races):
            self.warnings.append(
                PlanWarning(
                    WarningCode.A_RACE_NOT_FOUND,
                    f"a_race = {wanted} in the config, but no race is on that day in the sources",
                )
            )

    # -- one week ---------------------------------------------------------------------------
    def _plan_week(self, monday: date, previous: list[tuple[date, bool]]) -> list[tuple[date, bool]]:
        """Plan one week; returns its kept strength days (with "is lower body") for the next
        week's spacing."""
        rules = self.rules
        label = iso_week(monday)
        week = self.model.week(monday)
        phase = week.phase
        ramp = min(max((week.load_fraction - 0.6) / 0.4, 0.0), 1.0)
        target_minutes = _round5(rules.strength_base_minutes * (1 - 0.5 * ramp))
        days = [monday + timedelta(days=i) for i in range(7)]
        fixed = self.fixed_in_week.get(monday, [])
        prefix = week_prefix(self.inp.plan_id, label)
        dismissed = {uid.removeprefix(prefix) for uid in self.inp.dismissed if uid.startswith(prefix)}
        fixed_slots = self.fixed_slots.get(label, set()) | dismissed
        self.sessions.extend(fixed)
        taken_days = {s.day for s in fixed if s.kind.is_strength}
        fixed_rest_days = sorted(s.day for s in fixed if s.kind is SessionKind.REST)

        rest_day: date | None = None
        rest_session: Session | None = None
        if fixed_rest_days:
            rest_day = fixed_rest_days[0]
        elif "rest" in dismissed:
            pass  # the person deleted this week's rest day
        else:
            # a person may have moved this week's rest day into another week: its UID stays
            # theirs, and this week gets a rest day under the next free slot name
            rest_slot = next(n for n in ("rest", "rest2", "rest3", "rest4") if n not in fixed_slots)
            rest_day, rest_session = self._rest_day(label, days, taken_days, rest_slot)
        if rest_session is not None:
            self.sessions.append(rest_session)
        template = self._template(phase, week.load)
        # a recovery week that R16 leaves few days: fewer sessions rather than back-to-back ones
        open_days = sum(1 for d in days if d >= self.today and d not in self.days.no_strength)
        if phase is Phase.RECOVERY and open_days < 2 * len(template):
            template = template[: max(1, open_days // 2)]
        slots = self._around_kept([s for s in template if s.slot not in fixed_slots], fixed)
        per_slot = target_minutes / max(1, len(template))
        free = [
            d
            for d in days
            if d >= self.today and d != rest_day and d not in taken_days and d not in fixed_rest_days
        ]
        kept = sorted((s.day, s.kind.is_lower) for s in fixed if s.kind.is_strength)
        placed, unplaced = self._assign(
            label=label, slots=slots, free=free, per_slot=per_slot, week=week, others=previous + kept
        )
        for slot, option in placed:
            self.sessions.append(self._session(label, slot, option, week, per_slot=per_slot))
        # a week that a race and its recovery take mostly is not short of strength (R3, R16)
        normal = phase in (*NORMAL_PHASES, Phase.UNSTRUCTURED) and self._race_days(monday) < 3
        for slot, why in unplaced:
            if normal:
                self.warnings.append(
                    PlanWarning(
                        WarningCode.STRENGTH_NOT_PLACED,
                        f"{label}: no day fits strength session {slot.slot} "
                        f"({slot.chain[0].value.replace('_', ' ')}): {why}",
                        label,
                    )
                )
        strength_count = len(placed) + len(taken_days)
        if (
            normal
            and strength_count < min(rules.strength_floor_per_week, rules.strength_sessions_per_week)
            and any(d >= self.today for d in days)
        ):
            self.warnings.append(
                PlanWarning(
                    WarningCode.LOW_STRENGTH,
                    f"{label}: {strength_count} strength session(s), below the floor of "
                    f"{rules.strength_floor_per_week} a week (R3)",
                    label,
                )
            )
        self.week_plans.append(
            WeekPlan(
                week=label,
                start=monday,
                phase=phase,
                run_minutes=week.minutes,
                rest_day=rest_day,
                strength_minutes=sum(o.minutes for _, o in placed)
                + sum(f.minutes for f in fixed if f.kind.is_strength),
                peak_fraction=round(week.fraction, 3),
                strength_target_minutes=target_minutes if phase not in (Phase.RACE, Phase.RECOVERY) else 0,
                cutback=week.cutback,
                load=week.load if phase not in (Phase.RACE, Phase.UNSTRUCTURED) else None,
            )
        )
        # Only kept sessions carry into the next week's spacing: carrying planned ones would let
        # one moved run ripple week after week through the whole plan (sessions must change only
        # in the weeks around a change). Lower body on Sundays costs a little instead (see _soft).
        return kept

    @staticmethod
    def _around_kept(slots: list[_Slot], fixed: list[Session]) -> list[_Slot]:
        """A person's own leg session counts as the week's session of its kind: kept heavy legs
        turn the other heavy slot to upper body and core; kept light legs take light legs out of
        every other slot (heavy ones may still go heavy), so legs do not double up."""
        out = list(slots)
        for session in fixed:
            if session.kind is HEAVY:
                same = [i for i, slot in enumerate(out) if slot.chain[0] is HEAVY]
                if same:
                    out[same[0]] = replace(out[same[0]], chain=(UPPER, BODYWEIGHT))
            elif session.kind is LIGHT:
                out = [replace(slot, chain=tuple(k for k in slot.chain if k is not LIGHT)) for slot in out]
        return out

    def _race_days(self, monday: date) -> int:
        """Days of the week that a race, its run-up or its recovery keep free of strength."""
        found = self._race_day_counts.get(monday)
        if found is None:
            found = self._race_day_counts[monday] = self._count_race_days(monday)
        return found

    def _count_race_days(self, monday: date) -> int:
        days = [monday + timedelta(days=i) for i in range(7)]
        return sum(
            1
            for d in days
            if (d in self.days.no_strength and self.days.no_strength[d].rule in ("R6", "R16", "R17"))
            or d in self.days.light_only
        )

    def _template(self, phase: Phase, load: str) -> list[_Slot]:
        """The week's slots (R2): outside taper and race weeks every session works upper body
        and core besides its lower-body focus."""
        n = self.rules.strength_sessions_per_week
        if phase in NORMAL_PHASES:
            first = (HEAVY, LIGHT, UPPER, BODYWEIGHT) if load != "light" else (LIGHT, UPPER, BODYWEIGHT)
            second = (UPPER, BODYWEIGHT) if phase is Phase.PEAK else (LIGHT, UPPER, BODYWEIGHT)
            slots = [_Slot("s1", first, with_upper=True), _Slot("s2", second, with_upper=True)]
        elif phase is Phase.RECOVERY:
            slots = [
                _Slot("s1", (LIGHT, BODYWEIGHT, CORE), with_upper=True),
                _Slot("s2", (LIGHT, BODYWEIGHT, CORE), with_upper=True),
            ]
        elif phase is Phase.TAPER:
            return [_Slot("s1", (LIGHT, CORE, BODYWEIGHT))][: min(n, 1)]
        elif phase is Phase.UNSTRUCTURED:
            return [_Slot(f"s{i + 1}", (BODYWEIGHT,)) for i in range(max(n, 2) if n else 0)]
        else:
            return []
        slots += [_Slot(f"s{i + 1}", (UPPER, BODYWEIGHT), with_upper=True) for i in range(len(slots), n)]
        return slots[:n]

    # -- the rest day (R14) -----------------------------------------------------------------
    def _rest_day(
        self, label: str, days: list[date], taken: set[date], slot: str
    ) -> tuple[date | None, Session | None]:
        rules = self.rules
        if not rules.rest_days_per_week:
            return None, None
        ahead = [d for d in days if d >= self.today]
        free = [d for d in ahead if not self.days.is_training_day(d)]
        if any(not self.days.is_training_day(d) for d in days if d < self.today):
            pass  # a training-free day already behind us may have been the rest day
        elif ahead and not free:
            lightest = min(ahead, key=lambda d: (self.days.training_load(d), d))
            self.warnings.append(
                PlanWarning(
                    WarningCode.NO_REST_DAY,
                    f"{label}: every day has training, so there is no rest day this week (R14); "
                    f"the lightest is {_day_label(lightest)}"
                    f" ({self.days.training_load(lightest)} minutes): make it your rest day if you can",
                    label,
                )
            )
            return None, None
        candidates = [d for d in free if d not in taken]
        if free and not candidates:
            # R14 is hard: a rest day has no strength, and a person's own session wins its day
            held = ", ".join(_day_label(d) for d in free)
            where = (
                f"your own strength session is on the only training-free day left ({held})"
                if len(free) == 1
                else f"your own strength sessions are on every training-free day left ({held})"
            )
            self.warnings.append(
                PlanWarning(
                    WarningCode.NO_REST_DAY,
                    f"{label}: {where}, so there is no rest day this week (R14)",
                    label,
                )
            )
        if not candidates:
            return None, None

        before = self.previous_rest.get((label, slot))
        if before is not None and before.day in candidates:
            day = before.day  # Stability: a rest day still valid stays
        else:
            day = min(candidates, key=self._rest_score)
        session = Session(
            uid=session_uid(self.inp.plan_id, label, slot),
            kind=SessionKind.REST,
            title=self.inp.catalogue.title(SessionKind.REST),
            start=day,
            end=day + timedelta(days=1),
            week=label,
            slot=slot,
            reasons=(_sentence(self._rest_reason(day)),),
            rules=("R14",),
        )
        return day, session

    def _rest_score(self, day: date) -> tuple[int, int]:
        value = 0
        if self.rules.rest_day and WEEKDAYS[day.weekday()] == self.rules.rest_day:
            value += 100
        prev = self.days.previous_long(day)
        if prev is not None and prev.last_day == day - timedelta(days=1):
            value += 20
        nxt = self.days.next_long(day)
        if nxt is not None and nxt.first_day == day + timedelta(days=1):
            value += 10
        return (-value, day.toordinal())

    def _rest_reason(self, day: date) -> str:
        if self.rules.rest_day and WEEKDAYS[day.weekday()] == self.rules.rest_day:
            return "a full rest day on the day you chose to rest"
        prev = self.days.previous_long(day)
        if prev is not None and prev.last_day == day - timedelta(days=1):
            return f"a full rest day after {self.words.run(prev, day - timedelta(days=1))}, to absorb it"
        nxt = self.days.next_long(day)
        if nxt is not None and nxt.first_day == day + timedelta(days=1):
            return f"a full rest day before {self.words.run(nxt, day)}, so you start it fresh"
        return "a full rest day on a day without training"

    # -- placing the slots ------------------------------------------------------------------
    def _length(self, kind: SessionKind, load: str | None, per_slot: float, phase: Phase) -> int:
        """Session minutes: R4's share of the week, within the catalogue's limit; R15's fixed
        length for bodyweight; at most ``taper_session_max_minutes`` in taper and recovery."""
        key = (kind, load, per_slot, phase)
        found = self._lengths.get(key)
        if found is None:
            found = self._lengths[key] = self._uncached_length(kind, load, per_slot, phase)
        return found

    def _uncached_length(self, kind: SessionKind, load: str | None, per_slot: float, phase: Phase) -> int:
        if kind is BODYWEIGHT:
            return self.rules.bodyweight_minutes
        cap = self.inp.catalogue.max_minutes(kind, load)
        if phase in (Phase.TAPER, Phase.RECOVERY):
            cap = min(cap, self.rules.taper_session_max_minutes)
        return max(self.rules.bodyweight_minutes, min(cap, _round5(per_slot)))

    def _options(
        self, label: str, slot: _Slot, free: list[date], per_slot: float, week: WeekModel
    ) -> tuple[list[_Option], str]:
        options: list[_Option] = []
        why: dict[str, None] = {}
        before = self.previous.get((label, slot.slot))
        replanned = label in self.previous_weeks
        no_time: date | None = None
        chain = [
            (level, kind, self._length(kind, self._kind_load(kind, week), per_slot, week.phase))
            for level, kind in enumerate(slot.chain)
        ]
        forbids, fit_in, soft, now = self.days.forbids, self.days.fit, self._soft, self.now
        for day in free:
            best: _Option | None = None
            for level, kind, minutes in chain:
                # Stability: in a week calsync planned before, every session that is not exactly
                # as it was (same slot, day and kind) is a change to write: it costs MOVE_COST
                kept = before is not None and before.day == day and before.kind is kind
                moved = MOVE_COST if replanned and not kept else 0.0
                if best is not None and LEVEL_COST * level >= best.cost:
                    break
                blocked = forbids(kind, day)
                if blocked:
                    why.setdefault(blocked.text, None)
                    continue
                fit = fit_in(day, minutes, now)
                extra = 0.0
                if (
                    (fit is None or fit.against_order)
                    and minutes > SHORT_SESSION_MINUTES
                    and kind is not BODYWEIGHT
                ):
                    short = fit_in(day, SHORT_SESSION_MINUTES, now)
                    if short is not None and (fit is None or not short.against_order):
                        fit, extra = short, SHORT_COST
                if fit is None:
                    no_time = day
                    continue
                cost = (
                    LEVEL_COST * level + soft(kind, day) + (3.0 if fit.against_order else 0.0) + moved + extra
                )
                if best is None or cost < best.cost:
                    best = _Option(cost, day, kind, level, fit)
            if best is not None:
                options.append(best)
        if no_time is not None:
            why.setdefault(f"no free time in your strength windows on {_day_label(no_time)}", None)
        if not free:
            why.setdefault("no free day left this week", None)
        return options, "; ".join(list(why)[:3])

    def _soft(self, kind: SessionKind, day: date) -> float:
        key = (kind, day)
        if key not in self._soft_costs:
            self._soft_costs[key] = self._soft_cost(kind, day)
        return self._soft_costs[key]

    def _soft_cost(self, kind: SessionKind, day: date) -> float:
        """Soft-rule cost of a kind on a day: R8/R9 distance to the long run, R10's quality-day
        penalty, run days, preferred days; a tiny weekday term keeps ties deterministic."""
        cost = day.weekday() * 0.01
        nxt = self.days.next_long(day)
        gap = (nxt.first_day - day).days if nxt is not None else None
        if kind is HEAVY:
            if gap is not None:
                cost += max(0, 5 - gap) * 1.0
            if day in self.days.heavy_soft:
                cost += 5.0
            prev = self.days.previous_long(day)
            if prev is not None and (day - prev.last_day).days == 2:
                cost += 1.0
        elif kind is LIGHT:
            target = max(1, round(self.rules.light_before_long_hours / 24))
            cost += abs(gap - target) * 1.5 if gap is not None else 2.0
            prev = self.days.previous_long(day)
            if prev is not None and (day - prev.last_day).days == 1:
                cost += 3.0  # legs are tired the morning after a long run
        if kind.is_lower and day.weekday() == 6:
            cost += 2.0  # next Monday often holds the week's main lower-body session
        if kind is LIGHT and day in self.days.heavy_soft:
            cost += 3.0  # light legs the day before a quality run blunt it a little
        runs = self.days.runs_on.get(day, [])
        if any(r.is_long for r in runs):
            cost += 9.0  # the morning of the long run: worse than a session next to another
        elif any(r.kind is RunKind.QUALITY for r in runs):
            cost += 2.0
        elif runs:
            cost += 1.0
        preferred = self.rules.preferred_strength_days
        if preferred and WEEKDAYS[day.weekday()] not in preferred:
            cost += 3.0
        return cost

    def _assign(
        self,
        *,
        label: str,
        slots: list[_Slot],
        free: list[date],
        per_slot: float,
        week: WeekModel,
        others: list[tuple[date, bool]],
    ) -> tuple[list[tuple[_Slot, _Option]], list[tuple[_Slot, str]]]:
        """The cheapest assignment of slots to distinct days (a slot may stay empty).

        A small branch and bound: options are sorted by cost, so most branches are cut early.
        """
        choices: list[list[tuple[float, _Option | None]]] = []
        reasons: list[str] = []
        for slot in slots:
            options, why = self._options(label, slot, free, per_slot, week)
            scored = [
                (o.cost + sum(_spacing(o.day, o.kind.is_lower, b, lower, 0.5) for b, lower in others), o)
                for o in options
            ]
            scored.sort(key=lambda pair: (pair[0], pair[1].day))
            choices.append([*scored, (UNPLACED_COST, None)])
            reasons.append(why or "no day fits")
        best_cost = math.inf
        best_combo: list[_Option | None] = [None] * len(slots)
        chosen: list[_Option | None] = []

        def search(index: int, cost: float) -> None:
            nonlocal best_cost, best_combo
            if cost >= best_cost:
                return
            if index == len(choices):
                best_cost, best_combo = cost, list(chosen)
                return
            for option_cost, option in choices[index]:
                extra = option_cost
                if option is not None:
                    clash = False
                    for other in chosen:
                        if other is None:
                            continue
                        if option.day == other.day:
                            clash = True
                            break
                        extra += _spacing(
                            option.day, option.kind.is_lower, other.day, other.kind.is_lower, 1.0
                        )
                    if clash:
                        continue
                chosen.append(option)
                search(index + 1, cost + extra)
                chosen.pop()

        search(0, 0.0)
        placed, unplaced = [], []
        for slot, option, why in zip(slots, best_combo, reasons, strict=True):
            if option is None:
                unplaced.append((slot, why))
            else:
                placed.append((slot, option))
        return placed, unplaced

    # -- one session and its words ----------------------------------------------------------
    def _session(
        self,
        label: str,
        slot: _Slot,
        option: _Option,
        week: WeekModel,
        *,
        per_slot: float,
    ) -> Session:
        kind = option.kind
        load = self._kind_load(kind, week)
        with_upper = slot.with_upper and kind is not BODYWEIGHT
        content = self.inp.catalogue.content(kind, load, option.minutes, with_upper=with_upper)
        whys = [self._anchor(kind, load, option.day)]
        if option.level > 0:
            whys.append(self._step_down(slot, option, per_slot))
        if option.day in self.days.light_only and kind is not BODYWEIGHT:
            whys.append(self.days.light_only[option.day])
        whys.append(self._load_why(kind, load, week, option.minutes))
        if option.fit.order is not None:
            whys.append(option.fit.order)
        rules = [w.rule for w in whys]
        if with_upper:
            rules.append("R2")
        rules.append("R19")
        return Session(
            uid=session_uid(self.inp.plan_id, label, slot.slot),
            kind=kind,
            title=content.title,
            start=option.fit.start,
            end=option.fit.end,
            week=label,
            slot=slot.slot,
            muscle_groups=content.muscle_groups,
            reasons=tuple(dict.fromkeys(_sentence(w.text) for w in whys)),
            exercises=content.exercises,
            load=load,
            rules=tuple(sorted(set(rules), key=lambda r: int(r[1:]))),
            effort=content.effort,
            warmup=content.warmup,
            alternative=content.alternative,
        )

    def _kind_load(self, kind: SessionKind, week: WeekModel) -> str | None:
        """R5's load of a lower-body session: the week's for the main one, light for the other."""
        if kind is HEAVY:
            return "moderate" if week.load == "light" else week.load
        if kind is LIGHT:
            return "light"
        return None

    def _anchor(self, kind: SessionKind, load: str | None, day: date) -> Why:
        """Where the session sits against the long run (R8, R9, R10), in plain words."""
        nxt = self.days.next_long(day)
        words = self.words
        if kind is HEAVY:
            legs = "heavy legs" if load == "heavy" else "legs at a moderate load"
            if nxt is None:
                return Why("R8", f"{legs} today: no long run in the next week to keep them fresh for")
            gap = (nxt.first_day - day).days
            return Why(
                "R8", f"{legs} today, {gap} days before {words.run(nxt, day)}, so they are fresh for it"
            )
        if kind is LIGHT:
            if nxt is None:
                return Why("R5", "light legs today: hips, calves and ankles, high reps, nothing heavy")
            gap = (nxt.first_day - day).days
            target = max(1, round(self.rules.light_before_long_hours / 24))
            if abs(gap - target) <= 1:
                return Why(
                    "R9",
                    f"light legs {_days(gap)} before {words.run(nxt, day)}: it keeps hips, calves and "
                    "ankles strong without tiring them",
                )
            return Why("R5", f"light legs {_days(gap)} before {words.run(nxt, day)}")
        if kind is UPPER:
            if nxt is not None and (nxt.first_day - day).days == 1:
                return Why(
                    "R10", f"upper body and core only: {words.run(nxt, day)} is tomorrow, so the legs rest"
                )
            return Why("R2", "upper body and core: they need work on two days a week too")
        if kind is CORE:
            return Why("R4", "a short core session keeps strength without adding fatigue before the race")
        return Why("R15", f"a {self.rules.bodyweight_minutes}-minute bodyweight session, no gym needed")

    def _step_down(self, slot: _Slot, option: _Option, per_slot: float) -> Why:
        """Why a lighter kind than the slot's first choice: a hard rule, no time, or the runs."""
        first = slot.chain[0]
        day = option.day
        blocked = self.days.forbids(first, day)
        if blocked is not None:
            return Why(blocked.rule, f"not {KIND_WORDS[first]} today: {blocked.text}")
        week = self.model.week(week_start(day))
        if (
            self.days.fit(
                day, self._length(first, self._kind_load(first, week), per_slot, week.phase), self.now
            )
            is None
        ):
            if option.kind is BODYWEIGHT:
                return Why(
                    "R15",
                    "no time for a full session in your strength window that day; a short one still counts",
                )
            return Why(
                "R19", f"not {KIND_WORDS[first]} today: no time for a longer session in your strength window"
            )
        prev = self.days.previous_long(day)
        if prev is not None and (day - prev.last_day).days == 1:
            return Why(
                "R12",
                f"not {KIND_WORDS[first]} today: the legs are tired the day after {self.words.run(prev)}",
            )
        if day in self.days.heavy_soft and first is HEAVY:
            soft = self.days.heavy_soft[day]
            return Why(soft.rule, f"not {KIND_WORDS[first]} today: they would blunt the next day's hard run")
        return Why(
            "R5", f"not {KIND_WORDS[first]} today: a lighter session sits better with this week's runs"
        )

    def _load_why(self, kind: SessionKind, load: str | None, week: WeekModel, minutes: int) -> Why:
        """The load (R5) or the minutes (R4), from the week's place in the training cycle."""
        phase = week.phase
        if phase is Phase.TAPER:
            return Why("R4", f"{minutes} minutes, easy: a taper week, so you start the race fresh")
        if phase is Phase.RECOVERY:
            return Why("R16", f"{minutes} minutes, easy: you are still recovering from your race")
        if phase is Phase.UNSTRUCTURED:
            return Why("R15", f"{minutes} minutes: no runs this week, so short sessions keep strength going")
        where = f"a cutback week of the {phase.value} block" if week.cutback else f"a {phase.value} week"
        if self.model.peak_unknown and phase in NORMAL_PHASES and not self.rules.peak_week_minutes:
            share = "your peak week is not known yet"
        else:
            share = f"your running is at {round(week.fraction * 100)}% of its peak"
        if kind is LIGHT:
            return Why(
                "R5", "light load (12-15 reps): the week's easier leg session, for hips, calves and ankles"
            )
        if kind is HEAVY and week.eased:
            return Why(
                "R5", f"moderate load (6-10 reps) to ease into heavy lifting after weeks without ({where})"
            )
        if kind is HEAVY and load is not None:
            reps = {"heavy": "3-6", "moderate": "6-10", "light": "12-15"}[load]
            if week.cutback:
                return Why("R5", f"{load} load ({reps} reps): {where}, so the load stays the block's")
            return Why("R5", f"{load} load ({reps} reps): {where}, {share}")
        return Why("R4", f"{minutes} minutes: {where}, {share}")

    # -- R18 --------------------------------------------------------------------------------
    def _check_rolling(self) -> None:
        rules = self.rules
        if not rules.strength_sessions_per_week:
            return  # the runner turned strength off
        normal = {*NORMAL_PHASES, Phase.UNSTRUCTURED}
        strength_days = sorted({s.day for s in self.sessions if s.kind.is_strength})
        window_weeks = max(1, rules.rolling_days // 7)
        minimum = rules.rolling_min_fraction * rules.strength_sessions_per_week
        warned: set[tuple[str, str]] = set()
        for i in range(len(self.weeks) - window_weeks + 1):
            block = self.weeks[i : i + window_weeks]
            if block[-1] - block[0] != timedelta(weeks=window_weeks - 1):
                continue  # a gap of weeks without runs inside: not a rolling block
            if any(self.model.week(w).phase not in normal for w in block) or block[0] < self.first_week:
                continue
            if any(self._race_days(w) for w in block):
                continue  # a race and its recovery (R16) are not a gap in strength training
            start, stop = block[0], block[-1] + timedelta(days=7)
            inside = [d for d in strength_days if start <= d < stop]
            average = len(inside) / window_weeks
            label = iso_week(block[-1])
            if average < minimum and ("low", label) not in warned:
                warned.add(("low", label))
                self.warnings.append(
                    PlanWarning(
                        WarningCode.STRENGTH_BELOW_TARGET,
                        f"{iso_week(start)}..{label}: {average:.2f} strength sessions a week on average, "
                        f"below {minimum:.2f} (R18)",
                        label,
                    )
                )
            edges = [max(start - timedelta(days=1), self.today), *inside, stop]
            longest = max((b - a).days for a, b in itertools.pairwise(edges))
            if longest > rules.max_gap_days and ("gap", label) not in warned:
                warned.add(("gap", label))
                self.warnings.append(
                    PlanWarning(
                        WarningCode.STRENGTH_GAP,
                        f"{iso_week(start)}..{label}: {longest} days without strength, more than "
                        f"{rules.max_gap_days} (R18)",
                        label,
                    )
                )


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def plan(inp: PlanInput) -> PlanResult:
    """Plan strength sessions and rest days for one plan."""
    return _Planner(inp).plan()
