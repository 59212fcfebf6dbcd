"""Scenario tests for the balancing rules (PRODUCT.md section 2): runs in, sessions out.

Each scenario is a week (or a few) of runs given to the pure planner, then assertions on the
sessions it placed (kinds, days, times, the rest day, warnings). Every scenario also runs the
official checker (shared/checks/plan_check.py) on the JSON plan and expects no hard finding.
Where the spec leaves room (soft rules), only the hard facts and the clearly preferred outcome
are asserted. Behaviour that breaks the spec is written as the spec says and marked
``xfail(strict=True)`` with the bug in its reason.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from calsync.core.model import Busy, PlanResult, Run, RunKind, Session, SessionKind, week_start
from calsync.core.settings import WEEKDAYS
from planner_helpers import (
    BERLIN,
    NOW,
    all_day,
    at,
    by_day,
    codes,
    d,
    hard_findings,
    history,
    phases,
    plan_week,
    race,
    rest_days,
    sessions_in,
    strength,
    timed,
)

EASY, QUALITY, LONG = RunKind.EASY, RunKind.QUALITY, RunKind.LONG
HEAVY, LIGHT = SessionKind.HEAVY_LOWER, SessionKind.LIGHT_LOWER
LIGHT_ONLY = {SessionKind.LIGHT_LOWER, SessionKind.CORE, SessionKind.BODYWEIGHT}
BASE: dict[str, Any] = {"peak_week_minutes": 600}
"""Makes a single ordinary week a base week (about half of peak volume): heavy lower body allowed."""


def weekday(day: date) -> str:
    """``mon``..``sun``."""
    return WEEKDAYS[day.weekday()]


def assert_clean(result: PlanResult, generated_at: datetime = NOW) -> None:
    """plan_check finds no broken hard rule and no broken contract."""
    assert hard_findings(result, generated_at) == []


def run_start(run: Run) -> datetime:
    """When a run starts for planning: all-day runs take the default run time (07:00)."""
    if isinstance(run.start, datetime):
        return run.start
    return datetime.combine(run.start, time(7), tzinfo=BERLIN)


def assert_lift_first(result: PlanResult, runs: list[Run]) -> None:
    """R13 (lift_first): a session on a run day ends before that day's first run starts."""
    for s in strength(result):
        starts = [run_start(r) for r in runs if r.first_day == s.day]
        assert isinstance(s.end, datetime)
        assert all(s.end <= t for t in starts), f"{s.kind} {s.start} is not before the run"


