"""The session catalogue: what each kind of session contains (part of the pure "plan" step).

Defaults follow R5's focus (core, hips, lower leg and ankle stability; heavy 3-6 reps, moderate
6-10, light 12-15); every entry can be overridden under ``[plan.catalogue.<key>]``.

A session's content follows its minutes. Each catalogue key has a fixed priority list of moves;
5 minutes go to the warm-up and the rest is filled with sets, each costing a realistic time with
its rest (heavy main lifts 2.5 min, moderate 2 min, light, core and bodyweight 1-1.5 min). A
shorter session walks one fixed sequence of cuts until it fits: the moves past the first three
lose sets and then drop out, last first; then the first three lose sets down to two each; only
below :meth:`Catalogue.min_minutes` do those go too (one move at the least). So the names of a
shorter session are a prefix of a longer one's, no move gains a set when the minutes shrink, and
heavy and moderate lower body share every name (only sets, reps and the effort cue follow the
load), so a runner can progress the weights week after week.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from calsync.core.model import Exercise, SessionKind
from calsync.core.settings import CatalogueEntry, CatalogueKey

WARMUP_MINUTES = 5
"""Every strength session opens with a 5-minute warm-up."""

GROUP_ORDER = ("lower", "upper", "core")
"""The muscle groups a session can work, in the order :attr:`Content.muscle_groups` lists them."""

_MIN_SETS = 2
_LOADS = ("heavy", "moderate", "light")
_LOWER_KEYS = ("heavy_lower", "moderate_lower", "light_lower")
_FLOOR = 3
"""Moves a session keeps (two sets each) before any of them goes; four with R2's upper move."""


@dataclass(frozen=True)
class Content:
    """What one session contains, ready to be written into an event's description."""

    title: str
    exercises: tuple[Exercise, ...]
    """Sets x reps, e.g. ``Exercise("Back squat", "4 x 4-6")``, in the order to do them."""
    muscle_groups: tuple[str, ...]
    """A subset of ``("lower", "upper", "core")``, in that order."""
    effort: str
    """The effort cue (RPE, reps in reserve) and the rest between sets."""
    warmup: str
    """One line: the 5-minute warm-up."""
    alternative: str
    """A no-gym alternative in one sentence."""


@dataclass(frozen=True)
class Recipe:
    """One catalogue entry at full length (kept for callers of :meth:`Catalogue.recipe`)."""

    title: str
    exercises: tuple[Exercise, ...]
    muscle_groups: tuple[str, ...]
    max_minutes: int


class _Move(NamedTuple):
    """One exercise of a priority list, with what fitting it into minutes needs."""

    name: str
    reps: str
    """The prescription after ``N x``; the whole prescription when it is fixed."""
    sets: int
    """Sets at full length (1 for a fixed prescription)."""
    min_sets: int
    seconds: int
    """Time of one set with the rest after it (a fixed prescription: its whole time)."""
    groups: tuple[str, ...]
    no_gym: str
    """What to do instead without a gym (lower case, concrete)."""
    fixed: bool = False
    """A user's prescription without a leading ``N x``: kept as written, never cut, only dropped."""
    written: str = ""
    """A user's prescription as written, shown as long as no set is cut."""

    def prescription(self, sets: int) -> str:
        if self.fixed or (self.written and sets == self.sets):
            return self.written or self.reps
        return f"{sets} x {self.reps}"


class _Style(NamedTuple):
    """The words of one catalogue key: title, effort cue, warm-up and no-gym sentence."""

    title: str
    effort: str
    warmup: tuple[str, ...]
    warmup_upper: str
    """Added to the warm-up when the session also works the upper body."""
    warmup_end: str
    alternative: str
    """A format string with ``{moves}``: the no-gym moves of the session."""
    seconds: int
    """Time per set assumed for a user's exercise."""
    groups: tuple[str, ...]
    """The muscle groups a user's exercise of this key is taken to work."""


