"""Coach-grade plans on the feeds runners really have (PRODUCT.md section 2, issue 9).

Each scenario is a feed of its own style (tests/coaching_feeds.py), classified and planned as the
pipeline does; the assertions are what a coach reading the week table checks, and every plan
also passes shared/checks/plan_check.py. Builders take their shape as parameters, and several
tests vary them, so nothing here is tuned to one file.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest

from calsync.core.model import (
    Phase,
    PlanResult,
    RunKind,
    Session,
    SessionKind,
    SourceEvent,
    WarningCode,
    run_key,
    week_start,
)
from coaching_feeds import (
    NOW,
    ZONE,
    Feed,
    all_day,
    b50k_before_a_marathon,
    coach_feed_3_weeks,
    day,
    ends_in_a_race,
    miles_blocks,
    plan_feed,
    runs_and_bikes,
    timed,
    ultra_24_weeks,
)
from planner_helpers import hard_findings

ORDER = [Phase.BASE, Phase.BUILD, Phase.PEAK, Phase.TAPER, Phase.RACE]
RULE_CODE = re.compile(r"\bR\d{1,2}\b")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HEAVY = SessionKind.HEAVY_LOWER


def strength(result: PlanResult) -> list[Session]:
    return [s for s in result.sessions if s.kind.is_strength]


def week_of(result: PlanResult, monday: date) -> list[Session]:
    return [s for s in result.sessions if monday <= s.day < monday + timedelta(days=7)]


def assert_forward(result: PlanResult) -> None:
    """Phases never go back inside a build-up (unstructured and recovery weeks aside)."""
    ranks = [ORDER.index(w.phase) for w in result.weeks if w.phase in ORDER]
    assert ranks == sorted(ranks), [w.phase.value for w in result.weeks]


def assert_clean(result: PlanResult) -> None:
    assert hard_findings(result, NOW) == []
    for session in result.sessions:
        for reason in session.reasons:
            assert not RULE_CODE.search(reason), reason
            assert not re.search(r"\d\.\d{3,}", reason), reason  # no "22.5308 km"


# ---- a 24-week ultra with cutback weeks ---------------------------------------------------------


@pytest.mark.parametrize("cutback_every", [3, 4])
def test_ultra_with_cutback_weeks_moves_forward_and_keeps_its_blocks(cutback_every: int) -> None:
    result = plan_feed(Feed(ultra_24_weeks(cutback_every=cutback_every)))
    assert_clean(result)
    assert_forward(result)
    weeks = {w.start: w for w in result.weeks}
    phases = [w.phase for w in result.weeks]
    assert phases.count(Phase.PEAK) <= 4
    assert Phase.BASE in phases
    assert Phase.BUILD in phases
    assert Phase.TAPER in phases
    # the race week, then its recovery: no "unstructured" weeks after the final race
    race_week = week_start(day(23, "sat"))
    assert weeks[race_week].phase is Phase.RACE
    after = [w for w in result.weeks if w.start > race_week]
    assert after
    assert all(w.phase is Phase.RECOVERY for w in after)
    # every planned down week is flagged and keeps its block's phase and load
    cutbacks = [w for w in result.weeks if w.cutback]
    assert len(cutbacks) >= 4
    for w in cutbacks:
        before = weeks[w.start - timedelta(weeks=1)]
        assert w.phase in (Phase.BASE, Phase.BUILD, Phase.PEAK)
        assert w.phase is before.phase or ORDER.index(w.phase) >= ORDER.index(before.phase)
        assert w.load == before.load
    # no week above 100 % of peak, and the load never gets heavier again inside the build-up
    assert all(w.peak_fraction <= 1.0 for w in result.weeks)
    loads = [w.load for w in result.weeks[1:] if w.phase in ORDER[:3]]  # week 0 is eased in
    ranks = [("heavy", "moderate", "light").index(x) for x in loads if x]
    assert ranks == sorted(ranks)


def test_ultra_peak_weeks_are_the_last_big_weeks_before_the_taper() -> None:
    result = plan_feed(Feed(ultra_24_weeks()))
    peak = [w for w in result.weeks if w.phase is Phase.PEAK]
    taper = [w for w in result.weeks if w.phase is Phase.TAPER]
    assert peak
    assert taper
    assert peak[-1].start + timedelta(weeks=1) == taper[0].start
    # the biggest training week is a peak week, and no early week is "peak"
    biggest = max(result.weeks, key=lambda w: w.run_minutes)
    assert biggest.phase is Phase.PEAK
    assert peak[0].start >= taper[0].start - timedelta(weeks=4)


def test_first_heavy_week_is_eased_in_and_heavy_follows() -> None:
    result = plan_feed(Feed(ultra_24_weeks()))
    first, second = result.weeks[0], result.weeks[1]
    assert (first.phase, first.load) == (Phase.BASE, "moderate")
    assert second.load == "heavy"
    main = [s for s in week_of(result, first.start) if s.kind is HEAVY]
    assert main
    assert all(s.load == "moderate" for s in main)
    assert any("ease" in r for s in main for r in s.reasons)
    # exercise names stay from week to week (weights can progress)
    names = [tuple(e.name for e in s.exercises[:2]) for s in strength(result) if s.kind is HEAVY]
    assert len(set(names)) == 1


# ---- a coach's feed showing 3 weeks ---------------------------------------------------------------


@pytest.mark.parametrize("first_week", [0, 1])
def test_short_coach_feed_is_never_peak(first_week: int) -> None:
    result = plan_feed(Feed(coach_feed_3_weeks(first_week)))
    assert_clean(result)
    assert [w.code for w in result.warnings].count(WarningCode.PEAK_UNKNOWN) == 1
    assert all(w.phase in (Phase.BASE, Phase.BUILD) for w in result.weeks)
    assert all(w.load == "moderate" for w in result.weeks)
    # the plan stops where the feed stops: nothing is planned past the known plan
    assert max(s.day for s in result.sessions) <= day(first_week + 2, "sun")
    # upper body on two days of every week, and every session explains itself without codes
    for w in result.weeks:
        upper_days = {s.day for s in week_of(result, w.start) if "upper" in s.muscle_groups}
        assert len(upper_days) >= 2, w.week


def test_short_feed_with_peak_week_minutes_is_judged_against_it() -> None:
    result = plan_feed(Feed(coach_feed_3_weeks(), rules={"peak_week_minutes": 600}))
    assert "PEAK_UNKNOWN" not in [w.code for w in result.warnings]
    assert all(w.phase is Phase.BASE and w.load in ("heavy", "moderate") for w in result.weeks)
    assert any(s.kind is HEAVY and s.load == "heavy" for s in strength(result))


def test_short_feed_far_from_its_a_race_is_not_peak() -> None:
    """Three weeks shown, the A race 12 weeks out: the feed does not show the peak."""
    events = [*coach_feed_3_weeks(), all_day("far", "Race: Zugspitz Ultratrail 100K", day(14, "sat"))]
    result = plan_feed(Feed(events))
    shown = [w for w in result.weeks if w.start <= day(2, "mon")]
    assert shown
    assert all(w.phase in (Phase.BASE, Phase.BUILD) for w in shown)
    assert "PEAK_UNKNOWN" in [w.code for w in result.warnings]
    assert_clean(result)


# ---- a plan typed in miles into identical calendar blocks -------------------------------------------


@pytest.mark.parametrize(("weeks", "first_long"), [(8, 14), (6, 16)])
def test_miles_typed_into_identical_blocks(weeks: int, first_long: int) -> None:
    result = plan_feed(Feed(miles_blocks(weeks, first_long)))
    assert_clean(result)
    assert result.unit == "mi"
    longs = [r for r in result.runs if r.kind is RunKind.LONG]
    minutes = [result.run_minutes[run_key(r)] for r in longs[:weeks]]
    assert minutes == sorted(minutes), "the title's distance is the truth"
    assert minutes[0] < minutes[-1]
    build = [w.run_minutes for w in result.weeks[: weeks - 1]]
    assert len(set(build)) > 2, "weeks are not all the same"
    assert_forward(result)
    text = " ".join(r for s in result.sessions for r in s.reasons)
    assert " mi " in text
    assert " km" not in text


# ---- runs plus bike sessions ------------------------------------------------------------------------


@pytest.mark.parametrize("bike_days", [["mon", "wed"], ["sun"], ["mon", "fri", "sun"]])
def test_rest_day_is_never_a_bike_day_while_a_free_day_exists(bike_days: list[str]) -> None:
    result = plan_feed(Feed(runs_and_bikes(bike_days)))
    assert_clean(result)
    bike = {b.start.date() for b in result.busy if b.training}
    rests = [s.day for s in result.sessions if s.kind is SessionKind.REST]
    assert len(rests) == len(result.weeks)
    assert not set(rests) & bike


def test_no_training_free_day_names_the_lightest() -> None:
    result = plan_feed(Feed(runs_and_bikes(["mon", "wed", "fri", "sun"])))
    assert not [s for s in result.sessions if s.kind is SessionKind.REST]
    warnings = [w for w in result.warnings if w.code == "NO_REST_DAY"]
    assert len(warnings) == len(result.weeks)
    assert all("lightest" in w.message for w in warnings)
    assert_clean(result)


# ---- a B 50K before an A marathon -------------------------------------------------------------------


def test_b_50k_before_an_a_marathon() -> None:
    result = plan_feed(Feed(b50k_before_a_marathon()))
    assert_clean(result)
    assert_forward(result)
    b_day, a_day = day(5, "sat"), day(12, "sun")
    # races are not training volume: no week above 100 %, the B race week is no "peak"
    assert all(w.peak_fraction <= 1.0 for w in result.weeks)
    weeks = {w.start: w for w in result.weeks}
    assert weeks[week_start(b_day)].phase is not Phase.PEAK
    assert weeks[week_start(a_day)].phase is Phase.RACE
    # the biggest training weeks are peak, with light legs, not base with heavy legs
    biggest = max(result.weeks, key=lambda w: w.run_minutes)
    assert biggest.phase is Phase.PEAK
    assert biggest.load == "light"
    # R17 for a long B race: no leg work in the 3 days before it, no strength the day before
    near = [s for s in strength(result) if b_day - timedelta(days=3) <= s.day <= b_day]
    assert all(not s.kind.is_lower for s in near)
    assert not [s for s in near if s.day == b_day - timedelta(days=1)]
    # R16: 10 days without strength after a 50K, then light only
    after = [s for s in strength(result) if b_day < s.day <= b_day + timedelta(days=20)]
    assert all(s.day > b_day + timedelta(days=10) for s in after)
    assert all(s.kind is not HEAVY for s in after)


# ---- a plan ending in a race followed by nothing ---------------------------------------------------


@pytest.mark.parametrize(("km", "recovery_weeks"), [(42.2, 2), (21.1, 2), (10.0, 1)])
def test_plan_ending_in_a_race_ends_with_its_recovery(km: float, recovery_weeks: int) -> None:
    result = plan_feed(Feed(ends_in_a_race(km)))
    assert_clean(result)
    race_week = week_start(day(8, "sun"))
    after = [w for w in result.weeks if w.start > race_week]
    assert [w.phase for w in after] == [Phase.RECOVERY] * recovery_weeks
    assert Phase.UNSTRUCTURED not in [w.phase for w in result.weeks]


# ---- R8 in full days ------------------------------------------------------------------------------


@pytest.mark.parametrize("long_day", ["fri", "sat", "sun"])
def test_heavy_legs_leave_three_full_days_before_the_long_run(long_day: str) -> None:
    events = []
    for week in range(3):
        events += [
            all_day(f"e{week}", "Run: Easy Run 40 min", day(week, "tue")),
            all_day(f"l{week}", "Long Run 20 km", day(week, long_day)),
        ]
    result = plan_feed(Feed(events, rules={"peak_week_minutes": 600}))
    assert_clean(result)
    longs = [r.first_day for r in result.runs if r.kind is RunKind.LONG]
    heavy = [s for s in strength(result) if s.kind is HEAVY]
    assert heavy
    for s in heavy:
        gaps = [(d - s.day).days for d in longs if d >= s.day]
        assert min(gaps, default=7) >= 4, (s.day, gaps)  # Monday before Friday at the latest


# ---- a person's move, and a moved run ----------------------------------------------------------------


def test_a_person_dragging_heavy_legs_to_the_day_before_the_long_run() -> None:
    feed = Feed(ultra_24_weeks())
    first = plan_feed(feed)
    week = first.weeks[1].start
    heavy = next(s for s in week_of(first, week) if s.kind is HEAVY)
    long_day = next(r.first_day for r in first.runs if r.kind is RunKind.LONG and r.first_day >= week)
    moved_start = datetime.combine(long_day - timedelta(days=1), time(6), ZONE)
    dragged = replace(
        heavy, start=moved_start, end=moved_start + timedelta(minutes=heavy.minutes), fixed=True
    )
    result = plan_feed(feed, fixed=[dragged])
    kept = [s for s in result.sessions if s.uid == heavy.uid]
    assert kept == [dragged]
    warnings = [w for w in result.warnings if w.code == "PERSON_BREAKS_RULE"]
    assert len(warnings) == 1
    assert "day before" in warnings[0].message
    assert "R10" not in warnings[0].message
    # the rest of the week is planned around it: one more session, not on that day
    others = [s for s in week_of(result, week) if s.kind.is_strength and s.uid != heavy.uid]
    assert others
    assert all(s.day != dragged.day for s in others)
    assert_clean(result)


def test_a_moved_long_run_changes_only_what_it_made_invalid() -> None:
    events = runs_and_bikes([], weeks=3)
    feed = Feed(events)
    first = plan_feed(feed)
    # the week-1 long run moves from Saturday to Sunday
    moved = [
        replace(e, start=e.start + timedelta(days=1), end=e.end + timedelta(days=1)) if e.uid == "r1l" else e
        for e in events
    ]
    second = plan_feed(feed, events=moved, previous=[s for s in first.sessions if not s.fixed])
    before = {s.uid: s for s in first.sessions}
    after = {s.uid: s for s in second.sessions}
    long_day = day(1, "sun")
    changed = [uid for uid in before if uid not in after or after[uid].day != before[uid].day]
    assert changed, "the rest day on Sunday must move"
    for uid in changed:
        old = before[uid]
        # only a session the move made invalid may move: a rest day now holding the run, lower
        # body the day before it, heavy legs too close before it or the day after it (R12)
        invalid = (
            old.day == long_day
            or (old.kind.is_lower and old.day == long_day - timedelta(days=1))
            or (old.kind is HEAVY and 0 <= (long_day - old.day).days <= 3)
            or (old.kind is HEAVY and old.day == long_day + timedelta(days=1))
        )
        assert invalid, (old.kind, old.day)
    # weeks the move does not reach do not change at all
    for w in (first.weeks[0].start,):
        assert {(s.uid, s.day) for s in week_of(first, w)} == {(s.uid, s.day) for s in week_of(second, w)}
    assert_clean(second)


def test_words_a_runner_reads() -> None:
    result = plan_feed(Feed(miles_blocks()))
    for session in strength(result):
        assert session.rules
        assert all(RULE_CODE.fullmatch(r) for r in session.rules)
        assert session.effort
        assert session.warmup
        assert session.alternative
        assert all(re.match(r"\d+ x ", e.prescription) for e in session.exercises)
    short = min(strength(result), key=lambda s: s.minutes)
    long = max(strength(result), key=lambda s: s.minutes)
    if short.kind is long.kind and short.minutes < long.minutes:
        assert len(short.exercises) <= len(long.exercises)
    reasons = " ".join(r for s in result.sessions for r in s.reasons)
    assert "no time for a full session" not in reasons  # windows are free in this feed
    assert_clean(result)


def test_every_feed_style_passes_plan_check_at_any_point_of_its_plan() -> None:
    feeds = [
        ultra_24_weeks(),
        coach_feed_3_weeks(),
        miles_blocks(),
        runs_and_bikes(["wed"]),
        b50k_before_a_marathon(),
        ends_in_a_race(),
    ]
    for events in feeds:
        for weeks_in in (0, 3, 7):
            now = NOW + timedelta(weeks=weeks_in, days=2, hours=3)
            result = plan_feed(Feed(events), now=now)
            assert hard_findings(result, now) == []
            assert all(w.peak_fraction <= 1.0 for w in result.weeks)


def test_on_run_days_sessions_are_lifted_before_the_run() -> None:
    """R13 (lift_first): a week with a morning run on every weekday and the long run on Saturday
    leaves only run days for strength; each session ends before that day's run starts."""
    events = [timed(f"r{k}", "Run: Easy Run 40 min", day(0, d), 7, 40) for k, d in enumerate(DAYS[:5])]
    events.append(all_day("l", "Long Run 20 km", day(0, "sat")))
    result = plan_feed(Feed(events, rules={"peak_week_minutes": 400}))
    sessions = strength(result)
    assert sessions
    for s in sessions:
        assert s.day.weekday() < 5
        assert s.end <= datetime.combine(s.day, time(7), ZONE)
    assert_clean(result)


