"""Quantities in event text: durations and distances, as runners and coaches write them (pure).

Text is normalised once (case, accents, typographic marks, decimal commas); then dates, paces,
elevations, rep counts and clock times are told apart from what a run lasts (``1h30``,
``45-50 min``, ``1:30:00``) and how far it goes (``10 km``, ``6 mi``, ``half marathon``). Every
pattern here is anchored on a digit or a word boundary and scanned once, left to right.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

KM_PER_MILE = 1.609344
MARATHON_KM = 42.195
HALF_MARATHON_KM = 21.0975
_MAX_KM = 1000.0
_MAX_MINUTES = 72 * 60

# --------------------------------------------------------------------------------------------
# Text normalisation

_TRANSLATE = str.maketrans(
    {
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\u00d7": "x",
        "\u2019": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "\u2033": "''",
        "\u201d": '"',
        "\u00a0": " ",
        "\u202f": " ",
        "\u00bd": " half ",
        "\u00df": "ss",
    }
)
_HALF_FRACTION = re.compile(r"\b1/2\s*-?\s*(?=mara)")
_MEDIUM_LONG = re.compile(r"\bmedium[- ]?long(?:[- ]?runs?)?\b")


@lru_cache(maxsize=8192)
def normalize(text: str) -> str:
    """Casefold, strip accents, unify dashes / times signs / quotes."""
    if text.isascii():
        out = text.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLATE))
        out = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    out = out.translate(_TRANSLATE)
    out = _HALF_FRACTION.sub("half ", out)
    return _MEDIUM_LONG.sub(" mlr ", out)


# --------------------------------------------------------------------------------------------
# Numbers: dates, paces, distances, durations

_DATES = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}(?:t\d{1,2}:\d{2}(?::\d{2})?)?"
    r"|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b"
)
_PACES = re.compile(
    r"\d{1,2}[:'.]\d{2}(?:\s*-\s*\d{1,2}[:'.]\d{2})?\s*(?:min(?:utes?)?\.?\s*)?"
    r"(?:/|per\s+|pro\s+|par\s+)\s*(?:km|k|kilomet\w*|mi|miles?|meile)\b"
    r"|\d+(?:[.,]\d+)?\s*(?:min(?:utes?)?|')\s*(?:/|per\s+)\s*(?:km|k|mi|miles?)\b"
    r"|\d+(?:[.,]\d+)?\s*(?:km\s*/\s*h|kmh|kph|mph|km per hour|miles per hour)"
    r"|\d{1,2}:\d{2}\s*(?:min\s*)?(?:pace|tempo|rhythm)\b"
    r"|@\s*\d{1,2}:\d{2}"
)
_DIGIT = re.compile(r"\d")
_PACE_HINTS = re.compile(r"[/@]|per |pro |par |kmh|kph|mph|hour|pace|tempo|rhythm")
_THOUSANDS = re.compile(r"(\d),(\d{3})(?=\s*m(?:eters?|etres?)?\b)")
_DECIMAL_COMMA = re.compile(r"(\d),(\d)")


@lru_cache(maxsize=8192)
def numbers_text(text: str) -> str:
    """Normalised text with dates and paces blanked and decimal commas made dots."""
    out = normalize(text)
    if not _DIGIT.search(out):
        return out
    if "-" in out or "." in out or "/" in out:
        out = _DATES.sub(" ", out)
    if _PACE_HINTS.search(out):
        out = _PACES.sub(" ", out)
    if "," in out:
        out = _THOUSANDS.sub(r"\1\2", out)
        out = _DECIMAL_COMMA.sub(r"\1.\2", out)
    return out


_REP_BEFORE = re.compile(r"\d\s*[x*]\s*\(?\s*$")
_ANY_REP = re.compile(r"\d\s*[x*]\s*\(?\s*\d")
_DIST = re.compile(
    r"(?<![\d.])(\d{1,4}(?:\.\d+)?)\s*-?\s*"
    r"(km|kms|kilomet(?:er|re)s?|k|mi|miles?|milers?|meilen?|millas?|milles?"
    r"|m|meters?|metres?|metros?|mtr)(?![a-z])"
)
WORD_DIST = re.compile(r"\b(?:(half|halb|semi|medio|media)[- ]?)?mara(?:th|t)on\b")
_PACE_BEFORE = re.compile(
    r"(?:@|\bat|\bau|\bzum|\ballure(?:\s+(?:de|du))?|\britmo(?:\s+de)?|(?:pace|effort|speed)\s+(?:of|von))\s*$"
)
_PACE_AFTER = re.compile(
    r"^\s*-?\s*(?:race\s*)?(?:pace|effort|speed|rhythm|rp\b|allure|ritmo|goal|intensity|equivalent)"
)
_PACE_CHAIN = re.compile(r"^\s*(?:to|-|and|or|/|,|bis|et|y|a)\s*$")
_SPEED_AFTER = re.compile(r"^\s*(?:/|per\s)\s*(?:h\b|hr\b|hour)")
_ELEVATION_AFTER = re.compile(
    r"^\s*(?:\+|d\+|elev|vert|climb|gain|ascent|descent|up\b|down\b|hm\b|of climbing"
    r"|hohenmeter|denivele|desnivel)"
)
_RECOVERY_AFTER = re.compile(r"^\s*(?:rest|recovery|rec\b|recup|float|pause|break|between)")
_JOG_AFTER = re.compile(r"^\s*(?:jog|walk)")
_UNIT_KM = {"km", "kms", "k", "kilometer", "kilometers", "kilometre", "kilometres"}
_UNIT_M = {"m", "meter", "meters", "metre", "metres", "metros", "mtr"}
KM, MI = "km", "mi"
"""The units a run's distance is given in (:attr:`calsync.core.model.Run.unit`)."""