class _Dose(NamedTuple):
    """Sets, reps and time per set of a move."""

    sets: int
    reps: str
    seconds: int


def _m(name: str, dose: _Dose, group: str, no_gym: str = "") -> _Move:
    sets = dose.sets
    return _Move(name, dose.reps, sets, min(_MIN_SETS, sets), dose.seconds, (group,), no_gym or name.lower())


_LOWER_WARMUP = (
    "easy skipping or marching on the spot",
    "leg swings",
    "10 bodyweight squats",
    "10 glute bridges",
)
_LOWER_ALT = (
    "No gym: do {moves} for the same sets, with a loaded backpack and a slow 3-second lowering "
    "so the last reps are hard."
)

_STYLES: dict[str, _Style] = {
    "heavy_lower": _Style(
        title="Strength: heavy lower body",
        effort="RPE 8: heavy but clean, end each set with 2 reps in reserve; rest about 2 min "
        "between sets of the first two lifts, about 1 min between the others.",
        warmup=_LOWER_WARMUP,
        warmup_upper="10 band pull-aparts",
        warmup_end="1-2 light sets of the first lift",
        alternative=_LOWER_ALT,
        seconds=150,
        groups=("lower", "core"),
    ),
    "moderate_lower": _Style(
        title="Strength: lower body, moderate load",
        effort="RPE 7: a steady effort, end each set with 3 reps in reserve; rest about 90 s "
        "between sets of the first two lifts, 45-60 s between the others.",
        warmup=_LOWER_WARMUP,
        warmup_upper="10 band pull-aparts",
        warmup_end="1-2 light sets of the first lift",
        alternative=_LOWER_ALT,
        seconds=120,
        groups=("lower", "core"),
    ),
    "light_lower": _Style(
        title="Strength: light lower body",
        effort="RPE 5-6: easy to moderate, smooth controlled reps, never to failure; "
        "rest 30-45 s between sets.",
        warmup=(
            "brisk marching on the spot",
            "leg swings",
            "10 ankle circles each foot",
            "10 bodyweight squats",
        ),
        warmup_upper="10 arm circles each way",
        warmup_end="",
        alternative="No gym: do {moves} at home for the same sets and reps, holding a backpack if it "
        "feels easy.",
        seconds=75,
        groups=("lower", "core"),
    ),
    "upper": _Style(
        title="Strength: upper body and core",
        effort="RPE 7: end each set with 3 reps in reserve; rest about 60 s between sets.",
        warmup=("arm circles", "10 band pull-aparts", "10 scapular push-ups", "10 bodyweight squats"),
        warmup_upper="",
        warmup_end="",
        alternative="No gym: do {moves} for the same sets, with a resistance band or a loaded backpack.",
        seconds=90,
        groups=("upper", "core"),
    ),
    "core": _Style(
        title="Strength: core and hips",
        effort="RPE 5-6: steady breathing and good form, stop a hold when your form slips; "
        "rest about 30 s between sets.",
        warmup=("cat-cow", "hip circles", "10 glute bridges", "5 slow bird dogs each side"),
        warmup_upper="",
        warmup_end="",
        alternative="No gym needed: do {moves} on any floor, a mat helps.",
        seconds=60,
        groups=("core",),
    ),
    "bodyweight": _Style(
        title="Strength: bodyweight, no equipment",
        effort="RPE 5-6: easy to moderate, smooth reps well short of failure; rest 30-45 s between sets.",
        warmup=("marching or easy jogging on the spot", "leg swings", "arm circles", "10 bodyweight squats"),
        warmup_upper="",
        warmup_end="",
        alternative="No equipment needed: do {moves} at home, in a park or in a hotel room.",
        seconds=60,
        groups=("lower", "upper", "core"),
    ),
    "rest": _Style(
        title="Rest day",
        effort="Full rest: no run, no strength, no other training; an easy walk or gentle stretching "
        "is fine.",
        warmup=(),
        warmup_upper="",
        warmup_end="",
        alternative="",
        seconds=60,
        groups=(),
    ),
}


