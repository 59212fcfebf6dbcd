"""VTIMEZONE components in the compact form calendar servers and apps exchange.

One STANDARD and one DAYLIGHT sub-component with a yearly RRULE, as the zone's current rules say
(the POSIX TZ string at the end of its TZif file), starting in the year those rules took effect;
a zone without daylight saving time gets one STANDARD. Only when a session falls before that
year, or the rules cannot be written as an RRULE (a transition past midnight's end, a Julian
day), the zone's full history from icalendar (1970-2037, one RDATE per transition) is used.

Why not icalendar's own ``add_missing_timezones``: it lists every transition 1970-2037 (about 2.5
KB of each 3.6 KB event, half of its parse cost), and servers shorten it: Radicale keeps only the
first date of each RDATE list, so a client that trusts the stored definition sees no DST after
1981. Built once per zone and first year in a process.
"""

from __future__ import annotations

import re
import struct
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path

from icalendar import Calendar, Component, Timezone, TimezoneDaylight, TimezoneStandard

_POSIX = re.compile(
    r"^(?P<std><[^>]+>|[A-Za-z]{3,})(?P<stdoff>[+-]?\d{1,2}(?::\d{2}){0,2})"
    r"(?:(?P<dst><[^>]+>|[A-Za-z]{3,})(?P<dstoff>[+-]?\d{1,2}(?::\d{2}){0,2})?"
    r",(?P<start>M\d{1,2}\.\d\.\d(?:/[+-]?\d{1,3}(?::\d{2}){0,2})?)"
    r",(?P<end>M\d{1,2}\.\d\.\d(?:/[+-]?\d{1,3}(?::\d{2}){0,2})?))?$"
)
_DAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")


@dataclass(frozen=True)
class _Rule:
    """A transition day: the ``week``-th ``weekday`` (0 = Sunday; week 5 = the last) of
    ``month``, at ``at`` after that day's local midnight (in the offset before it)."""

    month: int
    week: int
    weekday: int
    at: timedelta

    def day(self, year: int) -> date:
        if self.week == 5:
            last = date(year + (self.month == 12), self.month % 12 + 1, 1) - timedelta(days=1)
            return last - timedelta(days=(last.isoweekday() % 7 - self.weekday) % 7)
        first = date(year, self.month, 1)
        return first + timedelta(days=(self.weekday - first.isoweekday() % 7) % 7 + 7 * (self.week - 1))


@dataclass(frozen=True)
class _Zone:
    """A zone's current rules: standard name and offset, and daylight time when it has it."""

    std_name: str
    std_offset: timedelta
    dst_name: str | None = None
    dst_offset: timedelta | None = None
    start: _Rule | None = None
    """Daylight time begins (local time in the standard offset)."""
    end: _Rule | None = None
    """Daylight time ends (local time in the daylight offset)."""

    def transitions(self, year: int) -> list[tuple[datetime, timedelta]]:
        """The year's changes as (UTC instant, offset from then on), in order."""
        if self.start is None or self.end is None or self.dst_offset is None:
            return []
        begin = datetime.combine(self.start.day(year), time(0)) + self.start.at - self.std_offset
        end = datetime.combine(self.end.day(year), time(0)) + self.end.at - self.dst_offset
        found = [(begin.replace(tzinfo=UTC), self.dst_offset), (end.replace(tzinfo=UTC), self.std_offset)]
        return sorted(found)

    def offset(self, moment: datetime) -> timedelta:
        """The offset the rules give at a UTC instant."""
        changes = self.transitions(moment.year)
        if not changes:
            return self.std_offset
        current = changes[-1][1]  # what the previous year ended with
        for at, offset in changes:
            if moment >= at:
                current = offset
        return current


def _posix_offset(text: str) -> timedelta:
    """A POSIX offset (``-1`` is one hour *east* of UTC) as a UTC offset."""
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")] + [0, 0]
    return -sign * timedelta(hours=parts[0], minutes=parts[1], seconds=parts[2])


def _rule(text: str) -> _Rule:
    spec, _, at = text[1:].partition("/")
    month, week, weekday = (int(p) for p in spec.split("."))
    sign = -1 if at.startswith("-") else 1
    parts = [int(p) for p in at.lstrip("+-").split(":")] + [0, 0] if at else [2, 0, 0]
    return _Rule(month, week, weekday, sign * timedelta(hours=parts[0], minutes=parts[1], seconds=parts[2]))


def _name(text: str) -> str:
    return text[1:-1] if text.startswith("<") else text


