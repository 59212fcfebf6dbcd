"""CalDAV source and target against real Radicale and Xandikos servers (started by the tests).

Every test runs on both servers (``caldav_calendar`` is parametrized) on a fresh calendar, and
counts the HTTP requests calsync makes: an idle incremental pass must cost one request.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections import OrderedDict
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import icalendar
import pytest

import support
from calsync.adapters import caldav as caldav_module
from calsync.adapters import event_ics
from calsync.adapters.caldav import (
    ETAG_LISTING,
    CaldavClient,
    CaldavSource,
    CaldavTarget,
    redact_url,
)
from calsync.core.model import Session, SessionKind
from calsync.core.reconcile import Create, Delete, Update, reconcile
from calsync.errors import SourceError, TargetError
from calsync.executor import execute
from support import free_port

if TYPE_CHECKING:
    from caldav_servers import DavCalendar, DavServer

pytest_plugins = ["caldav_servers"]

ZONE = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 27, 7, 0, tzinfo=ZONE)
WINDOW = (datetime(2026, 11, 1, tzinfo=ZONE), datetime(2027, 2, 1, tzinfo=ZONE))
PLAN = "me"


# --- helpers ---------------------------------------------------------------------------------


def vevent(uid: str, summary: str, start: str, minutes: int = 60, extra: str = "") -> str:
    """A VCALENDAR with one timed event in Europe/Berlin (``start`` like ``20261205T070000``)."""
    begin = datetime.strptime(start, "%Y%m%dT%H%M%S")
    end = (begin + timedelta(minutes=minutes)).strftime("%Y%m%dT%H%M%S")
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//test//EN\r\n"
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=Europe/Berlin:{start}\r\nDTEND;TZID=Europe/Berlin:{end}\r\n"
        f"SUMMARY:{summary}\r\n{extra}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def put(server: DavServer, url: str, ics: str, headers: dict[str, str] | None = None) -> int:
    """Write an object as someone else (a plain caldav client, not calsync)."""
    with server.dav() as client:
        response = client.put(url, ics, {"Content-Type": "text/calendar; charset=utf-8", **(headers or {})})
    return int(response.status)


def delete(server: DavServer, url: str) -> int:
    """Delete an object as someone else."""
    with server.dav() as client:
        return int(client.delete(url).status)


def fetch(server: DavServer, url: str) -> tuple[str | None, str]:
    """An object's ETag and text, read as someone else."""
    with server.dav() as client:
        response = client.request(url, "GET")
    assert response.status == 200, response.status
    return response.headers.get("ETag"), response.raw


def session(
    day: date, slot: str, kind: SessionKind = SessionKind.HEAVY_LOWER, hour: int = 6, title: str = ""
) -> Session:
    """A planned session of this plan (the UID the planner would give it)."""
    return support.session(day, slot, kind, hour=hour, plan_id=PLAN, zone=ZONE, title=title or None)


MON, THU, SUN = date(2026, 11, 30), date(2026, 12, 3), date(2026, 12, 6)
PLANNED = [
    session(MON, "s1"),
    session(THU, "s2", SessionKind.CORE, hour=7),
    session(SUN, "rest", SessionKind.REST),
]


def target(calendar: DavCalendar, **kwargs: object) -> CaldavTarget:
    """calsync's target for the calendar (state passed in as ``token`` / ``cache``)."""
    return CaldavTarget(calendar.client(error=TargetError, name="plan me: target"), PLAN, ZONE, **kwargs)  # type: ignore[arg-type]


def sync(tgt: CaldavTarget, planned: list[Session]) -> list[Create | Update | Delete]:
    """One pass: read what calsync owns, reconcile, apply; the actions applied."""
    owned = tgt.list_owned()
    actions = reconcile(planned, owned, now=NOW, window_start=MON, window_end=MON + timedelta(weeks=2))
    execute(actions, tgt, now=NOW)
    return actions


class counted:  # noqa: N801
    """``next(counter)``: the requests a client made since the counter was made or last asked."""

    def __init__(self, client: CaldavClient) -> None:
        self.client = client
        self.seen = client.requests

    def __next__(self) -> int:
        count, self.seen = self.client.requests - self.seen, self.client.requests
        return count


# --- source ------------------------------------------------------------------------------------