# ---- found in review: each failed before its fix ----------------------------------------------


def _base_plan(weeks: int = 6) -> list[SourceEvent]:
    events = []
    for week in range(weeks):
        events += [
            all_day(f"bq{week}", "Intervals 8x400m", day(week, "tue")),
            all_day(f"be{week}", "Run: Easy Run 45 min", day(week, "thu")),
            all_day(f"bl{week}", f"Long Run {16 + week} km", day(week, "sat")),
        ]
    return events


def _start_day(event: SourceEvent) -> date:
    """An all-day event's first day."""
    assert not isinstance(event.start, datetime), f"{event.uid} is not all-day"
    return event.start


def test_bodyweight_is_leg_work_for_the_day_before_a_long_run() -> None:
    """Squats and lunges the day before the long run break R10 as light legs would."""
    result = plan_feed(Feed(_base_plan(), rules={"strength_windows": ["06:00-06:25"]}))
    longs = {r.first_day for r in result.runs if r.is_long}
    for s in strength(result):
        if "lower" in s.muscle_groups:
            assert s.day + timedelta(days=1) not in longs, (s.kind, s.day)
            assert s.day not in longs, (s.kind, s.day)


def test_a_moved_quality_run_moves_the_heavy_session_rather_than_lighten_it() -> None:
    events = _base_plan()
    feed = Feed(events, rules={"peak_week_minutes": 600})
    first = plan_feed(feed)
    week = first.weeks[2].start
    heavy = next(s for s in week_of(first, week) if s.kind is HEAVY)
    assert heavy.day == day(2, "mon")
    moved = [
        replace(e, start=e.start - timedelta(days=1), end=e.end - timedelta(days=1)) if e.uid == "bq2" else e
        for e in events
    ]
    second = plan_feed(feed, events=moved, previous=[s for s in first.sessions if not s.fixed])
    again = next(s for s in second.sessions if s.uid == heavy.uid)
    assert again.kind is HEAVY
    assert again.day != day(2, "mon")