class _Mention(NamedTuple):
    """One distance found in a text."""

    start: int
    end: int
    km: float
    pace: bool
    word: bool = False
    """Given as a word ("marathon"), not as a number with a unit."""
    unit: str = KM
    """``mi`` when given in miles, else ``km``."""


def _is_pace_context(text: str, start: int, end: int) -> bool:
    return bool(
        _PACE_BEFORE.search(text[max(0, start - 20) : start]) or _PACE_AFTER.match(text[end : end + 25])
    )


def _mark_pace_chains(text: str, mentions: list[_Mention]) -> list[_Mention]:
    """A distance joined to a pace reference ("@ 15K to half marathon pace") is one too."""
    out = list(mentions)
    changed = True
    while changed:
        changed = False
        for i in range(len(out) - 1):
            left, right = out[i], out[i + 1]
            if left.pace != right.pace and _PACE_CHAIN.match(text[left.end : right.start]):
                out[i] = left._replace(pace=True)
                out[i + 1] = right._replace(pace=True)
                changed = True
    return out


@lru_cache(maxsize=8192)
def distance_parts(text: str) -> tuple[float | None, float | None, str]:
    """(largest distance given with a unit, largest given as a word like "marathon"), in km, and
    the unit that largest numeric distance is written in (``mi`` or ``km``; ``km`` when none)."""
    prepared = numbers_text(text)
    has_reps = bool(_ANY_REP.search(prepared))
    numeric: list[_Mention] = []
    for match in _DIST.finditer(prepared) if _DIGIT.search(prepared) else ():
        start, end = match.span()
        value = float(match.group(1))
        unit = match.group(2)
        after = prepared[end : end + 30]
        if _REP_BEFORE.search(prepared[max(0, start - 12) : start]):
            continue
        if _SPEED_AFTER.match(after) or _RECOVERY_AFTER.match(after):
            continue
        if unit in _UNIT_M:
            if value < 100 or (has_reps and value < 1000) or _JOG_AFTER.match(after):
                continue
            if _ELEVATION_AFTER.match(after) or prepared[max(0, start - 2) : start].strip().endswith("+"):
                continue
            km = value / 1000
        elif unit in _UNIT_KM:
            km = value
        else:
            km = value * KM_PER_MILE
        if 0 < km <= _MAX_KM:
            written = KM if unit in _UNIT_KM or unit in _UNIT_M else MI
            numeric.append(_Mention(start, end, km, _is_pace_context(prepared, start, end), unit=written))
    words = [
        _Mention(
            m.start(),
            m.end(),
            HALF_MARATHON_KM if m.group(1) else MARATHON_KM,
            _is_pace_context(prepared, m.start(), m.end()),
            word=True,
        )
        for m in WORD_DIST.finditer(prepared)
    ]
    every = numeric + words
    if len(every) > 1:
        every = _mark_pace_chains(prepared, sorted(every, key=lambda m: m.start))
    kept_numeric = [m for m in every if not m.pace and not m.word]
    kept_words = [m.km for m in every if not m.pace and m.word]
    longest = max(kept_numeric, key=lambda m: m.km) if kept_numeric else None
    return (
        round(longest.km, 4) if longest else None,
        max(kept_words) if kept_words else None,
        longest.unit if longest else KM,
    )


