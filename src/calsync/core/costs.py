"""The soft rules as costs, each weight named after the rule it serves (pure).

The planner places a week's slots on the days and kinds with the lowest total cost: the hard
rules (:mod:`calsync.core.day_rules`) decide what is allowed, these weights decide what is best.
"""

from __future__ import annotations

from datetime import date
from typing import Final, NamedTuple

from calsync.core.day_rules import Days
from calsync.core.model import RunKind, SessionKind
from calsync.core.settings import WEEKDAYS, Rules

HEAVY, LIGHT = SessionKind.HEAVY_LOWER, SessionKind.LIGHT_LOWER


class Weights:
    """The soft rules' weights (a cost unit is about one "notch" of coaching preference).

    Constants of the class (no dataclass: nothing builds another set of weights).
    """

    step_down: Final = 10.0
    """Each step down a slot's chain of kinds (the template's best kind first)."""
    stability: Final = 15.0
    """Moving a session calsync placed before away from its day (PRODUCT.md "Stability")."""
    short_session: Final = 2.0
    """Shortening a session to fit the window (R19): less than a step down the chain."""
    unplaced: Final = 60.0
    """Leaving a slot empty: worse than any placement."""
    r13_against_order: Final = 3.0
    """A session on the wrong side of the day's run (R13)."""
    r8_heavy_per_day_short: Final = 1.0
    """R8: heavy legs, per day closer than five days before the long run."""
    r10_heavy_before_quality: Final = 5.0
    """R10: heavy legs the day before a quality run."""
    r12_heavy_two_days_after_long: Final = 1.0
    """R12: heavy legs two days after a long run (allowed, not liked)."""
    r9_light_per_day_off: Final = 1.5
    """R9: light legs, per day away from ``light_before_long_hours`` before the long run."""
    r9_light_without_long: Final = 2.0
    """R9: light legs with no long run in the next week to prepare for."""
    light_after_long: Final = 3.0
    """Light legs the morning after a long run: the legs are tired."""
    lower_on_sunday: Final = 2.0
    """Leg work on Sunday: next Monday often holds the week's main lower-body session."""
    r10_light_before_quality: Final = 3.0
    """R10: light legs the day before a quality run blunt it a little."""
    r13_long_run_day: Final = 9.0
    """A session on the long run's day: worse than one next to another session."""
    r13_quality_run_day: Final = 2.0
    """A session on a quality run's day."""
    r13_run_day: Final = 1.0
    """A session on an easy run's day."""
    preferred_days: Final = 3.0
    """A day the runner did not list in ``preferred_strength_days``."""
    weekday_tiebreak: Final = 0.01
    """Per weekday: keeps ties deterministic (earlier days first)."""
    r2_next_day: Final = 8.0
    """Two sessions on consecutive days (doubled when both load the legs: 48 h between them)."""
    r2_two_days: Final = 2.0
    """Two sessions two days apart (doubled when both load the legs)."""
    spacing_placed: Final = 0.5
    """The share of the spacing costs paid against sessions placed already (the days before the
    week, kept sessions); two sessions of the week being placed pay it whole."""


WEIGHTS = Weights()


def spacing(a: date, a_lower: bool, b: date, b_lower: bool, weight: float) -> float:
    """Soft cost of two strength sessions close together: worse on consecutive days, and worse
    again when both load the lower body (they need 48 h between them)."""
    gap = abs((a - b).days)
    both_lower = a_lower and b_lower
    if gap == 1:
        return weight * (WEIGHTS.r2_next_day + (WEIGHTS.r2_next_day if both_lower else 0.0))
    if gap == 2:
        return weight * (WEIGHTS.r2_two_days + (WEIGHTS.r2_two_days if both_lower else 0.0))
    return 0.0


class _DayFacts(NamedTuple):
    """What the soft rules ask of a day, whatever the kind of session."""

    tiebreak: float
    gap: int | None
    """Days to the next long run or race, within a week."""
    after_long: int | None
    """Days since the last long run or race ended, within a week."""
    before_quality: bool
    """The next day holds a quality run (R10)."""
    run_day: float
    """R13's cost of the day's runs (the long run's weighs most)."""
    not_preferred: bool
    """The runner listed ``preferred_strength_days`` and this weekday is not among them."""


class SoftCosts:
    """The soft-rule cost of each kind on each day of one plan (:meth:`cost`), computed once.

    What does not depend on the kind (the long runs around the day, its runs) is gathered once
    per day.
    """

    def __init__(self, days: Days, rules: Rules) -> None:
        self.days = days
        self.rules = rules
        self.light_target = max(1, round(rules.light_before_long_hours / 24))
        self._facts: dict[date, _DayFacts] = {}
        self._costs: dict[tuple[SessionKind, date], float] = {}

    def cost(self, kind: SessionKind, day: date) -> float:
        """Soft-rule cost of a kind on a day: R8/R9 distance to the long run, R10's quality-day
        penalty, run days, preferred days; a tiny weekday term keeps ties deterministic."""
        key = (kind, day)
        found = self._costs.get(key)
        if found is None:
            found = self._costs[key] = self._cost(kind, day, self._day(day))
        return found

    def _day(self, day: date) -> _DayFacts:
        found = self._facts.get(day)
        if found is None:
            days, w = self.days, WEIGHTS
            nxt = days.next_long(day)
            prev = days.previous_long(day)
            runs = days.runs_on.get(day, ())
            if any(r.is_long for r in runs):
                run_day = w.r13_long_run_day
            elif any(r.kind is RunKind.QUALITY for r in runs):
                run_day = w.r13_quality_run_day
            else:
                run_day = w.r13_run_day if runs else 0.0
            preferred = self.rules.preferred_strength_days
            found = self._facts[day] = _DayFacts(
                day.weekday() * w.weekday_tiebreak,
                (nxt.first_day - day).days if nxt is not None else None,
                (day - prev.last_day).days if prev is not None else None,
                day in days.heavy_soft,
                run_day,
                bool(preferred) and WEEKDAYS[day.weekday()] not in preferred,
            )
        return found

    def _cost(self, kind: SessionKind, day: date, facts: _DayFacts) -> float:
        # the terms are added in a fixed order: the same floats give the same ties
        w = WEIGHTS
        cost = facts.tiebreak
        gap = facts.gap
        if kind is HEAVY:
            if gap is not None:
                cost += max(0, 5 - gap) * w.r8_heavy_per_day_short
            if facts.before_quality:
                cost += w.r10_heavy_before_quality
            if facts.after_long == 2:
                cost += w.r12_heavy_two_days_after_long
        elif kind is LIGHT:
            cost += (
                abs(gap - self.light_target) * w.r9_light_per_day_off
                if gap is not None
                else w.r9_light_without_long
            )
            if facts.after_long == 1:
                cost += w.light_after_long
        if kind.is_lower and day.weekday() == 6:
            cost += w.lower_on_sunday
        if kind is LIGHT and facts.before_quality:
            cost += w.r10_light_before_quality
        cost += facts.run_day
        if facts.not_preferred:
            cost += w.preferred_days
        return cost