def test_source_full_then_incremental(caldav_calendar: DavCalendar) -> None:
    cal, server = caldav_calendar, caldav_calendar.server
    for n, day in enumerate((5, 12, 19)):
        assert put(
            server, f"{cal.url}run{n}.ics", vevent(f"run{n}", f"Long Run {n}", f"202612{day:02d}T070000")
        ) in (
            201,
            204,
        )
    client = cal.client(name="plan me: source training")
    source = CaldavSource(client)
    requests = counted(client)
    fetched: list[list[str]] = []
    multiget = client.multiget

    def spy(hrefs: list[str]) -> object:
        fetched.append(sorted(hrefs))
        return multiget(hrefs)

    client.multiget = spy  # type: ignore[assignment,method-assign]

    result, token, cache = source.read(*WINDOW, ZONE, token=None, cache={})
    assert [e.summary for e in result.events] == ["Long Run 0", "Long Run 1", "Long Run 2"]
    assert result.problems == []
    assert token
    assert len(cache) == 3
    assert next(requests) == 2, "full read: one sync-collection + one calendar-multiget"

    again, token2, cache2 = source.read(*WINDOW, ZONE, token=token, cache=cache)
    assert next(requests) == 1, "idle incremental read: one request"
    assert again == result
    assert token2 == token
    assert cache2 == cache

    put(server, f"{cal.url}run1.ics", vevent("run1", "Long Run 1 moved", "20261213T080000"))
    delete(server, f"{cal.url}run2.ics")
    put(server, f"{cal.url}run3.ics", vevent("run3", "Easy Run 40 min", "20261215T180000"))
    fetched.clear()
    result3, token3, cache3 = source.read(*WINDOW, ZONE, token=token2, cache=cache2)
    assert next(requests) == 2, "changes: one sync-collection + one multiget of the changed objects"
    assert len(fetched) == 1
    assert [h.rsplit("/", 1)[1] for h in fetched[0]] == ["run1.ics", "run3.ics"]
    assert [(e.summary, e.start) for e in result3.events] == [
        ("Long Run 0", datetime(2026, 12, 5, 7, 0, tzinfo=ZONE)),
        ("Long Run 1 moved", datetime(2026, 12, 13, 8, 0, tzinfo=ZONE)),
        ("Easy Run 40 min", datetime(2026, 12, 15, 18, 0, tzinfo=ZONE)),
    ]
    assert sorted(h.rsplit("/", 1)[1] for h in cache3) == ["run0.ics", "run1.ics", "run3.ics"]
    assert token3 != token2

    source.read(*WINDOW, ZONE, token=token3, cache=cache3)
    assert next(requests) == 1


def test_source_empty_calendar_is_empty_not_failed(caldav_calendar: DavCalendar) -> None:
    client = caldav_calendar.client()
    result, token, cache = CaldavSource(client).read(*WINDOW, ZONE, token=None, cache={})
    assert result.events == []
    assert token
    assert cache == {}
    assert client.requests == 1, "an empty calendar needs no multiget"


@pytest.mark.parametrize("bad_token", ["http://example.invalid/never-issued", "0" * 40, "garbage"])
def test_source_refused_token_lists_everything_once(caldav_calendar: DavCalendar, bad_token: str) -> None:
    cal = caldav_calendar
    put(cal.server, f"{cal.url}a.ics", vevent("a", "Long Run", "20261205T070000"))
    client = cal.client()
    source = CaldavSource(client)
    requests = counted(client)
    first, _token, cache = source.read(*WINDOW, ZONE, token=None, cache={})
    next(requests)

    result, token, cache2 = source.read(*WINDOW, ZONE, token=bad_token, cache=cache)
    assert result == first
    assert cache2 == cache
    assert next(requests) == 2, "refused token + one full listing; nothing refetched (same ETags)"
    assert token
    assert token != bad_token

    source.read(*WINDOW, ZONE, token=token, cache=cache2)
    assert next(requests) == 1, "tokens again afterwards"


def test_source_lost_cache_with_token_refetches_nothing_twice(caldav_calendar: DavCalendar) -> None:
    cal = caldav_calendar
    put(cal.server, f"{cal.url}a.ics", vevent("a", "Long Run", "20261205T070000"))
    source = CaldavSource(cal.client())
    _, token, _cache = source.read(*WINDOW, ZONE, token=None, cache={})
    put(cal.server, f"{cal.url}b.ics", vevent("b", "Tempo Run", "20261203T070000"))
    # a token without its cache would miss "a": the caller must drop both together,
    # and a full read from no state gives everything
    result, _, cache = source.read(*WINDOW, ZONE, token=None, cache={})
    assert sorted(e.uid for e in result.events) == ["a", "b"]
    assert len(cache) == 2
    assert token


