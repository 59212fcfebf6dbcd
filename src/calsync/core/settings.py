"""The planner's settings as plain, frozen types: the rules, the classification patterns and the
catalogue overrides (PRODUCT.md sections 2 and 7).

Each field carries its PRODUCT.md default and, as :class:`Bounds` metadata, the range a config
file may give it; :mod:`calsync.config` reads the TOML into these types (with
:mod:`calsync.schema`), so the core never imports the config reader and a caller may build them
directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from typing import Annotated, Any, Literal

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CatalogueKey = Literal["heavy_lower", "moderate_lower", "light_lower", "upper", "core", "bodyweight", "rest"]

_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class Bounds:
    """The range a config file may give a number (``ge`` <= value, ``gt`` < value, value <=
    ``le``), or the least length of a list: ``Annotated[int, Bounds(ge=0, le=5)]``."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    min_length: int | None = None


@dataclass(frozen=True)
class TimeWindow:
    """A daily window in which strength sessions may be placed (R19), e.g. ``06:00-08:00``."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> TimeWindow:
        """Read ``HH:MM-HH:MM`` (``24:00`` = until midnight)."""
        match = _WINDOW.match(text.strip())
        if not match:
            raise ValueError(f"time window {text!r} must look like '06:00-08:00'")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            start = time(h1, m1)
            end = time.max if (h2, m2) == (24, 0) else time(h2, m2)
        except ValueError as err:
            raise ValueError(f"time window {text!r}: {err}") from err
        return cls(start=start, end=end)

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"time window {self} ends before it starts")

    def __str__(self) -> str:
        end = "24:00" if self.end == time.max else f"{self.end:%H:%M}"
        return f"{self.start:%H:%M}-{end}"


@dataclass(frozen=True)
class RecoveryDays:
    """R16: days without strength after a race, by distance; light only for as long again."""

    up_to_10k: Annotated[int, Bounds(ge=0, le=60)] = 3
    half_marathon: Annotated[int, Bounds(ge=0, le=60)] = 5
    marathon: Annotated[int, Bounds(ge=0, le=60)] = 7
    ultra: Annotated[int, Bounds(ge=0, le=60)] = 10
    """Longer than a marathon, shorter than 100 miles."""
    hundred_miles: Annotated[int, Bounds(ge=0, le=90)] = 21
    unknown_distance: Annotated[int, Bounds(ge=0, le=60)] = 7

    def for_distance(self, km: float | None) -> int:
        """Recovery days for a race of this distance (the same bands as plan_check)."""
        if km is None:
            return self.unknown_distance
        if km <= 10.0:
            return self.up_to_10k
        if km <= 21.2:
            return self.half_marathon
        if km <= 42.3:
            return self.marathon
        if km < 160.0:
            return self.ultra
        return self.hundred_miles


@dataclass(frozen=True)
class Rules:
    """Every parameter of the balancing rules (PRODUCT.md section 2), with its default."""

    strength_sessions_per_week: Annotated[int, Bounds(ge=0, le=5)] = 2
    """R2: strength sessions per week."""
    strength_floor_per_week: Annotated[int, Bounds(ge=0, le=5)] = 1
    """R3: the floor outside taper / race / recovery weeks."""
    strength_base_minutes: Annotated[int, Bounds(ge=20, le=600)] = 120
    """R4: S_base, strength minutes per week far from peak volume."""
    heavy_below_peak: Annotated[float, Bounds(gt=0, le=2)] = 0.75
    """R5: lower-body sessions are heavy below this fraction of peak volume."""
    moderate_below_peak: Annotated[float, Bounds(gt=0, le=2)] = 0.90
    """R5: moderate up to this fraction, light above."""
    a_race_no_strength_days: Annotated[int, Bounds(ge=0, le=60)] = 7
    """R6: no strength at all in the last N days before an A race."""
    a_race_no_heavy_days: Annotated[int, Bounds(ge=0, le=60)] = 10
    """R7: no heavy lower body within N days of an A race."""
    heavy_before_long_days: Annotated[int, Bounds(ge=0, le=10)] = 3
    """R8: full calendar days between heavy or moderate lower body and the next long run
    (3: Monday before a Friday or Saturday long run, never Wednesday before Saturday)."""
    light_before_long_hours: Annotated[int, Bounds(ge=0, le=240)] = 48
    """R9: light lower body about this long before a long run."""
    heavy_after_long_days: Annotated[int, Bounds(ge=0, le=7)] = 1
    """R12: no heavy lower body for N days after a long run."""
    same_day_order: Literal["lift_first", "run_first"] = "lift_first"
    """R13: on a run day, lift before the run, or at least ``run_first_gap_hours`` after it."""
    run_first_gap_hours: Annotated[float, Bounds(ge=0, le=24)] = 6
    rest_days_per_week: Annotated[int, Bounds(ge=0, le=1)] = 1
    """R14: full rest days per week (1, or 0 to plan none)."""
    rest_day: Weekday | None = None
    """R14: the weekday the runner prefers to rest."""
    bodyweight_minutes: Annotated[int, Bounds(ge=5, le=120)] = 20
    """R15: length of the fallback bodyweight session."""
    taper_session_max_minutes: Annotated[int, Bounds(ge=10, le=120)] = 30
    """Taper and recovery weeks: the longest a (light or core) session gets."""
    recovery_days: RecoveryDays = RecoveryDays()
    """R16."""
    bc_race_no_heavy_days: Annotated[int, Bounds(ge=0, le=30)] = 4
    """R17: no heavy lower body in the N days before a B/C race."""
    bc_race_no_strength_days: Annotated[int, Bounds(ge=0, le=30)] = 1
    """R17: no strength in the N days before a B/C race."""
    bc_long_race_no_lower_days: Annotated[int, Bounds(ge=0, le=30)] = 3
    """R17: no lower body in the N days before a B/C race of half-marathon distance or longer."""
    rolling_days: Annotated[int, Bounds(ge=7, le=120)] = 28
    """R18: the rolling window."""
    rolling_min_fraction: Annotated[float, Bounds(ge=0, le=2)] = 0.75
    """R18: minimum average sessions per week, as a fraction of R2."""
    max_gap_days: Annotated[int, Bounds(ge=1, le=60)] = 10
    """R18: longest acceptable gap between strength sessions."""
    strength_windows: Annotated[tuple[TimeWindow, ...], Bounds(min_length=1)] = (
        TimeWindow(time(6), time(8)),
    )
    """R19: daily windows for strength sessions."""
    strength_windows_by_day: dict[Weekday, tuple[TimeWindow, ...]] = field(default_factory=dict)
    """R19: windows for particular weekdays, replacing ``strength_windows`` on those days."""
    preferred_strength_days: tuple[Weekday, ...] = ()
    """Weekdays the runner prefers for strength (a soft preference)."""
    default_run_time: time = time(7, 0)
    """Start time given to all-day runs for planning (R19)."""
    default_pace_min_per_km: Annotated[float, Bounds(gt=2, le=20)] = 6.0
    """Used to estimate a run's minutes from its distance when it gives no duration."""
    peak_week_minutes: Annotated[int, Bounds(ge=1)] | None = None
    """R4: P, the peak week's run minutes, when the feed does not show the peak."""
    peak_phase_fraction: Annotated[float, Bounds(gt=0, le=2)] = 0.90
    """Phase model: peak at or above this fraction of peak volume."""
    build_phase_fraction: Annotated[float, Bounds(gt=0, le=2)] = 0.70
    """Phase model: build at or above this fraction, base below."""
    taper_weeks_half: Annotated[int, Bounds(ge=0, le=8)] = 1
    """Taper length when the feed is too short to see it: half marathon and shorter."""
    taper_weeks_marathon: Annotated[int, Bounds(ge=0, le=8)] = 2
    """... marathon and ultra."""
    taper_weeks_100mi: Annotated[int, Bounds(ge=0, le=8)] = 3
    """... 100 miles and longer."""

    def __post_init__(self) -> None:
        if self.moderate_below_peak < self.heavy_below_peak:
            raise ValueError("moderate_below_peak must not be below heavy_below_peak")
        if self.build_phase_fraction > self.peak_phase_fraction:
            raise ValueError("build_phase_fraction must not be above peak_phase_fraction")

    def windows_for(self, weekday: int) -> tuple[TimeWindow, ...]:
        """The strength windows of a weekday (0 = Monday)."""
        return self.strength_windows_by_day.get(WEEKDAYS[weekday], self.strength_windows)


