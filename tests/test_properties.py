"""Property tests over generated run plans: the planner, reconcile and the .ics file target together.

Every property here can fail. The plans come from :mod:`strategies` (1-30 weeks, empty weeks,
double days, back-to-back long runs, multi-day races near either end, busy time, four zones with
DST and a half-hour offset, varied rules). The hard rules of PRODUCT.md section 2 are judged twice:
by ``shared/checks/plan_check.py`` with the default rules, and by :func:`hard_violations` here,
which takes its limits from the :class:`Rules` the plan was made with.

Each bug these properties found is pinned as a regression by its minimal failing case with
``@example``. ``CALSYNC_PROPERTY_SCALE=N`` runs N times as many examples.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from icalendar import Calendar, Component

from calsync.adapters.ics_target import IcsFileTarget
from calsync.core.model import Busy, PlanResult, Run, RunKind, SessionKind, iso_week, week_start
from calsync.core.phases import run_minutes
from calsync.core.planner import plan
from calsync.core.reconcile import Action, fixed_sessions, reconcile
from calsync.core.settings import WEEKDAYS, Rules
from calsync.executor import execute
from calsync.output import plan_json
from conftest import PLAN_CHECK
from strategies import BERLIN, ZONES, Scenario, local_day, scenarios

SCALE = int(os.environ.get("CALSYNC_PROPERTY_SCALE", "1"))
"""Multiplies every ``max_examples`` (e.g. ``CALSYNC_PROPERTY_SCALE=20`` for a long bug hunt)."""
PURE = settings(
    max_examples=120 * SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Settings of the properties of the pure planner (milliseconds per example)."""
