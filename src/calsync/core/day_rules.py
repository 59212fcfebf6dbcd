"""The hard rules as per-day tables, and the time fit inside the strength windows (pure).

:class:`Days` is built once per plan from the runs (in the plan's zone), busy time and races: for
every day, which kinds R6-R8, R10-R12, R16 and R17 forbid and why (a :class:`Why`: the rule id
and the sentence a runner reads), which days are training days (R14), and where a session of
some length fits in the day's windows around runs and busy blocks (R19), in R13's order.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from calsync.core.model import JUST_BEFORE, ONE_DAY, Busy, Run, RunKind, SessionKind
from calsync.core.phases import Race, run_minutes
from calsync.core.settings import Rules
from calsync.core.words import Words

HEAVY, LIGHT = SessionKind.HEAVY_LOWER, SessionKind.LIGHT_LOWER
CORE, BODYWEIGHT = SessionKind.CORE, SessionKind.BODYWEIGHT
LIGHT_ONLY_KINDS = frozenset({LIGHT, CORE, BODYWEIGHT})
"""What R16 allows in the second half of a race recovery: light or bodyweight work."""
STEP = timedelta(minutes=15)
"""Granularity of start times inside a window."""
_LAST_MINUTE = time(23, 59)
"""An all-day run ends by then."""
WITHIN_A_WEEK = timedelta(days=7)
"""How far :meth:`Days.next_long` and :meth:`Days.previous_long` look."""


class Why(NamedTuple):
    """A rule id and the plain sentence a runner reads."""

    rule: str
    text: str


class Fit(NamedTuple):
    """A start time inside the day's windows, and how it sits with the day's runs (R13)."""

    start: datetime
    end: datetime
    order: Why | None
    against_order: bool = False
    """The session could not go where R13 asks (after the run instead of before)."""


_LIFT_FIRST = Why("R13", "lift first, then run")
_LIFT_AFTER = Why("R13", "after the run: there is no time to lift first that day")
_SHORT_GAP = Why("R13", "less than the usual gap after the run: there is no later time that day")


class _DayTimes(NamedTuple):
    """What :meth:`Days.fit` needs of one day, gathered once per day."""

    windows: list[tuple[datetime, datetime]]
    blocked: list[tuple[datetime, datetime]] | tuple[()]
    first_run: datetime | None
    """The start of the day's first run (R13 with ``lift_first``)."""
    kept_after: datetime | None
    """The earliest start ``run_first_gap_hours`` after the day's last run (R13 otherwise)."""


def in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """The instant as a wall time in ``zone``, the same whatever zone it was written in.

    Through UTC: ``astimezone`` into the zone a time already has returns it unchanged, so a wall
    time the zone skips (02:30 on a spring-forward night) would stay as written, and differ from
    the same instant written in another zone (03:30 after the switch).
    """
    return moment.astimezone(UTC).astimezone(zone)


def not_after(end: datetime, start: datetime) -> bool:
    """``end <= start`` as instants (times in one zone compare as wall times, fold ignored)."""
    return end.astimezone(UTC) <= start.astimezone(UTC)


def on_grid(origin: datetime, after: datetime) -> datetime:
    """The first start on the 15-minute grid from ``origin`` that is later than ``after``."""
    steps = (after - origin) // STEP + 1
    return origin + max(steps, 0) * STEP


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """The day's start in ``zone``."""
    return datetime.combine(day, time(0), zone)


def next_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The next day's start in ``zone``."""
    return datetime.combine(day + ONE_DAY, time(0), zone)