@dataclass(frozen=True)
class Classification:
    """Extra patterns (regular expressions, case-insensitive) that decide what a source event is.

    Checked before the built-in defaults; ``use_defaults = false`` keeps only these.
    """

    long: tuple[str, ...] = ()
    quality: tuple[str, ...] = ()
    easy: tuple[str, ...] = ()
    race: tuple[str, ...] = ()
    not_run: tuple[str, ...] = ()
    """Events matching these are never runs (but still busy time)."""
    use_defaults: bool = True

    def __post_init__(self) -> None:
        for pattern in (*self.long, *self.quality, *self.easy, *self.race, *self.not_run):
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"pattern {pattern!r} is not a regular expression: {err}") from err
            _check_backtracking(pattern)


MAX_AMBIGUOUS_REPEATS = 2
"""Python's regular expressions backtrack: k repetitions (``*``, ``+``, ``{n,}``) that can share the
same characters (``.*.*``, ``\\w+\\s*\\w+``) cost about n^(k+1) steps on n characters, nested
ones 2^n. A user pattern may hold at most this many such repetitions and none nested; with the
first :data:`~calsync.core.classify.USER_PATTERN_TEXT` characters of each field, any accepted
pattern costs milliseconds on any text. Repetitions that cannot share characters
(``\\d+\\s*x\\s*\\d+``), possessive ones (``\\d++``) and atomic groups are free."""
_FEW = 4
"""A repetition of at most this many (``\\d{1,2}``) is counted as a fixed run of characters; more
(``.{0,20}``) backtracks like ``*``: stacked, they multiply."""
_ALPHABET = frozenset(
    "".join(chr(c) for c in range(32, 127))
    + "\t\n\r\u00a0\u00e9\u00c9\u00df\u00fc\u00f1\u0436\u4e2d\u0661\U0001f3c3"
)
"""Characters that stand for every other when comparing what repetitions can match."""


