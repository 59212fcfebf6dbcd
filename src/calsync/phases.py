"""Weekly volume, peak and phase model (pure; the first half of the "plan" step).

PRODUCT.md section 2: a week is ``race`` (it holds an A race), ``recovery`` (most of it lies in a
race's recovery period, R16), ``taper`` (from the week after the last week at >= 90 % of peak
volume up to the A race; a fixed fallback length when the feed is too short to show the peak),
``unstructured`` (no runs), else ``peak`` / ``build`` / ``base`` by volume against the peak.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from calsync.config import Rules
from calsync.model import Phase, Run, RunKind, week_start

RUN_UP_WEEKS = 4
"""Weeks of history before a fallback taper that a feed must show for its peak to be trusted."""
DEFAULT_MINUTES = {RunKind.LONG: 120, RunKind.QUALITY: 60, RunKind.EASY: 45, RunKind.RACE: 180}
"""Planned minutes of a run that gives neither a duration nor a distance."""


def run_minutes(run: Run, rules: Rules) -> int:
    """Planned minutes of a run: its stated duration, its timed length, its distance at the
    default pace, else a default by kind."""
    if run.minutes is not None:
        return run.minutes
    if isinstance(run.start, datetime) and isinstance(run.end, datetime):
        # as instants: two times in one zone subtract as wall times, an hour off across DST
        length = int((run.end.astimezone(UTC) - run.start.astimezone(UTC)).total_seconds() // 60)
        if length > 0:
            return length
    if run.distance_km is not None:
        return round(run.distance_km * rules.default_pace_min_per_km)
    return DEFAULT_MINUTES[run.kind]


def weekly_minutes(runs: Iterable[Run], rules: Rules) -> dict[date, int]:
    """Run minutes per week (keyed by the week's Monday)."""
    volumes: dict[date, int] = {}
    for run in runs:
        monday = week_start(run.first_day)
        volumes[monday] = volumes.get(monday, 0) + run_minutes(run, rules)
    return volumes


@dataclass(frozen=True)
class Race:
    """A race with what the rules need: its priority and its recovery period (R16)."""

    run: Run
    priority: str
    recovery_days: int

    @property
    def first_day(self) -> date:
        """Race day (the first day of a multi-day race)."""
        return self.run.first_day

    @property
    def last_day(self) -> date:
        """Last day of the race."""
        return self.run.last_day


def races_of(runs: Iterable[Run], rules: Rules) -> list[Race]:
    """The races among the runs, in date order."""
    out = [
        Race(r, r.priority or "B", rules.recovery_days.for_distance(r.distance_km))
        for r in runs
        if r.kind is RunKind.RACE
    ]
    return sorted(out, key=lambda race: (race.first_day, race.run.uid))


def fallback_taper_weeks(race: Race, rules: Rules) -> int:
    """Taper length by race distance when the feed does not show the peak."""
    km = race.run.distance_km
    if km is not None and km >= 160.0:
        return rules.taper_weeks_100mi
    if km is not None and km <= 21.2:
        return rules.taper_weeks_half
    return rules.taper_weeks_marathon


@dataclass(frozen=True)
class PhaseModel:
    """Phases and volumes of every planned week."""

    peak_minutes: int
    volumes: dict[date, int]
    phases: dict[date, Phase]
    taper_weeks: frozenset[date]

    def fraction(self, monday: date) -> float:
        """The week's run minutes as a fraction of the peak week."""
        return self.volumes.get(monday, 0) / self.peak_minutes


def _taper_for(race: Race, volumes: dict[date, int], peak: int, rules: Rules) -> set[date]:
    race_week = week_start(race.first_day)
    fallback = fallback_taper_weeks(race, rules)
    earlier = sorted(w for w, v in volumes.items() if w < race_week and v > 0)
    # The feed shows the run-up when it reaches a block of weeks before the longest taper the
    # fallback would give; a shorter feed (e.g. only the next 30 days) cannot show the peak.
    shows_run_up = bool(earlier) and earlier[0] <= race_week - timedelta(weeks=fallback + RUN_UP_WEEKS)
    at_peak = [w for w in earlier if volumes[w] >= rules.peak_phase_fraction * peak]
    if shows_run_up and at_peak:
        first = at_peak[-1] + timedelta(weeks=1)
    else:
        first = race_week - timedelta(weeks=fallback)
    weeks = set()
    week = first
    while week < race_week:
        weeks.add(week)
        week += timedelta(weeks=1)
    return weeks


def phase_model(
    weeks: Sequence[date], runs: Sequence[Run], races: Sequence[Race], rules: Rules
) -> PhaseModel:
    """Work out the peak volume and the phase of each planned week (Mondays in ``weeks``)."""
    volumes = weekly_minutes(runs, rules)
    a_races = [r for r in races if r.priority == "A"]
    first_week = weeks[0] if weeks else date.min
    upcoming = [r for r in a_races if week_start(r.first_day) >= first_week]
    if rules.peak_week_minutes:
        peak = rules.peak_week_minutes
    else:
        limit = week_start(upcoming[0].first_day) if upcoming else date.max
        before = [v for w, v in volumes.items() if w < limit]
        peak = max(before or volumes.values() or [1])
    peak = max(peak, 1)

    taper: set[date] = set()
    race_weeks: set[date] = set()
    for race in a_races:
        race_weeks.add(week_start(race.first_day))
        taper |= _taper_for(race, volumes, peak, rules)

    phases: dict[date, Phase] = {}
    for monday in weeks:
        if monday in race_weeks:
            phase = Phase.RACE
        elif _mostly_recovering(monday, races):
            phase = Phase.RECOVERY
        elif monday in taper:
            phase = Phase.TAPER
        elif volumes.get(monday, 0) == 0:
            phase = Phase.UNSTRUCTURED
        else:
            fraction = volumes[monday] / peak
            if fraction >= rules.peak_phase_fraction:
                phase = Phase.PEAK
            elif fraction >= rules.build_phase_fraction:
                phase = Phase.BUILD
            else:
                phase = Phase.BASE
        phases[monday] = phase
    return PhaseModel(peak, volumes, phases, frozenset(taper))


def _mostly_recovering(monday: date, races: Sequence[Race]) -> bool:
    """Whether at least four days of the week lie in some race's no-strength recovery (R16)."""
    for race in races:
        start = race.last_day + timedelta(days=1)
        stop = race.last_day + timedelta(days=race.recovery_days)
        overlap = (min(stop, monday + timedelta(days=6)) - max(start, monday)).days + 1
        if overlap >= 4:
            return True
    return False