def _tzif(key: str) -> bytes | None:
    """The zone's TZif file, found where :mod:`zoneinfo` finds it (TZPATH, then tzdata)."""
    for root in zoneinfo.TZPATH:
        path = Path(root) / key
        if path.is_file():
            return path.read_bytes()
    try:
        return resources.files("tzdata.zoneinfo").joinpath(*key.split("/")).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class _Change:
    """From ``at`` (UTC) on, the zone is at ``offset`` and called ``name`` (daylight: ``dst``)."""

    at: datetime
    offset: timedelta
    name: str
    dst: bool


@dataclass(frozen=True)
class _Tzif:
    """What a TZif file says: how the zone starts, its explicit changes, and its POSIX rule."""

    first: _Change
    changes: tuple[_Change, ...]
    footer: str
    listed_until: datetime
    """The file's last transition of any kind (a change of name only too): the rules take over
    after it."""


def _read_tzif(data: bytes) -> _Tzif | None:
    """A TZif (v2+) file's 64-bit part (RFC 8536); None for a v1 or broken file."""
    if len(data) < 44 or not data.startswith(b"TZif") or data[4:5] < b"2":
        return None
    isut, isstd, leap, times, types, chars = struct.unpack(">6l", data[20:44])
    start = 44 + times * 5 + types * 6 + chars + leap * 8 + isstd + isut  # skip the v1 block
    if data[start : start + 4] != b"TZif":
        return None
    isut, isstd, leap, times, types, chars = struct.unpack(">6l", data[start + 20 : start + 44])
    at = start + 44
    instants = struct.unpack(f">{times}q", data[at : at + times * 8])
    at += times * 8
    indices = data[at : at + times]
    at += times
    infos = [struct.unpack(">lBB", data[at + 6 * i : at + 6 * i + 6]) for i in range(types)]
    at += types * 6
    names = data[at : at + chars]
    at += chars + leap * 12 + isstd + isut
    footer = data[at:].strip(b"\n").decode("ascii", "replace")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)

    def change(instant: int, index: int) -> _Change:
        offset, dst, name_at = infos[index]
        name = names[name_at:].split(b"\0", 1)[0].decode("ascii", "replace")
        return _Change(epoch + timedelta(seconds=instant), timedelta(seconds=offset), name, bool(dst))

    if not infos:
        return None
    first = change(-(2**31), 0)  # before the first change (RFC 8536: the first type)
    found: list[_Change] = []
    for instant, index in zip(instants, indices, strict=True):
        current = change(instant, index)
        if (found[-1] if found else first).offset != current.offset:  # a new name only is no change
            found.append(current)
    last = epoch + timedelta(seconds=instants[-1]) if instants else first.at
    return _Tzif(first, tuple(found), footer, last)


def _parse(footer: str, *, compact: bool = True) -> _Zone | None:
    """The rules of a POSIX TZ string; with ``compact``, None when they have no RRULE form."""
    match = _POSIX.match(footer)
    if match is None:
        return None
    std_offset = _posix_offset(match["stdoff"])
    if match["dst"] is None:
        return _Zone(_name(match["std"]), std_offset)
    dst_offset = _posix_offset(match["dstoff"]) if match["dstoff"] else std_offset + timedelta(hours=1)
    start, end = _rule(match["start"]), _rule(match["end"])
    if compact and (_rrule(start) is None or _rrule(end) is None):
        return None
    return _Zone(_name(match["std"]), std_offset, _name(match["dst"]), dst_offset, start, end)


def _ruled_changes(zone: _Zone, after: datetime, until_year: int) -> list[_Change]:
    """The changes the rules make after ``after`` up to the end of ``until_year``: a slim TZif file
    (the ``tzdata`` package's, used where the system has no zone files) lists a zone's changes only
    until its rules take over, sometimes in the middle of a year."""
    if zone.dst_name is None or zone.dst_offset is None:
        return []
    found = []
    for year in range(after.year, until_year + 1):
        for at, offset in zone.transitions(year):
            if at > after:
                daylight = offset == zone.dst_offset
                name = zone.dst_name if daylight else zone.std_name
                found.append(_Change(at, offset, name, daylight))
    return found


@lru_cache(maxsize=64)
def _tzif_of(key: str) -> _Tzif | None:
    data = _tzif(key)
    return _read_tzif(data) if data else None


