"""The "plan" step: place strength sessions and rest days around the runs (pure).

Input: runs, busy time, rules, the catalogue, ``now`` and the sessions that already exist and must
stay (past ones, ones a person edited). Output: a :class:`~calsync.model.PlanResult`. No I/O, no
clock reads: the same input gives the same plan, whatever the order of the runs.

How a week is planned:

1. its phase (:mod:`calsync.phases`) picks a template of slots (``s1``, ``s2``...), each with a
   chain of session kinds to try, best first (heavy lower -> light lower -> upper -> bodyweight);
2. the rest day is chosen among run-free days (R14);
3. every (slot, day, kind) is checked against the hard rules (R6-R8, R10-R12, R14, R16, R17, R19)
   and scored on the soft ones (R9, R10's quality-day penalty, R13, spacing);
4. the cheapest assignment of slots to distinct days wins; a slot nothing fits becomes a warning.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from calsync.catalogue import UPPER_ADD_ON, Catalogue
from calsync.config import WEEKDAYS, Rules
from calsync.model import (
    Busy,
    Phase,
    PlanResult,
    PlanWarning,
    Run,
    RunKind,
    Session,
    SessionKind,
    WeekPlan,
    iso_week,
    week_start,
)
from calsync.phases import PhaseModel, Race, phase_model, races_of, run_minutes

HEAVY, LIGHT = SessionKind.HEAVY_LOWER, SessionKind.LIGHT_LOWER
UPPER, CORE, BODYWEIGHT = SessionKind.UPPER, SessionKind.CORE, SessionKind.BODYWEIGHT
LIGHT_ONLY_KINDS = frozenset({LIGHT, CORE, BODYWEIGHT})
"""What R16 allows in the second half of a race recovery."""
STEP = timedelta(minutes=15)
"""Granularity of start times inside a window."""
LEVEL_COST = 10.0
"""Cost of each step down a slot's chain of kinds."""
UNPLACED_COST = 60.0
"""Cost of leaving a slot empty: worse than any placement."""


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


@dataclass(frozen=True)
class _Slot:
    slot: str
    chain: tuple[SessionKind, ...]
    with_upper: bool = False