def test_sessions_are_not_crammed_onto_consecutive_days_after_a_race() -> None:
    events = [*_base_plan(4), all_day("half", "Race: City Half Marathon (A)", day(4, "sun"))]
    events += [all_day(f"after{k}", "Run: Easy Run 30 min", day(5 + k, "wed")) for k in range(2)]
    result = plan_feed(Feed(events))
    lower_days = sorted(s.day for s in strength(result) if s.day > day(4, "sun"))
    assert all((b - a).days > 1 for a, b in itertools.pairwise(lower_days)), lower_days


def test_no_strength_wanted_means_no_strength_warnings() -> None:
    result = plan_feed(
        Feed(_base_plan(), rules={"strength_sessions_per_week": 0, "strength_floor_per_week": 0})
    )
    assert not strength(result)
    assert not [w for w in result.warnings if w.code.startswith("STRENGTH")]


def test_peak_unknown_after_a_past_a_race_does_not_speak_of_it() -> None:
    events = [all_day("past", "Race: Spring Marathon (A)", day(-2, "sun")), *coach_feed_3_weeks()]
    result = plan_feed(Feed(events))
    warning = next(w for w in result.warnings if w.code == "PEAK_UNKNOWN")
    assert "up to your A race" not in warning.message


def test_description_says_no_gym_once() -> None:
    from calsync.core.render import describe

    result = plan_feed(Feed(_base_plan()))
    for s in strength(result):
        assert describe(s).count("No gym") == 1