@lru_cache(maxsize=64)
def _current_rules(key: str) -> tuple[_Zone, int] | None:
    """The zone's current rules and the first year they hold in: after the file's last listed
    transition they hold by definition; before it, a year counts when its listed changes are the
    rules' (a slim file may stop listing inside the year the rules took over: a prefix then) and
    the year begins in the offset the rules give. None when the rules have no compact form."""
    read = _tzif_of(key)
    zone = _parse(read.footer) if read else None
    if read is None or zone is None:
        return None
    if read.listed_until <= read.first.at:
        return zone, 1970  # no transition at all

    def begins_as_ruled(year: int) -> bool:
        before = [change.offset for change in read.changes if change.at.year < year]
        return (before[-1] if before else read.first.offset) == zone.offset(datetime(year, 1, 1, tzinfo=UTC))

    by_year: dict[int, list[tuple[datetime, timedelta]]] = {}
    for change in read.changes:
        by_year.setdefault(change.at.year, []).append((change.at, change.offset))
    last_year = read.listed_until.year
    listed = by_year.get(last_year, [])
    # the file is the truth up to its last transition: the rules' changes of that year up to it
    # must be the listed ones (a slim file stops listing inside the year; Macquarie kept +11
    # through 2010 against the rules it took up in 2011)
    ruled_until = [t for t in zone.transitions(last_year) if t[0] <= read.listed_until]
    if last_year <= 1970 or listed != ruled_until or not begins_as_ruled(last_year):
        return zone, max(1970, last_year + 1)
    year = last_year
    while year - 1 in by_year and year - 1 > 1970 and by_year[year - 1] == zone.transitions(year - 1):
        year -= 1
    return zone, year if begins_as_ruled(year) else last_year


def _history(key: str, read: _Tzif, first_needed: int, last_needed: int) -> Timezone:
    """The zone's explicit changes around the years needed (one sub-component each: servers keep
    a DTSTART, some drop an RDATE list), then its rules when the years needed reach past them."""
    begin = datetime(first_needed - 1, 1, 1, tzinfo=UTC)
    end = datetime(last_needed + 2, 1, 1, tzinfo=UTC)
    zone = _parse(read.footer)
    rules = zone or _parse(read.footer, compact=False)
    changes = list(read.changes)
    listed_until = read.listed_until
    if rules is not None:
        # the rules go on after the last listed change: to the end of its year (a slim file may
        # stop inside it), and to the end of the years needed when no RRULE can say them
        until = listed_until.year if zone is not None else end.year
        changes += _ruled_changes(rules, listed_until, until)
    ruled = _current_rules(key)
    if ruled is not None:
        # the current rules hold from their first year on: list the changes up to it, then say
        # the rules, so a recurring event past the years needed is right too
        end = min(end, datetime(ruled[1], 1, 1, tzinfo=UTC))
    current = read.first
    for change in changes:
        if change.at <= begin:
            current = change
    timezone = Timezone()
    timezone.add("tzid", key)

    local = (begin + current.offset).replace(tzinfo=None)
    timezone.add_component(_sub(TimezoneStandard, current.name, local, current.offset, current.offset))
    for change in changes:
        if begin < change.at < end:
            local = (change.at + current.offset).replace(tzinfo=None)
            # the larger offset is DAYLIGHT, as calendar apps expect (tzdata's flag may be negative)
            kind = TimezoneDaylight if change.offset > current.offset else TimezoneStandard
            timezone.add_component(_sub(kind, change.name, local, current.offset, change.offset))
            current = change
    compact: Timezone | None
    if ruled is not None:
        compact = _compact(key, *ruled)
    else:
        after = listed_until.year + 1 if listed_until > read.first.at else begin.year
        usable = zone is not None and zone.start is not None and after < end.year
        compact = _compact(key, zone, max(after, begin.year)) if usable and zone is not None else None
    if compact is not None and (zone is None or zone.start is not None):
        for sub in compact.subcomponents:
            timezone.add_component(sub)
    return timezone