def parse_distance_km(text: str) -> float | None:
    """The distance a text gives, in km, or None.

    Understands km / k / kilometers, mi / miles, meters (from 100 m: ``3000m`` is 3 km), "half
    marathon" and "marathon". Ignores rep schemes (``8x400m``), recoveries, elevation, speeds,
    paces and pace references (``@ 15K``, ``half marathon pace``) and numbers without a unit.
    A distance with a unit wins over a word distance; of several, the largest.
    """
    numeric, word, _ = distance_parts(text)
    return numeric if numeric is not None else word


_CLOCK_BEFORE = re.compile(r"(?:@|\bat|\bum|\bab|\bfrom|\bvon|\bdes|\bstarts?|\bbegins?|\buntil)\s*$")
_CLOCK_AFTER = re.compile(r"^\s*(?:am\b|pm\b|a\.m|p\.m|uhr\b|o'?clock)")
_HOURS = re.compile(
    r"(?<![\d.:])(\d{1,2}(?:\.\d+)?)\s*(?:hours?|hrs?|h|std\.?|stunden?|heures?|horas?)(?![a-z])"
    r"(?:\s*(?:and\s*)?(\d{1,2})\s*(?:minutes?|mins?|min|m|')?(?![a-z\d']))?"
)
_MIN_UNIT = r"(?:minutes?|mins?|min\.?|minuten|minutos|mn|')"
_RANGE = re.compile(
    rf"(?<![\d.:])(\d{{1,3}})\s*(?:{_MIN_UNIT}|m)?\s*(?:-|to|bis)\s*(\d{{1,3}})\s*({_MIN_UNIT}|m)(?![a-z'\d])"
)
_HMS = re.compile(r"(?<![\d:.])(\d{1,2}):([0-5]\d):([0-5]\d)(?![\d:])")
_HM_RANGE = re.compile(r"(?<![\d:.])(\d{1,2}):([0-5]\d)\s*-\s*(\d{1,2}):([0-5]\d)(?![\d:])")
_HM = re.compile(r"(?<![\d:.])(\d{1,2}):([0-5]\d)(?![\d:])(\s*(?:h|hrs?|hours?|std)\b)?")
_MINUTES = re.compile(rf"(?<![\d.])(\d{{1,3}}(?:\.\d+)?)\s*{_MIN_UNIT}(?![a-z'])")
_M_MINUTES = re.compile(r"(?<![\d.])(\d{2})\s*m(?![a-z\d])")
_RECOVERY_BEFORE = re.compile(r"(?:w/|\bwith|\bmit|\bavec|\bcon|\()\s*$")
_DURATION_RECOVERY = re.compile(r"^\s*(?:rest|recovery|rec\b|recup|pause|break|float|between|walk break)")


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _excluded(text: str, start: int, end: int) -> bool:
    """A rep inside a scheme, a recovery, or a time of day."""
    before = text[max(0, start - 12) : start]
    return bool(
        _REP_BEFORE.search(before)
        or _RECOVERY_BEFORE.search(before)
        or _DURATION_RECOVERY.match(text[end : end + 20])
        or _CLOCK_BEFORE.search(before)
        or _CLOCK_AFTER.match(text[end : end + 8])
    )