def _lower(heavy: bool) -> tuple[_Move, ...]:
    """Heavy and moderate lower body: the same moves; sets, reps and time follow the load."""

    def m(name: str, at_heavy: _Dose, at_moderate: _Dose, group: str, no_gym: str) -> _Move:
        return _m(name, at_heavy if heavy else at_moderate, group, no_gym)

    return (
        m("Back squat", _Dose(4, "4-6", 150), _Dose(3, "8-10", 120), "lower", "backpack squat"),
        m(
            "Romanian deadlift",
            _Dose(3, "4-6", 150),
            _Dose(3, "8-10", 120),
            "lower",
            "single-leg Romanian deadlift",
        ),
        m(
            "Copenhagen plank",
            _Dose(3, "15-20 s each side", 75),
            _Dose(3, "20 s each side", 75),
            "core",
            "Copenhagen plank with the top leg on a sofa",
        ),
        m(
            "Bulgarian split squat",
            _Dose(3, "5-6 each leg", 150),
            _Dose(3, "8 each leg", 120),
            "lower",
            "Bulgarian split squat with the back foot on a chair",
        ),
        m(
            "Single-leg calf raise",
            _Dose(3, "6-8 each leg", 90),
            _Dose(3, "10-12 each leg", 90),
            "lower",
            "single-leg calf raise on a step",
        ),
        m("Tibialis raise", _Dose(2, "15", 60), _Dose(2, "15", 60), "lower", "tibialis raise against a wall"),
    )


def _lower_upper(heavy: bool) -> tuple[_Move, _Move]:
    press, row = ("6-8", "6-8 each arm") if heavy else ("8-10", "10 each arm")
    return (
        _m("Dumbbell bench press", _Dose(3, press, 75), "upper", "push-up"),
        _m("One-arm dumbbell row", _Dose(3, row, 90), "upper", "backpack row"),
    )


_MOVES: dict[str, tuple[_Move, ...]] = {
    "heavy_lower": _lower(heavy=True),
    "moderate_lower": _lower(heavy=False),
    "light_lower": (
        _m("Goblet squat", _Dose(3, "12-15", 75), "lower", "air squat with a 3-second lowering"),
        _m("Single-leg glute bridge", _Dose(3, "12-15 each leg", 90), "lower"),
        _m("Side plank", _Dose(3, "30 s each side", 75), "core"),
        _m("Single-leg calf raise", _Dose(3, "15 each leg", 90), "lower", "single-leg calf raise on a step"),
        _m("Lateral band walk", _Dose(3, "15 steps each way", 60), "lower"),
        _m("Single-leg balance with reach", _Dose(2, "30 s each leg", 75), "lower"),
    ),
    "upper": (
        _m("One-arm dumbbell row", _Dose(4, "8-10 each arm", 90), "upper", "backpack row"),
        _m("Dumbbell bench press", _Dose(4, "8-10", 75), "upper", "push-up"),
        _m("Pallof press", _Dose(3, "10 each side", 75), "core", "band Pallof press"),
        _m("Overhead press", _Dose(3, "8-10", 75), "upper", "pike push-up"),
        _m("Dead bug", _Dose(3, "8 each side", 60), "core"),
        _m("Band pull-apart", _Dose(2, "15", 60), "upper"),
        _m("Farmer carry", _Dose(3, "30 m", 75), "core", "suitcase carry with a loaded backpack"),
    ),
    "core": (
        _m("Front plank", _Dose(3, "40 s", 60), "core"),
        _m("Side plank", _Dose(3, "30 s each side", 75), "core"),
        _m("Bird dog", _Dose(3, "8 each side", 60), "core"),
        _m("Clamshell with band", _Dose(3, "15 each side", 75), "core"),
        _m("Dead bug", _Dose(3, "8 each side", 60), "core"),
        _m("Single-leg glute bridge", _Dose(3, "12 each leg", 90), "core"),
        _m("Hollow hold", _Dose(2, "20 s", 60), "core"),
    ),
    "bodyweight": (
        _m("Air squat", _Dose(3, "15", 60), "lower"),
        _m("Push-up", _Dose(3, "8-12", 60), "upper"),
        _m("Front plank", _Dose(3, "30 s", 60), "core"),
        _m("Reverse lunge", _Dose(2, "10 each leg", 75), "lower"),
        _m("Single-leg calf raise", _Dose(2, "15 each leg", 75), "lower", "single-leg calf raise on a step"),
    ),
    "rest": (),
}