def _check_backtracking(pattern: str) -> None:
    """Refuse a pattern whose backtracking has no useful bound (see :data:`MAX_AMBIGUOUS_REPEATS`)."""
    parser = getattr(re, "_parser", None)  # the engine's own parser (3.11+)
    if parser is None:  # pragma: no cover  # another Python: the text cap alone bounds it
        return
    advice = (
        "make repetitions possessive (\\d++, \\s*+) or atomic ((?>...)), or drop one: "
        "a pattern is searched anywhere in the text, a leading or trailing .* is not needed"
    )
    parsed = parser.parse(pattern, re.IGNORECASE)
    _refuse_nesting(list(parsed), pattern, advice, inside=False)
    ambiguous = _ambiguous_repeats(list(parsed))
    if ambiguous > MAX_AMBIGUOUS_REPEATS:
        raise ValueError(
            f"pattern {pattern!r} has {ambiguous} repetitions that can match the same characters, "
            f"at most {MAX_AMBIGUOUS_REPEATS} are allowed (slow on long text); {advice}"
        )


def _refuse_nesting(items: list[Any], pattern: str, advice: str, *, inside: bool) -> None:
    """Exponential forms: an unbounded repetition inside another, or of alternatives."""
    for op, arg in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT"):
            unbounded = arg[1] > _FEW
            if unbounded and inside:
                raise ValueError(f"pattern {pattern!r} nests repetitions (it can take forever); {advice}")
            if unbounded and _has_overlapping_alternatives(list(arg[2])):
                raise ValueError(f"pattern {pattern!r} repeats alternatives (it can take forever); {advice}")
            _refuse_nesting(list(arg[2]), pattern, advice, inside=inside or unbounded)
        elif name == "SUBPATTERN":
            _refuse_nesting(list(arg[-1]), pattern, advice, inside=inside)
        elif name == "BRANCH":
            for branch in arg[1]:
                _refuse_nesting(list(branch), pattern, advice, inside=inside)
        elif name in ("ASSERT", "ASSERT_NOT"):
            _refuse_nesting(list(arg[1]), pattern, advice, inside=inside)
        elif name == "GROUPREF_EXISTS":
            for branch in arg[1:]:
                if branch is not None:
                    _refuse_nesting(list(branch), pattern, advice, inside=inside)
        # POSSESSIVE_REPEAT and ATOMIC_GROUP never backtrack into themselves