def test_source_etag_listing_for_servers_without_sync(caldav_calendar: DavCalendar) -> None:
    cal = caldav_calendar
    put(cal.server, f"{cal.url}a.ics", vevent("a", "Long Run", "20261205T070000"))
    put(cal.server, f"{cal.url}b.ics", vevent("b", "Tempo Run", "20261203T070000"))
    client = cal.client()
    source = CaldavSource(client)
    requests = counted(client)
    result, token, cache = source.read(*WINDOW, ZONE, token=ETAG_LISTING, cache={})
    assert token == ETAG_LISTING
    assert [e.uid for e in result.events] == ["b", "a"]
    assert next(requests) == 2, "PROPFIND of ETags + one multiget"
    source.read(*WINDOW, ZONE, token=token, cache=cache)
    assert next(requests) == 1, "idle: one PROPFIND"
    put(cal.server, f"{cal.url}b.ics", vevent("b", "Tempo Run moved", "20261204T070000"))
    delete(cal.server, f"{cal.url}a.ics")
    result, token, cache = source.read(*WINDOW, ZONE, token=token, cache=cache)
    assert next(requests) == 2
    assert [e.summary for e in result.events] == ["Tempo Run moved"]
    assert len(cache) == 1


RECURRING = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//test//EN\r\n"
    "BEGIN:VEVENT\r\nUID:weekly-long\r\nDTSTAMP:20261101T000000Z\r\n"
    "DTSTART;TZID=Europe/Berlin:20261205T070000\r\nDTEND;TZID=Europe/Berlin:20261205T100000\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Long Run 25 km\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:weekly-long\r\nDTSTAMP:20261101T000000Z\r\n"
    "RECURRENCE-ID;TZID=Europe/Berlin:20261212T070000\r\n"
    "DTSTART;TZID=Europe/Berlin:20261213T080000\r\nDTEND;TZID=Europe/Berlin:20261213T110000\r\n"
    "SUMMARY:Long Run 28 km (moved to Sunday)\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


def test_source_recurring_event_with_override_is_one_object(caldav_calendar: DavCalendar) -> None:
    cal = caldav_calendar
    assert put(cal.server, f"{cal.url}weekly-long.ics", RECURRING) in (201, 204)
    client = cal.client()
    result, _, cache = CaldavSource(client).read(*WINDOW, ZONE, token=None, cache={})
    assert len(cache) == 1
    assert client.requests == 2
    assert [(e.start.isoformat(), e.summary) for e in result.events] == [
        ("2026-12-05T07:00:00+01:00", "Long Run 25 km"),
        ("2026-12-13T08:00:00+01:00", "Long Run 28 km (moved to Sunday)"),
        ("2026-12-19T07:00:00+01:00", "Long Run 25 km"),
        ("2026-12-26T07:00:00+01:00", "Long Run 25 km"),
    ]
    assert {e.uid for e in result.events} == {"weekly-long"}


def test_source_leaves_out_events_calsync_wrote(caldav_calendar: DavCalendar) -> None:
    """A calendar that is source and target: the sessions are not read back as busy time."""
    cal = caldav_calendar
    put(cal.server, f"{cal.url}run.ics", vevent("run", "Long Run", "20261205T070000"))
    tgt = target(cal)
    sync(tgt, PLANNED)
    result, _, cache = CaldavSource(cal.client()).read(*WINDOW, ZONE, token=None, cache={})
    assert [e.uid for e in result.events] == ["run"]
    assert len(cache) == 4


def test_source_parse_reports_broken_objects_and_fails_when_all_are() -> None:
    source = CaldavSource(CaldavClient("http://127.0.0.1:9/cal/"), name="plan me: source")
    good = vevent("good", "Long Run", "20261205T070000").encode()
    cache = {"/cal/good.ics": ("1", good), "/cal/bad.ics": ("2", b"this is not iCalendar")}
    result = source.parse(cache, *WINDOW, ZONE)
    assert [e.uid for e in result.events] == ["good"]
    assert len(result.problems) == 1
    assert "/cal/bad.ics" in result.problems[0]
    with pytest.raises(SourceError, match="none of the 1 objects"):
        source.parse({"/cal/bad.ics": ("2", b"<html>not found</html>")}, *WINDOW, ZONE)


