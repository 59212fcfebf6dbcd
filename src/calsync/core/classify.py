"""The classify step of the pipeline: source events -> runs (with races and their priority) + busy time.

Pure: a function of the events, the :class:`~calsync.core.settings.Classification` patterns, the
plan's zone and the race settings. No I/O, no clock, no iCalendar objects. Durations and distances
are read from the text by :mod:`calsync.core.quantities`.

How an event is read (PRODUCT.md section 3):

1. User patterns (case-insensitive regular expressions) on the summary, then the description, then
   each category; in each field ``not_run`` is tried first, then ``race``, ``long``, ``quality``,
   ``easy``. The first match decides.
2. Built-in defaults (unless ``use_defaults = false``), on the summary first:

   * another sport or activity (bike, swim, strength, yoga, hike...) named before any running
     word ("Easy bike" -> not a run, "Run + strength" -> a run);
   * a rest word (rest, off, day off) before any run signal ("Rest or easy 20'" -> not a run,
     "Intervals 6x800m w/ 2' rest" -> a run);
   * kind keywords, in this order: an explicit race word, long, quality, easy, then race names
     ("Berlin Marathon", "UTMB", a title that is only a distance like "10K" or "Lavaredo 120K");
   * a plain running word ("Run", "Lauf", a runner emoji) -> a generic run: easy, or long when it
     lasts 150 minutes or more (the duration its text states, else distance x default pace, else
     its timed length).

   Then the categories ("Run", "Running" mark runs; "Strength", "Swim" mark non-runs), then the
   description (only with a running word and a kind, a distance or a duration).

What a run carries:

* ``minutes`` is only the duration the text states ("40 min", "1:30", a "Planned Time:" line; a
  duration in the free text of the description only when the event gives no distance and is not
  timed). A timed event's length is not a stated duration: "Long run 18 mi" in a 07:00-10:00 slot
  is a placeholder and its title is the truth; the planner turns a run into volume.
* ``unit`` is the unit the text gives the distance in: ``mi`` for miles ("18 mi", "5mi",
  "10 miles", "Planned Distance: 8.00 mi", an ultra's bare number like "Leadville 100"), else ``km``
  (km, k, meters, a race known by name or by a word like "marathon", no distance).

What a non-run carries (busy time, R14, R19):

* ``training``: another sport or a workout (``Bike: 3:30``, yoga, a gym or strength class,
  cross-training, ski, rowing, a hike, climbing, tennis...), named in the summary or else the
  categories. A day with training is never the rest day. Rest, travel, massage, physio, sauna,
  mobility, stretching, walks and meetings are not training; neither is training the runner may
  skip ("Rest or cross-training", "Cross-training or rest", "Optional yoga").
* ``transparent``: a ``TRANSP:TRANSPARENT`` event blocks no time; it is kept (transparent) only
  when it is training, else dropped. A training event without a length (no DTEND) is kept the same
  way: it blocks no time but the day is a training day.

Decisions worth knowing:

* "Medium-long run" (Pfitzinger's mid-week MLR) is **easy**: it is aerobic running, and calling it
  long would trigger the long-run protections (R8, R10, R12) every Tuesday.
* "Parkrun" is **quality** (a hard 5 km effort on a Saturday morning), a race only when the title
  says race or carries a priority tag; its distance is 5 km.
* "Strides" are easy: short relaxed accelerations, no load worth protecting.
* Ranges ("45m - 50m", "45-50 min", "8-10 km") take the **upper** bound: the planner reserves enough
  time and never underestimates a week's volume. "Nm" is minutes for 10-99 and in such ranges,
  meters from 100 (3000m -> 3 km); a single-digit "3 m" is ambiguous and ignored.
* Several numbers in one text: the largest (a warm-up or a rep inside a run is smaller than the run).
  Unit-labelled durations win over bare ``h:mm``; ``h:mm`` is a duration only for 0-4 hours (or with
  an ``h`` suffix): "6:30" is more often a start time than a six-hour run.
* A bare number after a race name follows ultra naming: 50, 100, 150, 200, 240, 250 are miles
  ("Western States 100" -> 160.9 km); 13.1 and 26.2 are miles too.
* Rep schemes (8x400m, 3 x 10 min), recoveries, elevation (+500m), speeds (12 km/h), paces
  (5:30/km) and pace references (@ 15K, at half marathon pace, 10K effort) are not the run's
  distance or duration. Numbers without a unit are never a distance ("Lactate threshold 10 w/ 4").
* A priority tag ("(A)", "[B]", "A race", "B-Race", "priority C") on a run's title makes it a race.
* The same occurrence (uid + recurrence id) read twice identically counts once; differing copies
  are both kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from functools import lru_cache
from itertools import groupby
from typing import NamedTuple
from zoneinfo import ZoneInfo

from calsync.core.model import Busy, Run, RunKind, SourceEvent, instant
from calsync.core.quantities import (
    KM,
    KM_PER_MILE,
    MI,
    WORD_DIST,
    distance_parts,
    normalize,
    numbers_text,
    parse_distance_km,
    parse_minutes,
)
from calsync.core.settings import Classification

__all__ = [
    "Classified",
    "classify_event",
    "classify_events",
    "parse_distance_km",
    "parse_minutes",
]

PARKRUN_KM = 5.0
LONG_GENERIC_MINUTES = 150
"""A run without a kind word is the long run when it lasts at least this long."""


@dataclass(frozen=True)
class Classified:
    """What the classify step hands to the planner."""

    runs: list[Run]
    """Every run, sorted by (start day, start, uid, recurrence_id); races carry a priority."""
    busy: list[Busy]
    """Busy time of the non-run events (timed ones as they are, all-day ones as whole local days),
    with whether each is training; transparent training events are kept, marked transparent."""


# --------------------------------------------------------------------------------------------
# Kinds

# Word lists start with one \b so that the engine rejects most positions at once (speed).
_SPORT = re.compile(
    r"\b(?:swim|schwimm|natation|natacion|nage\b|bike|biking|cycl|ride\b|riding|rad\b|radfahr|velo\b|bici"
    r"|spin(?:ning)?\b|peloton|zwift|mtb\b|triathlon|duathlon|brick|yoga|pilates|strength|kraft"
    r"|musculation|fuerza|gym\b|gimnasio|weights|lifting|lift\b|crossfit|hiit\b|bootcamp|core\b|plyo"
    r"|mobilit|stretch|dehn|foam roll|massage|physio|sauna|cross[- ]?train|cross\b(?![- ]?country)|xt\b"
    r"|elliptical|crosstrainer|row(?:ing)?\b|erg\b|ski|langlauf|hike|hiking|wander|walk(?:ing)?\b"
    r"(?!\s*[/-]\s*run)|spazier|climbing\b|boulder|kletter|tennis|squash|padel|football|soccer|fussball"
    r"|basketball|volleyball|golf|paddl|kayak|sup\b|surf|skat|drive\b|driving|flight|flug\b|travel"
    r"|reise\b|trip\b|dance)"
)
_REST = re.compile(r"\b(?:rest\b|ruhetag|repos\b|descanso|note\b)|(?<![\w-])off(?![\w-])")
# Training (R14): the sports and workouts of _SPORT, without what is not training (mobility,
# stretching, foam rolling, massage, physio, sauna, walks, travel), guarded against the everyday
# senses of a few words ("ride to the airport", "core team", "Kings Cross", "Skat", "Boxing Day"),
# plus a few workouts _SPORT does not need to know (a boxing class is not a run either way).
_TRAINING = re.compile(
    r"\b(?:swim|schwimm|natation|natacion|nage\b"
    r"|bike(?!\s+(?:shop|service|repair|fitting|maintenance)\b)|biking|cycling|cyclist"
    r"|cycle\b(?!\s+(?:day|track))|ride\b(?!\s+(?:to|home|from|back)\b)|riding|rad\b|radfahr|velo\b"
    r"|bici|spin(?:ning)?\b|peloton|zwift|mtb\b|triathlon|duathlon|brick|yoga|pilates|strength"
    r"|kraft(?:training|raum|sport|zirkel|\b)|musculation|fuerza|gym\b|gimnasio|weights|lifting"
    r"|lift\b(?!\s+to\b)|crossfit|hiit\b|bootcamp|core\b(?!\s+(?:team|hours?|values|meeting))|plyo"
    r"|cross[- ]?train|xt\b|elliptical|crosstrainer|row(?:ing)?\b|erg\b"
    r"|ski(?:s|ing|er|fahren|lauf|langlauf|tour\w*)?\b|langlauf|hike|hiking|wandern|wanderung"
    r"|climbing\b|boulder|kletter|tennis|squash|padel|football|soccer|fussball|basketball|volleyball"
    r"|golf\b|paddl|kayak|sup\b|surf(?:s|ing)?\b|skat(?:e|es|ing|en)\b|danc|workout"
    r"|boxing\b(?!\s+day)|kickbox|martial art|judo|karate|zumba|barre\b|circuit|trx\b|nordic[- ]?walk)"
    r"|^\W*cross\b(?![- ]?country)"
)
_TRAINING_REST = re.compile(
    r"\b(?:rest|ruhetag|repos|descanso|day off|recovery day)\b|(?<![\w-])off(?![\w-])"
)
_OPTIONAL = re.compile(r"\b(?:optional|opt\.|if you feel like|wahlweise|optionnel|opcional)")
_OR = re.compile(r"\b(?:or|oder|ou)\b")
_RUN_NOUN = re.compile(
    r"\b(?:runs?\b|running\b|jog|footing\b|course a pied|carrera\b|correr\b|trail\b|treadmill|laufband"
    r"|parkrun|xc\b|cross[- ]?country|walk\s*[/-]\s*run)"
    r"|\U0001f3c3|(?<!\bab)(?<!\bver)(?<!lang)lauf(?:en)?\b"
)
_RACE_WORD = re.compile(
    r"\b(?:rac(?:e|es|ing)\b|wettkampf\b|competition\b|competicion\b"
    r"|carrera\b(?!\s+(?:continua|suave|larga|facil|de recuperacion)))"
)
_NOT_RACE = re.compile(
    r"\b(?:(?:(?:half|halb)[- ]?)?marathon[- ]?(?:race[- ]?)?(?:pace|effort|tempo|training|plan|prep\w*"
    r"|block|build|week|cycle)"
    r"|race[- ]?(?:pace|effort|week|prep\w*|simulation|sim|rehearsal|specific|practice|tune[- ]?up|kit|plan)"
    r"|(?:pre|post|after|before)[- ]?race)"
)
_LONG = re.compile(
    r"\b(?:long\b(?!\s*(?:intervals?|reps?|repeats?|repetitions?|hills?|tempo|strides|weekend|week|day"
    r"|lunch|term|call|meeting))|lsd\b|lsr\b|langer lauf|lange[rs]? (?:einheit|dauerlauf)"
    r"|sortie longue|tirada larga|carrera larga|rodaje largo)"
)
_QUALITY = re.compile(
    r"\b(?:tempo|threshold|lactate|lt\d?\b|vo2|v02|interval|repeats?\b|reps?\b|repetitions?|fartlek"
    r"|hills?\b|progression|progressive|marathon[- ]?pace|[mtir][- ]?pace|race[- ]?pace|goal[- ]?pace"
    r"|mp\b|hmp\b|speed|track\b|cruise|time[- ]?trial|tt\b|parkrun|sprints?\b|yasso|ladder"
    r"|pyramid|anaerobic|schwelle|fractionne|seuil|vma\b|series\b|cambios de ritmo|umbral"
    r"|pace\s+run|critical velocity|fast finish|\d+\s*x\s*\(?\s*\d)|^\W*pace\b"
)
_STRIDE_WORD = re.compile(r"(?:hill\s+)?strides?\b")
_STRIDE_COUNT = re.compile(
    r"(?:\d++\s*+(?:-\s*+\d++\s*+)?(?:x\s*+)?)?(?:\d++\s*+(?:m|s|sec|secs|seconds|'')?\s*+)?$"
)
"""What may stand before "strides" (``6 x 20 s``, ``4-6x100m``): looked for in the few characters
before the word only, with possessive quantifiers, so no text makes it backtrack."""
_STRIDE_LOOKBACK = 40
_EASY = re.compile(
    r"\b(?:easy\b|recovery(?!\s*(?:week|day|phase|block))|recup|regenera|jog|shake[- ]?out|aerob"
    r"|ga\b|z(?:one)?\s*[12]\b|endurance|base\b|steady|mlr\b|strides|dauerlauf|locker|gdl\b"
    r"|footing\b|rodaje|trote|carrera continua|suave\b|relax|facil\b|leicht|conversational)"
)
_KNOWN_RACES: tuple[tuple[re.Pattern[str], float], ...] = (
    (re.compile(r"\butmb\b|ultra[- ]trail du mont[- ]blanc"), 171.0),
    (re.compile(r"western states"), 100 * KM_PER_MILE),
    (re.compile(r"\bcomrades\b"), 88.0),
    (re.compile(r"\bspartathlon\b"), 246.0),
    (re.compile(r"\bbadwater\b"), 217.0),
    (re.compile(r"marathon des sables"), 250.0),
    (re.compile(r"\bhardrock\b"), 100 * KM_PER_MILE),
    (re.compile(r"\blavaredo\b"), 120.0),
)
_BARE_RACE_NUMBER = re.compile(r"(?<![\d.,:/x#])\b(13\.1|26\.2|50|100|150|200|240|250)\b(?![.,:]?\d)")
_PRIORITY_TAGS = (
    re.compile(r"[(\[]\s*([ABCabc])\s*(?:[- ]?(?i:race|rennen|prio(?:rity)?))?\s*[)\]]"),
    re.compile(r"(?<![\w])([ABC])[- ](?i:race|rennen|wettkampf|priority|prio)\b"),
    re.compile(r"(?i:priority|prio)\s*[:=]?\s*([ABCabc])\b"),
)
_RUN_CATEGORY = re.compile(r"\brun|\blauf|\bjog|\bcourse\b|\bcarrera\b|\bcorrer\b|\brace\b|\btrail\b|🏃")
_PLANNED_TIME = re.compile(r"planned\s+(?:time|duration)\s*:\s*([^\n]+)")
_PLANNED_DISTANCE = re.compile(r"planned\s+distance\s*:\s*([^\n]+)")


def _search_pos(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    return match.start() if match else None


def _earliest(*positions: int | None) -> int | None:
    found = [p for p in positions if p is not None]
    return min(found) if found else None


@lru_cache(maxsize=8192)
def _kind_of(text: str, title: bool) -> RunKind | None:
    """The kind the words of a text name; race names only count in a title."""
    norm = normalize(text)
    no_race_refs = _NOT_RACE.sub(" ", norm)
    if title and _RACE_WORD.search(no_race_refs):
        return RunKind.RACE
    if _LONG.search(norm):
        return RunKind.LONG
    no_strides = _without_strides(norm)
    if _QUALITY.search(no_strides):
        return RunKind.QUALITY
    if _EASY.search(no_strides):
        return RunKind.EASY
    if title and (
        WORD_DIST.search(no_race_refs)
        or any(p.search(norm) for p, _ in _KNOWN_RACES)
        or (not _RUN_NOUN.search(norm) and distance_parts(text)[0] is not None)
    ):
        return RunKind.RACE
    return None


def _without_strides(norm: str) -> str:
    """The text with every "6 x 20 s strides" (strides are easy-run drills, never a quality
    session) turned into the plain word, in time linear in the text."""
    if "stride" not in norm:
        return norm
    out: list[str] = []
    done = 0
    for word in _STRIDE_WORD.finditer(norm):
        begin = word.start()
        window_start = max(done, begin - _STRIDE_LOOKBACK)
        count = _STRIDE_COUNT.search(norm, window_start, begin)
        if count is not None:
            begin = count.start()
        out.append(norm[done:begin])
        out.append(" strides ")
        done = word.end()
    out.append(norm[done:])
    return "".join(out)


def _run_signal(text: str) -> tuple[bool | None, RunKind | None]:
    """(True: a run, False: not a run, None: says nothing; the kind it names) for a summary-like text."""
    norm = normalize(text)
    noun = _search_pos(_RUN_NOUN, norm)
    sport = _search_pos(_SPORT, norm)
    if sport is not None and (noun is None or sport < noun):
        return False, None
    kind = _kind_of(text, True)
    rest = _search_pos(_REST, norm)
    if rest is not None:
        kind_pos = _earliest(*(_search_pos(p, norm) for p in (_RACE_WORD, _LONG, _QUALITY, _EASY, WORD_DIST)))
        first_run = _earliest(noun, kind_pos)
        if first_run is None or rest < first_run:
            return False, None
    if kind is not None or noun is not None:
        return True, kind
    if any(p.search(text) for p in _PRIORITY_TAGS[:2]):
        return True, RunKind.RACE  # "JFK 50 (C)": only races carry a priority tag
    return None, None


def _priority_tag(summary: str, description: str) -> str | None:
    """A race priority the title tags ("(A)", "B race", "priority C"), or a "Priority: A" line."""
    for pattern in _PRIORITY_TAGS:
        match = pattern.search(summary)
        if match:
            return match.group(1).upper()
    match = _PRIORITY_TAGS[-1].search(description)
    return match.group(1).upper() if match else None


# --------------------------------------------------------------------------------------------
# User patterns

_PatternKey = tuple[tuple[str, ...], ...]
_USER_ORDER: tuple[RunKind | None, ...] = (None, RunKind.RACE, RunKind.LONG, RunKind.QUALITY, RunKind.EASY)


def _pattern_key(config: Classification) -> _PatternKey:
    return (
        tuple(config.not_run),
        tuple(config.race),
        tuple(config.long),
        tuple(config.quality),
        tuple(config.easy),
    )


@lru_cache(maxsize=64)
def _compile_user(key: _PatternKey) -> tuple[tuple[RunKind | None, re.Pattern[str]], ...]:
    return tuple(
        (kind, re.compile(pattern, re.IGNORECASE))
        for kind, patterns in zip(_USER_ORDER, key, strict=True)
        for pattern in patterns
    )


_NO_MATCH = object()
USER_PATTERN_TEXT = 200
"""User patterns see the first this many characters of each field: with the backtracking limit of
:data:`~calsync.core.settings.MAX_AMBIGUOUS_REPEATS`, the worst accepted pattern costs well under
0.1 s on the most hostile event (a title is rarely longer; a plan's keywords open its description)."""


def _user_decision(
    fields: Sequence[str], patterns: tuple[tuple[RunKind | None, re.Pattern[str]], ...]
) -> RunKind | object | None:
    """The kind (None = not a run) the first matching user pattern names, else ``_NO_MATCH``."""
    if not patterns:
        return _NO_MATCH
    for whole in fields:
        if not whole:
            continue
        field = whole[:USER_PATTERN_TEXT]
        folded = normalize(field)
        for kind, pattern in patterns:
            if pattern.search(field) or (folded != field and pattern.search(folded)):
                return kind
    return _NO_MATCH


# --------------------------------------------------------------------------------------------
# One event


class _Reading(NamedTuple):
    """What the text of an event says (cached per distinct text)."""

    kind: RunKind | None
    generic: bool
    """A run with no kind word: easy or long by its length."""
    distance_km: float | None
    minutes: int | None
    """From a "Planned Time" line or the summary: the duration the event states."""
    described_minutes: int | None
    """A duration in the free text of the description: often an aside ("warm up 15 min"), so it
    counts only when the event gives no distance and is not timed."""
    tag: str | None
    unit: str = KM
    """The unit the distance is written in."""


@lru_cache(maxsize=16384)
def _read(
    summary: str, description: str, categories: tuple[str, ...], key: _PatternKey, defaults: bool
) -> _Reading:
    kind, generic = _decide(summary, description, categories, key, defaults)
    if kind is None:
        return _Reading(None, False, None, None, None, None)
    tag = _priority_tag(summary, description)
    if tag is not None and kind is not RunKind.RACE:
        kind, generic = RunKind.RACE, False
    distance, unit = _run_distance(summary, description, kind)
    return _Reading(
        kind,
        generic,
        distance,
        _run_minutes(summary, description),
        parse_minutes(description) if description else None,
        tag,
        unit,
    )


def _decide(
    summary: str, description: str, categories: tuple[str, ...], key: _PatternKey, defaults: bool
) -> tuple[RunKind | None, bool]:
    """(kind or None, generic) of an event's text."""
    user = _user_decision((summary, description, *categories), _compile_user(key))
    if user is not _NO_MATCH:
        return (user if isinstance(user, RunKind) else None), False
    if not defaults:
        return None, False
    is_run, kind = _run_signal(summary)
    if is_run is False:
        return None, False
    cats = " , ".join(categories)
    if is_run is None and cats:
        norm_cats = normalize(cats)
        if _RUN_CATEGORY.search(norm_cats):
            is_run = True
        elif _SPORT.search(norm_cats) or _REST.search(norm_cats):
            return None, False
    if is_run is None and description:
        is_run = _description_says_run(description)
    if not is_run:
        return None, False
    if kind is None and cats:
        kind = _kind_of(cats, True)
    if kind is None and description:
        kind = _kind_of(description, False)
    return (kind or RunKind.EASY), kind is None


def _description_says_run(description: str) -> bool:
    """A description marks a run only with a running word and a kind, distance or duration."""
    norm = normalize(description)
    noun = _search_pos(_RUN_NOUN, norm)
    if noun is None:
        return False
    sport = _search_pos(_SPORT, norm)
    if sport is not None and sport < noun:
        return False
    return (
        _kind_of(description, False) is not None
        or parse_distance_km(description) is not None
        or parse_minutes(description) is not None
    )


def _run_distance(summary: str, description: str, kind: RunKind) -> tuple[float | None, str]:
    """(distance in km or None, the unit the text writes it in)."""
    planned = _PLANNED_DISTANCE.search(normalize(description)) if description else None
    if planned:
        numeric, word, unit = distance_parts(planned.group(1))
        if numeric is not None:
            return numeric, unit
        if word is not None:
            return word, KM
    numeric, word, unit = distance_parts(summary)
    if numeric is not None:
        return numeric, unit
    norm = normalize(summary)
    if kind is RunKind.RACE:
        for pattern, km in _KNOWN_RACES:
            if pattern.search(norm):
                return round(km, 4), KM
    if word is not None:
        return word, KM
    if kind is RunKind.RACE:
        bare = _BARE_RACE_NUMBER.search(numbers_text(summary))
        if bare:
            return round(float(bare.group(1)) * KM_PER_MILE, 4), MI  # "JFK 50", "Leadville 100": miles
    if description:
        numeric, word, unit = distance_parts(description)
        if numeric is not None:
            return numeric, unit
        if word is not None:
            return word, KM
    if "parkrun" in norm:
        return PARKRUN_KM, KM
    return None, KM


def _run_minutes(summary: str, description: str) -> int | None:
    planned = _PLANNED_TIME.search(normalize(description)) if description else None
    if planned:
        text = planned.group(1).strip()
        match = re.fullmatch(r"(\d{1,2}):([0-5]\d)(?::([0-5]\d))?", text)
        if match:
            hours, minutes, seconds = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
            total = round(hours * 60 + minutes + seconds / 60)
            if total > 0:
                return total
        value = parse_minutes(text)
        if value is not None:
            return value
    return parse_minutes(summary)


def _timed_minutes(start: date, end: date) -> int | None:
    """The real length of a timed item in minutes (as instants: DST days are 23 or 25 hours)."""
    if isinstance(start, datetime) and isinstance(end, datetime):
        seconds = (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()
        if seconds > 0:
            return round(seconds / 60)
    return None


def _classify(event: SourceEvent, key: _PatternKey, defaults: bool, pace_min_per_km: float) -> Run | None:
    reading = _read(event.summary, event.description, tuple(event.categories), key, defaults)
    if reading.kind is None:
        return None
    # only a stated duration: a timed event's length is a placeholder, not what the text says
    # (the description's free text is often an aside: it counts only with no distance and no slot)
    minutes = reading.minutes
    if (
        minutes is None
        and reading.distance_km is None
        and reading.described_minutes is not None
        and _timed_minutes(event.start, event.end) is None
    ):
        minutes = reading.described_minutes
    kind = reading.kind
    if reading.generic:
        length = minutes
        if length is None and reading.distance_km is not None:
            length = round(reading.distance_km * pace_min_per_km)
        if length is None:
            length = _timed_minutes(event.start, event.end)
        if length is not None and length >= LONG_GENERIC_MINUTES:
            kind = RunKind.LONG
    return Run(
        uid=event.uid,
        title=event.summary,
        kind=kind,
        start=event.start,
        end=event.end,
        distance_km=reading.distance_km,
        minutes=minutes,
        priority=None,
        recurrence_id=event.recurrence_id,
        unit=reading.unit,
    )


def classify_event(event: SourceEvent, config: Classification, *, pace_min_per_km: float) -> Run | None:
    """The run an event is, or None when it is not a run (priority is left None)."""
    return _classify(event, _pattern_key(config), config.use_defaults, pace_min_per_km)


# --------------------------------------------------------------------------------------------
# All events


def _local_day(when: date, zone: ZoneInfo) -> date:
    if isinstance(when, datetime):
        return (when.astimezone(zone) if when.tzinfo else when).date()
    return when


def _instant(when: date, zone: ZoneInfo) -> tuple[int, float]:
    """Sort key of a start or end: all-day items first on their day, then by instant."""
    if isinstance(when, datetime):
        return (1, instant(when, zone).timestamp())
    return (0, float(when.toordinal()))


def _run_key(run: Run, zone: ZoneInfo) -> tuple[object, ...]:
    """Order of runs: (start day, start, uid, recurrence_id)."""
    return (_local_day(run.start, zone), _instant(run.start, zone), run.uid, run.recurrence_id or "")


def _tie_key(item: tuple[Run, str | None], zone: ZoneInfo) -> tuple[object, ...]:
    """Every other field, to order runs that share a :func:`_run_key` (rare: kept off the fast path)."""
    run, tag = item
    return (
        _instant(run.end, zone),
        run.kind.value,
        run.title,
        -1.0 if run.distance_km is None else run.distance_km,
        -1 if run.minutes is None else run.minutes,
        run.unit,
        str(run.start),
        str(run.end),
        tag is None,
        tag or "",
    )


def _sorted_unique(found: list[tuple[Run, str | None]], zone: ZoneInfo) -> list[tuple[Run, str | None]]:
    """Runs in a total order that does not depend on input order; equal runs once.

    Equal runs may differ in how their times are written or in their priority line, so the copy
    kept is the first in the total order.
    """
    keyed = sorted(((_run_key(item[0], zone), item) for item in found), key=lambda pair: pair[0])
    out: list[tuple[Run, str | None]] = []
    seen: set[Run] = set()
    for _, group in groupby(keyed, key=lambda pair: pair[0]):
        items = [item for _, item in group]
        if len(items) > 1:
            items.sort(key=lambda item: _tie_key(item, zone))
        for run, tag in items:
            if run not in seen:
                seen.add(run)
                out.append((run, tag))
    return out


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def _training_verdict(text: str) -> bool | None:
    """True: names training; False: names rest, or training the runner may skip; None: neither."""
    norm = normalize(text)
    train = _TRAINING.search(norm)
    rest = _TRAINING_REST.search(norm)
    if train is None:
        return False if rest else None
    if _OPTIONAL.search(norm):
        return False  # "Optional yoga": the runner may rest instead
    if rest is None:
        return True
    if rest.start() < train.start():
        return False  # "Rest or cross-training", "Rest day, easy spin if you must"
    return not _OR.search(norm[train.end() : rest.start()])  # "Cross-training or rest"; "Swim w/ 15'' rest"


@lru_cache(maxsize=8192)
def _is_training(summary: str, categories: tuple[str, ...]) -> bool:
    """Whether a non-run event is another sport or a workout (R14): the summary, else the categories."""
    verdict = _training_verdict(summary)
    if verdict is None and categories:
        verdict = _training_verdict(" , ".join(categories))
    return bool(verdict)


def _busy(event: SourceEvent, zone: ZoneInfo) -> Busy | None:
    """The busy time of a non-run event (R19), in the plan's zone; None when it matters to nothing.

    A transparent event blocks no time: it is kept (``transparent``) only when it is training (R14).
    A timed training event without a length is kept the same way: its day is a training day.
    """
    training = _is_training(event.summary, tuple(event.categories))
    if not event.busy and not training:
        return None
    transparent = not event.busy
    start, end = event.start, event.end
    if isinstance(start, datetime):
        if not isinstance(end, datetime):
            return None
        aware_start = (start if start.tzinfo else start.replace(tzinfo=zone)).astimezone(zone)
        aware_end = (end if end.tzinfo else end.replace(tzinfo=zone)).astimezone(zone)
        if aware_end <= aware_start:
            if not training:
                return None
            aware_end, transparent = aware_start, True
        return Busy(aware_start, aware_end, event.summary, training=training, transparent=transparent)
    last = end.date() if isinstance(end, datetime) else end
    if last <= start:
        last = date.fromordinal(start.toordinal() + 1)
    return Busy(
        _midnight(start, zone),
        _midnight(last, zone),
        event.summary,
        training=training,
        transparent=transparent,
    )


def _longest_key(runs: list[Run], index: int, zone: ZoneInfo) -> tuple[float, int, date, int]:
    """Longest first by distance, then minutes (stated, else timed), then the later date (runs are
    in order)."""
    run = runs[index]
    minutes = run.minutes if run.minutes is not None else _timed_minutes(run.start, run.end)
    return (run.distance_km or 0.0, minutes or 0, _local_day(run.start, zone), index)


def _assign_priorities(
    runs: list[Run], tags: dict[int, str | None], zone: ZoneInfo, a_race: date | None, horizon_end: date
) -> list[Run]:
    """Races get A / B / C: the configured date, else tags, else the longest in the horizon."""
    out = list(runs)
    a_index: set[int] = set()
    if a_race is not None:
        same_day = [i for i, run in enumerate(out) if _local_day(run.start, zone) == a_race]
        races = [i for i in same_day if out[i].kind is RunKind.RACE]
        tagged_a = any(run.kind is RunKind.RACE and tags.get(i) == "A" for i, run in enumerate(out))
        if races:
            a_index = set(races)
        elif same_day and not tagged_a:
            # the config names the day of an event that does not read as a race: believe the config
            chosen = max(same_day, key=lambda i: _longest_key(out, i, zone))
            out[chosen] = replace(out[chosen], kind=RunKind.RACE)
            a_index = {chosen}
    if not a_index:
        a_index = {i for i, run in enumerate(out) if run.kind is RunKind.RACE and tags.get(i) == "A"}
    if not a_index:
        candidates = [
            i
            for i, run in enumerate(out)
            if run.kind is RunKind.RACE
            and _local_day(run.start, zone) <= horizon_end
            and tags.get(i) not in ("B", "C")  # a race the runner tagged B or C is never the A race
        ]
        if candidates:
            a_index = {max(candidates, key=lambda i: _longest_key(out, i, zone))}
    for i, run in enumerate(out):
        if run.kind is RunKind.RACE:
            priority = "A" if i in a_index else (tags.get(i) or "B")
            out[i] = replace(run, priority=priority)
    return out


def classify_events(
    events: Sequence[SourceEvent],
    config: Classification,
    *,
    zone: ZoneInfo,
    a_race: date | None,
    horizon_end: date,
    pace_min_per_km: float = 6.0,
) -> Classified:
    """Classify every event: the runs (races with their priority) and the busy time of the rest.

    The result does not depend on the order of ``events``; identical duplicates count once.
    """
    key = _pattern_key(config)
    defaults = config.use_defaults
    found: list[tuple[Run, str | None]] = []
    busy: set[Busy] = set()
    for event in events:
        run = _classify(event, key, defaults, pace_min_per_km)
        if run is None:
            block = _busy(event, zone)
            if block is not None:
                busy.add(block)
            continue
        found.append(
            (run, _read(event.summary, event.description, tuple(event.categories), key, defaults).tag)
        )
    unique = _sorted_unique(found, zone)
    ordered = [run for run, _ in unique]
    tags = {i: tag for i, (_, tag) in enumerate(unique)}
    with_priority = _assign_priorities(ordered, tags, zone, a_race, horizon_end)
    return Classified(
        runs=with_priority,  # still in order: priorities do not move a run
        busy=sorted(
            busy, key=lambda b: (b.start.timestamp(), b.end.timestamp(), b.title, b.training, b.transparent)
        ),
    )