def _has_overlapping_alternatives(items: list[Any]) -> bool:
    """Whether a parsed pattern holds alternatives that can begin with the same character (outside
    atomic groups): repeated, they can split the same text many ways (``(?:a|ab)+``); ``(?:run|jog)+``
    cannot."""
    for op, arg in items:
        name = str(op)
        if name == "BRANCH":
            seen: set[str] = set()
            for branch in arg[1]:
                first = _first_characters(list(branch))
                if seen & first:
                    return True
                seen |= first
            if any(_has_overlapping_alternatives(list(branch)) for branch in arg[1]):
                return True
        if name == "SUBPATTERN" and _has_overlapping_alternatives(list(arg[-1])):
            return True
        if name in ("MAX_REPEAT", "MIN_REPEAT") and _has_overlapping_alternatives(list(arg[2])):
            return True
    return False


def _is_repetition(op: Any, arg: Any) -> bool:
    """A repetition that can backtrack over more than a few characters (``*``, ``+``, ``{0,20}``)."""
    return str(op) in ("MAX_REPEAT", "MIN_REPEAT") and arg[1] > _FEW


def _ambiguous_repeats(items: list[Any]) -> int:
    """How many backtracking repetitions of the pattern can share characters with a repetition
    before them (no required character that neither matches in between). Groups and look-arounds
    are read as part of the sequence, each alternative on its own (the worst counts); the last
    item only requires what it needs."""
    count, _reach, _chain = _walk_sequence(items, 0, set(), 0, last_counts=False)
    return count


def _walk_sequence(
    items: list[Any], count: int, reach: set[str], chain: int, *, last_counts: bool
) -> tuple[int, set[str], int]:
    """One step of :func:`_ambiguous_repeats` over a sequence: (count, reach, chain) after it.
    ``reach``: what the repetitions since the last barrier can match; ``chain``: how many of
    them share characters."""
    for index, (op, arg) in enumerate(items):
        name = str(op)
        last = index == len(items) - 1 and not last_counts
        if _is_repetition(op, arg) and not last:
            matches = _matches(list(arg[2]))
            if reach & matches:
                chain += 1
                count += 1 + (chain == 1)  # the first of a chain becomes ambiguous with it
            reach = reach | matches
            continue
        if name == "SUBPATTERN":
            count, reach, chain = _walk_sequence(list(arg[-1]), count, reach, chain, last_counts=not last)
            continue
        if name in ("ASSERT", "ASSERT_NOT"):
            # a look-around scans the same characters again: its repetitions count, it bars nothing
            count, _ignored, _chain = _walk_sequence(list(arg[1]), count, set(reach), chain, last_counts=True)
            continue
        if name == "BRANCH":
            outcomes = [
                _walk_sequence(list(branch), count, set(reach), chain, last_counts=not last)
                for branch in arg[1]
            ]
            count = max(outcome[0] for outcome in outcomes)
            chain = max(outcome[2] for outcome in outcomes)
            reach = reach.union(*(outcome[1] for outcome in outcomes))
            continue
        if name in ("ATOMIC_GROUP", "POSSESSIVE_REPEAT"):
            reach = reach | set(_ALPHABET)  # never backtracks itself, may match anything
            continue
        if name in ("MAX_REPEAT", "MIN_REPEAT"):
            if arg[0] == 0:
                continue  # optional: no barrier
            matches = _matches(list(arg[2]))
        elif name in ("LITERAL", "NOT_LITERAL", "ANY", "IN"):
            matches = _matches([(op, arg)])
        else:  # an anchor, a back-reference...: bars nothing
            continue
        if not reach & matches:
            reach, chain = set(), 0  # a character none of them can take: a barrier
    return count, reach, chain