# --- target ------------------------------------------------------------------------------------


def _objects(cal: DavCalendar) -> dict[str, icalendar.Component]:
    """The owned VEVENTs now on the server, by UID (read by a fresh target, no state)."""
    fresh = target(cal)
    fresh.list_owned()
    out: dict[str, icalendar.Component] = {}
    for _etag, data in fresh.cache.values():
        if data:
            for event in icalendar.Calendar.from_ical(data).walk("VEVENT"):
                out[str(event["UID"])] = event
    return out


def _dt(component: icalendar.Component, name: str) -> object:
    """A date/time property's value as icalendar reads it."""
    value = component[name]
    assert isinstance(value, icalendar.vDDDTypes)
    return value.dt


def _int(component: icalendar.Component, name: str) -> int:
    """An INTEGER property's value."""
    value = component[name]
    assert isinstance(value, icalendar.vInt)
    return int(value)


def _categories(component: icalendar.Component) -> list[str]:
    """The CATEGORIES of an event, as text."""
    value = component["CATEGORIES"]
    assert isinstance(value, icalendar.vCategory)
    return [str(c) for c in value.cats]


def test_target_create_update_delete(caldav_calendar: DavCalendar) -> None:
    tgt = target(caldav_calendar)
    requests = counted(tgt.client)

    assert tgt.list_owned() == []
    assert next(requests) == 1
    actions = reconcile(PLANNED, [], now=NOW, window_start=MON, window_end=MON + timedelta(weeks=2))
    result = execute(actions, tgt, now=NOW)
    assert sorted(result.created) == sorted(s.uid for s in PLANNED)
    assert result.conflicts == []
    assert next(requests) == 3 + 1, "one PUT per created event, then one listing moves the token past them"

    owned = tgt.list_owned()
    assert next(requests) == 1, "our own writes are not fetched back (ETags known)"
    assert {o.uid: o.sequence for o in owned} == {s.uid: 0 for s in PLANNED}
    assert not any(o.edited for o in owned)
    assert reconcile(PLANNED, owned, now=NOW, window_start=MON, window_end=MON + timedelta(weeks=2)) == []

    # the same as the .ics file target writes: properties and fingerprint
    events = _objects(caldav_calendar)
    heavy = events[PLANNED[0].uid]
    assert str(heavy["X-CALSYNC-PLAN"]) == PLAN
    assert str(heavy["X-CALSYNC-KIND"]) == "heavy_lower"
    assert str(heavy["X-CALSYNC-WEEK"]) == "2026-W49"
    assert str(heavy["X-CALSYNC-SLOT"]) == "s1"
    assert heavy["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert "calsync" in _categories(heavy)
    assert _dt(events[PLANNED[2].uid], "DTSTART") == SUN

    # the heavy session moves to Tuesday, the core one is no longer planned
    moved = [session(MON + timedelta(days=1), "s1"), PLANNED[2]]
    actions = reconcile(moved, owned, now=NOW, window_start=MON, window_end=MON + timedelta(weeks=2))
    assert [type(a).__name__ for a in actions] == ["Update", "Delete"]
    result = execute(actions, tgt, now=NOW)
    assert result.updated == [PLANNED[0].uid]
    assert result.deleted == [PLANNED[1].uid]
    assert next(requests) == 2 + 1, "one PUT (If-Match) + one DELETE (If-Match) + one listing"

    events = _objects(caldav_calendar)
    assert sorted(events) == sorted([PLANNED[0].uid, PLANNED[2].uid])
    assert _int(events[PLANNED[0].uid], "SEQUENCE") == 1
    assert _dt(events[PLANNED[0].uid], "DTSTART") == datetime(2026, 12, 1, 6, 0, tzinfo=ZONE)
    assert _int(events[PLANNED[2].uid], "SEQUENCE") == 0

    owned = tgt.list_owned()
    assert next(requests) == 1, "idle listing after our own writes"
    assert reconcile(moved, owned, now=NOW, window_start=MON, window_end=MON + timedelta(weeks=2)) == []
    assert next(requests) == 0


def test_target_conflict_when_changed_behind_our_back(caldav_calendar: DavCalendar) -> None:
    cal, server = caldav_calendar, caldav_calendar.server
    tgt = target(cal)
    sync(tgt, PLANNED)
    owned = tgt.list_owned()
    heavy = next(o for o in owned if o.slot == "s1")
    href = f"{cal.url}{heavy.uid}.ics"

    # a person edits the event in their phone calendar after calsync read it
    _etag, text = fetch(server, href)
    edited = text.replace("Strength: heavy_lower", "Gym with Anna")
    assert edited != text
    assert put(server, href, edited) in (200, 201, 204)

    moved = [session(MON + timedelta(days=1), "s1"), *PLANNED[1:]]
    actions = reconcile(moved, owned, now=NOW, window_start=MON, window_end=MON + timedelta(weeks=2))
    assert [type(a).__name__ for a in actions] == ["Update"]
    requests = counted(tgt.client)
    result = execute(actions, tgt, now=NOW)
    assert next(requests) == 1
    assert result.updated == []
    assert [(c.uid, c.action) for c in result.conflicts] == [(heavy.uid, "update")]
    assert "412" in result.conflicts[0].reason
    _, now_text = fetch(server, href)
    assert "Gym with Anna" in now_text, "the person's version is intact"

    # re-read: the person's edit is seen as such, and calsync keeps it
    owned = tgt.list_owned()
    heavy = next(o for o in owned if o.slot == "s1")
    assert heavy.edited
    assert reconcile(moved, owned, now=NOW, window_start=MON, window_end=MON + timedelta(weeks=2)) == []


def test_target_delete_and_create_conflicts(caldav_calendar: DavCalendar) -> None:
    cal, server = caldav_calendar, caldav_calendar.server
    tgt = target(cal)
    sync(tgt, PLANNED)
    owned = tgt.list_owned()
    core = next(o for o in owned if o.slot == "s2")
    href = f"{cal.url}{core.uid}.ics"
    _etag, text = fetch(server, href)
    put(
        server,
        href,
        text.replace("LOCATION", "X-TOUCHED").replace("END:VEVENT", "LOCATION:Gym\r\nEND:VEVENT"),
    )

    result = execute([Delete(core)], tgt, now=NOW)
    assert [(c.uid, c.action) for c in result.conflicts] == [(core.uid, "delete")]
    assert fetch(server, href)[0], "still there"

    # a create for a UID that is already there (e.g. another instance raced us): never overwritten
    result = execute([Create(PLANNED[0])], tgt, now=NOW)
    assert [(c.uid, c.action) for c in result.conflicts] == [(PLANNED[0].uid, "create")]
    assert result.created == []


def test_target_person_deleted_event_is_not_recreated_by_update(caldav_calendar: DavCalendar) -> None:
    cal = caldav_calendar
    tgt = target(cal)
    sync(tgt, PLANNED)
    owned = tgt.list_owned()
    heavy = next(o for o in owned if o.slot == "s1")
    delete(cal.server, f"{cal.url}{heavy.uid}.ics")
    moved = session(MON + timedelta(days=1), "s1")
    result = execute([Update(moved, heavy, heavy.sequence + 1)], tgt, now=NOW)
    assert [c.action for c in result.conflicts] == ["update"]
    assert heavy.uid not in _objects(caldav_calendar)


def test_target_never_touches_foreign_events(caldav_calendar: DavCalendar) -> None:
    cal, server = caldav_calendar, caldav_calendar.server
    foreign = {
        "run.ics": vevent("run", "Long Run 30 km", "20261205T070000"),
        "dentist.ics": vevent("dentist", "Dentist", "20261201T060000"),
        "other-plan.ics": vevent(
            "calsync-anna-2026W49-s1",
            "Strength: heavy lower body",
            "20261130T060000",
            extra="X-CALSYNC-PLAN:anna\r\nX-CALSYNC-KIND:heavy_lower\r\n",
        ),
    }
    for name, ics in foreign.items():
        put(server, cal.url + name, ics)
    before = {name: fetch(server, cal.url + name) for name in foreign}

    tgt = target(cal)
    sync(tgt, PLANNED)
    assert tgt.list_owned()
    sync(tgt, [session(MON + timedelta(days=1), "s1")])
    assert sorted(_objects(caldav_calendar)) == [PLANNED[0].uid]
    assert {name: fetch(server, cal.url + name) for name in foreign} == before
    assert sum(1 for _, data in tgt.cache.values() if not data) == 3, "foreign objects kept as ETags only"


def test_target_adopts_owned_events_without_state(caldav_calendar: DavCalendar) -> None:
    cal, server = caldav_calendar, caldav_calendar.server
    sync(target(cal), PLANNED)
    # a client rewrote one session and dropped calsync's X- properties
    stripped_uid = f"calsync-{PLAN}-2026W50-s1"
    put(
        server,
        f"{cal.url}phone-made-name.ics",
        vevent(
            stripped_uid,
            "Strength: heavy_lower",
            "20261207T060000",
            45,
            extra="CATEGORIES:calsync,heavy_lower\r\n",
        ),
    )

    lost = target(cal)  # state lost: no token, no cache
    owned = lost.list_owned()
    assert sorted(o.uid for o in owned) == sorted([*(s.uid for s in PLANNED), stripped_uid])
    adopted = next(o for o in owned if o.uid == stripped_uid)
    assert adopted.kind is SessionKind.HEAVY_LOWER
    assert adopted.edited, "without calsync's hash a person's client rewrote it: kept as it is"

    planned = [*PLANNED, session(date(2026, 12, 8), "s1")]
    actions = reconcile(planned, owned, now=NOW, window_start=MON, window_end=MON + timedelta(weeks=2))
    assert actions == [], "nothing created twice"
    assert len(_objects(cal)) == 4


# --- errors ------------------------------------------------------------------------------------


def _one_line(err: BaseException) -> str:
    message = str(err)
    assert "\n" not in message
    assert err.__cause__ is None
    assert err.__context__ is None or err.__suppress_context__, "no chained traceback"
    return message


def test_wrong_password_is_one_line(radicale_server: DavServer) -> None:
    cal = radicale_server.calendar()
    client = cal.client(password="wrong-pw", name="plan me: source training")
    with pytest.raises(SourceError) as caught:
        CaldavSource(client).read(*WINDOW, ZONE, token=None, cache={})
    message = _one_line(caught.value)
    assert "401" in message
    assert "check the username and password" in message
    assert cal.url in message
    assert "wrong-pw" not in message
    assert str(radicale_server.password) not in message
    assert client.requests == 1, "never retried"


def test_password_in_url_is_never_shown(radicale_server: DavServer) -> None:
    cal = radicale_server.calendar()
    password = str(radicale_server.password)
    url = cal.url.replace("http://", f"http://calsync:{password}@")
    client = CaldavClient(url, error=TargetError)
    assert password not in client.url
    assert redact_url(url) == cal.url
    assert CaldavTarget(client, PLAN, ZONE).list_owned() == []
    assert password not in repr(client)


def test_wrong_url_is_404(caldav_calendar: DavCalendar) -> None:
    cal = caldav_calendar
    wrong = cal.server.at(cal.url.rstrip("/") + "-nope/")
    with pytest.raises(TargetError) as caught:
        target(wrong).list_owned()
    message = _one_line(caught.value)
    assert "404" in message
    assert "check the calendar URL" in message
    assert message.startswith("plan me: target: CalDAV calendar ")


def test_server_down_is_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}/calsync/training/"
    client = CaldavClient(url, username="me", password="pw", backoff=0.01, name="plan me: source")
    with pytest.raises(SourceError) as caught:
        CaldavSource(client).read(*WINDOW, ZONE, token=None, cache={})
    message = _one_line(caught.value)
    assert "cannot connect" in message
    assert url in message
    assert client.requests == 3, "retried"
    with pytest.raises(TargetError, match="cannot connect"):
        CaldavTarget(CaldavClient(url, error=TargetError, backoff=0.01), PLAN, ZONE).list_owned()


