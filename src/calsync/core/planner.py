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

The ideas live apart: :mod:`~calsync.core.day_rules` (the hard rules as per-day tables, the time
fit), :mod:`~calsync.core.costs` (the soft rules, weights named after their rules),
:mod:`~calsync.core.words` (how the plan speaks); this module holds the templates (slots), the
rest day, the options and their assignment, and the week.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from calsync.core.catalogue import Catalogue
from calsync.core.costs import WEIGHTS, SoftCosts, spacing
from calsync.core.day_rules import Days, Fit, Why, in_zone
from calsync.core.identity import session_uid, week_prefix
from calsync.core.model import (
    ONE_DAY,
    WEEKDAY_OFFSETS,
    Busy,
    Phase,
    PlanResult,
    PlanWarning,
    Run,
    Session,
    SessionKind,
    WarningCode,
    WeekPlan,
    iso_week,
    week_start,
)
from calsync.core.phases import (
    PhaseModel,
    WeekModel,
    phase_model,
    races_of,
    training_minutes,
)
from calsync.core.settings import WEEKDAYS, Rules
from calsync.core.words import (
    KIND_WORDS,
    Words,
    day_label,
    days_text,
    plan_unit,
    sentence,
)

HEAVY, LIGHT = SessionKind.HEAVY_LOWER, SessionKind.LIGHT_LOWER
UPPER, CORE, BODYWEIGHT = SessionKind.UPPER, SessionKind.CORE, SessionKind.BODYWEIGHT
SHORT_SESSION_MINUTES = 30
"""When a session's full length does not fit the day's window, a shorter one of this length is
tried before a lighter kind (the content shrinks with the minutes, R4)."""
NORMAL_PHASES = (Phase.BASE, Phase.BUILD, Phase.PEAK)


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


class _Slot(NamedTuple):
    slot: str
    chain: tuple[SessionKind, ...]
    with_upper: bool = False


