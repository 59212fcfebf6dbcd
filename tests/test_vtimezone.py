"""The VTIMEZONE calsync writes: compact, right for every zone, and kept right by the servers.

Every session, summer and winter, 2026-2030, must be at the same instant for a client that reads
the TZID as an IANA name (icalendar, allenporter's ``ical``) and for one that ignores the name and
trusts only the VTIMEZONE (icalendar with the TZID renamed), also after Radicale and Xandikos
stored the object.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, tzinfo
from importlib import resources
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import icalendar
import pytest
from caldav.collection import Calendar as DavCollection
from ical.calendar_stream import IcsCalendarStream

import support
from calsync.adapters import vtimezone as vtimezone_module
from calsync.adapters.caldav import CaldavTarget
from calsync.adapters.event_ics import object_calendar, session_vevent
from calsync.adapters.vtimezone import add_timezones, vtimezone
from calsync.core.model import Session, SessionKind
from calsync.errors import TargetError

if TYPE_CHECKING:
    from caldav_servers import DavServer

pytest_plugins = ["caldav_servers"]

UTC = ZoneInfo("UTC")
NOW = datetime(2026, 1, 5, 6, tzinfo=UTC)
YEARS = range(2026, 2031)
ZONES = (
    "Europe/Berlin",  # northern DST, last Sundays
    "America/New_York",  # second / first Sunday
    "Australia/Sydney",  # southern DST: the year starts in daylight time
    "Europe/Dublin",  # tzdata's negative DST: summer is "standard"
    "Australia/Lord_Howe",  # a 30-minute shift
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/St_Johns",  # -03:30
    "Asia/Tokyo",  # no DST
    "America/Sao_Paulo",  # DST abolished in 2019
    "Asia/Tehran",  # DST abolished in 2022
    "America/Santiago",  # a rule at 24:00: BYDAY with the BYMONTHDAYs it moves to
    "Africa/Casablanca",  # explicit transitions until 2087: the full history instead
)


def own_tz(component: icalendar.Component, name: str) -> tzinfo:
    """The zone as a client builds it from the VTIMEZONE alone (a TZID it does not know; a new
    name each time, as icalendar keeps the zones it built by name)."""
    text = component.to_ical().decode().replace(f"TZID:{component['TZID']}", f"TZID:{name}")
    parsed = icalendar.Timezone.from_ical(text)
    assert isinstance(parsed, icalendar.Timezone)
    zone = parsed.to_tz()
    assert isinstance(zone, tzinfo)
    return zone


def probes(key: str) -> Iterator[datetime]:
    """Noon UTC of every day 2026-2030, and both sides of each of the zone's transitions."""
    return probes_between(key, YEARS[0], YEARS[-1])


def probes_between(key: str, first: int, last: int) -> Iterator[datetime]:
    """Noon UTC of every day of the years, and both sides of each of the zone's transitions."""
    zone = ZoneInfo(key)
    moment = datetime(first, 1, 1, 12, tzinfo=UTC)
    previous = moment.astimezone(zone).utcoffset()
    while moment.year <= last:
        yield moment
        offset = moment.astimezone(zone).utcoffset()
        if offset != previous:  # a change within the last day: find it to the minute
            low = moment - timedelta(days=1)
            while moment - low > timedelta(minutes=1):
                middle = low + (moment - low) / 2
                if middle.astimezone(zone).utcoffset() == previous:
                    low = middle
                else:
                    moment = middle
            yield from (moment - timedelta(minutes=1), moment, moment + timedelta(minutes=1))
            moment = datetime.combine(moment.date(), time(12), UTC)
        previous = offset
        moment += timedelta(days=1)


@pytest.mark.parametrize("key", ZONES)
def test_the_definition_alone_gives_the_zones_offsets(key: str) -> None:
    component = vtimezone(key, YEARS[0])
    trusted = own_tz(component, f"X-only-the-definition-{key}")
    real = ZoneInfo(key)
    wrong = [m for m in probes(key) if m.astimezone(real).utcoffset() != m.astimezone(trusted).utcoffset()]
    assert wrong == []


