"""Hypothesis strategies for the property tests: realistic-to-nasty run plans, busy time and rules.

A :class:`Scenario` is one planner input: a zone (DST, half-hour offsets, southern hemisphere),
a ``now`` (any day, any minute, often near a DST change), 1-30 weeks of runs (empty weeks, double
days, back-to-back long runs, timed and all-day runs, multi-day races near either end of the
horizon), busy blocks (timed and whole days) and, optionally, varied :class:`Rules`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from calsync.core.model import Busy, PlanResult, Run, RunKind, Session, When, week_start
from calsync.core.planner import PlanInput, plan
from calsync.core.settings import WEEKDAYS, RecoveryDays, Rules, TimeWindow

ZONES = tuple(
    ZoneInfo(name) for name in ("Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata")
)
BERLIN = ZONES[0]
DST_DAYS = (
    date(2026, 3, 8),  # New York spring forward
    date(2026, 3, 29),  # Berlin spring forward
    date(2026, 4, 5),  # Sydney fall back
    date(2026, 10, 4),  # Sydney spring forward
    date(2026, 10, 25),  # Berlin fall back
    date(2026, 11, 1),  # New York fall back
    date(2027, 3, 28),
    date(2027, 10, 31),
)
"""Days on which one of the zones changes its offset."""
WINDOWS = ("05:00-06:00", "06:00-08:00", "12:00-13:30", "19:00-21:00", "20:45-21:30", "04:30-05:10")
"""Strength windows to combine; the last two are short (a full session may not fit)."""
RUN_KINDS = (RunKind.EASY, RunKind.EASY, RunKind.EASY, RunKind.QUALITY, RunKind.QUALITY, RunKind.LONG)
"""Kinds of ordinary weekly runs, weighted like a real plan (races are drawn separately)."""


@dataclass(frozen=True)
class Scenario:
    """One planner input, with helpers to plan it (and variations of it)."""

    zone: ZoneInfo
    now: datetime
    runs: tuple[Run, ...]
    busy: tuple[Busy, ...]
    rules: Rules
    horizon_weeks: int
    plan_id: str = "me"
    fixed: tuple[Session, ...] = ()

    @property
    def first_week(self) -> date:
        """Monday of the week of ``now`` (in the plan's zone)."""
        return week_start(self.now.astimezone(self.zone).date())

    @property
    def horizon_end(self) -> date:
        """First day after the horizon (exclusive)."""
        return self.first_week + timedelta(weeks=self.horizon_weeks)

    def plan_input(
        self,
        *,
        runs: Sequence[Run] | None = None,
        busy: Sequence[Busy] | None = None,
        fixed: Sequence[Session] | None = None,
        now: datetime | None = None,
    ) -> PlanInput:
        """The :class:`PlanInput`, with any part replaced."""
        return PlanInput(
            plan_id=self.plan_id,
            zone=self.zone,
            runs=list(self.runs if runs is None else runs),
            busy=list(self.busy if busy is None else busy),
            rules=self.rules,
            now=self.now if now is None else now,
            horizon_weeks=self.horizon_weeks,
            fixed=list(self.fixed if fixed is None else fixed),
        )

    def result(
        self,
        *,
        runs: Sequence[Run] | None = None,
        busy: Sequence[Busy] | None = None,
        fixed: Sequence[Session] | None = None,
        now: datetime | None = None,
    ) -> PlanResult:
        """Plan it, with any part replaced (as for :meth:`plan_input`)."""
        return plan(self.plan_input(runs=runs, busy=busy, fixed=fixed, now=now))


def wall(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    """A wall-clock time in ``zone``."""
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


# Strategies built once: building them inside every draw costs more than the planner.
_KIND = st.sampled_from(RUN_KINDS)
_DISTANCE = st.none() | st.integers(5, 170).map(float)
_PRIORITY = st.sampled_from("ABC")
_BOOL = st.booleans()
_QUARTER = st.integers(0, 3)
_HOUR = st.integers(5, 21)
_MINUTE = st.sampled_from((0, 15, 30, 45))
_LENGTH = st.integers(20, 300)
_MAYBE_LENGTH = st.none() | _LENGTH
_RACE_DAYS = st.integers(1, 3)
_WEEKDAY = st.integers(0, 6)
_PER_WEEK = st.sampled_from((0, 0, 1, 2, 3, 4, 4, 5, 5, 6, 7))
_DAY = st.one_of(
    st.dates(date(2026, 1, 1), date(2028, 6, 30)),
    st.builds(lambda d, k: d + timedelta(days=k), st.sampled_from(DST_DAYS), st.integers(-9, 6)),
)
_ANY_HOUR = st.integers(0, 23)
_NOW_MINUTE = st.sampled_from((0, 1, 15, 30, 59))
_BUSY_COUNT = st.integers(0, 8)
_BUSY_MINUTE = st.sampled_from((0, 20, 30))
_BUSY_LENGTH = st.integers(15, 600)
_BUSY_DAYS = st.integers(1, 3)
_WINDOW_LIST = st.lists(st.sampled_from(WINDOWS), min_size=1, max_size=3, unique=True)


def now_in(draw: st.DrawFn, zone: ZoneInfo) -> datetime:
    """Any moment: often mid-week and mid-day, often within days of a DST change."""
    return wall(draw(_DAY), draw(_ANY_HOUR), draw(_NOW_MINUTE), zone)


def run_on(draw: st.DrawFn, day: date, zone: ZoneInfo, uid: str, kind: RunKind | None = None) -> Run:
    """One run on ``day``: timed (05:00-21:45, 20-300 min) or all-day; races get a priority and
    sometimes last several days."""
    kind = kind or draw(_KIND)
    distance = draw(_DISTANCE)
    priority = draw(_PRIORITY) if kind is RunKind.RACE else None
    timed = draw(_BOOL) if kind is not RunKind.RACE else draw(_QUARTER) == 0
    title = f"{kind.value} {day.isoformat()} {uid}"
    if timed:
        start = wall(day, draw(_HOUR), draw(_MINUTE), zone)
        minutes = draw(_LENGTH)
        return Run(
            uid=uid,
            title=title,
            kind=kind,
            start=start,
            end=start + timedelta(minutes=minutes),
            distance_km=distance,
            minutes=minutes,
            priority=priority,
        )
    days = draw(_RACE_DAYS) if kind is RunKind.RACE and draw(_QUARTER) == 0 else 1
    return Run(
        uid=uid,
        title=title,
        kind=kind,
        start=day,
        end=day + timedelta(days=days),
        distance_km=distance,
        minutes=draw(_MAYBE_LENGTH),
        priority=priority,
    )


def busy_blocks(draw: st.DrawFn, first: date, weeks: int, zone: ZoneInfo) -> list[Busy]:
    """Timed busy blocks (sometimes across midnight) and whole blocked days."""
    out: list[Busy] = []
    for i in range(draw(_BUSY_COUNT)):
        day = first + timedelta(days=draw(st.integers(0, 7 * weeks - 1)))
        if draw(_BOOL):
            start = wall(day, draw(_ANY_HOUR), draw(_BUSY_MINUTE), zone)
            end = start + timedelta(minutes=draw(_BUSY_LENGTH))
        else:
            start = wall(day, 0, 0, zone)
            end = wall(day + timedelta(days=draw(_BUSY_DAYS)), 0, 0, zone)
        training = draw(_QUARTER) == 0  # another sport: never a rest day (R14)
        out.append(
            Busy(start=start, end=end, title=f"{'bike' if training else 'busy'} {i}", training=training)
        )
    return out


@st.composite
def varied_rules(draw: st.DrawFn) -> Rules:
    """Rules with the parameters users change most: sessions per week, order, rest day, windows,
    R8's hours, R12's days, race protections and R16's recovery periods."""
    by_day = draw(st.dictionaries(st.sampled_from(WEEKDAYS), _WINDOW_LIST, max_size=3))
    return Rules(
        strength_sessions_per_week=draw(st.integers(0, 4)),
        same_day_order=draw(st.sampled_from(("lift_first", "run_first"))),
        rest_day=draw(st.none() | st.sampled_from(WEEKDAYS)),
        strength_windows=tuple(TimeWindow.parse(w) for w in draw(_WINDOW_LIST)),
        strength_windows_by_day={k: tuple(TimeWindow.parse(w) for w in v) for k, v in by_day.items()},
        heavy_before_long_days=draw(st.integers(2, 4)),
        heavy_after_long_days=draw(st.integers(0, 3)),
        a_race_no_strength_days=draw(st.integers(3, 10)),
        a_race_no_heavy_days=draw(st.integers(5, 14)),
        bc_race_no_heavy_days=draw(st.integers(2, 6)),
        bc_race_no_strength_days=draw(st.integers(0, 2)),
        default_run_time=draw(st.sampled_from((time(7), time(6), time(17, 30)))),
        recovery_days=RecoveryDays(
            up_to_10k=draw(st.integers(1, 5)),
            half_marathon=draw(st.integers(2, 7)),
            marathon=draw(st.integers(4, 10)),
            ultra=draw(st.integers(7, 14)),
            hundred_miles=draw(st.integers(10, 28)),
            unknown_distance=draw(st.integers(3, 10)),
        ),
    )


@st.composite
def scenarios(draw: st.DrawFn, *, vary_rules: bool = True) -> Scenario:
    """A whole planner input; ``vary_rules=False`` keeps PRODUCT.md's default rules."""
    zone = draw(st.sampled_from(ZONES))
    now = now_in(draw, zone)
    weeks = draw(st.integers(1, 30))
    first = week_start(now.date())
    runs: list[Run] = []

    def uid() -> str:
        return f"run-{len(runs)}@test"

    # ordinary weeks (some empty, some with two runs a day); one week of history before now
    for w in range(-1, weeks):
        for _ in range(draw(_PER_WEEK)):
            day = first + timedelta(weeks=w, days=draw(_WEEKDAY))
            runs.append(run_on(draw, day, zone, uid()))
    # back-to-back long runs (Sat + Sun, or Sun + Mon across a week boundary)
    for _ in range(draw(st.integers(0, 2))):
        saturday = first + timedelta(
            weeks=draw(st.integers(0, weeks - 1)), days=draw(st.sampled_from((5, 6)))
        )
        runs.append(run_on(draw, saturday, zone, uid(), RunKind.LONG))
        runs.append(run_on(draw, saturday + timedelta(days=1), zone, uid(), RunKind.LONG))
    # races: anywhere, or right at the start / end of the horizon (or just past it)
    for _ in range(draw(st.sampled_from((0, 0, 1, 1, 2, 3)))):
        week = draw(st.sampled_from((0, weeks - 1, weeks, draw(st.integers(0, weeks - 1)))))
        day = first + timedelta(weeks=week, days=draw(_WEEKDAY))
        runs.append(run_on(draw, day, zone, uid(), RunKind.RACE))
    busy = busy_blocks(draw, first - timedelta(weeks=1), weeks + 2, zone)
    rules = draw(varied_rules()) if vary_rules else Rules()
    horizon = draw(st.sampled_from((weeks, weeks + 1, 16)))
    return Scenario(
        zone=zone, now=now, runs=tuple(runs), busy=tuple(busy), rules=rules, horizon_weeks=horizon
    )


def local_day(when: When, zone: ZoneInfo) -> date:
    """The calendar day of an item in the plan's zone."""
    return when.astimezone(zone).date() if isinstance(when, datetime) else when