class _Option(NamedTuple):
    """A kind of session on a day at a time, with its cost (tuples: the inner loop makes many)."""

    cost: float
    day: date
    kind: SessionKind
    level: int
    fit: Fit
    lower: bool
    """The kind loads the lower body (the assignment's spacing asks it for every pair)."""

    @property
    def minutes(self) -> int:
        """Length of the placed session."""
        return int((self.fit.end.astimezone(UTC) - self.fit.start.astimezone(UTC)).total_seconds() // 60)


def _round5(minutes: float) -> int:
    return int(5 * round(minutes / 5))


def _as_written(moment: datetime, written: datetime) -> bool:
    """``moment`` is ``written`` to the letter: the same wall time, fold and zone object."""
    return moment.tzinfo is written.tzinfo and moment.fold == written.fold and moment == written


_Timed = TypeVar("_Timed", Run, Session, Busy)


def _timed_in_zone(item: _Timed, zone: ZoneInfo) -> _Timed:
    """The run, session or busy time with its times in the plan's zone, so its days are the
    plan's days (the item itself when its times are written so already: most are)."""
    start, end = item.start, item.end
    if isinstance(start, datetime) and isinstance(end, datetime):
        start_in, end_in = in_zone(start, zone), in_zone(end, zone)
        if not (_as_written(start_in, start) and _as_written(end_in, end)):
            return replace(item, start=start_in, end=end_in)
    return item


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


class _Planner:
    """Plans the weeks of one plan, in order."""

    def __init__(self, inp: PlanInput) -> None:
        self.inp = inp
        self.rules = inp.rules
        self.now = in_zone(inp.now, inp.zone)
        self.today = self.now.date()
        self.first_week = week_start(self.today)
        self.horizon_end = self.first_week + timedelta(weeks=inp.horizon_weeks)
        zone = inp.zone
        self.runs = sorted((_timed_in_zone(r, zone) for r in inp.runs), key=_run_order)
        self.busy = sorted(
            (_timed_in_zone(b, zone) for b in inp.busy), key=lambda b: (b.start, b.end, b.title)
        )
        self.unit = plan_unit(self.runs)
        self.words = Words(self.unit)
        self.races = races_of(self.runs, self.rules)
        self.model: PhaseModel = phase_model(
            self.runs, self.races, self.rules, first_week=self.first_week, horizon_end=self.horizon_end
        )
        self.weeks = list(self.model.planned)
        last = self.weeks[-1] + timedelta(days=6) if self.weeks else self.first_week
        self.days = Days(
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
            (_timed_in_zone(s, zone) for s in inp.fixed), key=lambda s: (s.week, s.slot, s.uid)
        ):
            self.fixed_in_week.setdefault(week_start(session.day), []).append(session)
            self.fixed_slots.setdefault(session.week, set()).add(session.slot)
        self.previous: dict[tuple[str, str], Session] = {
            (s.week, s.slot): _timed_in_zone(s, zone) for s in inp.previous if s.kind.is_strength
        }
        self.previous_rest: dict[tuple[str, str], Session] = {
            (s.week, s.slot): s for s in inp.previous if s.kind is SessionKind.REST
        }
        self.previous_weeks = {week for week, _ in self.previous}
        self.warnings: list[PlanWarning] = []
        self.sessions: list[Session] = []
        self.week_plans: list[WeekPlan] = []
        self.soft = SoftCosts(self.days, self.rules)
        self._lengths: dict[tuple[SessionKind, str | None, float, Phase], int] = {}
        self._race_day_counts: dict[date, int] = {}
        self._templates: dict[tuple[Phase, str], tuple[_Slot, ...]] = {}

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
                    f"'{session.title}' on {day_label(session.day)} stays where it is, though it "
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
        days = [monday + offset for offset in WEEKDAY_OFFSETS]
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
        placed_minutes = 0
        heavy = any(o.kind is HEAVY for _, o in placed) or any(s.kind is HEAVY for s in fixed)
        # the week's heavier leg session found no day (a person's, kept or deleted, is theirs)
        no_room = not heavy and any(s.chain[0] is HEAVY for s in slots)
        for slot, option in placed:
            minutes = option.minutes
            self.sessions.append(
                self._session(
                    label, slot, option, minutes, week, per_slot=per_slot, heavy=heavy, no_room=no_room
                )
            )
            placed_minutes += minutes
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
                strength_minutes=placed_minutes + sum(f.minutes for f in fixed if f.kind.is_strength),
                peak_fraction=round(week.fraction, 3),
                strength_target_minutes=target_minutes if phase not in (Phase.RACE, Phase.RECOVERY) else 0,
                cutback=week.cutback,
                load=week.load if phase not in (Phase.RACE, Phase.UNSTRUCTURED) else None,
            )
        )
        # Only kept sessions carry into the next week's spacing: carrying planned ones would let
        # one moved run ripple week after week through the whole plan (sessions must change only
        # in the weeks around a change). Lower body on Sundays costs a little instead (see SoftCosts).
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
                    out[same[0]] = out[same[0]]._replace(chain=(UPPER, BODYWEIGHT))
            elif session.kind is LIGHT:
                out = [slot._replace(chain=tuple(k for k in slot.chain if k is not LIGHT)) for slot in out]
        return out

    def _race_days(self, monday: date) -> int:
        """Days of the week that a race, its run-up or its recovery keep free of strength."""
        found = self._race_day_counts.get(monday)
        if found is None:
            found = self._race_day_counts[monday] = self._count_race_days(monday)
        return found

    def _count_race_days(self, monday: date) -> int:
        days = [monday + offset for offset in WEEKDAY_OFFSETS]
        return sum(
            1
            for d in days
            if (d in self.days.no_strength and self.days.no_strength[d].rule in ("R6", "R16", "R17"))
            or d in self.days.light_only
        )

    def _template(self, phase: Phase, load: str) -> tuple[_Slot, ...]:
        """The week's slots (R2), made once per phase and load."""
        found = self._templates.get((phase, load))
        if found is None:
            found = self._templates[(phase, load)] = tuple(self._new_template(phase, load))
        return found

    def _new_template(self, phase: Phase, load: str) -> list[_Slot]:
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
                    f"the lightest is {day_label(lightest)}"
                    f" ({self.days.training_load(lightest)} minutes): make it your rest day if you can",
                    label,
                )
            )
            return None, None
        candidates = [d for d in free if d not in taken]
        if free and not candidates:
            # R14 is hard: a rest day has no strength, and a person's own session wins its day
            held = ", ".join(day_label(d) for d in free)
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
            end=day + ONE_DAY,
            week=label,
            slot=slot,
            reasons=(sentence(self._rest_reason(day)),),
            rules=("R14",),
        )
        return day, session

    def _rest_score(self, day: date) -> tuple[int, int]:
        value = 0
        if self.rules.rest_day and WEEKDAYS[day.weekday()] == self.rules.rest_day:
            value += 100
        prev = self.days.previous_long(day)
        if prev is not None and prev.last_day == day - ONE_DAY:
            value += 20
        nxt = self.days.next_long(day)
        if nxt is not None and nxt.first_day == day + ONE_DAY:
            value += 10
        return (-value, day.toordinal())

    def _rest_reason(self, day: date) -> str:
        if self.rules.rest_day and WEEKDAYS[day.weekday()] == self.rules.rest_day:
            return "a full rest day on the day you chose to rest"
        prev = self.days.previous_long(day)
        if prev is not None and prev.last_day == day - ONE_DAY:
            return f"a full rest day after {self.words.run(prev, day - ONE_DAY)}, to absorb it"
        nxt = self.days.next_long(day)
        if nxt is not None and nxt.first_day == day + ONE_DAY:
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
        forbids, fit_in, soft, now = self.days.forbids, self.days.fit, self.soft.cost, self.now
        step_down, stability, against_order = WEIGHTS.step_down, WEIGHTS.stability, WEIGHTS.r13_against_order
        for day in free:
            best: _Option | None = None
            for level, kind, minutes in chain:
                # Stability: in a week calsync planned before, every session that is not exactly
                # as it was (same slot, day and kind) is a change to write: it costs WEIGHTS.stability
                kept = before is not None and before.day == day and before.kind is kind
                moved = stability if replanned and not kept else 0.0
                if best is not None and step_down * level >= best.cost:
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
                        fit, extra = short, WEIGHTS.short_session
                if fit is None:
                    no_time = day
                    continue
                cost = (
                    step_down * level
                    + soft(kind, day)
                    + (against_order if fit.against_order else 0.0)
                    + moved
                    + extra
                )
                if best is None or cost < best.cost:
                    best = _Option(cost, day, kind, level, fit, kind.is_lower)
            if best is not None:
                options.append(best)
        if no_time is not None:
            why.setdefault(f"no free time in your strength windows on {day_label(no_time)}", None)
        if not free:
            why.setdefault("no free day left this week", None)
        return options, "; ".join(list(why)[:3])

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
                (
                    o.cost
                    + sum(spacing(o.day, o.lower, b, lower, WEIGHTS.spacing_placed) for b, lower in others),
                    o,
                )
                for o in options
            ]
            scored.sort(key=lambda pair: (pair[0], pair[1].day))
            choices.append([*scored, (WEIGHTS.unplaced, None)])
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
                        extra += spacing(option.day, option.lower, other.day, other.lower, 1.0)
                    if clash:
                        continue
                if cost + extra >= best_cost:
                    continue  # cut here rather than one call deeper
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
        minutes: int,
        week: WeekModel,
        *,
        per_slot: float,
        heavy: bool,
        no_room: bool,
    ) -> Session:
        """The session of a placed option (``minutes``: its length, :attr:`_Option.minutes`;
        ``heavy``: the week has a heavy leg session; ``no_room``: its heavy one found no day)."""
        kind = option.kind
        load = self._kind_load(kind, week)
        with_upper = slot.with_upper and kind is not BODYWEIGHT
        content = self.inp.catalogue.content(kind, load, minutes, with_upper=with_upper)
        whys = [self._anchor(kind, load, option.day)]
        if option.level > 0:
            whys.append(self._step_down(slot, option, per_slot))
        if option.day in self.days.light_only and kind is not BODYWEIGHT:
            whys.append(self.days.light_only[option.day])
        whys.append(self._load_why(kind, load, week, minutes, heavy=heavy, no_room=no_room))
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
            reasons=tuple(dict.fromkeys(sentence(w.text) for w in whys)),
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
                    f"light legs {days_text(gap)} before {words.run(nxt, day)}: it keeps hips, calves and "
                    "ankles strong without tiring them",
                )
            return Why("R5", f"light legs {days_text(gap)} before {words.run(nxt, day)}")
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

    def _load_why(
        self,
        kind: SessionKind,
        load: str | None,
        week: WeekModel,
        minutes: int,
        *,
        heavy: bool,
        no_room: bool,
    ) -> Why:
        """The load (R5) or the minutes (R4), from the week's place in the training cycle (``heavy``
        and ``no_room``: see :meth:`_session`; a light session is the easier one beside another)."""
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
            if no_room:  # R8-R12 or the windows left the week's heavier session no day
                why = "no day this week leaves room for heavier legs"
            elif week.load == "light" and not heavy:
                why = f"{where}, {share}"
            else:
                why = "the week's easier leg session, for hips, calves and ankles"
            return Why("R5", f"light load (12-15 reps): {why}")
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
            inside = strength_days[bisect_left(strength_days, start) : bisect_left(strength_days, stop)]
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


def plan(inp: PlanInput) -> PlanResult:
    """Plan strength sessions and rest days for one plan."""
    return _Planner(inp).plan()
