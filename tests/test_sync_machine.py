"""The calendar machine (``calendar_machine.py``) on CalDAV: real Radicale and Xandikos servers.

The backend writes runs and foreign events with a plain CalDAV client as a calendar app would,
and injects failures into calsync's HTTP client: connection dropped mid-pass, an answer lost
after the server acted, HTTP 500, timeout, a 412 from a person editing the event right before
calsync's write. ``MAX_EXAMPLES`` sequences per server of at most ``STEP_COUNT`` steps (about
30-40 s per server; ``CALSYNC_PROPERTY_SCALE`` multiplies both).

Bugs this machine found, now fixed, are listed in ``BUGS`` with their minimal sequences (kept as
the record of what the machine must keep catching).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from caldav.collection import Calendar as DavCollection

from calendar_machine import HORIZON_WEEKS, PLAN_ID, ZONE, Backend, CalendarMachine, Snapshot, run_machine
from calsync import registry
from calsync.adapters import caldav as caldav_adapter
from calsync.adapters.caldav import CaldavClient, CaldavTarget
from calsync.adapters.webdav import Answer, ConnectFailedError, ReadTimeoutError
from calsync.config import CaldavTarget as CaldavTargetConfig
from calsync.config import PlanConfig, parse_config
from calsync.core.model import When
from calsync.core.reconcile import OwnedEvent
from calsync.errors import TargetError

if TYPE_CHECKING:
    from caldav_servers import DavServer

pytest_plugins = ["caldav_servers"]

MAX_EXAMPLES = 10
"""Sequences per server."""
STEP_COUNT = 12
"""Steps per sequence (after the initial runs)."""
PASSWORD_ENV = "CALSYNC_MACHINE_DAV_PASSWORD"
FAILURES = ("drop", "lost_answer", "500", "timeout", "412")


# -- failure injection ----------------------------------------------------------------------------


def _fake_response(url: str, status: int) -> Answer:
    """An HTTP answer the server never gave (an injected 5xx)."""
    headers = Message()
    headers["Content-Type"] = "text/plain"
    return Answer(status, "Internal Server Error (injected)", headers, b"injected failure", url)


class Injector:
    """Failures injected into every HTTP request calsync's clients send during a failing pass.

    ``mode`` None lets everything through. Otherwise the first ``after`` requests of the pass
    go through and then: ``drop`` raises ConnectionError before sending, ``lost_answer`` sends and
    then raises ConnectionError (the server acted, calsync never heard), ``timeout`` raises
    ReadTimeout, ``500`` answers HTTP 500 without sending; ``sticky`` keeps failing every later
    request (else only one fails and calsync's retry goes through). ``412`` lets everything
    through but, right before the first write carrying ``If-Match``, calls ``person_edits`` with
    the URL, so a person changes the event behind calsync's back and the write meets a 412.
    """

    def __init__(self) -> None:
        self.mode: str | None = None
        self.after = 0
        self.sticky = True
        self.seen = 0
        self.fired = 0
        self.person_edits: Callable[[str], None] | None = None
        self.methods: tuple[str, ...] | None = None
        self.limit: int | None = None
        self.lost: set[str] = set()
        """URLs of PUTs the server did while calsync never heard its answer (kept across passes)."""

    def arm(
        self,
        mode: str,
        after: int,
        sticky: bool,
        person_edits: Callable[[str], None],
        *,
        methods: tuple[str, ...] | None = None,
        limit: int | None = None,
    ) -> None:
        """Inject ``mode`` into the next pass (only into requests of ``methods``, when given;
        at most ``limit`` failures, when given: then the server is back)."""
        self.mode, self.after, self.sticky, self.person_edits = mode, after, sticky, person_edits
        self.methods, self.limit = methods, limit
        self.seen = self.fired = 0

    def disarm(self) -> None:
        """Let every request through."""
        self.mode = None
        self.person_edits = None

    def wrap(self, send: Callable[..., Any]) -> Callable[..., Any]:
        """``send`` (the client's :meth:`~calsync.adapters.webdav.WebDav.send`) with the failures
        injected."""

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if self.methods is not None and method not in self.methods:
                return send(method, url, *args, **kwargs)
            self.seen += 1
            mode = self.mode
            spent = self.limit is not None and self.fired >= self.limit
            if mode is None or self.seen <= self.after or (self.fired and not self.sticky) or spent:
                return send(method, url, *args, **kwargs)
            if mode == "412":
                headers = kwargs.get("headers") or {}
                if not self.fired and method in ("PUT", "DELETE") and "If-Match" in headers:
                    self.fired += 1
                    assert self.person_edits is not None
                    self.person_edits(url)
                return send(method, url, *args, **kwargs)
            self.fired += 1
            if mode == "drop":
                raise ConnectFailedError("connection dropped (injected)")
            if mode == "timeout":
                raise ReadTimeoutError("read timed out (injected)")
            if mode == "500":
                return _fake_response(url, 500)
            send(method, url, *args, **kwargs)
            if method == "PUT":
                self.lost.add(url)
            raise ConnectFailedError("connection lost after the request (injected)")

        return request


INJECTOR = Injector()


class InjectedClient(CaldavClient):
    """calsync's CalDAV client with :data:`INJECTOR` in its HTTP client and no retry backoff."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        kwargs["backoff"] = 0.0
        super().__init__(url, **kwargs)
        setattr(self._dav, "send", INJECTOR.wrap(self._dav.send))  # noqa: B010


# -- reading the servers as a person would ----------------------------------------------------------


def vevents(data: str | bytes) -> list[icalendar.Event]:
    """The VEVENTs of one object."""
    found: list[icalendar.Event] = []
    for component in icalendar.Calendar.from_ical(data).walk("VEVENT"):
        assert isinstance(component, icalendar.Event)
        found.append(component)
    return found


def read_calendar(server: DavServer, url: str) -> dict[str, list[tuple[str, bytes]]]:
    """Every event of a calendar: UID -> [(href, the VEVENT's properties as iCalendar)]."""
    found: dict[str, list[tuple[str, bytes]]] = {}
    with server.dav() as client:
        objects = DavCollection(client=client, url=url).events()
        assert isinstance(objects, list), "the synchronous client answers with a list"
        for obj in objects:
            for event in vevents(obj.data):
                found.setdefault(str(event["UID"]), []).append((str(obj.url), event.to_ical()))
    return found


def fetch_object(server: DavServer, url: str) -> bytes:
    """One object (the whole VCALENDAR) as the server holds it now."""
    with server.dav() as client:
        response = client.request(url, "GET")
        assert response.status == 200, (url, response.status)
        raw = response._raw
        return raw.encode() if isinstance(raw, str) else bytes(raw)


def fetch(server: DavServer, url: str) -> bytes:
    """One object's VEVENT as the server holds it now (its properties as iCalendar)."""
    (event,) = vevents(fetch_object(server, url))
    return bytes(event.to_ical())


def put(server: DavServer, url: str, text: str | bytes) -> bytes:
    """Write one object (no precondition: a calendar app saving) and return what the server holds."""
    body = text.decode() if isinstance(text, bytes) else text
    with server.dav() as client:
        response = client.put(url, body, {"Content-Type": "text/calendar; charset=utf-8"})
        assert response.status in (200, 201, 204), (url, response.status)
    return fetch(server, url)


def delete(server: DavServer, url: str) -> None:
    """Delete one object or collection."""
    with server.dav() as client:
        response = client.delete(url)
        assert response.status in (200, 204), (url, response.status)


def wrap_event(lines: str) -> str:
    """A VCALENDAR around one VEVENT's lines."""
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{lines}END:VCALENDAR\r\n"


def run_text(uid: str, day: date, title: str, sequence: int) -> str:
    """A run as the runner's calendar app writes it: an all-day event."""
    return wrap_event(
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nSEQUENCE:{sequence}\r\n"
        f"DTSTART;VALUE=DATE:{day:%Y%m%d}\r\nDTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}\r\n"
        f"SUMMARY:{title}\r\nEND:VEVENT\r\n"
    )


def foreign_text(uid: str, day: date, hour: int, other_plan: bool) -> str:
    """An event calsync does not own: a dentist appointment, or another plan's session."""
    start = datetime(day.year, day.month, day.day, hour, tzinfo=ZONE).astimezone(ZoneInfo("UTC"))
    extra = "X-CALSYNC-PLAN:other\r\nX-CALSYNC-KIND:rest\r\n" if other_plan else ""
    return wrap_event(
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\n"
        f"SUMMARY:{'Other plan session' if other_plan else 'Dentist'}\r\n{extra}END:VEVENT\r\n"
    )


def moved_by_person(data: bytes, how: str) -> str:
    """An owned event as a person leaves it: moved a day later, or renamed (X-CALSYNC-* kept)."""
    cal = icalendar.Calendar.from_ical(data)
    for event in cal.walk("VEVENT"):
        if how == "rename":
            event["SUMMARY"] = icalendar.vText(f"{event.get('SUMMARY', '')} (my way)")
        else:
            for name in ("DTSTART", "DTEND"):
                if name in event:
                    value = event.decoded(name) + timedelta(days=1)
                    params = event[name].params
                    del event[name]
                    event.add(name, value, parameters=dict(params))
        sequence = int(event.get("SEQUENCE", 0))
        event["SEQUENCE"] = sequence + 1
    return bytes(cal.to_ical()).decode()


def same_when(a: object, b: When) -> bool:
    """Two starts are the same moment (dates compare as dates, datetimes as instants)."""
    if isinstance(a, datetime) or isinstance(b, datetime):
        return isinstance(a, datetime) and isinstance(b, datetime) and a == b
    return a == b


def write_config(folder: Path, server: DavServer, source: str, target: str) -> PlanConfig:
    """The plan's config: a CalDAV source and target on ``server``."""
    user = f'username = "{server.username}"\npassword_env = "{PASSWORD_ENV}"\n' if server.username else ""
    text = f"""
[[plan]]
id = "{PLAN_ID}"
timezone = "Europe/Berlin"
horizon_weeks = {HORIZON_WEEKS}

[[plan.source]]
kind = "caldav"
url = "{source}"
{user}
[plan.target]
kind = "caldav"
url = "{target}"
{user}"""
    path = folder / "calsync.toml"
    path.write_text(text, encoding="utf-8")
    (plan,) = parse_config(text, path).plan
    return plan


# -- the backend ----------------------------------------------------------------------------------


class CaldavBackend(Backend):
    """A CalDAV server, written with a plain client; failures go into calsync's own clients."""

    failures = FAILURES

    def __init__(self, server: DavServer) -> None:
        self.server = server

    def new_calendar(self) -> str:
        return self.server.make_calendar()

    def drop_calendar(self, calendar: str) -> None:
        delete(self.server, calendar)

    def config(self, folder: Path, source: str, target: str) -> PlanConfig:
        return write_config(folder, self.server, source, target)

    def add_run(self, calendar: str, key: str, day: date, title: str) -> str:
        put(self.server, f"{calendar}{key}.ics", run_text(key, day, title, 0))
        return key

    def move_run(self, calendar: str, key: str, day: date, title: str, sequence: int) -> None:
        put(self.server, f"{calendar}{key}.ics", run_text(key, day, title, sequence))

    def delete_run(self, calendar: str, key: str) -> None:
        delete(self.server, f"{calendar}{key}.ics")

    def add_foreign(self, calendar: str, key: str, day: date, hour: int, other_plan: bool) -> str:
        put(self.server, f"{calendar}{key}.ics", foreign_text(key, day, hour, other_plan))
        return key

    def _split(
        self, calendar: str
    ) -> tuple[dict[str, list[tuple[str, bytes]]], dict[str, list[tuple[str, bytes]]]]:
        found = read_calendar(self.server, calendar)
        mark = b"X-CALSYNC-PLAN:" + PLAN_ID.encode() + b"\r\n"
        mine = {uid: copies for uid, copies in found.items() if any(mark in data for _, data in copies)}
        return mine, {uid: copies for uid, copies in found.items() if uid not in mine}

    def others(self, calendar: str) -> dict[str, Snapshot]:
        return {uid: copies[0][1] for uid, copies in self._split(calendar)[1].items()}

    def owned(self, calendar: str) -> dict[str, list[Snapshot]]:
        return {uid: [data for _, data in copies] for uid, copies in self._split(calendar)[0].items()}

    def person_edits(self, calendar: str, uid: str, how: str) -> Snapshot:
        href = self._split(calendar)[0][uid][0][0]
        return put(self.server, href, moved_by_person(fetch_object(self.server, href), how))

    def person_deletes(self, calendar: str, uid: str) -> None:
        for href, _ in self._split(calendar)[0][uid]:
            delete(self.server, href)

    def answer_lost(self, uid: str) -> bool:
        return any(url.endswith(f"/{uid}.ics") for url in INJECTOR.lost)

    def start_of(self, snapshot: Snapshot) -> When:
        assert isinstance(snapshot, bytes)
        value = icalendar.Event.from_ical(snapshot).decoded("DTSTART")
        assert isinstance(value, date)
        return value

    def duplicates(self, calendar: str) -> dict[str, int]:
        found = read_calendar(self.server, calendar)
        return {uid: len(copies) for uid, copies in found.items() if len(copies) > 1}

    def list_owned(self, config: PlanConfig) -> list[OwnedEvent]:
        assert isinstance(config.target, CaldavTargetConfig)
        client = InjectedClient(
            config.target.url, username=self.server.username, password=self.server.password
        )
        try:
            return CaldavTarget(client, PLAN_ID, ZONE).list_owned()
        finally:
            client.close()

    def arm(self, machine: CalendarMachine, mode: str, after: int, sticky: bool, **limits: Any) -> None:
        def edit_behind_calsyncs_back(url: str) -> None:
            """A person renames the event calsync is about to write (so the write meets a 412)."""
            edited = put(self.server, url, moved_by_person(fetch_object(self.server, url), "rename"))
            (event,) = vevents(fetch_object(self.server, url))
            machine.edited[str(event["UID"])] = edited

        INJECTOR.arm(mode, after, sticky, edit_behind_calsyncs_back, **limits)

    def disarm(self) -> None:
        INJECTOR.disarm()


@pytest.fixture
def machine_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[DavServer]:
    """The server of the parameter, calsync's clients wired to :data:`INJECTOR`, the password set."""
    server: DavServer = request.getfixturevalue(f"{request.param}_server")
    if server.password:
        monkeypatch.setenv(PASSWORD_ENV, server.password)
    state_dir = Path(tempfile.mkdtemp(prefix="calsync-machine-state-"))
    monkeypatch.setenv("STATE_DIRECTORY", str(state_dir))
    monkeypatch.setattr(caldav_adapter, "CaldavClient", InjectedClient)  # the pipeline imports it lazily
    try:
        yield server
    finally:
        INJECTOR.disarm()
        shutil.rmtree(state_dir, ignore_errors=True)


BUGS = (
    "bug: (1) a pass that fails after some creates never records them in the state, so a person "
    "who deletes one before the next pass sees it put back: make_calendars(same_calendar=False, "
    "runs=[(0,0,'Long Run 25 km')]*2); add_run(week=0, weekday=0); failing_pass(mode='drop', "
    "after=4, sticky=True); person_deletes(pick=0); sync_pass() -> calsync-me-2026W49-rest "
    "re-created. (2) Xandikos: after its writes the target keeps its pre-write sync token but "
    "caches what it wrote; an event it created and a person deleted before the next read is "
    "not reported by sync-collection, so it stays in the cache as a phantom (not dismissed, "
    "planned around): same runs; failing_pass(mode='drop', after=4, sticky=False) (succeeds "
    "after a retry); person_deletes(pick=0); sync_pass() -> calsync-me-2026W49-s2 stays on "
    "12-05, a fresh read plans it on 12-01."
)


@pytest.mark.parametrize("machine_server", ["radicale", "xandikos"], indirect=True)
def test_sync_machine(machine_server: DavServer) -> None:
    """Random sequences of edits and (failing) passes keep every promise after each clean pass."""
    run_machine(CaldavBackend(machine_server), examples=MAX_EXAMPLES, steps=STEP_COUNT)


@pytest.mark.parametrize("machine_server", ["radicale", "xandikos"], indirect=True)
def test_a_create_whose_answers_were_lost_is_recorded(machine_server: DavServer) -> None:
    """The server created the session but calsync heard no answer, not even to its retries: the
    pass fails, yet the state learns the session exists (one listing), so a person who deletes it
    before the next pass does not see it put back."""
    backend = CaldavBackend(machine_server)
    machine = type("LostAnswerOn", (CalendarMachine,), {"backend": backend})()
    try:
        machine.make_calendars(
            same_calendar=False, runs=[(0, 2, "Long Run 25 km"), (1, 5, "Easy run 45 min")]
        )
        backend.arm(machine, "lost_answer", 1, True, methods=("PUT",), limit=3)
        with pytest.raises(TargetError, match="3 tries"):
            machine.run_pass()
        backend.disarm()
        assert machine.config is not None
        known = machine.state.written(registry.state_key(machine.config))
        written = set(backend.owned(machine.target))
        assert len(written) == 2, "the first create went through; the second's answers were lost"
        assert written <= set(known), "every session in the target is known to the state"
        lost = sorted(written)[-1]
        backend.person_deletes(machine.target, lost)
        machine.deleted.add(lost)
        machine.run_pass()
        assert lost not in backend.owned(machine.target), "the person's deletion stands"
    finally:
        machine.teardown()