class Days:
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
        words: Words,
    ) -> None:
        self.rules = rules
        self.zone = zone
        self.words = words
        self.first, self.last = first, last
        # the tables cover the planned weeks and one day either side
        self._lo, self._hi = first - ONE_DAY, last + ONE_DAY
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
        self._fits: dict[tuple[date, int], Fit | None] = {}
        self._times: dict[date, _DayTimes] = {}
        self.windows_by_weekday = [rules.windows_for(weekday) for weekday in range(7)]
        self.lift_first = rules.same_day_order == "lift_first"
        self._run_first_gap = timedelta(hours=rules.run_first_gap_hours)
        self._lengths: dict[int, timedelta] = {}
        self._kept_why = Why("R13", f"at least {rules.run_first_gap_hours:g} hours after the run")
        for run in runs:
            if run.last_day >= self._lo and run.first_day <= self._hi:
                self._add_run(run)
        for block in busy:
            if block.training:
                if not_after(block.end, block.start):  # a training event without length
                    self.training_on.setdefault(in_zone(block.start, zone).date(), []).append(block)
                self._add_interval(block.start, block.end, self.training_on, block)
            if not block.transparent:
                self._add_interval(block.start, block.end, self.blocked)
        self._add_rules(races)

    # -- building ---------------------------------------------------------------------------
    def _mark(self, table: dict[date, Why], first: date, last: date, why: Why) -> None:
        day = max(first, self._lo)
        last = min(last, self._hi)
        while day <= last:
            table.setdefault(day, why)
            day += ONE_DAY

    def _add_run(self, run: Run) -> None:
        if isinstance(run.start, datetime) and isinstance(run.end, datetime):
            start, end = run.start, run.end  # already in the plan's zone (see _Planner)
            if not not_after(end, start):
                self._add_run_time(start, end)
            else:
                end = start + self._length(run_minutes(run, self.rules.default_pace_min_per_km))
                if not not_after(end, start):  # wall-clock minutes may end earlier across a DST change
                    self._add_run_time(start, end)
            days = {start.date(), (end - JUST_BEFORE).date()}
        else:
            days = set()
            day = run.first_day
            length = self._length(run_minutes(run, self.rules.default_pace_min_per_km))
            run_time = self.rules.default_run_time
            while day <= run.last_day:
                days.add(day)
                start = datetime.combine(day, run_time, self.zone)
                end = min(start + length, datetime.combine(day, _LAST_MINUTE, self.zone))
                if not not_after(end, start):
                    self._add_run_time(start, end)
                day += ONE_DAY
        for day in days:
            self.runs_on.setdefault(day, []).append(run)

    def _length(self, minutes: int) -> timedelta:
        """``minutes`` as a timedelta, made once per length."""
        found = self._lengths.get(minutes)
        if found is None:
            found = self._lengths[minutes] = timedelta(minutes=minutes)
        return found

    def _add_run_time(self, start: datetime, end: datetime) -> None:
        """A run's time (``end`` after ``start``): it blocks sessions (R19) and orders them on its
        days (R13)."""
        day = max(start.date(), self._lo)
        last = min((end - JUST_BEFORE).date(), self._hi)
        while day <= last:
            self.run_times.setdefault(day, []).append((start, end))
            self.blocked.setdefault(day, []).append((start, end))
            day += ONE_DAY

    def _add_interval(
        self,
        start: datetime,
        end: datetime,
        table: dict[date, list[tuple[datetime, datetime]]] | dict[date, list[Busy]],
        item: Busy | None = None,
    ) -> None:
        if not_after(end, start):
            return
        day = max(start.date(), self._lo)
        last = min((end - JUST_BEFORE).date(), self._hi)
        while day <= last:
            table.setdefault(day, []).append(item if item is not None else (start, end))  # type: ignore[arg-type]
            day += ONE_DAY

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
        days_before = timedelta(days=before)
        days_after = timedelta(days=rules.heavy_after_long_days)
        for run in self.longs:
            name = words.run(run)
            if before:
                self._mark(
                    self.no_heavy,
                    run.first_day - days_before,
                    run.first_day,
                    Why("R8", f"heavy legs need {before} full days before {name}"),
                )
            self._mark(
                self.no_lower,
                run.first_day - ONE_DAY,
                run.last_day,
                Why("R10", f"no leg work the day before or the day of {name}"),
            )
            if rules.heavy_after_long_days:
                self._mark(
                    self.no_heavy,
                    run.last_day + ONE_DAY,
                    run.last_day + days_after,
                    Why("R12", f"no heavy legs the day after {name}"),
                )
        for day, runs in self.runs_on.items():
            for run in runs:
                if run.kind is RunKind.QUALITY:
                    name = words.run(run)
                    self.no_heavy.setdefault(day, Why("R11", f"no heavy legs on the day of {name}"))
                    self.heavy_soft.setdefault(day - ONE_DAY, Why("R10", f"heavy legs the day before {name}"))

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
                    min(block.end, next_midnight(day, self.zone)) - max(block.start, midnight(day, self.zone))
                ).total_seconds()
                // 60
            )
        return total

    def fit(self, day: date, minutes: int, now: datetime) -> Fit | None:
        """The best start inside the day's windows (R19) and how it sits with the runs (R13).

        Starts lie on a 15-minute grid from the window's start; a clash jumps past the blocking
        interval instead of stepping through it.
        """
        key = (day, minutes)
        if key not in self._fits:
            self._fits[key] = self._fit(self._day_times(day), minutes, now)
        return self._fits[key]

    def _fit(self, times: _DayTimes, minutes: int, now: datetime) -> Fit | None:
        best: Fit | None = None
        blocked, first_run, kept_after = times.blocked, times.first_run, times.kept_after
        lift_first = self.lift_first
        length = self._length(minutes)
        for origin, stop in times.windows:
            start = origin if origin > now else on_grid(origin, now)
            while start + length <= stop:
                end = start + length
                clash = None  # the latest end of the intervals the candidate overlaps
                for s, e in blocked:
                    if s < end and start < e and (clash is None or e > clash):
                        clash = e
                if clash is not None:
                    start = on_grid(origin, clash - JUST_BEFORE)
                    continue
                if first_run is None:
                    return Fit(start, end, None)
                if lift_first and end <= first_run:
                    return Fit(start, end, _LIFT_FIRST)
                if kept_after is not None and start >= kept_after:
                    return Fit(start, end, self._kept_why)
                if best is None:
                    best = Fit(start, end, _LIFT_AFTER if lift_first else _SHORT_GAP, against_order=True)
                if lift_first:
                    break  # every later start is after the run too
                assert kept_after is not None
                start = on_grid(origin, max(start, kept_after - JUST_BEFORE))
        return best

    def _day_times(self, day: date) -> _DayTimes:
        """The day's strength windows as times (R19), its blocked intervals and its runs' times
        (R13), gathered once per day."""
        found = self._times.get(day)
        if found is None:
            windows = []
            for window in self.windows_by_weekday[day.weekday()]:
                origin = datetime.combine(day, window.start, self.zone)
                if window.end == time.max:  # a window "until 24:00" ends at midnight
                    stop = datetime.combine(day + ONE_DAY, time(0), self.zone)
                else:
                    stop = datetime.combine(day, window.end, self.zone)
                windows.append((origin, stop))
            runs = self.run_times.get(day, ())
            first_run = min(runs)[0] if runs else None  # (start, end) pairs: the earliest start
            kept_after = None
            if runs and not self.lift_first:
                kept_after = max(e for _, e in runs) + self._run_first_gap
            found = _DayTimes(windows, self.blocked.get(day, ()), first_run, kept_after)
            self._times[day] = found
        return found

    def next_long(self, day: date) -> Run | None:
        """The first long run or race on or after the day, within a week."""
        i = bisect_left(self._long_firsts, day)
        if i < len(self.longs) and self._long_firsts[i] <= day + WITHIN_A_WEEK:
            return self.longs[i]
        return None

    def previous_long(self, day: date) -> Run | None:
        """The long run or race that ended last before the day, within a week."""
        i = bisect_left(self._long_lasts, day)
        if i and self._long_lasts[i - 1] >= day - WITHIN_A_WEEK:
            return self._longs_by_end[i - 1]
        return None
