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
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import icalendar
import pytest
from caldav.collection import Calendar as DavCollection
from ical.calendar_stream import IcsCalendarStream

import support
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
    "America/Santiago",  # a rule at 24:00: the full history instead
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