def test_tls_error_is_one_line(radicale_server: DavServer) -> None:
    url = radicale_server.home.replace("http://", "https://")
    password = str(radicale_server.password)
    client = CaldavClient(url, username=radicale_server.username, password=password, backoff=0.01)
    with pytest.raises(SourceError) as caught:
        CaldavSource(client).read(*WINDOW, ZONE, token=None, cache={})
    message = _one_line(caught.value)
    assert "TLS" in message
    assert password not in message


class _Failing(http.server.BaseHTTPRequestHandler):
    """Answers every request with 500 (a broken server behind the calendar URL)."""

    def do_REPORT(self) -> None:
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PROPFIND = do_REPORT  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_server_error_is_retried_then_one_line() -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/cal/"
        client = CaldavClient(url, backoff=0.01, name="plan me: source")
        with pytest.raises(SourceError) as caught:
            CaldavSource(client).read(*WINDOW, ZONE, token=None, cache={})
        message = _one_line(caught.value)
        assert "HTTP 500" in message
        assert "try again later" in message
        assert client.requests == 3, "three tries"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_timeout_is_retried_then_one_line() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/cal/"
        client = CaldavClient(url, timeout=0.2, backoff=0.01, error=TargetError, name="plan me: target")
        with pytest.raises(TargetError) as caught:
            CaldavTarget(client, PLAN, ZONE).list_owned()
    message = _one_line(caught.value)
    assert "no answer within 0.2 s" in message
    assert client.requests == 3


