"""Training volume and phases: the first half of the "plan" step (pure).

runs -> weekly training volume -> build-ups -> phase, cutback flag, lower-body load and R4's
fraction of each week (PRODUCT.md section 2, "Volume" and "Phases").

* **Volume.** A run counts its stated duration, else its distance at the default pace, else the
  length of a timed event, else a default for its kind. Races are not training volume.
* **Build-ups.** The weeks from the first run on are cut into build-ups: one ends with an A race's
  week (its recovery follows), or before 2+ weeks without runs. Inside one, phases only move
  forward (base -> build -> peak -> taper -> race), and a lone run-free week is ``unstructured``.
* **With an A race ending the build-up**, P is the biggest training week before it. The taper runs
  from the week after the last week at >= 90 % of P up to the race, the peak is the last weeks
  before the taper at >= 90 % of P (at most 4), build starts at the first week at >= 70 % of P.
  When the feed stops short of the peak (its biggest week lies more than ``MAX_TAPER_WEEKS``
  before the race), the taper gets the fallback length by race distance and the weeks before it
  are handled as without a race.
* **Without a race**, P is ``peak_week_minutes`` when set (base / build / peak by fraction, never
  back); otherwise P is unknown: ``base`` below 70 % of the largest week seen, ``build`` from the
  first week above, never ``peak``, lower body moderate, and one ``PEAK_UNKNOWN`` warning.
* **Cutback weeks** (below 80 % of both neighbours inside base / build / peak) keep their block's
  phase, load and R4 fraction. **Load** (R5) never gets heavier again inside a build-up, and the
  first heavy week after weeks without heavy work is eased in at a moderate load.
* **Recovery** is the weeks that lie mostly in an A race's R16 period (no strength, then light),
  and every week a final race's R16 period touches (a race the plan ends with: no training after
  its recovery). A break of 2-3 run-free weeks that training follows is ``unstructured``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from calsync.core.model import Phase, Run, RunKind, run_key, week_start
from calsync.core.settings import Rules

DEFAULT_MINUTES = {RunKind.LONG: 120, RunKind.QUALITY: 60, RunKind.EASY: 45, RunKind.RACE: 180}
"""Planned minutes of a run that gives neither a duration, a distance nor a timed length."""
MAX_TAPER_WEEKS = 4
"""A taper longer than this means the feed stops before the peak: the fallback taper is used."""
MAX_PEAK_WEEKS = 4
"""The peak block is at most this many weeks."""
CUTBACK_FRACTION = 0.8
"""A cutback week is below this fraction of both neighbours."""
UNKNOWN_PEAK_FRACTION = 0.8
"""Without a known peak, the largest week seen is taken as this fraction of it (R4's minutes only)."""
LOADS = ("heavy", "moderate", "light")
MAX_BREAK_WEEKS = 3
"""Run-free weeks between two build-ups up to this many are a break (holiday, travel) and are
planned as ``unstructured``; a longer gap is a plan not written yet, and is not planned."""
WEEK = timedelta(weeks=1)


def run_minutes(run: Run, pace_min_per_km: float) -> int:
    """Planned minutes of a run: stated duration, else distance at the pace, else the timed
    length, else a default for its kind."""
    if run.minutes is not None:
        return run.minutes
    if run.distance_km is not None:
        return max(1, round(run.distance_km * pace_min_per_km))
    if isinstance(run.start, datetime) and isinstance(run.end, datetime):
        # as instants: two times in one zone subtract as wall times, an hour off across DST
        length = int((run.end.astimezone(UTC) - run.start.astimezone(UTC)).total_seconds() // 60)
        if length > 0:
            return length
    return DEFAULT_MINUTES[run.kind]


def training_minutes(runs: Iterable[Run], pace_min_per_km: float) -> dict[str, int]:
    """The minutes each training run counts, by :func:`calsync.core.model.run_key` (races left out)."""
    return {run_key(r): run_minutes(r, pace_min_per_km) for r in runs if r.kind is not RunKind.RACE}


def weekly_minutes(runs: Iterable[Run], pace_min_per_km: float) -> dict[date, int]:
    """Training minutes per week (keyed by the week's Monday); races are not training volume."""
    volumes: dict[date, int] = {}
    for run in runs:
        if run.kind is RunKind.RACE:
            continue
        monday = week_start(run.first_day)
        volumes[monday] = volumes.get(monday, 0) + run_minutes(run, pace_min_per_km)
    return volumes


class Race(NamedTuple):
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

    @property
    def recovered(self) -> date:
        """The last day of R16's light period after the race."""
        return self.last_day + timedelta(days=2 * self.recovery_days)


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


class WeekModel(NamedTuple):
    """What the phase model says of one week."""

    monday: date
    minutes: int
    """Training run minutes (races left out)."""
    phase: Phase
    fraction: float
    """The week's training volume against P, at most 1 (0 when P is unknown)."""
    load_fraction: float
    """What R4's minutes and R5's load go by: ``fraction``, except in a cutback week (its
    block's) and without a known P (the largest week seen counts as 80 % of the peak)."""
    load: str
    """R5's lower-body load, eased in: ``heavy`` / ``moderate`` / ``light``."""
    cutback: bool = False
    eased: bool = False
    """The load was eased from heavy to moderate: the first heavy week after weeks without."""


class PhaseModel(NamedTuple):
    """Phases, loads and volumes of every week the plan knows, and the weeks to plan."""

    peak_minutes: int | None
    """P; None when the feed does not show it and the config does not say it."""
    peak_unknown: bool
    """Some planned week was judged without a known P (the ``PEAK_UNKNOWN`` warning)."""
    weeks: dict[date, WeekModel]
    planned: tuple[date, ...]
    """The Mondays to plan, in order (not always consecutive: 2+ run-free weeks are skipped)."""
    volumes: dict[date, int]

    def week(self, monday: date) -> WeekModel:
        """The model of one week (a week it does not know is unstructured)."""
        found = self.weeks.get(monday)
        if found is None:
            return WeekModel(monday, 0, Phase.UNSTRUCTURED, 0.0, 0.0, "moderate")
        return found


def _is_final(race: Race, runs: Sequence[Run]) -> bool:
    """No training run comes after the race's whole R16 period: the plan ends with the race.

    Judged past the period, not from the race day, so a recovery jog moved by a day or two does
    not change which weeks are planned (a moved run changes only the weeks near it)."""
    recovered = race.recovered
    return not any(r.first_day > recovered and r.kind is not RunKind.RACE for r in runs)


def _recovery_races(races: Sequence[Race], runs: Sequence[Run]) -> list[Race]:
    """Races whose R16 period is a recovery phase: A races, and a race the plan ends with."""
    return [race for race in races if race.priority == "A" or _is_final(race, runs)]


def _mostly_in(monday: date, first: date, last: date) -> bool:
    """At least four days of the week lie in ``first`` .. ``last``."""
    overlap = (min(last, monday + timedelta(days=6)) - max(first, monday)).days + 1
    return overlap >= 4


def _build_ups(
    span: list[date],
    run_weeks: set[date],
    training_weeks: set[date],
    race_weeks: set[date],
    recovery: set[date],
) -> tuple[list[list[date]], list[date]]:
    """Cut the weeks into build-ups: at an A race week (included), at recovery weeks, and at
    2+ weeks without runs; a lone run-free week stays inside. Also returns the weeks of short
    breaks (2 to ``MAX_BREAK_WEEKS`` run-free weeks that training follows: a holiday), which are
    planned as ``unstructured`` between two build-ups."""
    out: list[list[date]] = []
    breaks: list[date] = []
    current: list[date] = []
    gap: list[date] = []

    def close() -> None:
        nonlocal current
        if current:
            out.append(current)
        current = []

    for monday in span:
        if monday in recovery:
            close()
            gap = []
            continue
        if monday not in run_weeks:
            gap.append(monday)
            continue
        if len(gap) >= 2:
            close()
            if len(gap) <= MAX_BREAK_WEEKS and monday in training_weeks and out:
                breaks.extend(gap)
        else:
            current.extend(gap)
        gap = []
        current.append(monday)
        if monday in race_weeks:
            close()
    close()
    return out, breaks


class _Phases(NamedTuple):
    """Phases of one build-up, before loads."""

    phases: dict[date, Phase]
    peak: int | None
    unknown: bool


def _by_fraction(weeks: list[date], volumes: dict[date, int], peak: int, rules: Rules) -> dict[date, Phase]:
    """Base / build / peak by fraction of a known P, never going back."""
    phases: dict[date, Phase] = {}
    level = 0
    for monday in weeks:
        fraction = volumes.get(monday, 0) / peak
        if fraction >= rules.peak_phase_fraction:
            level = max(level, 2)
        elif fraction >= rules.build_phase_fraction:
            level = max(level, 1)
        phases[monday] = (Phase.BASE, Phase.BUILD, Phase.PEAK)[level]
    return phases


def _unknown_peak(weeks: list[date], volumes: dict[date, int], rules: Rules) -> dict[date, Phase]:
    """Base / build against the largest week seen, never peak, never back."""
    largest = max((volumes.get(w, 0) for w in weeks), default=0)
    phases: dict[date, Phase] = {}
    building = False
    for monday in weeks:
        if largest and volumes.get(monday, 0) >= rules.build_phase_fraction * largest:
            building = True
        phases[monday] = Phase.BUILD if building else Phase.BASE
    return phases


def _phases_of(weeks: list[date], volumes: dict[date, int], race: Race | None, rules: Rules) -> _Phases:
    """The phases of one build-up (``race``: the A race that ends it)."""
    configured = rules.peak_week_minutes
    if race is None:
        if configured:
            return _Phases(_by_fraction(weeks, volumes, configured, rules), configured, False)
        largest = max((volumes.get(w, 0) for w in weeks), default=0)
        return _Phases(_unknown_peak(weeks, volumes, rules), largest or None, True)

    race_week = week_start(race.first_day)
    training = [w for w in weeks if w < race_week and volumes.get(w, 0) > 0]
    peak = configured or max((volumes[w] for w in training), default=0)
    at_peak = [w for w in training if peak and volumes[w] >= rules.peak_phase_fraction * peak]
    fallback = fallback_taper_weeks(race, rules)
    # A feed that starts less than a taper and a peak block before the race cannot show where
    # the taper begins; one whose biggest week lies far before the race stops short of the peak.
    long_enough = bool(training) and training[0] <= race_week - (fallback + MAX_PEAK_WEEKS) * WEEK
    reaches_peak = bool(at_peak) and (race_week - at_peak[-1]) // WEEK - 1 <= MAX_TAPER_WEEKS
    shows_peak = long_enough and reaches_peak
    if shows_peak:
        peak_end = at_peak[-1]
        taper_start = peak_end + WEEK
        peak_start = min(w for w in at_peak if w >= peak_end - (MAX_PEAK_WEEKS - 1) * WEEK)
    elif reaches_peak:  # a short feed close to the race: its biggest weeks are the peak
        taper_start = race_week - fallback * WEEK
        close = [w for w in at_peak if taper_start - MAX_PEAK_WEEKS * WEEK <= w < taper_start]
        peak_start = close[0] if close else taper_start
    else:
        taper_start = race_week - fallback * WEEK
        peak_start = taper_start
    before = [w for w in weeks if w < min(taper_start, peak_start)]
    phases: dict[date, Phase]
    unknown = False
    if reaches_peak:
        above = [w for w in before if volumes.get(w, 0) >= rules.build_phase_fraction * peak]
        build_start = above[0] if above else peak_start
        phases = {w: Phase.BASE if w < build_start else Phase.BUILD for w in before}
    elif configured:
        phases = _by_fraction(before, volumes, configured, rules)
    else:
        phases = _unknown_peak(before, volumes, rules)
        unknown = bool(before)
        peak = max((volumes.get(w, 0) for w in before), default=0)
    for monday in weeks:
        if monday == race_week:
            phases[monday] = Phase.RACE
        elif monday >= taper_start:
            phases[monday] = Phase.TAPER
        elif monday >= peak_start:
            phases[monday] = Phase.PEAK
    return _Phases(phases, peak or None, unknown)


def _load_index(fraction: float, rules: Rules) -> int:
    if fraction < rules.heavy_below_peak:
        return 0
    if fraction < rules.moderate_below_peak:
        return 1
    return 2


def phase_model(
    runs: Sequence[Run], races: Sequence[Race], rules: Rules, *, first_week: date, horizon_end: date
) -> PhaseModel:
    """Volumes, build-ups and the phase, load and cutback flag of every week; the weeks to plan."""
    pace = rules.default_pace_min_per_km
    volumes = weekly_minutes(runs, pace)
    run_weeks = {week_start(r.first_day) for r in runs}
    if not run_weeks:
        return PhaseModel(None, False, {}, (), volumes)
    a_races = [r for r in races if r.priority == "A"]
    race_weeks = {week_start(r.first_day) for r in a_races}
    recovery: set[date] = set()
    recovery_races = _recovery_races(races, runs)
    for race in recovery_races:
        # after a final race, every week its recovery touches is planned
        final = _is_final(race, runs)
        monday = week_start(race.last_day) + WEEK
        while monday <= race.recovered:
            if final or _mostly_in(monday, race.last_day + timedelta(days=1), race.recovered):
                recovery.add(monday)
            monday += WEEK
    last = max([*run_weeks, *(week_start(r.recovered) for r in recovery_races)])
    span = []
    monday = min(run_weeks)
    while monday <= last:
        span.append(monday)
        monday += WEEK

    models: dict[date, WeekModel] = {}
    peak_seen: int | None = None
    unknown_weeks: set[date] = set()
    training_weeks = {w for w, v in volumes.items() if v > 0}
    build_ups, breaks = _build_ups(span, run_weeks, training_weeks, race_weeks, recovery)
    for monday in breaks:
        models[monday] = WeekModel(monday, 0, Phase.UNSTRUCTURED, 0.0, 0.0, "light")
    for build_up in build_ups:
        ending = next((r for r in a_races if week_start(r.first_day) == build_up[-1]), None)
        found = _phases_of(build_up, volumes, ending, rules)
        if found.unknown:
            unknown_weeks.update(w for w, p in found.phases.items() if p in (Phase.BASE, Phase.BUILD))
        if not found.unknown and found.peak:
            peak_seen = found.peak
        scale = found.peak
        if found.unknown and scale:
            scale = max(1, round(scale / UNKNOWN_PEAK_FRACTION))
        models.update(_weeks_of(build_up, volumes, found, scale, rules))
    for monday in sorted(recovery):
        minutes = volumes.get(monday, 0)
        fraction = min(minutes / peak_seen, 1.0) if peak_seen else 0.0
        models[monday] = WeekModel(monday, minutes, Phase.RECOVERY, fraction, fraction, "light")
    _ease_in(models)

    planned = _planned(models, first_week, horizon_end, runs)
    unknown = any(w in unknown_weeks for w in planned)
    return PhaseModel(peak_seen if peak_seen else None, unknown, models, planned, volumes)


def _weeks_of(
    weeks: list[date], volumes: dict[date, int], found: _Phases, scale: int | None, rules: Rules
) -> dict[date, WeekModel]:
    """The models of one build-up's weeks: fraction, cutback flag and load, in order."""
    out: dict[date, WeekModel] = {}
    load = 0
    block_fraction = 0.0
    for i, monday in enumerate(weeks):
        phase = found.phases.get(monday, Phase.UNSTRUCTURED)
        minutes = volumes.get(monday, 0)
        if minutes == 0 and phase in (Phase.BASE, Phase.BUILD, Phase.PEAK):
            phase = Phase.UNSTRUCTURED
        load_fraction = min(minutes / scale, 1.0) if scale else 0.0
        fraction = 0.0 if found.unknown else load_fraction
        prev = volumes.get(weeks[i - 1], 0) if i else 0
        nxt = volumes.get(weeks[i + 1], 0) if i + 1 < len(weeks) else 0
        cutback = (
            phase in (Phase.BASE, Phase.BUILD, Phase.PEAK)
            and minutes < CUTBACK_FRACTION * prev
            and minutes < CUTBACK_FRACTION * nxt
        )
        if cutback:
            load_fraction = block_fraction  # a down week keeps its block's load and minutes
        elif phase in (Phase.BASE, Phase.BUILD, Phase.PEAK):
            block_fraction = load_fraction
        if phase in (Phase.TAPER, Phase.RACE, Phase.RECOVERY, Phase.UNSTRUCTURED):
            load_name = "light"
        elif found.unknown:
            load_name = "moderate"
        else:
            if not cutback:
                load = max(load, _load_index(load_fraction, rules))
            load_name = LOADS[load]
        out[monday] = WeekModel(monday, minutes, phase, fraction, load_fraction, load_name, cutback)
    return out


def _ease_in(models: dict[date, WeekModel]) -> None:
    """The first heavy week after a week without heavy work (or at the start) goes moderate."""
    for monday in sorted(models):
        model = models[monday]
        before = models.get(monday - WEEK)
        ready = before is not None and (before.load == "heavy" or before.eased)
        if model.load == "heavy" and not ready:
            models[monday] = model._replace(load="moderate", eased=True)


def _planned(
    models: dict[date, WeekModel], first_week: date, horizon_end: date, runs: Sequence[Run]
) -> tuple[date, ...]:
    """The weeks to plan: the weeks of the model from this week to the horizon (the model knows
    no week before the first run, nor the weeks of a 2+ week gap without runs), when some run
    lies ahead."""
    if not any(first_week <= r.first_day < horizon_end for r in runs):
        return ()
    return tuple(w for w in sorted(models) if first_week <= w < horizon_end)