_UPPER_MOVES: dict[str, tuple[_Move, _Move]] = {
    "heavy_lower": _lower_upper(heavy=True),
    "moderate_lower": _lower_upper(heavy=False),
    "light_lower": (
        _m("Push-up", _Dose(3, "10-15", 60), "upper"),
        _m("Band row", _Dose(3, "15", 60), "upper"),
    ),
}
"""R2: the two upper-body moves a lower-body session takes on when it must work the upper body
too. The first goes in after the first three moves (it stays down to :meth:`Catalogue.min_minutes`),
the second at the end (the first to go)."""

_SET_COUNT = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\S.*?)\s*$")


def _user_move(name: str, prescription: str, style: _Style) -> _Move:
    """A user's exercise: its prescription as written; a leading ``N x`` may lose sets to fit."""
    match = _SET_COUNT.match(prescription)
    if match is None or int(match.group(1)) == 0:
        # No set count to cut: timed as three sets of the key's time per set.
        return _Move(name, prescription, 1, 1, 3 * style.seconds, style.groups, "", True, prescription)
    sets = int(match.group(1))
    return _Move(
        name, match.group(2), sets, min(sets, _MIN_SETS), style.seconds, style.groups, "", False, prescription
    )


def _cuts(moves: Sequence[_Move], floor: int) -> tuple[tuple[int, ...], ...]:
    """The fixed sequence of set counts from the full session down to one move, each a cut of the
    one before: past the floor a move loses sets and then goes, last first; then the floor's moves
    lose a set each in turn, from the last, down to two each; then they go too but the first."""
    sets = [move.sets for move in moves]
    states = [tuple(sets)]
    for i in range(len(moves) - 1, floor - 1, -1):
        while sets[i] > moves[i].min_sets:
            sets[i] -= 1
            states.append(tuple(sets))
        sets[i] = 0
        states.append(tuple(sets))
    while any(sets[i] > moves[i].min_sets for i in range(floor)):
        for i in range(floor - 1, -1, -1):
            if sets[i] > moves[i].min_sets:
                sets[i] -= 1
                states.append(tuple(sets))
    for i in range(floor - 1, 0, -1):
        sets[i] = 0
        states.append(tuple(sets))
    return tuple(states)


def _seconds(moves: Sequence[_Move], sets: Sequence[int]) -> int:
    """The work time of a state: each kept move's sets times its time per set."""
    return sum(n * move.seconds for move, n in zip(moves, sets, strict=True))


def _groups(moves: Sequence[_Move], sets: Sequence[int]) -> tuple[str, ...]:
    worked = {group for move, n in zip(moves, sets, strict=True) if n for group in move.groups}
    return tuple(group for group in GROUP_ORDER if group in worked)


class _Plan(NamedTuple):
    """One key with or without the upper-body moves: its moves and cuts, computed once."""

    moves: tuple[_Move, ...]
    cuts: tuple[tuple[int, ...], ...]
    floor: int

    def fit(self, minutes: int) -> tuple[int, ...]:
        """The longest state that fits the minutes (the shortest one when none does)."""
        budget = (minutes - WARMUP_MINUTES) * 60
        for state in self.cuts:
            if _seconds(self.moves, state) <= budget:
                return state
        return self.cuts[-1]


