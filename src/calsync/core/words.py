"""How the plan speaks: days, distances in the plan's unit, runs named in sentences (pure)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from calsync.core.model import Run, RunKind, SessionKind
from calsync.core.quantities import KM_PER_MILE
from calsync.core.settings import WEEKDAYS

RACE_PREFIX = re.compile(r"^\s*(?:race|wettkampf|course)\s*[:\-–]\s*", re.IGNORECASE)
"""A race title's leading "Race:" (the sentence already says it is a race)."""
KIND_WORDS = {
    SessionKind.HEAVY_LOWER: "heavy legs",
    SessionKind.LIGHT_LOWER: "light legs",
    SessionKind.UPPER: "upper body and core",
    SessionKind.CORE: "core",
    SessionKind.BODYWEIGHT: "a bodyweight session",
}
"""What a session kind is called in a sentence."""
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_label(day: date) -> str:
    """``Sat 5 Dec`` (no strftime: it is slow and follows the locale)."""
    return f"{WEEKDAYS[day.weekday()].capitalize()} {day.day} {_MONTHS[day.month - 1]}"


def plan_unit(runs: Sequence[Run]) -> str:
    """The unit a plan is written in: miles when most runs that give a distance give miles."""
    miles = sum(1 for r in runs if r.distance_km is not None and r.unit == "mi")
    km = sum(1 for r in runs if r.distance_km is not None and r.unit != "mi")
    return "mi" if miles > km else "km"


def distance_words(km: float, unit: str) -> str:
    """A distance as a runner writes it: ``18 mi``, ``30 km``, ``21.1 km``, ``5 km``."""
    value = km / KM_PER_MILE if unit == "mi" else km
    text = f"{value:.0f}" if value >= 10 and abs(value - round(value)) < 0.25 else f"{value:.1f}"
    return f"{text.removesuffix('.0')} {unit}"


def run_noun(run: Run) -> str:
    """What a run is called: race, long run, quality session or run."""
    if run.kind is RunKind.RACE:
        return "race"
    if run.kind is RunKind.LONG:
        return "long run"
    if run.kind is RunKind.QUALITY:
        return "quality session"
    return "run"


class Words:
    """How the plan names its runs in sentences, in the plan's unit."""

    def __init__(self, unit: str) -> None:
        self.unit = unit

    def run(self, run: Run, seen_from: date | None = None) -> str:
        """``Saturday's 30 km long run``; ``the long run on Sat 12 Dec`` when more than a week
        away; races by their title: ``your A race, Lavaredo 120K``."""
        if run.kind is RunKind.RACE:
            title = RACE_PREFIX.sub("", run.title).strip() or run.title
            return f"{'your A race' if run.priority == 'A' else 'the race'}, {title}"
        size = f"{distance_words(run.distance_km, self.unit)} " if run.distance_km else ""
        noun = run_noun(run)
        if seen_from is not None and 0 <= (run.first_day - seen_from).days < 7:
            return f"{DAY_NAMES[run.first_day.weekday()]}'s {size}{noun}"
        return f"the {size}{noun} on {day_label(run.first_day)}"


def sentence(text: str) -> str:
    """A reason as a sentence: capitalised, ending in a full stop."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def days_text(n: int) -> str:
    """``1 day``, ``3 days``."""
    return "1 day" if n == 1 else f"{n} days"
