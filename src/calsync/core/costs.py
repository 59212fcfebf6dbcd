"""The soft rules as costs, each weight named after the rule it serves (pure).

The planner places a week's slots on the days and kinds with the lowest total cost: the hard
rules (:mod:`calsync.core.day_rules`) decide what is allowed, these weights decide what is best.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from calsync.core.day_rules import Days
from calsync.core.model import RunKind, SessionKind
from calsync.core.settings import WEEKDAYS, Rules

HEAVY, LIGHT = SessionKind.HEAVY_LOWER, SessionKind.LIGHT_LOWER


@dataclass(frozen=True)
class Weights:
    """The soft rules' weights (a cost unit is about one "notch" of coaching preference)."""

    step_down: float = 10.0
    """Each step down a slot's chain of kinds (the template's best kind first)."""
    stability: float = 15.0
    """Moving a session calsync placed before away from its day (PRODUCT.md "Stability")."""
    short_session: float = 2.0
    """Shortening a session to fit the window (R19): less than a step down the chain."""
    unplaced: float = 60.0
    """Leaving a slot empty: worse than any placement."""
    r13_against_order: float = 3.0
    """A session on the wrong side of the day's run (R13)."""
    r8_heavy_per_day_short: float = 1.0
    """R8: heavy legs, per day closer than five days before the long run."""
    r10_heavy_before_quality: float = 5.0
    """R10: heavy legs the day before a quality run."""
    r12_heavy_two_days_after_long: float = 1.0
    """R12: heavy legs two days after a long run (allowed, not liked)."""
    r9_light_per_day_off: float = 1.5
    """R9: light legs, per day away from ``light_before_long_hours`` before the long run."""
    r9_light_without_long: float = 2.0
    """R9: light legs with no long run in the next week to prepare for."""
    light_after_long: float = 3.0
    """Light legs the morning after a long run: the legs are tired."""
    lower_on_sunday: float = 2.0
    """Leg work on Sunday: next Monday often holds the week's main lower-body session."""
    r10_light_before_quality: float = 3.0
    """R10: light legs the day before a quality run blunt it a little."""
    r13_long_run_day: float = 9.0
    """A session on the long run's day: worse than one next to another session."""
    r13_quality_run_day: float = 2.0
    """A session on a quality run's day."""
    r13_run_day: float = 1.0
    """A session on an easy run's day."""
    preferred_days: float = 3.0
    """A day the runner did not list in ``preferred_strength_days``."""
    weekday_tiebreak: float = 0.01
    """Per weekday: keeps ties deterministic (earlier days first)."""
    r2_next_day: float = 8.0
    """Two sessions on consecutive days (doubled when both load the legs: 48 h between them)."""
    r2_two_days: float = 2.0
    """Two sessions two days apart (doubled when both load the legs)."""
    spacing_placed: float = 0.5
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


def soft_cost(kind: SessionKind, day: date, days: Days, rules: Rules) -> float:
    """Soft-rule cost of a kind on a day: R8/R9 distance to the long run, R10's quality-day
    penalty, run days, preferred days; a tiny weekday term keeps ties deterministic."""
    w = WEIGHTS
    cost = day.weekday() * w.weekday_tiebreak
    nxt = days.next_long(day)
    gap = (nxt.first_day - day).days if nxt is not None else None
    if kind is HEAVY:
        if gap is not None:
            cost += max(0, 5 - gap) * w.r8_heavy_per_day_short
        if day in days.heavy_soft:
            cost += w.r10_heavy_before_quality
        prev = days.previous_long(day)
        if prev is not None and (day - prev.last_day).days == 2:
            cost += w.r12_heavy_two_days_after_long
    elif kind is LIGHT:
        target = max(1, round(rules.light_before_long_hours / 24))
        cost += abs(gap - target) * w.r9_light_per_day_off if gap is not None else w.r9_light_without_long
        prev = days.previous_long(day)
        if prev is not None and (day - prev.last_day).days == 1:
            cost += w.light_after_long
    if kind.is_lower and day.weekday() == 6:
        cost += w.lower_on_sunday
    if kind is LIGHT and day in days.heavy_soft:
        cost += w.r10_light_before_quality
    runs = days.runs_on.get(day, [])
    if any(r.is_long for r in runs):
        cost += w.r13_long_run_day
    elif any(r.kind is RunKind.QUALITY for r in runs):
        cost += w.r13_quality_run_day
    elif runs:
        cost += w.r13_run_day
    preferred = rules.preferred_strength_days
    if preferred and WEEKDAYS[day.weekday()] not in preferred:
        cost += w.preferred_days
    return cost
