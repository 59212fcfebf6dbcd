"""A Hypothesis state machine driving calsync against real Radicale and Xandikos servers.

Issue 3, "Proof": random sequences of runs added / moved / deleted in the source, owned events
edited or deleted by a person, foreign events added to the target, and passes with injected
failures (connection dropped mid-pass, an answer lost after the server acted, HTTP 500, timeout,
a 412 from a person editing the event right before calsync's write). After every *clean* pass the
servers are read directly with a plain client and PRODUCT.md sections 4 and 6 are checked:

* the target holds exactly the sessions :func:`calsync.pipeline.make_plan` plans at the same
  ``now`` around what is there (UIDs and starts), with the person's edits exactly as they left
  them and none of the events they deleted;
* no UID appears twice in any calendar;
* every foreign event and every source event is exactly as its writer left it;
* a second clean pass right after has no actions.

The machine mirrors the vdirsyncer sync state machine (CONVENTIONS.md): the model is what the
rules wrote; the servers are the truth; failures are injected into calsync's HTTP session.

Knobs: ``MAX_EXAMPLES`` sequences per server of at most ``STEP_COUNT`` steps (10 x 12 by
default, about 30-40 s per server). ``CALSYNC_PROPERTY_SCALE=4`` multiplies both for a longer
hunt; ``CALSYNC_PROPERTY_SHRINK=1`` shrinks a failure to its minimal sequence.

Bugs this machine found, now fixed, are listed in ``BUGS`` with their minimal sequences (kept as
the record of what the machine must keep catching).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import icalendar
import niquests
import pytest
from caldav.collection import Calendar as DavCollection
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from calsync import pipeline, registry
from calsync.adapters import caldav as caldav_adapter
from calsync.adapters.caldav import CaldavClient, CaldavTarget
from calsync.config import PlanConfig, parse_config
from calsync.core.model import When
from calsync.core.reconcile import OwnedEvent
from calsync.errors import SourceError, TargetError
from calsync.state import State

if TYPE_CHECKING:
    from caldav_servers import DavServer

pytest_plugins = ["caldav_servers"]

SCALE = max(0.1, float(os.environ.get("CALSYNC_PROPERTY_SCALE", "1")))
MAX_EXAMPLES = max(1, round(10 * SCALE))
"""Sequences per server."""
STEP_COUNT = max(3, round(12 * SCALE))
"""Steps per sequence (after the initial runs)."""
SHRINK = os.environ.get("CALSYNC_PROPERTY_SHRINK", "") not in ("", "0")
"""Shrink a failing sequence to a minimal one (minutes against real servers, so off by default;
a failure still prints its whole sequence, and the example database replays it next time)."""

ZONE = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 27, 7, 30, tzinfo=ZONE)
"""A Friday; every pass of the machine runs at this instant."""
FIRST_MONDAY = date(2026, 11, 30)
RUN_WEEKS = 3
"""Runs fall in the three weeks after ``NOW`` (the horizon is four weeks, this one included)."""
HORIZON_WEEKS = 4
TITLES = ("Long Run 25 km", "Easy run 45 min", "Tempo run 10 km", "Intervals 8x400m")
PLAN_ID = "me"
PASSWORD_ENV = "CALSYNC_MACHINE_DAV_PASSWORD"
FAILURES = ("drop", "lost_answer", "500", "timeout", "412")


# -- failure injection ----------------------------------------------------------------------------


def _fake_response(url: str, status: int) -> niquests.Response:
    """An HTTP answer the server never gave (an injected 5xx)."""
    response = niquests.Response()
    response.status_code = status
    response.reason = "Internal Server Error (injected)"
    response.headers = niquests.structures.CaseInsensitiveDict({"Content-Type": "text/plain"})
    response._content = b"injected failure"
    response.url = url
    return response


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
        """``send`` (a session's ``request``) with the failures injected."""

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
                raise niquests.exceptions.ConnectionError("connection dropped (injected)")
            if mode == "timeout":
                raise niquests.exceptions.ReadTimeout("read timed out (injected)")
            if mode == "500":
                return _fake_response(url, 500)
            send(method, url, *args, **kwargs)
            raise niquests.exceptions.ConnectionError("connection lost after the request (injected)")

        return request


INJECTOR = Injector()


class InjectedClient(CaldavClient):
    """calsync's CalDAV client with :data:`INJECTOR` in its HTTP session and no retry backoff."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        kwargs["backoff"] = 0.0
        super().__init__(url, **kwargs)
        session = self._dav.session
        setattr(session, "request", INJECTOR.wrap(session.request))  # noqa: B010


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


# -- the machine ------------------------------------------------------------------------------------

run_weeks = st.integers(min_value=0, max_value=RUN_WEEKS - 1)
weekdays = st.integers(min_value=0, max_value=6)
titles = st.sampled_from(TITLES)
picks = st.integers(min_value=0, max_value=999)
"""An index into a list, taken modulo its length (shrinks towards the first)."""


class SyncMachine(RuleBasedStateMachine):
    """Random source edits, person edits, foreign events and (failing) passes; see the module."""

    server: DavServer
    """Set by the test before the machine runs."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="calsync-machine-"))
        self.calendars: list[str] = []
        self.state = State(self.folder / "state" / "state.sqlite")
        self.source = self.target = ""
        self.config: PlanConfig | None = None
        self.runs: dict[str, tuple[date, str, int]] = {}
        """The source's runs: UID -> (day, title, sequence)."""
        self.source_events: dict[str, bytes] = {}
        """Every source event (runs, and foreign events when target is source) as last written."""
        self.foreign: dict[str, bytes] = {}
        """Foreign events in the target, as written."""
        self.edited: dict[str, bytes] = {}
        """Owned events a person edited, as they left them."""
        self.deleted: set[str] = set()
        """Owned events a person deleted."""
        self.counter = 0
        self.clean = False
        """The last step was a clean pass (its invariants were checked)."""

    # -- set-up and teardown --------------------------------------------------------------------

    @initialize(
        same_calendar=st.booleans(),
        runs=st.lists(st.tuples(run_weeks, weekdays, titles), min_size=1, max_size=4),
    )
    def make_calendars(self, same_calendar: bool, runs: list[tuple[int, int, str]]) -> None:
        """Fresh calendars (the target is the source calendar itself or a second one) and runs."""
        self.source = self.server.make_calendar()
        self.calendars.append(self.source)
        if same_calendar:
            self.target = self.source
        else:
            self.target = self.server.make_calendar()
            self.calendars.append(self.target)
        self.config = write_config(self.folder, self.server, self.source, self.target)
        for week, weekday, title in runs:
            self.add_run(week, weekday, title)

    def teardown(self) -> None:
        """Delete the calendars and the state: nothing is left on the servers."""
        INJECTOR.disarm()
        self.state.close()
        for url in self.calendars:
            delete(self.server, url)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _uid(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def _owned_now(self) -> dict[str, list[tuple[str, bytes]]]:
        """This plan's events in the target now (read with a plain client)."""
        found = read_calendar(self.server, self.target)
        owned = {}
        for uid, copies in found.items():
            if any(b"X-CALSYNC-PLAN:" + PLAN_ID.encode() + b"\r\n" in data for _, data in copies):
                owned[uid] = copies
        return owned

    # -- the runner's source calendar -------------------------------------------------------------

    @rule(week=run_weeks, weekday=weekdays, title=titles)
    def add_run(self, week: int, weekday: int, title: str) -> None:
        """The runner adds a run to their plan."""
        uid = self._uid("run")
        day = FIRST_MONDAY + timedelta(weeks=week, days=weekday)
        self._write_run(uid, day, title, 0)
        self.clean = False

    def _write_run(self, uid: str, day: date, title: str, sequence: int) -> None:
        self.runs[uid] = (day, title, sequence)
        self.source_events[uid] = put(
            self.server, f"{self.source}{uid}.ics", run_text(uid, day, title, sequence)
        )

    @precondition(lambda self: bool(self.runs))
    @rule(pick=picks, week=st.one_of(st.none(), run_weeks), weekday=weekdays)
    def move_run(self, pick: int, week: int | None, weekday: int) -> None:
        """The runner moves a run to another day of its week (``week`` None) or to another week."""
        uid = sorted(self.runs)[pick % len(self.runs)]
        day, title, sequence = self.runs[uid]
        monday = day - timedelta(days=day.weekday())
        if week is not None:
            monday = FIRST_MONDAY + timedelta(weeks=week)
        self._write_run(uid, monday + timedelta(days=weekday), title, sequence + 1)
        self.clean = False

    @precondition(lambda self: len(self.runs) > 1)
    @rule(pick=picks)
    def delete_run(self, pick: int) -> None:
        """The runner deletes a run (one always stays: a plan without runs deletes nothing)."""
        uid = sorted(self.runs)[pick % len(self.runs)]
        delete(self.server, f"{self.source}{uid}.ics")
        del self.runs[uid]
        del self.source_events[uid]
        self.clean = False

    # -- a person in the target calendar ----------------------------------------------------------

    @rule(pick=picks, how=st.sampled_from(["move", "rename"]))
    def person_edits(self, pick: int, how: str) -> None:
        """A person moves an owned event a day later, or renames it."""
        owned = self._owned_now()
        if not owned:
            return
        uid = sorted(owned)[pick % len(owned)]
        href = owned[uid][0][0]
        self.edited[uid] = put(self.server, href, moved_by_person(fetch_object(self.server, href), how))
        self.clean = False

    @rule(pick=picks)
    def person_deletes(self, pick: int) -> None:
        """A person deletes an owned event."""
        owned = self._owned_now()
        if not owned:
            return
        uid = sorted(owned)[pick % len(owned)]
        for href, _ in owned[uid]:
            delete(self.server, href)
        self.edited.pop(uid, None)
        self.deleted.add(uid)
        self.clean = False

    @rule(week=run_weeks, weekday=weekdays, hour=st.integers(min_value=6, max_value=20), other=st.booleans())
    def add_foreign(self, week: int, weekday: int, hour: int, other: bool) -> None:
        """Someone adds an event calsync does not own to the target (another plan's, or a dentist)."""
        uid = self._uid("foreign")
        day = FIRST_MONDAY + timedelta(weeks=week, days=weekday)
        data = put(self.server, f"{self.target}{uid}.ics", foreign_text(uid, day, hour, other))
        self.foreign[uid] = data
        if self.target == self.source:
            self.source_events[uid] = data
        self.clean = False

    # -- passes -----------------------------------------------------------------------------------

    def _pass(self) -> pipeline.PassReport:
        assert self.config is not None
        return pipeline.run_pass(self.config, NOW, dry_run=False, force=False, state=self.state)

    def _owned_events(self) -> list[OwnedEvent]:
        """calsync's events in the target as it reads them (no failure injected)."""
        client = InjectedClient(self.target, username=self.server.username, password=self.server.password)
        try:
            return CaldavTarget(client, PLAN_ID, ZONE).list_owned()
        finally:
            client.close()

    def _expect_wipe_rule(self) -> None:
        """A person who deleted every session calsync knows of (more than two) is read as a wiped
        calendar, and the next pass writes them again (DESIGN.md): those deletions do not stick."""
        assert self.config is not None
        known = self.state.written(registry.state_key(self.config))
        _, notes = pipeline.dismissed_sessions(known, self._owned_events(), now=NOW)
        if any("writing them again" in note for note in notes):
            self.deleted.clear()

    @rule()
    def sync_pass(self) -> None:
        """A clean pass; the invariants are checked after it, and a second pass does nothing."""
        self._expect_wipe_rule()
        self._pass()
        self.check_after_clean_pass()
        again = self._pass()
        assert not again.actions, f"a second clean pass still acts: {again.actions}"
        self.clean = True

    @rule(
        mode=st.sampled_from(FAILURES),
        after=st.integers(min_value=0, max_value=12),
        sticky=st.booleans(),
    )
    def failing_pass(self, mode: str, after: int, sticky: bool) -> None:
        """A pass with an injected failure: it may fail with SourceError/TargetError, nothing else."""
        self._expect_wipe_rule()  # the pass may get as far as writing them again
        INJECTOR.arm(mode, after, sticky, self._edit_behind_calsyncs_back)
        try:
            self._pass()
        except (SourceError, TargetError):
            pass
        finally:
            INJECTOR.disarm()
        self.clean = False

    def _edit_behind_calsyncs_back(self, url: str) -> None:
        """A person renames the event calsync is about to write (so the write meets a 412)."""
        edited = put(self.server, url, moved_by_person(fetch_object(self.server, url), "rename"))
        (event,) = vevents(fetch_object(self.server, url))
        self.edited[str(event["UID"])] = edited

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def no_duplicate_uid(self) -> None:
        """No UID appears twice in any calendar, whatever happened."""
        for url in {self.source, self.target} - {""}:
            found = read_calendar(self.server, url)
            twice = {uid: len(copies) for uid, copies in found.items() if len(copies) > 1}
            assert not twice, f"duplicate UIDs in {url}: {twice}"

    def check_after_clean_pass(self) -> None:
        """PRODUCT.md sections 4 and 6, read from the servers with a plain client."""
        assert self.config is not None
        target = read_calendar(self.server, self.target)
        source = target if self.source == self.target else read_calendar(self.server, self.source)
        for url, found in ((self.target, target), (self.source, source)):
            counts = Counter({uid: len(copies) for uid, copies in found.items()})
            assert all(n == 1 for n in counts.values()), f"duplicate UIDs in {url}: {counts}"

        def owned(data: bytes) -> bool:
            return f"X-CALSYNC-PLAN:{PLAN_ID}\r\n".encode() in data

        mine = {uid: copies[0][1] for uid, copies in target.items() if owned(copies[0][1])}
        others = {uid: copies[0][1] for uid, copies in target.items() if not owned(copies[0][1])}

        # foreign and source events: exactly as their writers left them, none lost, none added
        for uid, data in self.foreign.items():
            assert others.get(uid) == data, f"foreign event {uid} changed or lost"
        source_others = {uid: copies[0][1] for uid, copies in source.items() if not owned(copies[0][1])}
        assert source_others == self.source_events, "a source event was changed, lost or added"
        if self.source != self.target:
            assert not any(owned(copies[0][1]) for copies in source.values()), "calsync wrote to the source"
            assert others == self.foreign, "the target's foreign events changed"

        # a person's deletions stay deleted; their edits stay exactly as they left them
        back = self.deleted & set(mine)
        assert not back, f"events the person deleted were put back: {sorted(back)}"
        for uid, data in self.edited.items():
            assert mine.get(uid) == data, f"the person's edit of {uid} was not kept as they left it"

        # exactly the planned sessions, at their planned starts
        owned_events = self._owned_events()
        known = self.state.written(registry.state_key(self.config))
        dismissed, _ = pipeline.dismissed_sessions(known, owned_events, now=NOW)
        result, _ = pipeline.make_plan(self.config, NOW, owned_events, frozenset(dismissed))
        planned = {s.uid: s for s in result.sessions}
        assert set(mine) == set(planned), (
            f"target holds {sorted(set(mine) - set(planned))} unplanned, "
            f"misses {sorted(set(planned) - set(mine))} planned"
        )
        for uid, session in planned.items():
            event = icalendar.Event.from_ical(mine[uid])
            assert same_when(event.decoded("DTSTART"), session.start), (
                f"{uid} starts {event.decoded('DTSTART')}, planned {session.start}"
            )


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
    machine = type("SyncMachineOn", (SyncMachine,), {"server": machine_server})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=STEP_COUNT,
            deadline=None,
            phases=list(Phase) if SHRINK else [p for p in Phase if p is not Phase.shrink],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.mark.parametrize("machine_server", ["radicale", "xandikos"], indirect=True)
def test_a_create_whose_answers_were_lost_is_recorded(machine_server: DavServer) -> None:
    """The server created the session but calsync heard no answer, not even to its retries: the
    pass fails, yet the state learns the session exists (one listing), so a person who deletes it
    before the next pass does not see it put back."""
    machine = type("LostAnswerOn", (SyncMachine,), {"server": machine_server})()
    try:
        machine.make_calendars(
            same_calendar=False, runs=[(0, 2, "Long Run 25 km"), (1, 5, "Easy run 45 min")]
        )
        INJECTOR.arm("lost_answer", 1, True, machine._edit_behind_calsyncs_back, methods=("PUT",), limit=3)
        with pytest.raises(TargetError, match="3 tries"):
            machine._pass()
        INJECTOR.disarm()
        assert machine.config is not None
        known = machine.state.written(registry.state_key(machine.config))
        written = set(machine._owned_now())
        assert len(written) == 2, "the first create went through; the second's answers were lost"
        assert written <= set(known), "every session in the target is known to the state"
        lost = sorted(written)[-1]
        for href, _ in machine._owned_now()[lost]:
            delete(machine.server, href)
        machine.deleted.add(lost)
        machine._pass()
        assert lost not in machine._owned_now(), "the person's deletion stands"
    finally:
        machine.teardown()