def days_between(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last``, both included."""
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


# ---- the weekly layout table ------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """One week of runs and what a coach expects of its sessions."""

    runs: list[Run]
    rest: str | None
    """The rest day's weekday, or None when no rest day may be placed."""
    heavy_allowed: set[str]
    """Weekdays where a heavy lower-body session is acceptable (and one must be placed)."""
    light_day: str | None
    """The clearly preferred day for the light lower-body session (R9: about 48 h before the long run)."""
    no_lower: set[str]
    """Weekdays with no lower-body session at all (R10)."""
    warnings: set[str] = field(default_factory=set)
    rules: dict[str, Any] = field(default_factory=lambda: dict(BASE))


def _every_day() -> list[Run]:
    easy = [timed(EASY, d(0, x), 7, 30) for x in ("mon", "tue", "wed", "thu", "fri", "sun")]
    return [*easy, all_day(LONG, d(0, "sat"), minutes=150)]


def _long_on(day: str) -> list[Run]:
    """Mon easy, Tue intervals, Fri easy and the long run on ``day``."""
    return [
        timed(EASY, d(0, "mon"), 18, 45),
        timed(QUALITY, d(0, "tue"), 18, 60),
        timed(EASY, d(0, "fri"), 18, 45),
        all_day(LONG, d(0, day), minutes=180, uid="long@test", title="Long Run 30 km"),
    ]


BACK_TO_BACK = [
    timed(EASY, d(0, "tue"), 18, 45),
    timed(QUALITY, d(0, "thu"), 18, 60),
    all_day(LONG, d(0, "sat"), minutes=180, title="Long Run 30 km"),
    all_day(LONG, d(0, "sun"), minutes=120, title="Long Run 20 km"),
]
ONLY_MONDAY_FREE = [
    *(all_day(EASY, d(0, x), minutes=45) for x in ("tue", "wed", "thu", "fri", "sun")),
    all_day(LONG, d(0, "sat"), minutes=150),
]
SUNDAY_LONG = [
    all_day(LONG, d(-1, "sun"), minutes=150, title="Long run last Sunday"),
    timed(EASY, d(0, "tue"), 18, 45),
    timed(QUALITY, d(0, "thu"), 18, 60, title="Intervals 8x400m"),
    all_day(LONG, d(0, "sun"), minutes=180, title="Long Run 30 km"),
]

LAYOUTS = {
    # R14: every day has a run -> no rest day, a warning; sessions still fit before the 07:30 runs.
    "run_every_day": Layout(
        _every_day(), None, {"mon", "tue", "wed"}, "thu", {"fri"}, warnings={"NO_REST_DAY"}
    ),
    # The usual week: rest the day after the long run, heavy early, light Thursday.
    "long_run_saturday": Layout(_long_on("sat"), "sun", {"mon", "wed"}, "thu", {"fri"}),
    # The long run moved to Wednesday: nothing heavy Mon-Wed (R8), nothing lower Tuesday (R10),
    # no heavy Thursday (R12), the rest day follows it to Thursday, light about 48 h before (Mon).
    "long_run_moved_to_wednesday": Layout(_long_on("wed"), "thu", {"fri", "sat", "sun"}, "mon", {"tue"}),
    # Back-to-back Sat+Sun: R8 counts from Saturday; the day after the block is next week, so the
    # rest day is the day before (Friday).
    "back_to_back_long_runs": Layout(BACK_TO_BACK, "fri", {"mon", "tue", "wed"}, "thu", {"fri"}),
    # Only Monday is run-free: it is the rest day; strength goes on run days, before the run.
    "only_monday_free": Layout(ONLY_MONDAY_FREE, "mon", {"tue", "wed"}, "thu", {"fri"}),
    # Long run Sunday, intervals Thursday: heavy not Thu (R11), Fri/Sat (R8), Mon (R12) and not
    # Wednesday (soft R10, avoidable) -> Tuesday; light Friday (48 h before); rest Monday.
    "sunday_long_thursday_intervals": Layout(SUNDAY_LONG, "mon", {"tue"}, "fri", {"sat"}),
}


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_weekly_layout(layout: Layout) -> None:
    """Kinds, days, rest day and warnings of one week follow R8-R14."""
    result = plan_week(layout.runs, **layout.rules)
    week = sessions_in(result, 0)
    placed = by_day(result)

    assert [weekday(day) for day in rest_days(result)] == ([layout.rest] if layout.rest else [])
    assert result.weeks[0].rest_day == (d(0, layout.rest) if layout.rest else None)
    heavy = [weekday(s.day) for s in week if s.kind is HEAVY]
    assert len(heavy) == 1, placed
    assert heavy[0] in layout.heavy_allowed, placed
    if layout.light_day:
        assert "light_lower" in placed.get(layout.light_day, []), placed
    for day in layout.no_lower:
        assert not {"heavy_lower", "light_lower"} & set(placed.get(day, [])), placed
    assert len([s for s in week if s.kind is not SessionKind.REST]) == 2
    assert len({s.day for s in week}) == len(week), "two sessions on one day"
    assert layout.warnings <= set(codes(result))
    assert "LOW_STRENGTH" not in codes(result)
    assert_lift_first(result, layout.runs)
    assert_clean(result)


def test_no_rest_day_is_invented_when_every_day_has_a_run() -> None:
    """R14: the NO_REST_DAY warning names the week; no rest session anywhere."""
    result = plan_week(_every_day(), **BASE)
    warning = next(w for w in result.warnings if w.code == "NO_REST_DAY")
    assert warning.week == "2026-W49"
    assert not [s for s in result.sessions if s.kind is SessionKind.REST]


def test_back_to_back_block_rest_and_r12_the_monday_after() -> None:
    """Sat+Sun long runs then a normal week: Monday after the block is the rest day, never heavy."""
    runs = [
        *BACK_TO_BACK,
        timed(EASY, d(1, "tue"), 18, 45),
        timed(QUALITY, d(1, "thu"), 18, 60),
        all_day(LONG, d(1, "sat"), minutes=150),
    ]
    result = plan_week(runs, **BASE)
    assert d(1, "mon") in rest_days(result)
    assert not [s for s in strength(result) if s.kind is HEAVY and s.day == d(1, "mon")]
    # R8 counts from the block's first day: no heavy Thu-Sun of week 0.
    assert not [s for s in strength(result) if s.kind is HEAVY and d(0, "thu") <= s.day <= d(0, "sun")]
    assert_clean(result)


# ---- races ------------------------------------------------------------------------------------


def _training_week(week: int, long_minutes: int) -> list[Run]:
    return [
        timed(EASY, d(week, "mon"), 18, 45),
        timed(QUALITY, d(week, "tue"), 18, 60),
        timed(EASY, d(week, "thu"), 18, 45),
        all_day(LONG, d(week, "sat"), minutes=long_minutes, title=f"Long run {long_minutes} min"),
    ]


def _b_then_a() -> tuple[list[Run], date, date]:
    """A half marathon (B) on Saturday of week 2, the marathon (A) three weeks later."""
    b_day, a_day = d(2, "sat"), d(5, "sat")
    runs = [*_training_week(0, 150), *_training_week(1, 170)]
    runs += [r for r in _training_week(2, 0) if r.kind is not LONG]
    runs.append(race(b_day, 21.1, "B", "Half marathon (B)"))
    runs += [*_training_week(3, 200), *_training_week(4, 120)]
    runs += [timed(EASY, d(5, "mon"), 18, 45), timed(QUALITY, d(5, "tue"), 18, 45)]
    runs.append(race(a_day, 42.2, "A", "Marathon (A)"))
    return runs, b_day, a_day


def test_b_race_three_weeks_before_the_a_race() -> None:
    """R17 before the B race, R16 after it (half: 5 days), R6/R7 before the A race, taper, race week."""
    runs, b_day, a_day = _b_then_a()
    result = plan_week(runs)
    sessions = strength(result)

    # R17: no heavy in the 4 days before B, no strength the day before (or on race day).
    assert not [s for s in sessions if s.kind is HEAVY and b_day - timedelta(days=4) <= s.day <= b_day]
    assert not [s for s in sessions if b_day - timedelta(days=1) <= s.day <= b_day]
    # R16: a half marathon -> 5 days without strength, then light only for 5 more.
    assert not [s for s in sessions if b_day < s.day <= b_day + timedelta(days=5)]
    after = [s for s in sessions if b_day + timedelta(days=5) < s.day <= b_day + timedelta(days=10)]
    assert all(s.kind in LIGHT_ONLY for s in after), after
    # R6 / R7: nothing in the 7 days before A, no heavy in the 10 days before.
    assert not [s for s in sessions if a_day - timedelta(days=7) <= s.day <= a_day]
    assert not [s for s in sessions if s.kind is HEAVY and a_day - timedelta(days=10) <= s.day <= a_day]
    # Phases: week 4 (after the last week at >= 90 % of peak) is taper, week 5 the race week.
    weeks = phases(result)
    assert weeks[d(4, "mon")] == "taper"
    assert weeks[d(5, "mon")] == "race"
    assert [s for s in sessions_in(result, 5) if s.kind is not SessionKind.REST] == []
    # The plan goes on through the marathon's recovery (7 days, nothing planned) and the light-only
    # days after it (7 more, R16).
    assert max(w.start for w in result.weeks) == week_start(a_day + timedelta(days=14))
    assert not [s for s in sessions if a_day < s.day <= a_day + timedelta(days=7)]
    # Strength still happens in the build weeks (the B race does not wipe out the block).
    assert len([s for s in sessions if s.day < b_day - timedelta(days=1)]) >= 4
    assert_clean(result)


def test_a_race_on_a_wednesday() -> None:
    """R6/R7 count back from a midweek A race; the race week is 'race', the two before 'taper'."""
    runs: list[Run] = []
    for week in range(3):
        runs += _training_week(week, 150)
    a_day = d(3, "wed")
    runs += [timed(EASY, d(3, "mon"), 18, 30), race(a_day, 42.2, "A", "Marathon (A)")]
    result = plan_week(runs, peak_week_minutes=400)
    sessions = strength(result)

    assert not [s for s in sessions if a_day - timedelta(days=7) <= s.day <= a_day + timedelta(days=7)]
    assert not [s for s in sessions if s.kind is HEAVY and a_day - timedelta(days=10) <= s.day]
    weeks = phases(result)
    assert weeks[d(3, "mon")] == "race"
    assert [weeks[d(1, "mon")], weeks[d(2, "mon")]] == ["taper", "taper"]
    # The rest day of the race week is the day after the race (R14: the day after the long run).
    assert result.weeks[3].rest_day == a_day + timedelta(days=1)
    # After the 7 recovery days: light only until day 14.
    late = [s for s in sessions if a_day + timedelta(days=7) < s.day <= a_day + timedelta(days=14)]
    assert all(s.kind in LIGHT_ONLY for s in late), late
    assert_clean(result)


@pytest.mark.parametrize(
    ("km", "taper_weeks"),
    [
        pytest.param(160.9, 3, id="100mi-3-weeks"),
        pytest.param(
            42.2,
            2,
            id="marathon-2-weeks",
        ),
        pytest.param(
            21.1,
            1,
            id="half-1-week",
        ),
    ],
)
def test_short_feed_taper_fallback(km: float, taper_weeks: int) -> None:
    """A feed showing only the next 30 days, with the A race inside it: the fallback taper length."""
    runs: list[Run] = []
    for week in range(4):
        runs += [timed(QUALITY, d(week, "tue"), 18, 60), timed(EASY, d(week, "thu"), 18, 45)]
        if week < 3:
            runs.append(all_day(LONG, d(week, "sat"), minutes=150))
    a_day = d(3, "sat")
    runs.append(race(a_day, km, "A"))
    result = plan_week(runs)
    weeks = phases(result)

    assert weeks[d(3, "mon")] == "race"
    expected = ["taper"] * taper_weeks
    assert [weeks[d(w, "mon")] for w in range(3 - taper_weeks, 3)] == expected
    if taper_weeks < 3:
        assert weeks[d(2 - taper_weeks, "mon")] != "taper"
    assert_clean(result)


def test_short_feed_without_a_race_stops_at_the_last_run() -> None:
    """Past the end of the known plan nothing is planned, whatever the horizon."""
    runs = [r for week in range(4) for r in _training_week(week, 120) if r.first_day <= d(3, "tue")]
    result = plan_week(runs, horizon_weeks=16)
    assert [w.start for w in result.weeks] == [d(w, "mon") for w in range(4)]
    assert max(s.day for s in result.sessions) <= d(3, "sun")
    assert_clean(result)


@pytest.mark.parametrize(
    ("km", "recovery"),
    [(10.0, 3), (21.1, 5), (42.2, 7), (100.0, 10), (160.9, 21)],
    ids=["10k-3d", "half-5d", "marathon-7d", "100k-10d", "100mi-21d"],
)
def test_r16_recovery_after_a_race_by_distance(km: float, recovery: int) -> None:
    """R16: no strength for the recovery period, then light or bodyweight only for as long again."""
    race_day = d(0, "sat")
    runs = [timed(EASY, d(0, "tue"), 18, 45), race(race_day, km, "B", f"Race {km:g} km")]
    weeks_after = (2 * recovery) // 7 + 3
    for week in range(1, weeks_after + 1):
        runs += [timed(EASY, d(week, "tue"), 18, 45), timed(EASY, d(week, "thu"), 18, 45)]
    result = plan_week(runs, **BASE)
    sessions = strength(result)
    stop, light_until = race_day + timedelta(days=recovery), race_day + timedelta(days=2 * recovery)

    assert not [s for s in sessions if race_day <= s.day <= stop]
    light = [s for s in sessions if stop < s.day <= light_until]
    assert all(s.kind in LIGHT_ONLY for s in light), light
    assert light, "the light-only period should still hold light sessions"
    assert [s for s in sessions if s.day > light_until and s.kind is HEAVY], "heavy comes back"
    assert_clean(result)


# ---- weeks without runs -----------------------------------------------------------------------


def test_week_without_runs_is_unstructured() -> None:
    """A week with no runs between two training weeks: two 20-minute bodyweight sessions + a rest day."""
    runs = [*_training_week(0, 150), *_training_week(2, 150)]
    result = plan_week(runs, **BASE)
    assert phases(result)[d(1, "mon")] == "unstructured"
    week = sessions_in(result, 1)
    kinds = sorted(s.kind.value for s in week)
    assert kinds == ["bodyweight", "bodyweight", "rest"]
    assert all(s.minutes == 20 for s in week if s.kind is SessionKind.BODYWEIGHT)
    assert len({s.day for s in week}) == 3
    assert "LOW_STRENGTH" not in codes(result)
    assert_clean(result)


# ---- R19: windows and busy time ---------------------------------------------------------------


def test_r19_busy_morning_pushes_the_session_later_or_elsewhere() -> None:
    """A meeting 06:00-07:00 Monday: the Monday session starts at 07:00 or moves to another day."""
    meeting = Busy(at(d(0, "mon"), 6), at(d(0, "mon"), 7), "Team call")
    result = plan_week(_long_on("sat"), busy=[meeting], **BASE)
    for s in strength(result):
        assert isinstance(s.start, datetime)
        assert isinstance(s.end, datetime)
        assert not (s.start < meeting.end and meeting.start < s.end)
    monday = [s for s in strength(result) if s.day == d(0, "mon")]
    assert all(s.start == at(d(0, "mon"), 7) for s in monday)
    assert len(strength(result)) == 2
    assert_clean(result)


def test_r19_all_day_busy_blocks_its_day_but_a_free_one_does_not() -> None:
    """An opaque all-day event (passed as a whole-day Busy) blocks Monday; without it Monday is used."""
    trip = Busy(at(d(0, "mon"), 0), at(d(0, "tue"), 0), "Conference (all day, busy)")
    free = plan_week(_long_on("sat"), **BASE)
    blocked = plan_week(_long_on("sat"), busy=[trip], **BASE)
    # Monday is the only day for heavy legs (Tue quality, Wed/Thu too close to Saturday's long
    # run for R8's 3 full days, Sun the day after it): blocked, the week goes light.
    assert [s.kind for s in strength(free) if s.day == d(0, "mon")] == [HEAVY]
    assert not [s for s in strength(blocked) if s.day == d(0, "mon")]
    assert len(strength(blocked)) == 2
    assert HEAVY not in [s.kind for s in strength(blocked)]
    assert_clean(free)
    assert_clean(blocked)


def test_r19_windows_by_day() -> None:
    """``strength_windows_by_day`` replaces the default window on that weekday."""
    runs = [timed(EASY, d(0, "mon"), 7, 45), *_long_on("sat")[1:]]
    result = plan_week(runs, strength_windows_by_day={"mon": ["17:30-19:30"]}, **BASE)
    monday = [s for s in strength(result) if s.day == d(0, "mon")]
    assert monday, "Monday (heavy, 5 days before the long run) should still be used"
    for s in monday:
        assert isinstance(s.start, datetime)
        assert isinstance(s.end, datetime)
        assert at(d(0, "mon"), 17, 30) <= s.start
        assert s.end <= at(d(0, "mon"), 19, 30)
    for s in strength(result):
        if s.day != d(0, "mon"):
            assert isinstance(s.start, datetime)
            assert isinstance(s.end, datetime)
            assert at(s.day, 6) <= s.start
            assert s.end <= at(s.day, 8)
    # R13 lift_first cannot hold on Monday (run at 07:00, window in the evening): still placed.
    assert_clean(result)


def test_r13_run_first_keeps_six_hours_after_the_run() -> None:
    """``same_day_order = run_first``: on a run day the session starts >= 6 h after the run ends."""
    runs = [timed(EASY, d(0, x), 7, 60) for x in ("mon", "tue", "wed", "thu", "fri")]
    runs.append(all_day(LONG, d(0, "sat"), minutes=150))
    result = plan_week(
        runs, same_day_order="run_first", strength_windows=["06:00-08:00", "13:00-20:00"], **BASE
    )
    sessions = strength(result)
    assert len(sessions) == 2
    for s in sessions:
        ends = [r.end for r in runs if isinstance(r.end, datetime) and r.first_day == s.day]
        assert ends, "every weekday has a run: the sessions are on run days"
        assert isinstance(s.start, datetime)
        assert all(s.start >= e + timedelta(hours=6) for e in ends), s
    assert_clean(result)


# ---- R14 pinned rest day, R2, R3 --------------------------------------------------------------


def test_r14_pinned_rest_day() -> None:
    """``rest_day = "wed"`` wins over the day after the long run when Wednesday is run-free."""
    result = plan_week(_long_on("sat"), rest_day="wed", **BASE)
    assert rest_days(result) == [d(0, "wed")]
    assert not [s for s in strength(result) if s.day == d(0, "wed")]
    assert_clean(result)


def test_r14_pinned_rest_day_with_a_run_falls_back() -> None:
    """A pinned rest day that has a run is not used; the usual preference applies."""
    result = plan_week(_long_on("sat"), rest_day="tue", **BASE)
    assert rest_days(result) == [d(0, "sun")]
    assert_clean(result)


def test_r2_three_sessions_cover_every_muscle_group() -> None:
    """R2 = 3: three sessions on distinct days, together covering lower, upper and core."""
    result = plan_week(_long_on("sat"), strength_sessions_per_week=3, **BASE)
    sessions = strength(result)
    assert len(sessions) == 3
    assert len({s.day for s in sessions}) == 3
    groups = {g for s in sessions for g in s.muscle_groups}
    assert {"lower", "upper", "core"} <= groups
    assert_clean(result)


def test_r3_floor_warning_when_nothing_fits() -> None:
    """Every morning is busy: no session can be placed, warnings say so (R3 floor, per slot)."""
    busy = [Busy(at(d(0, x), 5), at(d(0, x), 9), "Early shift") for x in WEEKDAYS]
    result = plan_week(_long_on("sat"), busy=busy, **BASE)
    assert strength(result) == []
    assert ("LOW_STRENGTH", "2026-W49") in {(w.code, w.week) for w in result.warnings}
    assert codes(result).count("STRENGTH_NOT_PLACED") == 2
    assert rest_days(result) == [d(0, "sun")]
    assert_clean(result)


# ---- R4 / R5: minutes and load against peak volume -------------------------------------------


@pytest.mark.parametrize(
    ("peak", "week_minutes", "first_minutes"),
    [(600, 120, 50), (330, 60, 30)],
    ids=["far-from-peak-60min", "at-peak-30min"],
)
def test_r4_strength_minutes_shrink_near_peak(peak: int, week_minutes: int, first_minutes: int) -> None:
    """S_w = 120 * (1 - 0.5 * ramp): 60 min a session far from peak (the heavy session's
    content fills 50), 30 min at peak."""
    runs = _long_on("sat")
    result = plan_week([*history(runs), *runs], peak_week_minutes=peak)  # the week runs 330 min
    assert result.weeks[0].strength_target_minutes == week_minutes
    main = next(s for s in strength(result) if s.slot == "s1")
    assert main.minutes == first_minutes
    assert sum(s.minutes for s in strength(result)) <= week_minutes
    assert result.weeks[0].strength_minutes == sum(s.minutes for s in strength(result))
    assert_clean(result)


@pytest.mark.parametrize(
    ("peak", "kind", "load"),
    [(660, HEAVY, "heavy"), (400, HEAVY, "moderate"), (340, LIGHT, "light")],
    ids=["50pct-heavy", "82pct-moderate", "97pct-light"],
)
def test_r5_lower_body_load_by_fraction_of_peak(peak: int, kind: SessionKind, load: str) -> None:
    """R5: heavy below 75 % of peak volume, moderate to 90 %, light above."""
    runs = _long_on("sat")
    result = plan_week([*history(runs), *runs], peak_week_minutes=peak)  # the week runs 330 min
    main = next(s for s in strength(result) if s.slot == "s1")
    assert (main.kind, main.load) == (kind, load)
    assert_clean(result)


# ---- R18: the big picture ---------------------------------------------------------------------


def _busy_mornings(first: date, last: date, free: set[date]) -> list[Busy]:
    """Every strength window from ``first`` to ``last`` busy, except on the ``free`` days."""
    return [
        Busy(at(day, 5), at(day, 9), "Early shift") for day in days_between(first, last) if day not in free
    ]


def test_r18_below_target() -> None:
    """Four base weeks where only two mornings are free: 0.5 sessions a week, below 0.75 x 2."""
    runs = [r for week in range(4) for r in _training_week(week, 120)]
    free = {d(0, "mon"), d(3, "wed")}
    result = plan_week(runs, busy=_busy_mornings(d(0, "mon"), d(3, "sun"), free), **BASE)
    assert {s.day for s in strength(result)} == free
    warning = next(w for w in result.warnings if w.code == "STRENGTH_BELOW_TARGET")
    assert warning.week == "2026-W52"
    assert_clean(result)


def test_r18_gap_over_ten_days() -> None:
    """Enough sessions on average (6 in 4 weeks) but a busy week leaves 11 days without strength."""
    runs = [r for week in range(4) for r in _training_week(week, 120)]
    free = set(days_between(d(0, "mon"), d(3, "sun"))) - set(days_between(d(2, "mon"), d(2, "sun")))
    result = plan_week(runs, busy=_busy_mornings(d(0, "mon"), d(3, "sun"), free), **BASE)
    days = sorted(s.day for s in strength(result))
    assert len(days) == 6
    assert max((b - a).days for a, b in itertools.pairwise(days)) > 10
    assert "STRENGTH_GAP" in codes(result)
    assert "STRENGTH_BELOW_TARGET" not in codes(result)
    assert_clean(result)


def test_r18_no_warning_for_a_normal_block() -> None:
    """Four ordinary base weeks with two sessions each: no R18 warning."""
    runs = [r for week in range(4) for r in _training_week(week, 120)]
    result = plan_week(runs, **BASE)
    assert len(strength(result)) == 8
    assert not {"STRENGTH_BELOW_TARGET", "STRENGTH_GAP"} & set(codes(result))
    assert_clean(result)


# ---- now, fixed sessions, UIDs ----------------------------------------------------------------


def _fixed(slot: str, kind: SessionKind, start: datetime, minutes: int) -> Session:
    return Session(
        uid=f"calsync-me-2026W49-{slot}",
        kind=kind,
        title="kept",
        start=start,
        end=start + timedelta(minutes=minutes),
        week="2026-W49",
        slot=slot,
        reasons=("kept",),
        fixed=True,
    )


def test_now_mid_week_plans_nothing_in_the_past() -> None:
    """Wednesday noon: nothing starts before now; the week still gets its sessions and rest day."""
    now = at(d(0, "wed"), 12)
    result = plan_week(_long_on("sat"), now=now, **BASE)
    for s in result.sessions:
        if isinstance(s.start, datetime):
            assert s.start > now
        else:
            assert s.start >= now.date()
    assert rest_days(result) == [d(0, "sun")]
    assert len(strength(result)) >= 1
    assert_clean(result, now)


def test_fixed_sessions_keep_their_slot_and_are_not_duplicated() -> None:
    """A past s1 (Monday) and a person-moved s2 (Friday 07:00, later than planned) stay as they are."""
    now = at(d(0, "wed"), 12)
    past = _fixed("s1", HEAVY, at(d(0, "mon"), 6), 60)
    moved = _fixed("s2", SessionKind.CORE, at(d(0, "thu"), 7), 30)
    result = plan_week(_long_on("sat"), now=now, fixed=[past, moved], **BASE)
    uids = [s.uid for s in result.sessions]
    assert len(uids) == len(set(uids))
    assert past in result.sessions
    assert moved in result.sessions
    week = [s for s in sessions_in(result, 0) if s.kind is not SessionKind.REST]
    assert sorted(s.slot for s in week) == ["s1", "s2"]
    assert rest_days(result) == [d(0, "sun")]
    assert_clean(result, now)


def test_fixed_rest_day_is_kept() -> None:
    """A rest day that already exists (edited by a person) is the week's rest day, and only once."""
    rest = Session(
        uid="calsync-me-2026W49-rest",
        kind=SessionKind.REST,
        title="Rest day",
        start=d(0, "wed"),
        end=d(0, "thu"),
        week="2026-W49",
        slot="rest",
        fixed=True,
    )
    result = plan_week(_long_on("sat"), fixed=[rest], **BASE)
    assert rest_days(result) == [d(0, "wed")]
    assert result.weeks[0].rest_day == d(0, "wed")
    assert not [s for s in strength(result) if s.day == d(0, "wed")]
    assert_clean(result)


UID = re.compile(r"^calsync-me-(\d{4})W(\d{2})-(s\d+|rest)$")


def test_uids_are_deterministic_and_well_formed() -> None:
    """``calsync-<plan>-<YYYY>W<WW>-<slot>``, unique, equal on a second run."""
    runs = [*_training_week(0, 150), *_training_week(1, 160)]
    first, second = plan_week(runs, **BASE), plan_week(runs, **BASE)
    assert first == second
    uids = [s.uid for s in first.sessions]
    assert len(uids) == len(set(uids))
    for s in first.sessions:
        match = UID.match(s.uid)
        assert match, s.uid
        assert f"{match[1]}-W{match[2]}" == s.week
        assert match[3] == s.slot


def test_uids_stay_when_the_long_run_moves_within_the_week() -> None:
    """Saturday -> Wednesday: the same UIDs; each slot keeps its UID, only its start / kind change."""
    before = plan_week(_long_on("sat"), **BASE)
    after = plan_week(_long_on("wed"), **BASE)
    slots_before = {s.slot: s.uid for s in before.sessions}
    slots_after = {s.slot: s.uid for s in after.sessions}
    assert slots_before == slots_after
    moved = {s.slot for s in before.sessions} - {
        a.slot for a in after.sessions for b in before.sessions if a.uid == b.uid and a.start == b.start
    }
    assert moved, "the sessions should follow the long run"
    assert_clean(after)


def test_moving_a_run_by_an_hour_changes_nothing() -> None:
    """An easy run moved from 18:00 to 19:00 leaves every session as it was."""
    runs = _long_on("sat")
    later = [timed(EASY, d(0, "mon"), 19, 45), *runs[1:]]
    assert plan_week(runs, **BASE).sessions == plan_week(later, **BASE).sessions


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_plan_for_shuffled_runs(seed: int) -> None:
    """The plan does not depend on the order of the runs (a metamorphic test)."""
    runs, _, _ = _b_then_a()
    shuffled = list(runs)
    random.Random(seed).shuffle(shuffled)
    a, b = plan_week(runs), plan_week(shuffled)
    assert (a.sessions, a.weeks, a.warnings, a.runs) == (b.sessions, b.weeks, b.warnings, b.runs)


# ---- DST --------------------------------------------------------------------------------------


def test_dst_week_keeps_06_00_local() -> None:
    """Europe/Berlin switches to summer time on Sunday 2027-03-28: sessions stay at 06:00 local."""
    monday = date(2027, 3, 22)
    runs = [timed(EASY, monday + timedelta(days=k), 18, 45) for k in (0, 1, 2, 3, 4, 6, 8, 10)]
    runs += [all_day(LONG, date(2027, 3, 27), minutes=150), all_day(LONG, date(2027, 4, 3), minutes=150)]
    # The week of the switch: every day has a run, and only Sunday morning is free.
    busy = _busy_mornings(monday, monday + timedelta(days=5), set())
    now = datetime(2027, 3, 22, 5, 0, tzinfo=BERLIN)
    result = plan_week(runs, busy=busy, now=now, **BASE)
    sessions = strength(result)
    offsets: dict[date, timedelta | None] = {}
    for s in sessions:
        assert isinstance(s.start, datetime)
        assert s.start.astimezone(BERLIN).time() == time(6)
        offsets[s.day] = s.start.astimezone(BERLIN).utcoffset()
    assert offsets.get(date(2027, 3, 28)) == timedelta(hours=2), offsets
    assert any(day > date(2027, 3, 28) for day in offsets)
    assert set(offsets.values()) == {timedelta(hours=2)}
    assert "NO_REST_DAY" in codes(result)
    assert_clean(result, now)


def test_dst_sessions_before_and_after_the_switch() -> None:
    """Sessions of the switch week are at 06:00+01:00, those of the week after at 06:00+02:00."""
    monday = date(2027, 3, 22)
    runs = [*(timed(EASY, monday + timedelta(days=k), 18, 45) for k in (1, 3, 8, 10))]
    runs += [all_day(LONG, monday + timedelta(days=5), minutes=150)]
    runs += [all_day(LONG, monday + timedelta(days=12), minutes=150)]
    now = datetime(2027, 3, 22, 5, 0, tzinfo=BERLIN)
    result = plan_week(runs, now=now, **BASE)
    for s in strength(result):
        assert isinstance(s.start, datetime)
        local = s.start.astimezone(BERLIN)
        assert local.time() == time(6)
        expected = timedelta(hours=1) if s.day < date(2027, 3, 28) else timedelta(hours=2)
        assert local.utcoffset() == expected
    assert {s.day < date(2027, 3, 28) for s in strength(result)} == {True, False}
    assert_clean(result, now)


# ---- regressions: bugs a coach would reject ----------------------------------------------------------------


def test_no_lower_body_on_the_morning_of_the_long_run() -> None:
    """Mon-Thu mornings busy, long run Saturday: lower body must not go on the long run's day."""
    busy = [Busy(at(d(0, x), 6), at(d(0, x), 8), "Meeting") for x in ("mon", "tue", "wed", "thu")]
    result = plan_week([all_day(LONG, d(0, "sat"), minutes=150)], busy=busy, **BASE)
    assert not [s for s in strength(result) if s.kind.is_lower and s.day == d(0, "sat")]
    assert_clean(result)


def test_no_rest_day_when_a_persons_session_holds_the_only_run_free_day() -> None:
    """R14 is hard: a person's own strength session on the week's only run-free day leaves no day
    for the rest day (none on a strength day), so the week gets NO_REST_DAY instead of a silently
    missing rest day, and nothing else is planned on that day (the edit wins, PRODUCT.md s. 4)."""
    kept = _fixed("s2", SessionKind.CORE, at(d(0, "mon"), 6), 30)
    result = plan_week(ONLY_MONDAY_FREE, fixed=[kept], **BASE)
    assert rest_days(result) == []
    assert result.weeks[0].rest_day is None
    warning = next(w for w in result.warnings if w.code == "NO_REST_DAY")
    assert warning.week == "2026-W49"
    assert "Mon 30 Nov" in warning.message
    assert [s for s in result.sessions if s.day == d(0, "mon")] == [kept]


def test_no_rest_day_warning_only_for_days_ahead() -> None:
    """Run-free days that are all in the past (now is Tuesday) give no rest day and no warning."""
    now = at(d(0, "tue"), 12)
    result = plan_week(ONLY_MONDAY_FREE, now=now, **BASE)
    assert rest_days(result) == []
    assert "NO_REST_DAY" not in codes(result)


def test_a_run_ending_in_the_spring_forward_gap_is_read_as_the_instant() -> None:
    """A run from Saturday 22:30 to the wall time 02:00 of the night Berlin skips 02:00-03:00 (as a
    floating time or a careless feed gives it) ends at 03:00+02:00 and lasts 210 minutes; the
    same run written in UTC gives the same plan, to the last field."""
    start = at(date(2026, 3, 28), 22, 30)
    local = Run(uid="late@test", title="Late run", kind=EASY, start=start, end=start + timedelta(minutes=210))
    utc = Run(
        uid="late@test",
        title="Late run",
        kind=EASY,
        start=start.astimezone(UTC),
        end=datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    )
    now = at(date(2026, 3, 23), 5)
    runs = [all_day(LONG, date(2026, 3, 21), minutes=150), local]
    result = plan_week(runs, now=now)
    assert result == plan_week([runs[0], utc], now=now)
    run = next(r for r in result.runs if r.uid == "late@test")
    assert isinstance(run.end, datetime)
    assert run.end.isoformat() == "2026-03-29T03:00:00+02:00"
    assert result.weeks[0].run_minutes == 210
    assert_clean(result, now)