@dataclass(frozen=True)
class _Option:
    cost: float
    day: date
    kind: SessionKind
    level: int
    start: datetime
    end: datetime
    order_note: str

    @property
    def minutes(self) -> int:
        """Length of the placed session."""
        return int((self.end.astimezone(UTC) - self.start.astimezone(UTC)).total_seconds() // 60)


def session_uid(plan_id: str, week: str, slot: str) -> str:
    """The deterministic UID of a session: same plan, week and slot give the same UID."""
    return f"calsync-{plan_id}-{week.replace('-', '')}-{slot}"


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


def _run_order(run: Run) -> tuple[object, ...]:
    """A total order of runs, so nothing depends on the order of the input."""
    return (
        run.first_day,
        str(run.start),
        str(run.end),
        run.uid,
        run.recurrence_id or "",
        run.title,
        run.kind,
    )


def _on_grid(origin: datetime, after: datetime) -> datetime:
    """The first start on the 15-minute grid from ``origin`` that is later than ``after``."""
    steps = (after - origin) // STEP + 1
    return origin + max(steps, 0) * STEP


def _day_label(day: date) -> str:
    return f"{WEEKDAYS[day.weekday()].capitalize()} {day.day} {day:%b}"


class _Days:
    """Per-day facts of one plan: which kinds each hard rule forbids, and busy intervals."""

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
    ) -> None:
        self.rules = rules
        self.zone = zone
        self.first, self.last = first, last
        self.no_strength: dict[date, str] = {}
        self.no_heavy: dict[date, str] = {}
        self.no_lower: dict[date, str] = {}
        self.light_only: dict[date, str] = {}
        self.heavy_soft: dict[date, str] = {}
        self.runs_on: dict[date, list[Run]] = {}
        self.blocked: dict[date, list[tuple[datetime, datetime]]] = {}
        self.run_times: dict[date, list[tuple[datetime, datetime]]] = {}
        self.longs = sorted((r for r in runs if r.is_long), key=lambda r: (r.first_day, r.uid))
        self._long_starts = sorted((self._start_of(r), r.uid) for r in self.longs)
        self._long_firsts = [r.first_day for r in self.longs]
        self._longs_by_end = sorted(self.longs, key=lambda r: (r.last_day, r.first_day, r.uid))
        self._long_lasts = [r.last_day for r in self._longs_by_end]
        self._fits: dict[tuple[date, int], tuple[datetime, datetime, str] | None] = {}
        for run in runs:
            self._add_run(run)
        for block in busy:
            self._add_busy(block.start, block.end)
        self._add_rules(races)

    # -- building ---------------------------------------------------------------------------
    def _mark(self, table: dict[date, str], first: date, last: date, why: str) -> None:
        day = max(first, self.first - timedelta(days=1))
        while day <= min(last, self.last + timedelta(days=1)):
            table.setdefault(day, why)
            day += timedelta(days=1)

    def _add_run(self, run: Run) -> None:
        minutes = run_minutes(run, self.rules)
        if isinstance(run.start, datetime) and isinstance(run.end, datetime):
            start, end = _in_zone(run.start, self.zone), _in_zone(run.end, self.zone)
            if _not_after(end, start):
                end = start + timedelta(minutes=minutes)
            self._add_interval(start, end, self.run_times)
            self._add_interval(start, end, self.blocked)
            days = {start.date(), (end - timedelta(microseconds=1)).date()}
        else:
            days = set()
            day = run.first_day
            while day <= run.last_day:
                days.add(day)
                start = datetime.combine(day, self.rules.default_run_time, self.zone)
                end = min(start + timedelta(minutes=minutes), datetime.combine(day, time(23, 59), self.zone))
                self._add_interval(start, end, self.run_times)
                self._add_interval(start, end, self.blocked)
                day += timedelta(days=1)
        for day in days:
            self.runs_on.setdefault(day, []).append(run)

    def _add_busy(self, start: datetime, end: datetime) -> None:
        self._add_interval(_in_zone(start, self.zone), _in_zone(end, self.zone), self.blocked)

    def _add_interval(
        self, start: datetime, end: datetime, table: dict[date, list[tuple[datetime, datetime]]]
    ) -> None:
        if _not_after(end, start):
            return
        day = max(start.date(), self.first - timedelta(days=1))
        last = min((end - timedelta(microseconds=1)).date(), self.last + timedelta(days=1))
        while day <= last:
            table.setdefault(day, []).append((start, end))
            day += timedelta(days=1)

    def _add_rules(self, races: Sequence[Race]) -> None:
        rules = self.rules
        for race in races:
            title, day0 = race.run.title, race.first_day
            if race.priority == "A":
                self._mark(
                    self.no_strength,
                    day0 - timedelta(days=rules.a_race_no_strength_days),
                    day0,
                    f"R6: no strength in the {rules.a_race_no_strength_days} days before A race {title}",
                )
                self._mark(
                    self.no_heavy,
                    day0 - timedelta(days=rules.a_race_no_heavy_days),
                    day0,
                    f"R7: no heavy lower body within {rules.a_race_no_heavy_days} days of A race {title}",
                )
            else:
                self._mark(
                    self.no_strength,
                    day0 - timedelta(days=rules.bc_race_no_strength_days),
                    day0,
                    f"R17: no strength in the {rules.bc_race_no_strength_days} day(s) before "
                    f"{race.priority} race {title}",
                )
                self._mark(
                    self.no_heavy,
                    day0 - timedelta(days=rules.bc_race_no_heavy_days),
                    day0,
                    f"R17: no heavy lower body in the {rules.bc_race_no_heavy_days} days before "
                    f"{race.priority} race {title}",
                )
            self._mark(
                self.no_strength, day0, race.last_day, f"no strength during {race.priority} race {title}"
            )
            rd = race.recovery_days
            self._mark(
                self.no_strength,
                race.last_day,
                race.last_day + timedelta(days=rd),
                f"R16: {rd} days of recovery after {title}",
            )
            self._mark(
                self.light_only,
                race.last_day + timedelta(days=rd + 1),
                race.last_day + timedelta(days=2 * rd),
                f"R16: light or bodyweight only until {2 * rd} days after {title}",
            )
        heavy_days = math.ceil(rules.heavy_before_long_hours / 24)
        for run in self.longs:
            what = "race" if run.kind is RunKind.RACE else "long run"
            if heavy_days:
                self._mark(
                    self.no_heavy,
                    run.first_day - timedelta(days=heavy_days - 1),
                    run.first_day,
                    f"R8: heavy lower body needs {rules.heavy_before_long_hours} h before {what} {run.title}",
                )
            self._mark(
                self.no_lower,
                run.first_day - timedelta(days=1),
                run.first_day - timedelta(days=1),
                f"R10: no lower body the day before {what} {run.title}",
            )
            self._mark(
                self.no_lower,
                run.first_day,
                run.last_day,
                f"R10: no lower body on the day of {what} {run.title}",
            )
            if rules.heavy_after_long_days:
                self._mark(
                    self.no_heavy,
                    run.last_day + timedelta(days=1),
                    run.last_day + timedelta(days=rules.heavy_after_long_days),
                    f"R12: no heavy lower body the day after {what} {run.title}",
                )
        for day, runs in self.runs_on.items():
            for run in runs:
                if run.kind is RunKind.QUALITY:
                    self.no_heavy.setdefault(day, f"R11: no heavy lower body on the day of {run.title}")
                    self.heavy_soft.setdefault(
                        day - timedelta(days=1), f"R10: heavy lower body the day before {run.title}"
                    )

    # -- queries ----------------------------------------------------------------------------
    def forbids(self, kind: SessionKind, day: date) -> str | None:
        """The hard rule that forbids this kind on this day, if any."""
        if day in self.no_strength:
            return self.no_strength[day]
        if kind is HEAVY and day in self.no_heavy:
            return self.no_heavy[day]
        if kind.is_lower and day in self.no_lower:
            return self.no_lower[day]
        if day in self.light_only and kind not in LIGHT_ONLY_KINDS:
            return self.light_only[day]
        return None

    def fit(self, day: date, minutes: int, now: datetime) -> tuple[datetime, datetime, str] | None:
        """The best start inside the day's windows (R19) with the R13 order note, or None.

        Starts lie on a 15-minute grid from the window's start; a clash jumps past the blocking
        interval instead of stepping through it.
        """
        key = (day, minutes)
        if key in self._fits:
            return self._fits[key]
        best: tuple[datetime, datetime, str] | None = None
        blocked = self.blocked.get(day, ())
        runs = self.run_times.get(day, ())
        first_run = min((s for s, _ in runs), default=None)
        lift_first = self.rules.same_day_order == "lift_first"
        kept_after = None
        if runs and not lift_first:
            kept_after = max(e for _, e in runs) + timedelta(hours=self.rules.run_first_gap_hours)
        length = timedelta(minutes=minutes)
        for window in self.rules.windows_for(day.weekday()):
            origin = datetime.combine(day, window.start, self.zone)
            if window.end == time.max:  # a window "until 24:00" ends at midnight
                stop = datetime.combine(day + timedelta(days=1), time(0), self.zone)
            else:
                stop = datetime.combine(day, window.end, self.zone)
            start = origin if origin > now else _on_grid(origin, now)
            while start + length <= stop:
                end = start + length
                clash = max((e for s, e in blocked if s < end and start < e), default=None)
                if clash is not None:
                    start = _on_grid(origin, clash - timedelta(microseconds=1))
                    continue
                if first_run is None:
                    self._fits[key] = (start, end, "")
                    return self._fits[key]
                if lift_first and end <= first_run:
                    self._fits[key] = (start, end, "R13: lift first, then run")
                    return self._fits[key]
                if kept_after is not None and start >= kept_after:
                    gap = f"{self.rules.run_first_gap_hours:g}"
                    self._fits[key] = (start, end, f"R13: at least {gap} h after the run")
                    return self._fits[key]
                if best is None:
                    note = (
                        "after the run (no time to lift first)"
                        if lift_first
                        else "less than the run-first gap after the run"
                    )
                    best = (start, end, f"!R13: {note}")
                if lift_first:
                    break  # every later start is after the run too
                assert kept_after is not None
                start = _on_grid(origin, max(start, kept_after - timedelta(microseconds=1)))
        self._fits[key] = best
        return best

    def _start_of(self, run: Run) -> datetime:
        """When a run starts: its own time, or the default run time for an all-day run."""
        if isinstance(run.start, datetime):
            return _in_zone(run.start, self.zone)
        return datetime.combine(run.first_day, self.rules.default_run_time, self.zone)

    def heavy_too_close(self, end: datetime) -> bool:
        """R8 in hours: a long run or race starts less than ``heavy_before_long_hours`` after ``end``."""
        limit = end + timedelta(hours=self.rules.heavy_before_long_hours)
        i = bisect_left(self._long_starts, (end, ""))
        return i < len(self._long_starts) and self._long_starts[i][0] < limit

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
        busy = sorted(
            (Busy(_in_zone(b.start, zone), _in_zone(b.end, zone), b.title) for b in inp.busy),
            key=lambda b: (b.start, b.end, b.title),
        )
        self.races = races_of(self.runs, self.rules)
        self.weeks = self._weeks()
        last = self.weeks[-1] + timedelta(days=6) if self.weeks else self.first_week
        self.days = _Days(
            runs=self.runs,
            busy=busy,
            races=self.races,
            rules=self.rules,
            zone=zone,
            first=self.first_week,
            last=last,
        )
        self.model: PhaseModel = phase_model(self.weeks, self.runs, self.races, self.rules)
        # A kept session counts where it lies now (a person may have moved it into another week),
        # while its slot stays taken in the week its UID names, so the UID is never planned twice.
        self.fixed_in_week: dict[date, list[Session]] = {}
        self.fixed_slots: dict[str, set[str]] = {}
        for session in sorted(
            (_session_in_zone(s, zone) for s in inp.fixed), key=lambda s: (s.week, s.slot, s.uid)
        ):
            self.fixed_in_week.setdefault(week_start(session.day), []).append(session)
            self.fixed_slots.setdefault(session.week, set()).add(session.slot)
        self.warnings: list[PlanWarning] = []
        self.sessions: list[Session] = []
        self.week_plans: list[WeekPlan] = []
        self._soft_costs: dict[tuple[SessionKind, date], float] = {}
        self._lengths: dict[tuple[SessionKind, float, Phase], int] = {}

    def _weeks(self) -> list[date]:
        ahead = [r for r in self.runs if self.first_week <= r.first_day < self.horizon_end]
        if not ahead:
            return []
        last = max(r.last_day for r in ahead)
        for race in self.races:
            if race.first_day < self.horizon_end:
                last = max(last, race.last_day + timedelta(days=2 * race.recovery_days))
        end = min(week_start(last), self.horizon_end - timedelta(weeks=1))
        started = any(r.first_day < self.first_week for r in self.runs)
        # weeks before a plan's first run are not "unstructured" weeks: the plan has not begun
        monday = self.first_week if started else week_start(ahead[0].first_day)
        weeks = []
        while monday <= end:
            weeks.append(monday)
            monday += timedelta(weeks=1)
        return weeks

    # -- the whole plan ---------------------------------------------------------------------
    def plan(self) -> PlanResult:
        if not self.weeks:
            self.warnings.append(
                PlanWarning(
                    "NO_RUNS",
                    f"no runs found from {self.first_week} to {self.horizon_end}: nothing to plan around",
                )
            )
        self._check_a_race()
        previous: list[tuple[date, bool]] = []
        for monday in self.weeks:
            previous = self._plan_week(monday, previous)
        self._list_kept_elsewhere()
        self._check_rolling()
        runs = tuple(r for r in self.runs if self.first_week <= r.first_day < self.horizon_end)
        sessions = tuple(
            sorted(self.sessions, key=lambda s: (s.day, s.all_day is False, str(s.start), s.uid))
        )
        return PlanResult(
            plan_id=self.inp.plan_id,
            timezone=self.inp.zone.key,
            runs=runs,
            weeks=tuple(self.week_plans),
            sessions=sessions,
            warnings=tuple(self.warnings),
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

    def _check_a_race(self) -> None:
        wanted = self.inp.a_race
        if wanted and not any(r.first_day == wanted for r in self.races):
            self.warnings.append(
                PlanWarning(
                    "A_RACE_NOT_FOUND",
                    f"a_race = {wanted} in the config, but no race is on that day in the sources",
                )
            )

    # -- one week ---------------------------------------------------------------------------
    def _plan_week(self, monday: date, previous: list[tuple[date, bool]]) -> list[tuple[date, bool]]:
        """Plan one week; returns its strength days (with "is lower body") for the next week's spacing."""
        rules = self.rules
        label = iso_week(monday)
        phase = self.model.phases[monday]
        fraction = self.model.fraction(monday)
        ramp = min(max((fraction - 0.6) / 0.4, 0.0), 1.0)
        target_minutes = _round5(rules.strength_base_minutes * (1 - 0.5 * ramp))
        load = "heavy" if fraction < rules.heavy_below_peak else "moderate"
        if fraction >= rules.moderate_below_peak:
            load = "light"
        days = [monday + timedelta(days=i) for i in range(7)]
        fixed = self.fixed_in_week.get(monday, [])
        prefix = session_uid(self.inp.plan_id, label, "")
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
        template = self._template(phase, load)
        slots = [s for s in template if s.slot not in fixed_slots]
        per_slot = target_minutes / max(1, len(template))
        free = [
            d
            for d in days
            if d >= self.today and d != rest_day and d not in taken_days and d not in fixed_rest_days
        ]
        context = f"{phase.value} week, runs at {fraction:.0%} of peak volume"
        kept = sorted((s.day, s.kind.is_lower) for s in fixed if s.kind.is_strength)
        placed, unplaced = self._assign(slots, free, per_slot, phase, previous + kept)
        for slot, option in placed:
            self.sessions.append(self._session(label, slot, option, load, context))
        for slot, why in unplaced:
            if phase in (Phase.BASE, Phase.BUILD, Phase.PEAK, Phase.UNSTRUCTURED):
                self.warnings.append(
                    PlanWarning(
                        "STRENGTH_NOT_PLACED",
                        f"{label}: no day fits strength session {slot.slot} ({slot.chain[0].value}): {why}",
                        label,
                    )
                )
        strength_count = len(placed) + len(taken_days)
        if (
            phase in (Phase.BASE, Phase.BUILD, Phase.PEAK, Phase.UNSTRUCTURED)
            and strength_count < min(rules.strength_floor_per_week, rules.strength_sessions_per_week)
            and any(d >= self.today for d in days)
        ):
            self.warnings.append(
                PlanWarning(
                    "LOW_STRENGTH",
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
                run_minutes=self.model.volumes.get(monday, 0),
                rest_day=rest_day,
                strength_minutes=sum(o.minutes for _, o in placed)
                + sum(f.minutes for f in fixed if f.kind.is_strength),
                peak_fraction=round(fraction, 3),
                strength_target_minutes=target_minutes if phase not in (Phase.RACE, Phase.RECOVERY) else 0,
            )
        )
        # Only kept sessions carry into the next week's spacing: carrying planned ones would let
        # one moved run ripple week after week through the whole plan (sessions must change only
        # in the weeks around a change). Lower body on Sundays costs a little instead (see _soft).
        return kept

    def _template(self, phase: Phase, load: str) -> list[_Slot]:
        n = self.rules.strength_sessions_per_week
        primary = (HEAVY, LIGHT, UPPER, BODYWEIGHT) if load != "light" else (LIGHT, UPPER, BODYWEIGHT)
        extra = (UPPER, CORE, BODYWEIGHT)
        if phase in (Phase.BASE, Phase.BUILD):
            slots = [_Slot("s1", primary, with_upper=True), _Slot("s2", (LIGHT, CORE, BODYWEIGHT))]
        elif phase is Phase.PEAK:
            slots = [_Slot("s1", primary), _Slot("s2", (CORE, UPPER, BODYWEIGHT))]
        elif phase in (Phase.TAPER, Phase.RECOVERY):
            return [_Slot("s1", (LIGHT, CORE, BODYWEIGHT))][: min(n, 1)]
        elif phase is Phase.UNSTRUCTURED:
            return [_Slot(f"s{i + 1}", (BODYWEIGHT,)) for i in range(max(n, 2) if n else 0)]
        else:
            return []
        slots += [_Slot(f"s{i + 1}", extra) for i in range(len(slots), n)]
        return slots[:n]

    def _rest_day(
        self, label: str, days: list[date], taken: set[date], slot: str
    ) -> tuple[date | None, Session | None]:
        rules = self.rules
        run_free = [d for d in days if d not in self.days.runs_on]
        if not run_free and rules.rest_days_per_week:
            if any(d >= self.today for d in days):
                self.warnings.append(
                    PlanWarning(
                        "NO_REST_DAY",
                        f"{label}: every day has a run, so there is no rest day this week (R14)",
                        label,
                    )
                )
            return None, None
        if not rules.rest_days_per_week:
            return None, None
        ahead = [d for d in run_free if d >= self.today]
        candidates = [d for d in ahead if d not in taken]
        if ahead and not candidates:
            # R14 is hard: a rest day has no strength, and a person's own session wins its day
            held = ", ".join(_day_label(d) for d in ahead)
            where = (
                f"your own strength session is on the only run-free day left ({held})"
                if len(ahead) == 1
                else f"your own strength sessions are on every run-free day left ({held})"
            )
            self.warnings.append(
                PlanWarning(
                    "NO_REST_DAY", f"{label}: {where}, so there is no rest day this week (R14)", label
                )
            )
        if not candidates:
            return None, None

        def score(day: date) -> tuple[int, int]:
            value = 0
            if rules.rest_day and WEEKDAYS[day.weekday()] == rules.rest_day:
                value += 100
            prev = self.days.previous_long(day)
            if prev is not None and prev.last_day == day - timedelta(days=1):
                value += 20
            nxt = self.days.next_long(day)
            if nxt is not None and nxt.first_day == day + timedelta(days=1):
                value += 10
            return (-value, day.toordinal())

        day = min(candidates, key=score)
        reason = self._rest_reason(day)
        session = Session(
            uid=session_uid(self.inp.plan_id, label, slot),
            kind=SessionKind.REST,
            title=self.inp.catalogue.recipe(SessionKind.REST).title,
            start=day,
            end=day + timedelta(days=1),
            week=label,
            slot=slot,
            reasons=(reason,),
        )
        return day, session

    def _rest_reason(self, day: date) -> str:
        if self.rules.rest_day and WEEKDAYS[day.weekday()] == self.rules.rest_day:
            return "R14: your preferred rest day"
        prev = self.days.previous_long(day)
        if prev is not None and prev.last_day == day - timedelta(days=1):
            return f"R14: the day after {prev.title}"
        nxt = self.days.next_long(day)
        if nxt is not None and nxt.first_day == day + timedelta(days=1):
            return f"R14: the day before {nxt.title}"
        return "R14: a run-free day"

    # -- placing the slots ------------------------------------------------------------------
    def _minutes(self, kind: SessionKind, per_slot: float, phase: Phase) -> int:
        key = (kind, per_slot, phase)
        if key not in self._lengths:
            self._lengths[key] = self._length(kind, per_slot, phase)
        return self._lengths[key]

    def _length(self, kind: SessionKind, per_slot: float, phase: Phase) -> int:
        """Session minutes: R4's share of the week, within the catalogue's limit; R15's fixed
        length for bodyweight; at most 30 minutes in taper and recovery."""
        if kind is BODYWEIGHT:
            return self.rules.bodyweight_minutes
        recipe = self.inp.catalogue.recipe(kind)
        cap = recipe.max_minutes
        if phase in (Phase.TAPER, Phase.RECOVERY):
            cap = min(cap, self.rules.taper_session_max_minutes)
        return max(self.rules.bodyweight_minutes, min(cap, _round5(per_slot)))

    def _options(
        self, slot: _Slot, free: list[date], per_slot: float, phase: Phase
    ) -> tuple[list[_Option], str]:
        options: list[_Option] = []
        why: dict[str, None] = {}
        for day in free:
            best: _Option | None = None
            for level, kind in enumerate(slot.chain):
                if best is not None and LEVEL_COST * level >= best.cost:
                    break
                blocked = self.days.forbids(kind, day)
                if blocked:
                    why.setdefault(blocked, None)
                    continue
                fit = self.days.fit(day, self._minutes(kind, per_slot, phase), self.now)
                if fit is None:
                    why.setdefault(f"R19: no free time in the strength windows on {_day_label(day)}", None)
                    continue
                start, end, note = fit
                if kind is HEAVY and self.days.heavy_too_close(end):
                    why.setdefault(
                        f"R8: heavy lower body needs {self.rules.heavy_before_long_hours} h before the next "
                        "long run",
                        None,
                    )
                    continue
                cost = LEVEL_COST * level + self._soft(kind, day) + (3.0 if note.startswith("!") else 0.0)
                if best is None or cost < best.cost:
                    best = _Option(cost, day, kind, level, start, end, note.lstrip("!"))
            if best is not None:
                options.append(best)
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
                cost += max(0, 4 - gap) * 2.0
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
        runs = self.days.runs_on.get(day, [])
        if any(r.is_long for r in runs):
            cost += 4.0
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
        slots: list[_Slot],
        free: list[date],
        per_slot: float,
        phase: Phase,
        others: list[tuple[date, bool]],
    ) -> tuple[list[tuple[_Slot, _Option]], list[tuple[_Slot, str]]]:
        """The cheapest assignment of slots to distinct days (a slot may stay empty).

        A small branch and bound: options are sorted by cost, so most branches are cut early.
        """
        choices: list[list[tuple[float, _Option | None]]] = []
        reasons: list[str] = []
        for slot in slots:
            options, why = self._options(slot, free, per_slot, phase)
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

    def _session(self, label: str, slot: _Slot, option: _Option, load: str, context: str) -> Session:
        kind = option.kind
        session_load = None
        if kind is HEAVY:
            session_load = load
        elif kind is LIGHT:
            session_load = "light"
        recipe = self.inp.catalogue.recipe(kind, session_load)
        exercises = recipe.exercises
        groups = list(recipe.muscle_groups)
        if slot.with_upper and kind.is_lower:
            exercises = exercises + UPPER_ADD_ON
            groups.append("upper")
        reasons = [self._anchor_reason(kind, option.day)]
        if option.level > 0:
            first = slot.chain[0]
            blocked = self.days.forbids(first, option.day)
            if blocked is None and first is HEAVY and self.days.heavy_too_close(option.end):
                blocked = f"R8: less than {self.rules.heavy_before_long_hours} h before the next long run"
            blocked = blocked or "no time for a full session in the window that day"
            reasons.append(
                f"{kind.value.replace('_', ' ')} instead of {first.value.replace('_', ' ')}: {blocked}"
            )
            if kind is BODYWEIGHT:
                reasons.append(
                    f"R15: a {self.rules.bodyweight_minutes}-minute bodyweight session still counts"
                )
        if option.day in self.days.light_only:
            reasons.append(self.days.light_only[option.day])
        if kind.is_lower:
            reasons.append(f"R5: {session_load} load ({context})")
        else:
            reasons.append(f"R4: {context}")
        if option.order_note:
            reasons.append(option.order_note)
        windows = ", ".join(str(w) for w in self.rules.windows_for(option.day.weekday()))
        reasons.append(f"R19: inside your strength window {windows}")
        return Session(
            uid=session_uid(self.inp.plan_id, label, slot.slot),
            kind=kind,
            title=recipe.title,
            start=option.start,
            end=option.end,
            week=label,
            slot=slot.slot,
            muscle_groups=tuple(dict.fromkeys(groups)),
            reasons=tuple(reasons),
            exercises=exercises,
            load=session_load,
        )

    def _anchor_reason(self, kind: SessionKind, day: date) -> str:
        nxt = self.days.next_long(day)
        prev = self.days.previous_long(day)
        if nxt is not None:
            gap = (nxt.first_day - day).days
            where = f"{gap} days before {nxt.title} ({_day_label(nxt.first_day)})"
            if kind is HEAVY:
                return f"R8: {where}, at least {self.rules.heavy_before_long_hours} h before it"
            target = max(1, round(self.rules.light_before_long_hours / 24))
            if kind is LIGHT and abs(gap - target) <= 1:
                return f"R9: {where}, about {self.rules.light_before_long_hours} h before it"
            if gap == 1:
                return f"R10: upper body and core are fine the day before {nxt.title}"
            return f"placed {where}"
        if prev is not None:
            return f"placed {(day - prev.last_day).days} days after {prev.title}"
        return "placed in a week without a long run"

    # -- R18 --------------------------------------------------------------------------------
    def _check_rolling(self) -> None:
        rules = self.rules
        normal = {Phase.BASE, Phase.BUILD, Phase.PEAK, Phase.UNSTRUCTURED}
        strength_days = sorted({s.day for s in self.sessions if s.kind.is_strength})
        window_weeks = max(1, rules.rolling_days // 7)
        minimum = rules.rolling_min_fraction * rules.strength_sessions_per_week
        warned: set[tuple[str, str]] = set()
        for i in range(len(self.weeks) - window_weeks + 1):
            block = self.weeks[i : i + window_weeks]
            if any(self.model.phases[w] not in normal for w in block) or block[0] < self.first_week:
                continue
            start, stop = block[0], block[-1] + timedelta(days=7)
            inside = [d for d in strength_days if start <= d < stop]
            average = len(inside) / window_weeks
            label = iso_week(block[-1])
            if average < minimum and ("low", label) not in warned:
                warned.add(("low", label))
                self.warnings.append(
                    PlanWarning(
                        "STRENGTH_BELOW_TARGET",
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
                        "STRENGTH_GAP",
                        f"{iso_week(start)}..{label}: {longest} days without strength, more than "
                        f"{rules.max_gap_days} (R18)",
                        label,
                    )
                )


def plan(inp: PlanInput) -> PlanResult:
    """Plan strength sessions and rest days for one plan."""
    return _Planner(inp).plan()