def test_probe_checks_the_url_is_a_calendar(caldav_calendar: DavCalendar) -> None:
    cal = caldav_calendar
    client = cal.client()
    client.probe()
    assert client.requests == 1
    home = cal.server.at(cal.server.home).client()
    with pytest.raises(SourceError, match="not a calendar collection"):
        home.probe()


def test_event_ics_matches_the_ics_file_target(tmp_path: object) -> None:
    """The CalDAV object's VEVENT is the one the .ics file target writes (same properties)."""
    from pathlib import Path

    from calsync.adapters.ics_target import IcsFileTarget

    assert isinstance(tmp_path, Path)
    path = tmp_path / "out.ics"
    execute([Create(s) for s in PLANNED], IcsFileTarget(path, PLAN, ZONE), now=NOW)
    written = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT")}
    for s in PLANNED:
        ours = event_ics.session_vevent(s, PLAN, 0, NOW.astimezone(ZoneInfo("UTC")))
        assert ours.to_ical() == written[s.uid].to_ical()


# --- parsing cost ------------------------------------------------------------------------------


def test_each_object_version_is_parsed_once_and_foreign_ones_never(
    caldav_calendar: DavCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listing parses an owned object once per version (a later pass, or the listing after a
    pass's own writes, parses nothing again); an object without calsync's marks is never parsed."""
    parsed: list[bytes] = []
    real = CaldavTarget._owned_components

    def counting(self: CaldavTarget, data: bytes) -> list[icalendar.Component]:
        parsed.append(data)
        return real(self, data)

    monkeypatch.setattr(CaldavTarget, "_owned_components", counting)
    with caldav_calendar.server.dav() as dav:
        for i in range(20):
            start = datetime(2026, 12, 1, 9, tzinfo=ZONE) + timedelta(days=i % 10, hours=i)
            text = (
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//someone//app//EN\r\nBEGIN:VEVENT\r\n"
                f"UID:dentist-{i}@example.org\r\nDTSTAMP:20261101T000000Z\r\n"
                f"DTSTART:{start.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%SZ}\r\nDURATION:PT1H\r\n"
                "SUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            )
            assert dav.put(
                f"{caldav_calendar.url}dentist-{i}.ics", text, {"Content-Type": "text/calendar"}
            ).status in (
                201,
                204,
            )
    planned = [
        session(MON, "s1"),
        session(MON + timedelta(days=2), "s2"),
        session(MON + timedelta(days=4), "rest", SessionKind.REST),
    ]
    first = target(caldav_calendar)
    with first.batch():  # the pass's writes, then the listing after them
        sync(first, planned)
    assert parsed == [], "a foreign object is never parsed; what calsync wrote is known as written"
    assert len(target(caldav_calendar).list_owned()) == 3  # a new pass in the same process
    assert parsed == []
    moved = [planned[0], session(MON + timedelta(days=3), "s2"), planned[2]]
    sync(target(caldav_calendar), moved)
    assert parsed == [], "an update is read back as written"
    # another process's parse of a version it never saw: once each
    monkeypatch.setattr(caldav_module, "_SEEN", OrderedDict())
    assert len(target(caldav_calendar).list_owned()) == 3
    assert len(parsed) == 3
    assert len(target(caldav_calendar).list_owned()) == 3
    assert len(parsed) == 3