def _take_hours(text: str, labelled: list[float]) -> str:
    """``1h30``, ``2 hrs``, ``1.5 Std``: read and blanked."""
    for match in list(_HOURS.finditer(text)):
        if not _excluded(text, *match.span()):
            labelled.append(float(match.group(1)) * 60 + float(match.group(2) or 0))
        text = _blank(text, *match.span())
    return text


def _take_ranges(text: str, labelled: list[float]) -> str:
    """``45-50 min``, ``45m - 50m``: the upper bound (``m`` ranges only where they read as minutes)."""
    for match in list(_RANGE.finditer(text)):
        low, high = int(match.group(1)), int(match.group(2))
        if match.group(3) == "m" and not (low < 100 and high < 300):
            continue
        if not _excluded(text, *match.span()) and low <= high:
            labelled.append(high)
        text = _blank(text, *match.span())
    return text


def _take_clock_forms(text: str, labelled: list[float], bare: list[float]) -> str:
    """``1:30:00``; ``0:45-1:15`` (a duration range, else a clock range: used up either way);
    ``1:30`` as h:mm of at most 4 hours unless suffixed (``1:30 h``). Never a time of day."""
    for match in list(_HMS.finditer(text)):
        if not _REP_BEFORE.search(text[max(0, match.start() - 12) : match.start()]):
            hours, minutes, seconds = (int(g) for g in match.groups())
            labelled.append(hours * 60 + minutes + seconds / 60)
        text = _blank(text, *match.span())
    for match in list(_HM_RANGE.finditer(text)):
        h1, h2 = match.group(1), match.group(3)
        if len(h1) == 1 and len(h2) == 1 and int(h2) <= 4 and not _excluded(text, *match.span()):
            bare.append(int(h2) * 60 + int(match.group(4)))
        text = _blank(text, *match.span())
    for match in list(_HM.finditer(text)):
        hours_text, minutes = match.group(1), int(match.group(2))
        suffixed = match.group(3) is not None
        single = len(hours_text) == 1 or hours_text == "00"
        if single and (int(hours_text) <= 4 or suffixed) and not _excluded(text, *match.span()):
            (labelled if suffixed else bare).append(int(hours_text) * 60 + minutes)
        text = _blank(text, *match.span())
    return text


def _take_minutes(text: str, labelled: list[float]) -> None:
    """``40 min``, ``40'``, ``40m`` (ten or more)."""
    for match in _MINUTES.finditer(text):
        if not _excluded(text, *match.span()):
            labelled.append(float(match.group(1)))
    for match in _M_MINUTES.finditer(text):
        if int(match.group(1)) >= 10 and not _excluded(text, *match.span()):
            labelled.append(float(match.group(1)))


@lru_cache(maxsize=8192)
def _minutes_of(text: str) -> int | None:
    """Each form is read in turn and blanked, so a later, looser form never re-reads its digits.
    A labelled duration (``min``, ``h``, ``1:30:00``) wins over a bare ``1:30``."""
    prepared = numbers_text(text)
    if not _DIGIT.search(prepared):
        return None
    labelled: list[float] = []
    bare: list[float] = []
    if "h" in prepared or "st" in prepared:
        prepared = _take_hours(prepared, labelled)
    if "-" in prepared or "to" in prepared or "bis" in prepared:
        prepared = _take_ranges(prepared, labelled)
    if ":" in prepared:
        prepared = _take_clock_forms(prepared, labelled, bare)
    if "m" in prepared or "'" in prepared:
        _take_minutes(prepared, labelled)
    values = [v for v in (labelled or bare) if 0 < v <= _MAX_MINUTES]
    return round(max(values)) if values else None


def parse_minutes(text: str) -> int | None:
    """The duration a text gives, in whole minutes, or None.

    Understands ``40 min``, ``40'``, ``90 minutes``, ``1h30``, ``1 h 30 min``, ``2 hrs``, ``1.5 h``,
    ``1:30:00``, ``1:30`` (h:mm, 0-4 hours), ranges (``45m - 50m``, ``45-50 min``: the upper bound).
    Never reads a time of day (``07:00``, ``at 6:30``, ``7:00 am``), a date, a pace or a rep.
    """
    return _minutes_of(text)