def _first_characters(items: list[Any]) -> set[str]:
    """What the first character of a match can be (all characters when it is not simple)."""
    for op, arg in items:
        name = str(op)
        if name == "AT":
            continue
        if name in ("LITERAL", "NOT_LITERAL", "ANY", "IN"):
            return _matches([(op, arg)])
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and arg[0] >= 1:
            return _first_characters(list(arg[2]))
        if name == "SUBPATTERN":
            return _first_characters(list(arg[-1]))
        return set(_ALPHABET)
    return set(_ALPHABET)


def _matches(items: list[Any]) -> set[str]:
    """The characters of :data:`_ALPHABET` a single-character item can match (all: anything else)."""
    if len(items) != 1:
        return set(_ALPHABET)
    op, arg = items[0]
    name = str(op)
    if name == "LITERAL":
        char = chr(arg)
        return {char, char.lower(), char.upper()}
    if name == "NOT_LITERAL":
        return {c for c in _ALPHABET if c.lower() != chr(arg).lower()}
    if name == "IN":
        return _in_set(list(arg))
    return set(_ALPHABET)


_CATEGORIES: dict[str, Any] = {
    "CATEGORY_DIGIT": str.isdigit,
    "CATEGORY_NOT_DIGIT": lambda c: not c.isdigit(),
    "CATEGORY_SPACE": str.isspace,
    "CATEGORY_NOT_SPACE": lambda c: not c.isspace(),
    "CATEGORY_WORD": lambda c: c.isalnum() or c == "_",
    "CATEGORY_NOT_WORD": lambda c: not (c.isalnum() or c == "_"),
}


def _in_set(items: list[Any]) -> set[str]:
    found: set[str] = set()
    negate = False
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            found |= {chr(arg).lower(), chr(arg).upper()}
        elif name == "RANGE":
            found |= {
                c
                for c in _ALPHABET
                if arg[0] <= ord(c.lower()) <= arg[1] or arg[0] <= ord(c.upper()) <= arg[1]
            }
        elif name == "CATEGORY" and str(arg) in _CATEGORIES:
            found |= {c for c in _ALPHABET if _CATEGORIES[str(arg)](c)}
        else:
            return set(_ALPHABET)
    return set(_ALPHABET) - found if negate else found


@dataclass(frozen=True)
class ExerciseOverride:
    """One exercise of a catalogue entry, as the runner writes it."""

    name: Annotated[str, Bounds(min_length=1)]
    prescription: Annotated[str, Bounds(min_length=1)]


@dataclass(frozen=True)
class CatalogueEntry:
    """The content of one kind of session; overrides the built-in catalogue."""

    title: str | None = None
    exercises: tuple[ExerciseOverride, ...] | None = None
    max_minutes: Annotated[int, Bounds(ge=10, le=240)] | None = None