def _offset_text(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{seconds:02d}" if seconds else "")


def _sub(kind: type[Component], name: str, start: datetime, before: timedelta, after: timedelta) -> Component:
    sub = kind()
    sub.add("dtstart", start)
    sub.add("tzname", name)
    sub["TZOFFSETFROM"] = _offset_text(before)
    sub["TZOFFSETTO"] = _offset_text(after)
    return sub


def _compact(key: str, zone: _Zone, year: int) -> Timezone:
    timezone = Timezone()
    timezone.add("tzid", key)
    if zone.start is None or zone.end is None or zone.dst_offset is None or zone.dst_name is None:
        timezone.add_component(
            _sub(TimezoneStandard, zone.std_name, datetime(year, 1, 1), zone.std_offset, zone.std_offset)
        )
        return timezone
    # the period with the larger offset is written as DAYLIGHT, as calendar apps expect (tzdata
    # calls Irish summer time "standard" and winter time a negative "daylight" saving)
    begins = (zone.start, zone.std_offset, zone.dst_offset, zone.dst_name)
    ends = (zone.end, zone.dst_offset, zone.std_offset, zone.std_name)
    for rule, before, after, name in (ends, begins):
        kind = TimezoneDaylight if after > before else TimezoneStandard
        sub = _sub(kind, name, datetime.combine(rule.day(year), time(0)) + rule.at, before, after)
        sub.add("rrule", _rrule(rule))  # not None: checked when the rules were read
        timezone.add_component(sub)
    return timezone


def _rrule(rule: _Rule) -> dict[str, object] | None:
    """``FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU``: the last Sunday of March. A transition written past
    the day (``M9.1.6/24``: the first Saturday of September at 24:00) moves to the day it falls on:
    ``BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8``. None when that leaves the month."""
    shift = rule.at // timedelta(days=1)
    if shift == 0:
        week = -1 if rule.week == 5 else rule.week
        return {"freq": "yearly", "bymonth": rule.month, "byday": f"{week}{_DAYS[rule.weekday]}"}
    days = range(-7, 0) if rule.week == 5 else range(7 * rule.week - 6, 7 * rule.week + 1)
    moved = [day + shift for day in days]
    length = 28 if rule.month == 2 else 30 if rule.month in (4, 6, 9, 11) else 31  # the shortest
    if not (all(1 <= d <= length for d in moved) or all(-length <= d <= -1 for d in moved)):
        return None
    return {
        "freq": "yearly",
        "bymonth": rule.month,
        "byday": _DAYS[(rule.weekday + shift) % 7],
        "bymonthday": moved,
    }


@lru_cache(maxsize=256)
def vtimezone(key: str, first_needed: int, last_needed: int | None = None) -> Timezone:
    """The VTIMEZONE of the IANA zone ``key`` for times in the years ``first_needed`` to
    ``last_needed`` (default: ten years on): the compact form when the zone's current rules hold
    from the year before, else its changes over those years. Built once per process (callers
    insert it as it is and never change it); marked :data:`BUILT_BY_CALSYNC`."""
    last_needed = last_needed if last_needed is not None else first_needed + 10
    found = _current_rules(key)
    read = _tzif_of(key)
    if found is not None and found[1] < first_needed:
        built = _compact(key, *found)
    elif read is None:
        built = Timezone.from_tzinfo(zoneinfo.ZoneInfo(key))
    else:
        built = _history(key, read, first_needed, last_needed)
    built.add(BUILT_BY_CALSYNC, "TRUE")
    return built


def _years_used(calendar: Calendar, tzid: str) -> tuple[int, int]:
    """The first and last years the times of ``tzid`` in the calendar fall in (this year when none)."""
    years = [datetime.now(UTC).year]
    for component in calendar.walk():
        if component.name == "VTIMEZONE":
            continue
        for name in ("DTSTART", "DTEND", "RECURRENCE-ID", "DUE"):
            prop = component.get(name)
            value = getattr(prop, "dt", None)
            if isinstance(value, datetime) and getattr(value.tzinfo, "key", None) == tzid:
                years.append(value.year)
    return min(years), max(years)


_GENERATED = "This timezone only works from 1970-01-01 to 2038-01-01."
"""The COMMENT icalendar puts in the VTIMEZONEs it builds (what calsync wrote before)."""
BUILT_BY_CALSYNC = "X-CALSYNC-BUILT"
"""Marks the VTIMEZONEs calsync builds: a file target's are rebuilt at each write, so the years
they cover follow the sessions (a zone without an RRULE form lists only the years needed)."""


def add_timezones(calendar: Calendar) -> None:
    """Add a VTIMEZONE for every TZID the calendar uses and does not define: the compact form for
    IANA zones, icalendar's own for anything else. The VTIMEZONEs calsync built before (and those
    icalendar generated: the 1970-2037 list calsync used to write) are built again for the years
    the calendar now holds; others' definitions are kept as they are."""
    for component in list(calendar.subcomponents):
        if component.name == "VTIMEZONE" and (
            str(component.get("COMMENT", "")) == _GENERATED or BUILT_BY_CALSYNC in component
        ):
            calendar.subcomponents.remove(component)
    missing = sorted(calendar.get_missing_tzids())
    if not missing:
        return
    others = False
    for index, tzid in enumerate(missing):
        try:
            zoneinfo.ZoneInfo(tzid)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            others = True
            continue
        calendar.subcomponents.insert(index, vtimezone(tzid, *_years_used(calendar, tzid)))  # first
    if others:
        calendar.add_missing_timezones()