@pytest.mark.parametrize("key", ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo"])
def test_the_form_is_the_compact_one(key: str) -> None:
    """One STANDARD and one DAYLIGHT with a yearly RRULE (one STANDARD without DST): no RDATE."""
    text = vtimezone(key, YEARS[0]).to_ical().decode()
    assert "RDATE" not in text
    assert len(text) < 600, text
    subs = re.findall(r"BEGIN:(STANDARD|DAYLIGHT)", text)
    assert sorted(subs) == (["STANDARD"] if key == "Asia/Tokyo" else ["DAYLIGHT", "STANDARD"])
    assert text.count("RRULE:FREQ=YEARLY") == (0 if key == "Asia/Tokyo" else 2)


def test_history_only_when_a_session_falls_before_the_current_rules() -> None:
    """Berlin's rules hold since 1996 (last Sunday of October): a 1990 session needs the changes
    of its years, one sub-component each (servers keep a DTSTART; Radicale drops RDATE lists)."""
    assert "RRULE" in vtimezone("Europe/Berlin", 1997).to_ical().decode()
    old = object_calendar(session_vevent(session_at("Europe/Berlin", date(1990, 7, 2), "s1"), "me", 0, NOW))
    text = old.to_ical().decode()
    assert "DTSTART:19890101" in text
    assert "DTSTART:19900325T020000" in text  # 1990's switch to summer time
    assert "RDATE" not in text
    (zone,) = old.walk("VTIMEZONE")
    trusted = own_tz(zone, "X-berlin-1990")
    for moment in probes_between("Europe/Berlin", 1989, 2001):
        assert (
            moment.astimezone(ZoneInfo("Europe/Berlin")).utcoffset() == moment.astimezone(trusted).utcoffset()
        )


def test_every_iana_zone_gets_a_definition_that_parses() -> None:
    for key in sorted(zoneinfo.available_timezones()):
        text = vtimezone(key, YEARS[0]).to_ical()
        assert icalendar.Timezone.from_ical(text)["TZID"] == key


def slim_zone(key: str) -> ZoneInfo | None:
    """The zone from the ``tzdata`` package's slim TZif file (changes listed only until the POSIX
    rule takes over, as on systems without zone files: Home Assistant OS, Windows, containers)."""
    resource = resources.files("tzdata.zoneinfo").joinpath(*key.split("/"))
    if not resource.is_file():
        return None
    with resource.open("rb") as handle:
        return ZoneInfo.from_file(handle, key=key)


def coarse_probes(zone: ZoneInfo, first: int, last: int) -> Iterator[datetime]:
    """Noon UTC every third day, and a day before and after each change (away from the hour a
    change repeats, which readers resolve differently)."""
    moment = datetime(first, 1, 1, 12, tzinfo=UTC)
    previous = moment.astimezone(zone).utcoffset()
    while moment.year <= last:
        offset = moment.astimezone(zone).utcoffset()
        yield moment
        if offset != previous:
            yield from (moment - timedelta(days=2), moment - timedelta(days=4), moment + timedelta(days=1))
        previous = offset
        moment += timedelta(days=3)


@pytest.fixture
def slim_tzif_files(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """calsync reads the ``tzdata`` package's slim files, as where the system has none."""
    monkeypatch.setattr(zoneinfo, "TZPATH", ())
    cached = (vtimezone_module._tzif_of, vtimezone_module._current_rules, vtimezone)
    for function in cached:
        function.cache_clear()
    yield
    for function in cached:
        function.cache_clear()


@pytest.mark.usefixtures("slim_tzif_files")
def test_every_zone_is_right_from_slim_tzif_files() -> None:
    """Slim files stop listing a zone's changes when its rule takes over, sometimes in the middle
    of a year (Berlin: March 1996) or with a change of name only (Lisbon, 1996): the definition
    alone must still give the zone's offsets, now and in the 1990s, for every zone."""
    wrong: dict[str, list[datetime]] = {}
    compact = 0
    for key in sorted(zoneinfo.available_timezones()):
        zone = slim_zone(key)
        if zone is None:
            continue
        for first, last in ((YEARS[0], YEARS[-1]), (1995, 1999), (2008, 2012)):
            component = vtimezone(key, first, last)
            if first == YEARS[0] and "RDATE" not in (text := component.to_ical().decode()):
                compact += text.count("RRULE") > 0 or "DAYLIGHT" not in text
            trusted = own_tz(component, f"X-slim-{key}-{first}")
            try:
                bad = [
                    m
                    for m in coarse_probes(zone, first, last)
                    if m.astimezone(zone).utcoffset() != m.astimezone(trusted).utcoffset()
                ]
            except ValueError:  # dateutil cannot hold a day-long skip (Pacific/Apia 2011, Kiritimati 1994)
                continue
            if bad:
                wrong[f"{key} {first}"] = bad[:3]
    assert wrong == {}
    assert compact > 500, "most zones get the compact form from slim files too"


@pytest.mark.usefixtures("slim_tzif_files")
@pytest.mark.parametrize("key", ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Europe/Lisbon"])
def test_slim_files_give_the_compact_form_now(key: str) -> None:
    text = vtimezone(key, YEARS[0]).to_ical().decode()
    assert "RDATE" not in text
    assert sorted(re.findall(r"BEGIN:(STANDARD|DAYLIGHT)", text)) == ["DAYLIGHT", "STANDARD"]


def test_a_generated_history_is_replaced_and_foreign_ones_are_kept() -> None:
    """An ``.ics`` file calsync wrote before holds icalendar's 1970-2037 list: it becomes the
    compact form. A VTIMEZONE someone else wrote stays as it was."""
    calendar = icalendar.Calendar()
    calendar.add_component(session_vevent(session_at("Europe/Berlin", date(2026, 7, 6), "s1"), "me", 0, NOW))
    calendar.add_missing_timezones()
    foreign = icalendar.Timezone.from_ical(
        "BEGIN:VTIMEZONE\r\nTZID:Custom/Office\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
        "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0200\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    calendar.add_component(foreign)
    add_timezones(calendar)
    zones = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
    assert sorted(str(z["TZID"]) for z in zones) == ["Custom/Office", "Europe/Berlin"]
    assert "RDATE" not in calendar.to_ical().decode()


@pytest.mark.parametrize(("key", "year"), [("America/Santiago", 2015), ("Europe/Berlin", 1990)])
def test_a_history_ends_with_the_current_rules(key: str, year: int) -> None:
    """A session before the zone's current rules gets the changes of its years, then the rules
    themselves: a person's weekly event recurring from then on is right in every later year."""
    zone = vtimezone(key, year, year)
    assert "RRULE" in zone.to_ical().decode()
    trusted = own_tz(zone, f"X-history-then-rules-{key}")
    for moment in probes_between(key, 2029, 2031):
        assert moment.astimezone(ZoneInfo(key)).utcoffset() == moment.astimezone(trusted).utcoffset(), moment


def test_a_history_calsync_wrote_is_rebuilt_when_the_sessions_move_on() -> None:
    """A zone whose rules have no RRULE form (Cairo: daylight time ends at 24:00 on the last
    Thursday of October, which may be November 1st) gets its changes over the years the sessions
    need. When later sessions need later years, the definition calsync wrote into a file is
    rebuilt (it was kept as it was, and the later years had no changes)."""
    key = "Africa/Cairo"
    calendar = icalendar.Calendar()
    calendar.add_component(session_vevent(session_at(key, date(2026, 7, 6), "s1"), "me", 0, NOW))
    add_timezones(calendar)
    first = [c.to_ical() for c in calendar.subcomponents if c.name == "VTIMEZONE"]
    calendar.add_component(session_vevent(session_at(key, date(2045, 7, 3), "s1"), "me", 0, NOW))
    add_timezones(calendar)
    (zone,) = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
    assert [zone.to_ical()] != first
    trusted = own_tz(zone, "X-cairo-rebuilt")
    for moment in probes_between(key, 2044, 2046):
        assert moment.astimezone(ZoneInfo(key)).utcoffset() == moment.astimezone(trusted).utcoffset()
    again = zone.to_ical()
    add_timezones(calendar)
    (same,) = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
    assert same.to_ical() == again, "rebuilding an unchanged calendar changes nothing"


# -- through the servers ---------------------------------------------------------------------------


def session_at(key: str, day: date, slot: str) -> Session:
    return support.session(day, slot, SessionKind.CORE, hour=6, minutes=30, zone=ZoneInfo(key))


def sessions(key: str) -> list[Session]:
    """Winter and summer sessions 2026-2030, and one on the morning after each DST change."""
    out = []
    for year in YEARS:
        for day in (date(year, 1, 12), date(year, 7, 13), date(year, 3, 31), date(year, 10, 30)):
            out.append(session_at(key, day, "s1" if day.month in (1, 3) else "s2"))
    return out


def stored_objects(server: DavServer, url: str) -> list[bytes]:
    with server.dav() as client:
        objects = DavCollection(client=client, url=url).events()
        assert isinstance(objects, list), "the synchronous client answers with a list"
        return [bytes(obj.data.encode() if isinstance(obj.data, str) else obj.data) for obj in objects]


@pytest.mark.parametrize("key", ["Europe/Berlin", "Australia/Sydney", "America/New_York"])
@pytest.mark.parametrize("server_name", ["radicale", "xandikos"])
def test_stored_sessions_are_at_the_same_instant_for_every_reader(
    server_name: str, key: str, request: pytest.FixtureRequest
) -> None:
    server: DavServer = request.getfixturevalue(f"{server_name}_server")
    calendar = server.calendar()
    client = calendar.client(error=TargetError)
    planned = {s.uid: s for s in sessions(key)}
    target = CaldavTarget(client, "me", ZoneInfo(key))
    try:
        for session in planned.values():
            target.create(session, now=NOW)
    finally:
        client.close()
    seen: dict[str, dict[str, object]] = {"icalendar": {}, "ical": {}, "the definition only": {}}
    for index, data in enumerate(stored_objects(server, calendar.url)):
        parsed = icalendar.Calendar.from_ical(data)
        (event,) = parsed.walk("VEVENT")
        seen["icalendar"][str(event["UID"])] = event.decoded("DTSTART")
        (stream_event,) = IcsCalendarStream.calendar_from_ics(data.decode()).events
        seen["ical"][stream_event.uid or ""] = stream_event.dtstart
        renamed = (
            data.decode()
            .replace(f"TZID={key}", f"TZID=X-stored-{server_name}-{key}-{index}")
            .replace(f"TZID:{key}", f"TZID:X-stored-{server_name}-{key}-{index}")
        )
        (alone,) = icalendar.Calendar.from_ical(renamed).walk("VEVENT")
        seen["the definition only"][str(alone["UID"])] = alone.decoded("DTSTART")
        assert b"RDATE" not in data
    for reader, starts in seen.items():
        assert set(starts) == set(planned), reader
        wrong = {uid: (starts[uid], s.start) for uid, s in planned.items() if starts[uid] != s.start}
        assert wrong == {}, reader