@pytest.mark.parametrize("gap_weeks", [2, 3])
def test_a_holiday_of_a_few_weeks_is_unstructured_not_forgotten(gap_weeks: int) -> None:
    events = [
        e for e in _base_plan(8) if not (2 <= (_start_day(e) - day(0, "mon")).days // 7 < 2 + gap_weeks)
    ]
    result = plan_feed(Feed(events))
    holiday = [w for w in result.weeks if day(2, "mon") <= w.start < day(2 + gap_weeks, "mon")]
    assert [w.phase for w in holiday] == [Phase.UNSTRUCTURED] * gap_weeks
    for w in holiday:
        kinds = [s.kind for s in week_of(result, w.start)]
        assert kinds.count(SessionKind.BODYWEIGHT) == 2
        assert kinds.count(SessionKind.REST) == 1
    assert_clean(result)


def test_a_long_gap_before_a_far_race_is_not_planned() -> None:
    """Past the end of the written plan nothing is planned, even with a race months away."""
    events = [*coach_feed_3_weeks(), all_day("far", "Race: Zugspitz Ultratrail 100K", day(14, "sat"))]
    result = plan_feed(Feed(events))
    assert not [w for w in result.weeks if day(3, "mon") <= w.start < day(12, "mon")]


def test_a_persons_own_leg_session_is_not_doubled() -> None:
    """Light legs moved by the runner: the week's other session is not a second light-legs one
    (the heavy one stays heavy). Made from a week where heavy legs found no day."""
    feed = Feed(ultra_24_weeks())
    first = plan_feed(feed)
    week = first.weeks[9].start  # a back-to-back build week: two light-legs sessions
    legs = [s for s in week_of(first, week) if s.kind is SessionKind.LIGHT_LOWER]
    assert len(legs) == 2
    mine = legs[0]
    moved_start = datetime.combine(mine.day + timedelta(days=1), time(6), ZONE)
    moved = replace(mine, start=moved_start, end=moved_start + timedelta(minutes=mine.minutes), fixed=True)
    result = plan_feed(feed, fixed=[moved], previous=[s for s in first.sessions if not s.fixed])
    others = [s for s in week_of(result, week) if s.kind.is_strength and s.uid != mine.uid]
    assert others
    assert not [s for s in others if s.kind is SessionKind.LIGHT_LOWER]
    assert_clean(result)


def test_a_short_window_still_gets_a_shorter_main_session() -> None:
    """Only 30 minutes to lift before Tuesday's early run: heavier legs fit there, shortened,
    rather than after the run or not at all."""
    events = []
    for week in range(4):
        events += [
            timed(f"t{week}", "Run: Easy Run 45 min", day(week, "tue"), 6, 45),
            all_day(f"w{week}", "Tempo 6x1km", day(week, "thu")),
            all_day(f"s{week}", f"Long Run {16 + week} km", day(week, "sun")),
        ]
    rules = {"peak_week_minutes": 600, "strength_windows": ["05:30-08:00"], "rest_day": "mon"}
    result = plan_feed(Feed(events, rules=rules))
    heavy = [s for s in strength(result) if s.kind is HEAVY]
    assert len(heavy) == len(result.weeks)
    for s in heavy:
        assert s.day.weekday() == 1
        assert s.minutes == 30
        assert s.end <= datetime.combine(s.day, time(6), ZONE)
    assert_clean(result)


def test_the_recovery_after_a_final_race_is_planned_through_its_light_days() -> None:
    result = plan_feed(Feed(ends_in_a_race(21.1)))
    race_day = day(8, "sun")
    light_until = race_day + timedelta(days=10)
    assert result.weeks[-1].start + timedelta(days=6) >= light_until


def test_a_recovery_jog_moved_by_a_day_does_not_change_which_weeks_are_planned() -> None:
    """Found by the locality property: whether the plan ends with its race is judged past the
    race's whole recovery, so a jog just after the race moving by a day changes nothing far away."""
    events = [*ends_in_a_race(21.1), all_day("jog", "Run: Easy Run 20 min", day(8, "sun"))]
    moved = [
        replace(e, start=e.start + timedelta(days=1), end=e.end + timedelta(days=1)) if e.uid == "jog" else e
        for e in events
    ]
    before, after = plan_feed(Feed(events)), plan_feed(Feed(moved))
    assert [w.start for w in before.weeks] == [w.start for w in after.weeks]


def _no_room_for_heavy_legs(weeks: int) -> list[SourceEvent]:
    """Quality Tuesday and Thursday, a back-to-back long run Saturday and Sunday, the coach's
    rest day on Monday: R11 (no heavy legs on a quality day), R12 (not the day after a long run)
    and R8 (3 full days before the long run) leave no day for a heavier leg session."""
    events: list[SourceEvent] = []
    for week in range(weeks):
        events += [
            all_day(f"rest{week}", "Rest day", day(week, "mon")),
            timed(f"vo2{week}", "Run: VO2max 5x3min", day(week, "tue"), 18, 70),
            all_day(f"easy{week}", "Easy 10k", day(week, "wed")),
            timed(f"tempo{week}", "Tempo 40 min", day(week, "thu"), 18, 60),
            all_day(f"long{week}", f"Long run {25 + 2 * week} km", day(week, "sat")),
            all_day(f"b2b{week}", f"Long run {15 + week} km (back-to-back)", day(week, "sun")),
        ]
    return events


@pytest.mark.parametrize("weeks", [2, 4])
def test_a_light_session_is_called_the_easier_one_only_beside_a_heavier_one(weeks: int) -> None:
    """When no day of a build week leaves room for heavier legs, its light sessions say so; they
    are 'the week's easier leg session' only in a week that has a heavier one."""
    cramped = plan_feed(Feed(_no_room_for_heavy_legs(weeks), rules={"peak_week_minutes": 900}))
    lights = [s for s in cramped.sessions if s.kind is SessionKind.LIGHT_LOWER]
    assert lights
    assert not [s for s in cramped.sessions if s.kind is HEAVY]
    for session in lights:
        text = " ".join(session.reasons)
        assert "easier leg session" not in text
        assert "no day this week leaves room for heavier legs" in text
    roomy = plan_feed(Feed(miles_blocks()))
    for monday in {week_start(s.day) for s in strength(roomy)}:
        sessions = week_of(roomy, monday)
        has_heavy = any(s.kind is HEAVY for s in sessions)
        for session in (s for s in sessions if s.kind is SessionKind.LIGHT_LOWER):
            said = any("easier leg session" in r for r in session.reasons)
            assert said == has_heavy, (monday, session.reasons)
    assert_clean(cramped)