FILES = settings(
    max_examples=30 * SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Settings of the properties that go through the real file target (several passes each)."""

HEAVY = SessionKind.HEAVY_LOWER


# ---- a checker of the hard rules, parametrised by the rules ------------------------------------


def run_days(run: Run, zone: ZoneInfo) -> list[date]:
    """Every calendar day (in the plan's zone) a run occupies."""
    first = local_day(run.start, zone)
    if isinstance(run.start, datetime) and isinstance(run.end, datetime):
        last = (run.end.astimezone(zone) - timedelta(microseconds=1)).date()
    else:
        last = run.last_day
    out: list[date] = []
    day = first
    while day <= max(first, last):
        out.append(day)
        day += timedelta(days=1)
    return out


def blocked_intervals(sc: Scenario, runs: Sequence[Run]) -> list[tuple[datetime, datetime, str]]:
    """Timed runs, all-day runs at the default run time (R19) and busy blocks, in UTC."""
    out = []
    for run in runs:
        if isinstance(run.start, datetime) and isinstance(run.end, datetime):
            out.append((run.start.astimezone(UTC), run.end.astimezone(UTC), f"run {run.title}"))
            continue
        for day in run_days(run, sc.zone):
            start = datetime.combine(day, sc.rules.default_run_time, sc.zone)
            end = min(
                start + timedelta(minutes=run_minutes(run, sc.rules.default_pace_min_per_km)),
                datetime.combine(day + timedelta(days=1), time(0), sc.zone),
            )
            out.append(
                (start.astimezone(UTC), end.astimezone(UTC), f"all-day run {run.title} at default time")
            )
    out.extend((b.start.astimezone(UTC), b.end.astimezone(UTC), f"busy {b.title}") for b in sc.busy)
    return out


def hard_violations(sc: Scenario, result: PlanResult, runs: Sequence[Run] | None = None) -> list[str]:
    """Every broken hard rule (R6-R8, R10-R12, R14, R16, R17, R19) of the planned (not fixed)
    sessions, with the limits of ``sc.rules``."""
    rules, zone = sc.rules, sc.zone
    runs = list(sc.runs if runs is None else runs)
    now = sc.now.astimezone(zone)
    today = now.date()
    on_day: dict[date, list[Run]] = {}
    for run in runs:
        for day in run_days(run, zone):
            on_day.setdefault(day, []).append(run)
    longs = [r for r in runs if r.is_long]
    races = [r for r in runs if r.kind is RunKind.RACE]
    blocks = blocked_intervals(sc, runs)
    planned = [s for s in result.sessions if not s.fixed]
    strength = [s for s in planned if s.kind.is_strength]
    rests = [s for s in planned if s.kind is SessionKind.REST]
    all_rests = [s for s in result.sessions if s.kind is SessionKind.REST]
    strength_days = {local_day(s.start, zone) for s in result.sessions if s.kind.is_strength}
    out: list[str] = []

    for s in strength:
        day, heavy, lower = local_day(s.start, zone), s.kind is HEAVY, s.kind.is_lower
        what = f"{s.kind.value} {s.start} ({s.uid})"
        for race in races:
            first, last = run_days(race, zone)[0], run_days(race, zone)[-1]
            gap, after = (first - day).days, (day - last).days
            if race.priority == "A":
                if 0 <= gap <= rules.a_race_no_strength_days:
                    out.append(f"R6: {what} {gap} days before A race {race.title}")
                if heavy and 0 <= gap <= rules.a_race_no_heavy_days:
                    out.append(f"R7: {what} {gap} days before A race {race.title}")
            else:
                if 0 <= gap <= rules.bc_race_no_strength_days:
                    out.append(f"R17: {what} {gap} days before race {race.title}")
                if heavy and 0 <= gap <= rules.bc_race_no_heavy_days:
                    out.append(f"R17: heavy {what} {gap} days before race {race.title}")
                if lower and race.is_long and 0 <= gap <= rules.bc_long_race_no_lower_days:
                    out.append(f"R17: lower body {what} {gap} days before long race {race.title}")
            rd = rules.recovery_days.for_distance(race.distance_km)
            if 0 <= after <= rd:
                out.append(f"R16: {what} {after} days after race {race.title} (recovery {rd})")
            elif heavy and rd < after <= 2 * rd:
                out.append(f"R16: heavy {what} {after} days after race {race.title} (light until {2 * rd})")
        for long in longs:
            long_days = run_days(long, zone)
            gap, after = (long_days[0] - day).days, (day - long_days[-1]).days
            if heavy and 0 <= gap <= rules.heavy_before_long_days:
                out.append(
                    f"R8: {what} {gap} days before {long.title} ({rules.heavy_before_long_days} full days)"
                )
            if lower and gap == 1:
                out.append(f"R10: {what} the day before {long.title}")
            if heavy and 1 <= after <= rules.heavy_after_long_days:
                out.append(f"R12: {what} {after} days after {long.title}")
        if heavy and any(r.kind is RunKind.QUALITY for r in on_day.get(day, [])):
            out.append(f"R11: {what} on a quality-run day")
        # R19: timed, inside a window of its weekday, free of runs and busy time, not in the past
        if not (isinstance(s.start, datetime) and isinstance(s.end, datetime)):
            out.append(f"R19: {what} is not timed")
            continue
        start, end = s.start.astimezone(zone), s.end.astimezone(zone)
        windows = rules.windows_for(day.weekday())
        if not (end.date() == day and any(w.start <= start.time() and end.time() <= w.end for w in windows)):
            out.append(f"R19: {what} ({start:%H:%M}-{end:%H:%M}) outside the windows {windows}")
        s_utc, e_utc = start.astimezone(UTC), end.astimezone(UTC)
        for b_start, b_end, label in blocks:
            if s_utc < b_end and b_start < e_utc:
                out.append(f"R19: {what} overlaps {label}")
        if s_utc < now.astimezone(UTC):
            out.append(f"R19: {what} starts before now {now}")

    training_days: set[date] = set()
    for block in sc.busy:
        if block.training:
            first_day = block.start.astimezone(zone).date()
            last_day = max(first_day, (block.end.astimezone(zone) - timedelta(microseconds=1)).date())
            training_days.update(
                first_day + timedelta(days=k) for k in range((last_day - first_day).days + 1)
            )
    for r in rests:
        day = local_day(r.start, zone)
        if isinstance(r.start, datetime):
            out.append(f"R14: rest day {r.uid} is not all-day")
        if day in on_day:
            out.append(f"R14: rest day {day} has a run {on_day[day][0].title}")
        if day in training_days:
            out.append(f"R14: rest day {day} has other training")
        if day < today:
            out.append(f"R19: rest day {day} is in the past (today {today})")
    planned_days = {local_day(s.start, zone) for s in strength}
    for r in all_rests:  # a rest day has no strength; a person's own choices only bind the person
        day = local_day(r.start, zone)
        if day in (strength_days if not r.fixed else planned_days):
            out.append(f"R14: rest day {day} ({r.uid}) has a strength session")
    warned = {(w.code, w.week) for w in result.warnings}
    kept_days = {local_day(s.start, zone) for s in result.sessions if s.kind.is_strength and s.fixed}
    for week in result.weeks:
        days = [week.start + timedelta(days=k) for k in range(7)]
        rest_here = [r for r in rests if days[0] <= local_day(r.start, zone) <= days[-1]]
        any_rest = [r for r in all_rests if days[0] <= local_day(r.start, zone) <= days[-1]]
        free_ahead = [d for d in days if d not in on_day and d not in training_days and d > today]
        # a person's own strength session on a run-free day takes that day from the rest day
        open_ahead = [d for d in free_ahead if d not in kept_days]
        if len(rest_here) > rules.rest_days_per_week:
            out.append(f"R14: {week.week} has {len(rest_here)} rest days")
        if open_ahead and not any_rest and rules.rest_days_per_week:
            out.append(f"R14: {week.week} has run-free days ahead ({open_ahead[0]}) but no rest day")
        if (
            free_ahead
            and not open_ahead
            and not any_rest
            and rules.rest_days_per_week
            and ("NO_REST_DAY", week.week) not in warned
        ):
            out.append(
                f"R14: {week.week} has no rest day (its run-free days hold a person's strength sessions) "
                "and no NO_REST_DAY warning"
            )
        if all(d in on_day for d in days) and days[-1] >= today and ("NO_REST_DAY", week.week) not in warned:
            out.append(f"R14: {week.week} has a run every day and no NO_REST_DAY warning")
        if rules.rest_day and rest_here and len(any_rest) == len(rest_here):
            pinned = days[WEEKDAYS.index(rules.rest_day)]
            kept_strength = strength_days - planned_days  # a person's own session on that day wins
            if (
                pinned not in on_day
                and pinned not in training_days
                and pinned not in kept_strength
                and pinned >= today
                and rest_here[0].start != pinned
            ):
                out.append(f"R14: {week.week} rests on {rest_here[0].start}, not the pinned free {pinned}")
    return out


def plan_check_findings(result: PlanResult, now: datetime) -> list[str]:
    """plan_check's hard findings on the plan's JSON; skips the test when plan_check is absent."""
    if not PLAN_CHECK.is_file():
        pytest.skip(f"plan_check.py is not at {PLAN_CHECK} (set CALSYNC_SHARED)")
    folder = str(PLAN_CHECK.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    from plan_check import Checker  # type: ignore[import-not-found]

    checker = Checker()
    checker.check_document(plan_json([result], generated_at=now))
    return list(checker.hard)


# ---- 1. hard rules ------------------------------------------------------------------------------


@PURE
@given(sc=scenarios(vary_rules=False))
def test_default_rules_plan_check_finds_no_hard_violation(sc: Scenario) -> None:
    """With PRODUCT.md's default rules, plan_check reports zero hard findings, and so does the
    checker here (which also sees runs outside the JSON's horizon, and busy time)."""
    result = sc.result()
    assert plan_check_findings(result, sc.now) == []
    assert hard_violations(sc, result) == []


@PURE
@given(sc=scenarios())
def test_varied_rules_no_hard_violation(sc: Scenario) -> None:
    """Whatever the rules say (sessions per week, order, pinned rest day, windows, R8 hours,
    R12 days, race protections, R16 recovery), no hard rule is broken."""
    assert hard_violations(sc, sc.result()) == []


def strength_during_races(sc: Scenario, result: PlanResult) -> list[str]:
    """Strength sessions on a day a race is run (any day of a multi-day race)."""
    out: list[str] = []
    for race in (r for r in sc.runs if r.kind is RunKind.RACE):
        days = set(run_days(race, sc.zone))
        out.extend(
            f"{s.kind.value} {s.start} ({s.uid}) during race {race.title} ({min(days)}..{max(days)})"
            for s in result.sessions
            if s.kind.is_strength and not s.fixed and local_day(s.start, sc.zone) in days
        )
    return out


STAGE_RACE = Scenario(
    zone=BERLIN,
    now=datetime(2026, 6, 1, 0, 0, tzinfo=BERLIN),
    runs=(
        Run(
            uid="race@test",
            title="Stage race",
            kind=RunKind.RACE,
            start=date(2026, 6, 1),
            end=date(2026, 6, 4),
            priority="B",
        ),
    ),
    busy=(),
    rules=Rules(),
    horizon_weeks=4,
)
"""Minimal failing case: a 3-day B race Mon-Wed gets a core session on Tuesday 06:00."""


@PURE
@example(sc=STAGE_RACE)
@given(sc=scenarios())
def test_no_strength_during_a_multi_day_race(sc: Scenario) -> None:
    """R6/R17 forbid strength up to the race's first day and R16 from its last day on, so no
    strength session is ever planned on any day a race is run."""
    assert strength_during_races(sc, sc.result()) == []


# ---- 2. determinism -----------------------------------------------------------------------------


def _quality(uid: str, hour: int) -> Run:
    start = datetime(2026, 11, 30, hour, tzinfo=BERLIN)
    return Run(
        uid=uid,
        title=f"Intervals {uid}",
        kind=RunKind.QUALITY,
        start=start,
        end=start + timedelta(hours=1),
        minutes=60,
    )


TWO_QUALITY_RUNS = Scenario(
    zone=BERLIN,
    now=datetime(2026, 11, 30, 5, 0, tzinfo=BERLIN),
    runs=(
        _quality("a@test", 18),
        _quality("b@test", 19),
        Run(
            uid="old@test",
            title="Easy run",
            kind=RunKind.EASY,
            start=date(2026, 11, 23),
            end=date(2026, 11, 24),
            minutes=600,
        ),
    ),
    busy=(Busy(datetime(2026, 12, 1, tzinfo=BERLIN), datetime(2026, 12, 7, tzinfo=BERLIN), "away"),),
    rules=Rules(strength_sessions_per_week=1),
    horizon_weeks=1,
)
"""Minimal failing case: two quality runs on Monday, the rest of the week busy; the light lower
session's reason (so its DESCRIPTION and fingerprint) names whichever run came first."""


def placements(result: PlanResult) -> list[tuple[str, SessionKind, object, object]]:
    """What was placed where (without the words)."""
    return [(s.uid, s.kind, s.start, s.end) for s in result.sessions]


@PURE
@example(sc=TWO_QUALITY_RUNS, rnd=random.Random(0))
@given(sc=scenarios(), rnd=st.randoms(use_true_random=False))
def test_plan_does_not_depend_on_input_order(sc: Scenario, rnd: random.Random) -> None:
    """Reversed or shuffled runs and busy blocks give the same plan, to the byte of its JSON
    (reasons and warnings included: they are written into the events' descriptions)."""
    first = plan_json([sc.result()], generated_at=sc.now)
    reverse = plan_json([sc.result(runs=sc.runs[::-1], busy=sc.busy[::-1])], generated_at=sc.now)
    shuffled = plan_json(
        [sc.result(runs=rnd.sample(sc.runs, len(sc.runs)), busy=rnd.sample(sc.busy, len(sc.busy)))],
        generated_at=sc.now,
    )
    assert reverse == first
    assert shuffled == first


@PURE
@given(sc=scenarios(), rnd=st.randoms(use_true_random=False))
def test_placement_does_not_depend_on_input_order(sc: Scenario, rnd: random.Random) -> None:
    """Reversed or shuffled input places the same sessions at the same times (the part of the
    determinism property that holds while the words still differ, see the test above)."""
    first = placements(sc.result())
    assert placements(sc.result(runs=sc.runs[::-1], busy=sc.busy[::-1])) == first
    runs, busy = rnd.sample(sc.runs, len(sc.runs)), rnd.sample(sc.busy, len(sc.busy))
    assert placements(sc.result(runs=runs, busy=busy)) == first


def in_utc(sc: Scenario) -> Scenario:
    """The same scenario with every timed run, busy block and ``now`` written in UTC."""
    runs = [
        replace(r, start=r.start.astimezone(UTC), end=r.end.astimezone(UTC))
        if isinstance(r.start, datetime) and isinstance(r.end, datetime)
        else r
        for r in sc.runs
    ]
    busy = [replace(b, start=b.start.astimezone(UTC), end=b.end.astimezone(UTC)) for b in sc.busy]
    return replace(sc, runs=tuple(runs), busy=tuple(busy), now=sc.now.astimezone(UTC))


SYDNEY_LONG_RUN = Scenario(
    zone=ZONES[2],
    now=datetime(2026, 11, 30, 5, 0, tzinfo=ZONES[2]),
    runs=(
        Run(
            uid="long@test",
            title="Long run",
            kind=RunKind.LONG,
            start=datetime(2026, 12, 5, 7, 0, tzinfo=ZONES[2]),
            end=datetime(2026, 12, 5, 10, 0, tzinfo=ZONES[2]),
            minutes=180,
        ),
    ),
    busy=(),
    rules=Rules(),
    horizon_weeks=1,
)
"""Minimal failing case: a Saturday 07:00 long run in Sydney is Friday 20:00 in UTC."""

_LATE = datetime(2026, 10, 3, 21, 30, tzinfo=ZONES[2])
SYDNEY_SPRING_FORWARD = Scenario(
    zone=ZONES[2],
    now=datetime(2026, 9, 28, 5, 0, tzinfo=ZONES[2]),
    runs=(
        Run(
            uid="late@test",
            title="Late run",
            kind=RunKind.EASY,
            start=_LATE,
            end=_LATE + timedelta(minutes=270),  # wall time 02:00, which Sydney skips that night
        ),
    ),
    busy=(),
    rules=Rules(),
    horizon_weeks=1,
)
"""Minimal failing case: a run from Saturday 21:30 to a wall time of 02:00 on the night Sydney
springs forward (02:00 AEST is 03:00 AEDT). Written in the plan's zone, the planner kept the
non-existent 02:00+10:00 (``astimezone`` into the zone a time is already in changes nothing) and
counted 270 minutes; written in UTC, it became 03:00+11:00 and 330 wall-clock minutes."""


@PURE
@example(sc=SYDNEY_LONG_RUN)
@example(sc=SYDNEY_SPRING_FORWARD)
@given(sc=scenarios())
def test_plan_does_not_depend_on_the_zone_times_are_written_in(sc: Scenario) -> None:
    """The same instants written in UTC instead of the plan's zone give the same plan (a source
    may give UTC times); the days of runs are the plan's days."""
    utc = in_utc(sc)
    assert plan_json([utc.result()], generated_at=sc.now) == plan_json([sc.result()], generated_at=sc.now)
    assert hard_violations(sc, utc.result(), utc.runs) == []


# ---- 3. UIDs ------------------------------------------------------------------------------------


@PURE
@given(sc=scenarios())
def test_uids_are_unique_and_name_plan_week_and_slot(sc: Scenario) -> None:
    """No UID twice; each is ``calsync-<plan>-<week without dash>-<slot>`` and its week is the ISO
    week of the session's day."""
    result = sc.result()
    counts = Counter(s.uid for s in result.sessions)
    assert [uid for uid, n in counts.items() if n > 1] == []
    for s in result.sessions:
        assert s.uid == f"calsync-{sc.plan_id}-{s.week.replace('-', '')}-{s.slot}"
        assert s.week == iso_week(local_day(s.start, sc.zone)), s


# ---- the file target: one pass ------------------------------------------------------------------


def one_pass(
    sc: Scenario, target: IcsFileTarget, *, now: datetime | None = None, runs: Sequence[Run] | None = None
) -> tuple[PlanResult, list[Action]]:
    """Read what is owned, plan around what must stay, reconcile and apply (like ``run_pass``)."""
    now = sc.now if now is None else now
    owned = target.list_owned()
    result = sc.result(runs=runs, fixed=fixed_sessions(owned, now=now), now=now)
    first_week = week_start(now.astimezone(sc.zone).date())
    actions = reconcile(
        result.sessions,
        owned,
        now=now,
        window_start=first_week,
        window_end=first_week + timedelta(weeks=sc.horizon_weeks),
    )
    execute(actions, target, now=now)
    return result, actions


def read_bytes(path: Path) -> bytes:
    """The file's bytes (empty when it does not exist)."""
    return path.read_bytes() if path.exists() else b""


def events_by_uid(path: Path) -> dict[str, list[Component]]:
    """The VEVENTs of a file by UID."""
    out: dict[str, list[Component]] = {}
    if not path.exists():
        return out
    for component in Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
        out.setdefault(str(component.get("UID")), []).append(component)
    return out


# ---- 4. idempotence -----------------------------------------------------------------------------


@FILES
@given(sc=scenarios())
def test_second_pass_through_the_file_writes_nothing(sc: Scenario) -> None:
    """plan -> reconcile -> apply -> read back -> plan around what stays -> no action, same bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.ics"
        target = IcsFileTarget(path, sc.plan_id, sc.zone)
        first, _ = one_pass(sc, target)
        written = read_bytes(path)
        second, actions = one_pass(sc, target)
        assert actions == []
        assert read_bytes(path) == written
        assert {s.uid: (s.kind, s.start, s.end) for s in second.sessions} == {
            s.uid: (s.kind, s.start, s.end) for s in first.sessions
        }


# ---- 5. locality --------------------------------------------------------------------------------


@st.composite
def moved_run(draw: st.DrawFn) -> tuple[Scenario, int, Run]:
    """A scenario, the index of one run in the planned weeks, and that run moved: a long run to
    another day of its week, or a timed easy run by a few hours (staying in its week)."""
    sc = draw(scenarios())
    movable = [
        i
        for i, r in enumerate(sc.runs)
        if sc.first_week <= r.first_day < sc.horizon_end
        and (r.kind is RunKind.LONG or (r.kind is RunKind.EASY and isinstance(r.start, datetime)))
    ]
    assume(movable)
    index = draw(st.sampled_from(movable))
    run = sc.runs[index]
    if run.kind is RunKind.LONG:
        monday = week_start(run.first_day)
        new_day = draw(
            st.sampled_from([monday + timedelta(days=k) for k in range(7)]).filter(
                lambda d: d != run.first_day
            )
        )
        delta = timedelta(days=(new_day - run.first_day).days)
    else:
        delta = timedelta(hours=draw(st.sampled_from((-3, -2, -1, 1, 2, 3))))
    start, end = run.start + delta, run.end + delta
    moved = Run(
        uid=run.uid,
        title=run.title,
        kind=run.kind,
        start=start,
        end=end,
        distance_km=run.distance_km,
        minutes=run.minutes,
        priority=run.priority,
    )
    assume(week_start(moved.first_day) == week_start(run.first_day))
    return sc, index, moved


@PURE
@given(case=moved_run())
def test_moving_one_run_changes_only_its_week_and_neighbours(case: tuple[Scenario, int, Run]) -> None:
    """Sessions of weeks other than the moved run's week and the weeks right before and after it
    stay identical (same UIDs, kinds and times). R8 reaches back into the previous week and R12 /
    a run across midnight into the next one; nothing reaches further."""
    sc, index, moved = case
    runs = list(sc.runs)
    runs[index] = moved
    before, after = sc.result(), sc.result(runs=runs)
    monday = week_start(moved.first_day)
    near = {iso_week(monday + timedelta(weeks=k)) for k in (-1, 0, 1)}

    def far(result: PlanResult) -> dict[str, tuple[SessionKind, object, object]]:
        return {s.uid: (s.kind, s.start, s.end) for s in result.sessions if s.week not in near}

    assert far(after) == far(before)


# ---- 6. foreign events --------------------------------------------------------------------------


def foreign_calendar(sc: Scenario) -> bytes:
    """A target file that already holds a foreign event (alarm, recurrence, odd properties) and an
    event of another calsync plan, both inside the horizon."""
    day = sc.first_week + timedelta(days=8)
    week = iso_week(sc.first_week)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Someone//Their app//EN\r\n"
        "BEGIN:VEVENT\r\nUID:dentist-1@example.org\r\nDTSTAMP:20260101T120000Z\r\n"
        f"DTSTART;TZID={sc.zone.key}:{day:%Y%m%d}T063000\r\n"
        f"DTEND;TZID={sc.zone.key}:{day:%Y%m%d}T073000\r\n"
        "SUMMARY:Dentist\\, bring card\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nX-SOMETHING;FOO=bar:a,b\\,c\r\n"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:Reminder\r\nEND:VALARM\r\n"
        "END:VEVENT\r\n"
        f"BEGIN:VEVENT\r\nUID:calsync-other-{week.replace('-', '')}-s1\r\nDTSTAMP:20260101T120000Z\r\n"
        f"DTSTART;TZID={sc.zone.key}:{sc.first_week:%Y%m%d}T060000\r\n"
        f"DTEND;TZID={sc.zone.key}:{sc.first_week:%Y%m%d}T070000\r\n"
        "SUMMARY:Strength: core\r\nX-CALSYNC-PLAN:other\r\nX-CALSYNC-KIND:core\r\n"
        f"X-CALSYNC-WEEK:{week}\r\nX-CALSYNC-SLOT:s1\r\nX-CALSYNC-HASH:0000000000000000\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


@st.composite
def pass_changes(draw: st.DrawFn, sc: Scenario) -> list[tuple[datetime, list[Run]]]:
    """2-4 passes, each with some runs dropped and ``now`` moved on by up to ten days."""
    passes = []
    for _ in range(draw(st.integers(2, 4))):
        keep = draw(st.lists(st.booleans(), min_size=len(sc.runs), max_size=len(sc.runs)))
        runs = [r for r, k in zip(sc.runs, keep, strict=True) if k or draw(st.integers(0, 3)) > 0]
        passes.append((sc.now + timedelta(hours=draw(st.integers(0, 240))), runs))
    return passes


@FILES
@given(sc=scenarios(), data=st.data())
def test_foreign_and_other_plan_events_are_never_touched(sc: Scenario, data: st.DataObject) -> None:
    """After several passes with changing runs and a moving ``now``, the foreign event and the
    other plan's event are still there, exactly as they were."""
    passes = data.draw(pass_changes(sc), label="passes")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.ics"
        path.write_bytes(foreign_calendar(sc))
        before = events_by_uid(path)
        uids = ["dentist-1@example.org", f"calsync-other-{iso_week(sc.first_week).replace('-', '')}-s1"]
        target = IcsFileTarget(path, sc.plan_id, sc.zone)
        for now, runs in sorted(passes, key=lambda p: p[0]):
            one_pass(sc, target, now=now, runs=runs)
        after = events_by_uid(path)
        for uid in uids:
            assert len(after.get(uid, [])) == 1, uid
            assert after[uid][0].to_ical() == before[uid][0].to_ical()


# ---- 7. a person's edit wins --------------------------------------------------------------------

EDITS = ("later", "earlier", "summary")
"""How a person edits an owned event: move it a day later / earlier, or rename it."""


def edit_event(path: Path, uid: str, how: str) -> bytes:
    """Edit the event ``uid`` in the file as a person would; returns the edited VEVENT's text."""
    calendar = Calendar.from_ical(path.read_bytes())
    event = next(c for c in calendar.walk("VEVENT") if str(c.get("UID")) == uid)
    if how == "summary":
        event.pop("SUMMARY")
        event.add("SUMMARY", "Gym with Sam")
    else:
        delta = timedelta(days=1 if how == "later" else -1)
        for name in ("DTSTART", "DTEND"):
            value = event.decoded(name) + delta
            event.pop(name)
            event.add(name, value)
    path.write_bytes(calendar.to_ical())
    return bytes(event.to_ical())


def pass_after_edit(sc: Scenario, path: Path, pick: int, how: str) -> tuple[PlanResult, str, bytes]:
    """Pass 1, then a person edits one owned future event (the ``pick``-th, cyclically), then
    pass 2; returns pass 2's plan, the edited UID and the edited VEVENT's text."""
    target = IcsFileTarget(path, sc.plan_id, sc.zone)
    one_pass(sc, target)
    future = sorted(e.uid for e in target.list_owned() if not e.started(sc.now + timedelta(days=1)))
    assume(future)
    uid = future[pick % len(future)]
    edited = edit_event(path, uid, how)
    result, _ = one_pass(sc, target)
    return result, uid, edited


@FILES
@given(sc=scenarios(), pick=st.integers(0, 50), how=st.sampled_from(EDITS))
def test_a_persons_edit_wins(sc: Scenario, pick: int, how: str) -> None:
    """An owned future event moved by a day or renamed in the file stays exactly as edited, is in
    the next plan once, as fixed, with no other session in its slot, and the pass after writes
    nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.ics"
        result, uid, edited = pass_after_edit(sc, path, pick, how)
        in_file = events_by_uid(path)[uid]
        assert [bytes(e.to_ical()) for e in in_file] == [edited]
        mine = [s for s in result.sessions if s.uid == uid]
        assert len(mine) == 1
        assert mine[0].fixed
        same_slot = [s for s in result.sessions if (s.week, s.slot) == (mine[0].week, mine[0].slot)]
        assert same_slot == mine
        if mine[0].kind is SessionKind.REST:
            # no new rest day is stacked into the week the person put theirs in (a week they
            # moved it out of gets a new one: R14, see the test below)
            its_week = iso_week(mine[0].day)
            added = [
                s
                for s in result.sessions
                if s.kind is SessionKind.REST and iso_week(s.day) == its_week and not s.fixed
            ]
            assert added == []

        settled = read_bytes(path)
        _, actions = one_pass(sc, IcsFileTarget(path, sc.plan_id, sc.zone))
        assert actions == []
        assert read_bytes(path) == settled


EMPTY_WEEKS = Scenario(
    zone=BERLIN,
    now=datetime(2026, 1, 1, 5, 0, tzinfo=BERLIN),
    runs=(
        Run(
            uid="run-0@test",
            title="Easy run",
            kind=RunKind.EASY,
            start=date(2026, 1, 12),
            end=date(2026, 1, 13),
        ),
    ),
    busy=(),
    rules=Rules(),
    horizon_weeks=3,
)
"""Minimal failing case: W01's Sunday session (s2, 4 Jan) moved a day later to Monday 5 Jan gets
W02's rest day planned on top of it; W02's Monday rest day moved a day earlier gets W01's s2
planned on it (and W02 is left without a rest day)."""


def _all_day_run(n: int, day: date, kind: RunKind = RunKind.EASY) -> Run:
    return Run(
        uid=f"run-{n}@test", title=f"{kind.value} {day}", kind=kind, start=day, end=day + timedelta(days=1)
    )


ONLY_FREE_DAY = Scenario(
    zone=BERLIN,
    now=datetime(2026, 3, 15, 0, 0, tzinfo=BERLIN),
    runs=tuple(
        _all_day_run(k, date(2026, 3, 16 + k), RunKind.LONG if k == 5 else RunKind.EASY)
        for k in (0, 2, 3, 4, 5, 6)
    ),
    busy=(),
    rules=Rules(),
    horizon_weeks=2,
)
"""Minimal failing case: W12 has a run every day but Tuesday; a person moves Monday's core session
(s2) a day later, onto that Tuesday. No rest day fits any more (R14: no strength on it), and the
planner dropped the rest day without the warning a hard rule it cannot meet owes."""


@FILES
@example(sc=EMPTY_WEEKS, pick=1, how="later")
@example(sc=EMPTY_WEEKS, pick=2, how="earlier")
@example(sc=ONLY_FREE_DAY, pick=2, how="later")
@given(sc=scenarios(), pick=st.integers(0, 50), how=st.sampled_from(EDITS))
def test_plan_around_a_persons_edit_keeps_the_hard_rules(sc: Scenario, pick: int, how: str) -> None:
    """PRODUCT.md section 4: calsync "plans the rest of the week around" an edited event, so what
    it plans next to it still keeps every hard rule (e.g. no rest day on the day the person moved a
    strength session to)."""
    with tempfile.TemporaryDirectory() as tmp:
        result, _, _ = pass_after_edit(sc, Path(tmp) / "out.ics", pick, how)
        assert hard_violations(sc, result) == []


# ---- 9. coach-grade plans (PRODUCT.md section 2: phases, volume, R2, words, stability) ---------

PHASE_ORDER = ["base", "build", "peak", "taper", "race"]
RULE_CODE = __import__("re").compile(r"\bR\d{1,2}\b")


@PURE
@given(sc=scenarios())
def test_phases_move_forward_and_no_week_tops_its_peak(sc: Scenario) -> None:
    """Inside a build-up phases never go back (a new build-up starts only after a race's
    recovery or 2+ weeks without runs), and no week shows more than 100 % of peak."""
    result = sc.result()
    assert all(0.0 <= w.peak_fraction <= 1.0 for w in result.weeks)
    weeks = sorted(result.weeks, key=lambda w: w.start)
    rank = -1
    breaks = 0  # consecutive unstructured weeks: 2+ of them are a break between build-ups
    for previous, week in zip([None, *weeks], weeks, strict=False):
        gap = previous is None or week.start - previous.start > timedelta(weeks=2)
        if (
            gap
            or breaks >= 2
            or week.phase.value == "recovery"
            or (previous is not None and previous.phase.value in ("race", "recovery"))
        ):
            rank = -1
        breaks = breaks + 1 if week.phase.value == "unstructured" else 0
        if week.phase.value in PHASE_ORDER:
            now = PHASE_ORDER.index(week.phase.value)
            assert now >= rank, [(w.week, w.phase.value) for w in weeks]
            rank = now


@PURE
@given(sc=scenarios())
def test_upper_body_on_two_days_of_every_normal_week(sc: Scenario) -> None:
    """R2: in base / build / peak weeks with 2+ planned sessions, the upper body works on 2+ days."""
    result = sc.result()
    for week in result.weeks:
        if week.phase.value not in ("base", "build", "peak"):
            continue
        stop = week.start + timedelta(days=7)
        mine = [
            s
            for s in result.sessions
            if s.kind.is_strength and week.start <= local_day(s.start, sc.zone) < stop
        ]
        if len(mine) < 2 or any(s.fixed for s in mine):
            continue
        days = {local_day(s.start, sc.zone) for s in mine if "upper" in s.muscle_groups}
        assert len(days) >= 2, [(s.kind.value, s.muscle_groups) for s in mine]


@PURE
@given(sc=scenarios())
def test_reasons_are_plain_sentences_and_rules_are_ids(sc: Scenario) -> None:
    """A runner reads no rule code; the ids travel in ``rules``."""
    result = sc.result()
    for session in result.sessions:
        assert session.reasons
        for reason in session.reasons:
            assert not RULE_CODE.search(reason), reason
            assert reason[:1].isupper() or reason[:1].isdigit(), reason
            assert reason.endswith("."), reason
        assert all(RULE_CODE.fullmatch(r) for r in session.rules), session.rules


@PURE
@given(case=moved_run())
def test_a_moved_run_moves_only_the_sessions_it_made_invalid(case: tuple[Scenario, int, Run]) -> None:
    """Stability: planned again with the sessions placed before, every session whose old day
    still keeps every hard rule (and is not the new rest day) stays on its day."""
    sc, index, moved = case
    runs = list(sc.runs)
    runs[index] = moved
    first = sc.result()
    placed = [s for s in first.sessions if not s.fixed]
    second = plan(replace(sc.plan_input(runs=runs), previous=placed))
    moved_sc = replace(sc, runs=tuple(runs))
    after = {s.uid: s for s in second.sessions}
    rests = {local_day(s.start, sc.zone) for s in second.sessions if s.kind is SessionKind.REST}
    for old in placed:
        new = after.get(old.uid)
        if new is None or local_day(new.start, sc.zone) == local_day(old.start, sc.zone):
            continue
        still_valid = old.kind is SessionKind.REST or (
            local_day(old.start, sc.zone) not in rests
            and not hard_violations(moved_sc, replace(second, sessions=(old,)), runs)
        )
        if old.kind is SessionKind.REST:
            day = local_day(old.start, sc.zone)
            still_valid = not any(day in run_days(r, sc.zone) for r in runs) and not any(
                b.training and b.start.astimezone(sc.zone).date() <= day <= b.end.astimezone(sc.zone).date()
                for b in sc.busy
            )
        assert not still_valid, (old.kind.value, old.start, new.start)


@PURE
@given(case=moved_run())
def test_planning_again_around_its_own_sessions_changes_nothing(case: tuple[Scenario, int, Run]) -> None:
    """A pass plans around what the last pass wrote (Stability): planned again with its own
    output, the plan is the same, so a second pass writes nothing (even after a moved run)."""
    sc, index, moved = case
    runs = list(sc.runs)
    runs[index] = moved
    first = [s for s in sc.result().sessions if not s.fixed]
    second = plan(replace(sc.plan_input(runs=runs), previous=first))
    third = plan(replace(sc.plan_input(runs=runs), previous=[s for s in second.sessions if not s.fixed]))
    assert placements(third) == placements(second)