def _join(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _key(kind: SessionKind, load: str | None) -> CatalogueKey:
    """The catalogue key of a kind and, for lower body, its R5 load."""
    if load is not None and load not in _LOADS:
        raise ValueError(f"unknown load {load!r}: use one of {', '.join(_LOADS)}")
    if kind is SessionKind.HEAVY_LOWER:
        if load == "moderate":
            return "moderate_lower"
        if load == "light":
            return "light_lower"
        return "heavy_lower"
    if kind is SessionKind.LIGHT_LOWER:
        return "light_lower"
    if kind is SessionKind.UPPER:
        return "upper"
    if kind is SessionKind.CORE:
        return "core"
    if kind is SessionKind.BODYWEIGHT:
        return "bodyweight"
    return "rest"


class Catalogue:
    """The catalogue of one plan: the defaults with the user's overrides applied.

    Pure and deterministic; contents are cached per instance (a plan asks for hundreds).
    """

    def __init__(self, overrides: Mapping[CatalogueKey, CatalogueEntry] | None = None) -> None:
        self._titles = {key: style.title for key, style in _STYLES.items()}
        self._caps: dict[str, int] = {}
        self._moves = dict(_MOVES)
        self._custom: set[str] = set()
        for key, entry in (overrides or {}).items():
            style = _STYLES[key]
            if entry.title:
                self._titles[key] = entry.title
            if entry.max_minutes:
                self._caps[key] = entry.max_minutes
            if entry.exercises and key != "rest":
                self._moves[key] = tuple(_user_move(e.name, e.prescription, style) for e in entry.exercises)
                self._custom.add(key)
        self._plans: dict[tuple[str, bool], _Plan] = {}
        self._contents: dict[tuple[str, bool, int], Content] = {}

    # -- the public API ---------------------------------------------------------------------
    def title(self, kind: SessionKind, load: str | None = None) -> str:
        """The event title of a kind (and, for lower body, its R5 load)."""
        return self._titles[_key(kind, load)]

    def max_minutes(self, kind: SessionKind, load: str | None = None) -> int:
        """The longest session of a kind: the user's ``max_minutes``, else the full content with
        its warm-up and, for lower body, R2's upper-body moves, rounded up to 5 (rest: 0)."""
        key = _key(kind, load)
        if key in self._caps:
            return self._caps[key]
        if key == "rest":
            return 0
        plan = self._plan(key, upper=key in _LOWER_KEYS)
        cap = 5 * math.ceil((WARMUP_MINUTES * 60 + _seconds(plan.moves, plan.cuts[0])) / 300)
        self._caps[key] = cap
        return cap

    def min_minutes(self, kind: SessionKind, load: str | None = None, *, with_upper: bool = False) -> int:
        """The shortest session that keeps its shape: three moves or more (four with the upper
        move), every muscle group of the kind and, for lower body, its core or hip stability move.
        A shorter session drops those moves too, one move at the least (rest: 0)."""
        key = _key(kind, load)
        if key == "rest":
            return 0
        plan = self._plan(key, upper=with_upper and key in _LOWER_KEYS)
        return math.ceil((WARMUP_MINUTES * 60 + _seconds(plan.moves, plan.cuts[-plan.floor])) / 60)

    def estimate(self, kind: SessionKind, load: str | None, minutes: int, *, with_upper: bool) -> float:
        """The estimated minutes, warm-up included, of :meth:`content` for the same arguments:
        at most ``minutes`` from 10 minutes up (heavy lower body: 5 + 2 sets of 2.5 min)."""
        key = _key(kind, load)
        if key == "rest":
            return 0.0
        plan = self._plan(key, upper=with_upper and key in _LOWER_KEYS)
        return WARMUP_MINUTES + _seconds(plan.moves, plan.fit(minutes)) / 60

    def content(self, kind: SessionKind, load: str | None, minutes: int, *, with_upper: bool) -> Content:
        """What a session of ``minutes`` contains.

        ``load`` is ``heavy``, ``moderate`` or ``light`` for lower body (heavy lower at a light
        load is light lower body) and ignored otherwise. ``with_upper`` adds R2's upper-body moves
        to a lower-body session; other kinds ignore it (upper and bodyweight already work the
        upper body, core stays core and hips).
        """
        key = _key(kind, load)
        return self._content(key, with_upper and key in _LOWER_KEYS, minutes)

    def recipe(self, kind: SessionKind, load: str | None = None) -> Recipe:
        """The full-length entry of a kind, without the upper-body moves (the older API)."""
        key = _key(kind, load)
        plan = self._plan(key, upper=False)
        full = plan.cuts[0] if plan.cuts else ()
        return Recipe(
            self._titles[key],
            tuple(Exercise(m.name, m.prescription(n)) for m, n in zip(plan.moves, full, strict=True)),
            _groups(plan.moves, full),
            self.max_minutes(kind, load),
        )

    # -- building ---------------------------------------------------------------------------
    def _plan(self, key: str, *, upper: bool) -> _Plan:
        plan = self._plans.get((key, upper))
        if plan is None:
            moves = self._moves[key]
            floor = min(_FLOOR, len(moves))
            if upper:
                first, second = _UPPER_MOVES[key]
                moves = (*moves[:floor], first, *moves[floor:], second)
                floor += 1
            plan = _Plan(moves, _cuts(moves, floor) if moves else (), floor)
            self._plans[(key, upper)] = plan
        return plan

    def _content(self, key: str, upper: bool, minutes: int) -> Content:
        cached = self._contents.get((key, upper, minutes))
        if cached is None:
            cached = self._build(key, upper, minutes)
            self._contents[(key, upper, minutes)] = cached
        return cached

    def _build(self, key: str, upper: bool, minutes: int) -> Content:
        style = _STYLES[key]
        title = self._titles[key]
        if key == "rest":
            return Content(title, (), (), style.effort, "", "")
        plan = self._plan(key, upper=upper)
        state = plan.fit(minutes)
        kept = [(move, n) for move, n in zip(plan.moves, state, strict=True) if n]
        groups = _groups(plan.moves, state)
        items = [*style.warmup]
        if "upper" in groups and style.warmup_upper:
            items.append(style.warmup_upper)
        if style.warmup_end:
            items.append(style.warmup_end)
        if key in self._custom:
            # A user's moves have no known no-gym twin: name the built-in ones of the same length.
            alternative = _DEFAULT._content(key, upper, minutes).alternative
        else:
            no_gym = list(dict.fromkeys(move.no_gym for move, _ in kept))
            alternative = style.alternative.format(moves=_join(no_gym))
        return Content(
            title=title,
            exercises=tuple(Exercise(move.name, move.prescription(n)) for move, n in kept),
            muscle_groups=groups,
            effort=style.effort,
            warmup=f"{WARMUP_MINUTES} min: " + ", ".join(items),
            alternative=alternative,
        )


_DEFAULT = Catalogue()

DEFAULT_CATALOGUE: dict[str, Recipe] = {
    key: _DEFAULT.recipe(kind, load)
    for key, kind, load in (
        ("heavy_lower", SessionKind.HEAVY_LOWER, "heavy"),
        ("moderate_lower", SessionKind.HEAVY_LOWER, "moderate"),
        ("light_lower", SessionKind.LIGHT_LOWER, None),
        ("upper", SessionKind.UPPER, None),
        ("core", SessionKind.CORE, None),
        ("bodyweight", SessionKind.BODYWEIGHT, None),
        ("rest", SessionKind.REST, None),
    )
}
"""Every built-in entry at full length (without R2's upper-body moves)."""
