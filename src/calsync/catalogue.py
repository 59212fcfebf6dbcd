"""The session catalogue: what each kind of session contains (part of the pure "plan" step).

Defaults follow R5's focus (core, hips, lower leg and ankle stability; heavy 3-6 reps, moderate
6-10, light 12-15); every entry can be overridden under ``[plan.catalogue.<key>]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from calsync.config import CatalogueEntry, CatalogueKey
from calsync.model import Exercise, SessionKind


@dataclass(frozen=True)
class Recipe:
    """One catalogue entry: the title, the exercises, the muscle groups and the longest length."""

    title: str
    exercises: tuple[Exercise, ...]
    muscle_groups: tuple[str, ...]
    max_minutes: int


def _ex(*pairs: tuple[str, str]) -> tuple[Exercise, ...]:
    return tuple(Exercise(name, prescription) for name, prescription in pairs)


DEFAULT_CATALOGUE: dict[str, Recipe] = {
    "heavy_lower": Recipe(
        "Strength: heavy lower body",
        _ex(
            ("Back squat or trap-bar deadlift", "4 x 4-6, heavy, 2-3 min rest"),
            ("Romanian deadlift", "3 x 5-6"),
            ("Bulgarian split squat", "3 x 5 each leg"),
            ("Standing calf raise, loaded", "3 x 6-8"),
            ("Copenhagen plank", "2 x 20 s each side"),
        ),
        ("lower", "core"),
        60,
    ),
    "moderate_lower": Recipe(
        "Strength: lower body, moderate load",
        _ex(
            ("Goblet or back squat", "3 x 8-10"),
            ("Single-leg Romanian deadlift", "3 x 8 each leg"),
            ("Step-up", "3 x 8 each leg"),
            ("Single-leg calf raise", "3 x 10 each leg"),
            ("Side plank", "2 x 30 s each side"),
        ),
        ("lower", "core"),
        50,
    ),
    "light_lower": Recipe(
        "Strength: light lower body",
        _ex(
            ("Single-leg glute bridge", "2 x 12-15 each leg"),
            ("Lateral band walk", "2 x 15 steps each way"),
            ("Single-leg balance with reach", "2 x 30 s each leg"),
            ("Eccentric calf lowering", "2 x 15 each leg"),
            ("Dead bug", "2 x 12"),
        ),
        ("lower", "core"),
        40,
    ),
    "upper": Recipe(
        "Strength: upper body and core",
        _ex(
            ("Push-up or bench press", "3 x 8-12"),
            ("One-arm dumbbell row", "3 x 10 each arm"),
            ("Overhead press", "3 x 8-10"),
            ("Pallof press", "2 x 12 each side"),
        ),
        ("upper", "core"),
        45,
    ),
    "core": Recipe(
        "Strength: core and hips",
        _ex(
            ("Front plank", "3 x 40 s"),
            ("Side plank with hip lift", "3 x 10 each side"),
            ("Bird dog", "3 x 10 each side"),
            ("Clamshell with band", "2 x 15 each side"),
            ("Hollow hold", "3 x 20 s"),
        ),
        ("core",),
        30,
    ),
    "bodyweight": Recipe(
        "Strength: 20-minute bodyweight",
        _ex(
            ("Air squat", "3 x 15"),
            ("Reverse lunge", "2 x 10 each leg"),
            ("Push-up", "3 x 10"),
            ("Glute bridge", "2 x 15"),
            ("Plank", "3 x 30 s"),
        ),
        ("lower", "upper", "core"),
        20,
    ),
    "rest": Recipe("Rest day", (), (), 0),
}

UPPER_ADD_ON: tuple[Exercise, ...] = _ex(
    ("Push-up", "3 x 10-12"),
    ("Inverted or dumbbell row", "3 x 10"),
)
"""Added to a lower-body session when the week's template pairs it with upper body (R2)."""


class Catalogue:
    """The catalogue of one plan: the defaults with the user's overrides applied."""

    def __init__(self, overrides: Mapping[CatalogueKey, CatalogueEntry] | None = None) -> None:
        self._recipes = dict(DEFAULT_CATALOGUE)
        for key, entry in (overrides or {}).items():
            base = self._recipes[key]
            self._recipes[key] = Recipe(
                title=entry.title or base.title,
                exercises=(
                    tuple(Exercise(e.name, e.prescription) for e in entry.exercises)
                    if entry.exercises is not None
                    else base.exercises
                ),
                muscle_groups=base.muscle_groups,
                max_minutes=entry.max_minutes or base.max_minutes,
            )

    def recipe(self, kind: SessionKind, load: str | None = None) -> Recipe:
        """The recipe for a kind (and, for lower body, its R5 load)."""
        if kind is SessionKind.HEAVY_LOWER and load == "moderate":
            return self._recipes["moderate_lower"]
        return self._recipes[kind.value]
