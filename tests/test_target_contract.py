"""The target contract: one suite, run against every target kind.

:class:`TargetContract` holds the tests; a ``Test...`` subclass per kind gives its ``storage``
fixture: the ``.ics`` file, the in-memory target, CalDAV on real Radicale and Xandikos servers
(started by ``caldav_servers``) and, in ``test_ha_contract.py``, a Home Assistant Local Calendar.
A :class:`Storage` makes targets over one calendar (each new target has fresh state, as after a
lost state file) and acts as "a person" behind calsync's back: edits an owned event, deletes one,
adds a foreign event, and lists every event as stored. A new target kind is one more subclass.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import icalendar
import pytest

import support
from calsync.adapters import event_ics
from calsync.adapters.caldav import CaldavClient, CaldavTarget
from calsync.adapters.ics_target import IcsFileTarget
from calsync.adapters.memory import MemoryCalendar, MemoryTarget
from calsync.core.model import Session, SessionKind
from calsync.core.reconcile import Action, Create, Delete, OwnedEvent, Update, fixed_sessions, reconcile
from calsync.core.render import session_fingerprint
from calsync.errors import TargetError
from calsync.executor import execute

if TYPE_CHECKING:
    from caldav_servers import DavCalendar, DavServer

pytest_plugins = ["caldav_servers"]

ZONE = ZoneInfo("Europe/Berlin")
PLAN = "me"
NOW = datetime(2026, 10, 12, 7, 0, tzinfo=ZONE)
WINDOW = (date(2026, 10, 12), date(2026, 12, 14))


# --- sessions ----------------------------------------------------------------------------------


def session(day: date, slot: str, kind: SessionKind = SessionKind.HEAVY_LOWER, hour: int = 6) -> Session:
    """A planned session of this plan, with the UID the planner would give it."""
    return support.session(day, slot, kind, hour=hour, plan_id=PLAN, zone=ZONE)


# 2026-W43 crosses the end of summer time (Sun 2026-10-25, 03:00 CEST -> 02:00 CET).
DST_TUE, DST_SAT, DST_SUN = date(2026, 10, 20), date(2026, 10, 24), date(2026, 10, 25)
MON, THU, SUN = date(2026, 11, 30), date(2026, 12, 3), date(2026, 12, 6)
PLANNED = [
    session(DST_TUE, "s1"),
    session(DST_SAT, "rest", SessionKind.REST),
    session(DST_SUN, "s2", SessionKind.CORE, hour=7),
    session(MON, "s1"),
    session(THU, "s2", SessionKind.UPPER, hour=18),
    session(SUN, "rest", SessionKind.REST),
]
BY_UID = {s.uid: s for s in PLANNED}
DST_S1, DST_REST, DST_S2, S1, S2, REST = (s.uid for s in PLANNED)


def plain_event(uid: str, summary: str, start: str, extra: str = "") -> str:
    """A VCALENDAR with one 1-hour event in Europe/Berlin that calsync did not write."""
    begin = datetime.strptime(start, "%Y%m%dT%H%M%S")
    end = (begin + timedelta(hours=1)).strftime("%Y%m%dT%H%M%S")
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//someone//app//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261001T000000Z\r\n"
        f"DTSTART;TZID=Europe/Berlin:{start}\r\nDTEND;TZID=Europe/Berlin:{end}\r\n"
        f"SUMMARY:{summary}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


FOREIGN_PERSON = plain_event("dentist-1@example.org", "Dentist", "20261130T060000")
"""A person's own event, at the very time of a session."""
FOREIGN_PLAN = plain_event(
    "calsync-other-2026W49-s1",
    "Strength: upper",
    "20261201T060000",
    "X-CALSYNC-PLAN:other\r\nX-CALSYNC-KIND:upper\r\nX-CALSYNC-WEEK:2026-W49\r\n"
    "X-CALSYNC-SLOT:s1\r\nX-CALSYNC-HASH:0123456789abcdef\r\n",
)
"""Another plan's session in the same calendar."""
FOREIGN_UIDS = {"dentist-1@example.org", "calsync-other-2026W49-s1"}


# --- one storage per target kind ------------------------------------------------------------


@dataclass
class Outcome:
    """What ``apply`` reported: the UIDs of its conflicts."""

    conflicts: list[str]


class Handle:
    """A target of any kind with one ``apply`` signature."""

    def __init__(self, target: IcsFileTarget | MemoryTarget | CaldavTarget) -> None:
        self.target = target

    def list_owned(self) -> list[OwnedEvent]:
        """The target's owned events."""
        return self.target.list_owned()

    def apply(self, actions: Sequence[Action]) -> Outcome:
        """Apply at NOW."""
        result = execute(actions, self.target, now=NOW)
        return Outcome([c.uid for c in result.conflicts])


def edit_calendar(
    calendar: icalendar.Calendar,
    uid: str,
    *,
    summary: str | None = None,
    start: datetime | None = None,
    location: str | None = None,
) -> None:
    """Change an event as a calendar app would (a new start keeps the duration)."""
    event = next(c for c in calendar.walk("VEVENT") if str(c.get("UID")) == uid)
    if summary is not None:
        event.pop("SUMMARY")
        event.add("summary", summary)
    if start is not None:
        old_start, old_end = event_ics.times(event)
        assert isinstance(old_start, datetime)
        assert isinstance(old_end, datetime)
        duration = old_end - old_start
        event.pop("DTSTART")
        event.pop("DTEND")
        event.add("dtstart", start)
        event.add("dtend", start + duration)
    if location is not None:
        event.add("location", location)


class Storage(ABC):
    """One calendar of one target kind, and a person with access to it."""

    @abstractmethod
    def make_target(self) -> Handle:
        """A new target over this calendar (fresh state)."""

    @abstractmethod
    def edit(
        self,
        uid: str,
        *,
        summary: str | None = None,
        start: datetime | None = None,
        location: str | None = None,
    ) -> None:
        """Edit an event behind calsync's back."""

    @abstractmethod
    def delete(self, uid: str) -> None:
        """Delete an event behind calsync's back."""

    @abstractmethod
    def add_foreign(self, ics: str) -> None:
        """Add an event calsync did not write."""

    @abstractmethod
    def raw(self) -> list[tuple[str, str]]:
        """Every event as stored: (UID, its text), duplicates included."""

    @abstractmethod
    def version(self) -> object:
        """Something that changes whenever anything in the calendar is written."""

    def uids(self) -> list[str]:
        """The UIDs of every event, sorted, duplicates included."""
        return sorted(uid for uid, _ in self.raw())

    def text_of(self, uid: str) -> str:
        """The stored text of the one event with this UID."""
        (text,) = [t for u, t in self.raw() if u == uid]
        return text


class IcsStorage(Storage):
    """A ``.ics`` file; a person edits the file directly."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def make_target(self) -> Handle:
        return Handle(IcsFileTarget(self.path, PLAN, ZONE))

    def _calendar(self) -> icalendar.Calendar:
        if not self.path.exists():
            calendar = icalendar.Calendar()
            calendar.add("prodid", "-//someone//app//EN")
            calendar.add("version", "2.0")
            return calendar
        return icalendar.Calendar.from_ical(self.path.read_bytes())

    def _save(self, calendar: icalendar.Calendar) -> None:
        calendar.add_missing_timezones()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(calendar.to_ical())

    def edit(
        self,
        uid: str,
        *,
        summary: str | None = None,
        start: datetime | None = None,
        location: str | None = None,
    ) -> None:
        calendar = self._calendar()
        edit_calendar(calendar, uid, summary=summary, start=start, location=location)
        self._save(calendar)

    def delete(self, uid: str) -> None:
        calendar = self._calendar()
        calendar.subcomponents[:] = [c for c in calendar.subcomponents if str(c.get("UID", "")) != uid]
        self._save(calendar)

    def add_foreign(self, ics: str) -> None:
        calendar = self._calendar()
        for component in icalendar.Calendar.from_ical(ics).subcomponents:
            calendar.add_component(component)
        self._save(calendar)

    def raw(self) -> list[tuple[str, str]]:
        if not self.path.exists():
            return []
        events = self._calendar().walk("VEVENT")
        return [(str(e["UID"]), e.to_ical().decode()) for e in events]

    def version(self) -> object:
        return self.path.read_bytes() if self.path.exists() else None


class MemoryStorage(Storage):
    """A :class:`MemoryCalendar`; a person uses its helpers."""

    def __init__(self) -> None:
        self.person = MemoryCalendar()

    def make_target(self) -> Handle:
        return Handle(MemoryTarget(PLAN, ZONE, self.person))

    def edit(
        self,
        uid: str,
        *,
        summary: str | None = None,
        start: datetime | None = None,
        location: str | None = None,
    ) -> None:
        changes = {"summary": summary, "dtstart": start, "location": location}
        self.person.edit(uid, **{k: v for k, v in changes.items() if v is not None})

    def delete(self, uid: str) -> None:
        self.person.delete_event(uid)

    def add_foreign(self, ics: str) -> None:
        self.person.add_foreign(ics)

    def raw(self) -> list[tuple[str, str]]:
        return [
            (str(e["UID"]), text)
            for text in self.person.objects.values()
            for e in icalendar.Calendar.from_ical(text).walk("VEVENT")
        ]

    def version(self) -> object:
        return (self.person.writes, dict(self.person.objects))


class DavStorage(Storage):
    """A fresh calendar collection on a test server; a person uses a plain caldav client."""

    def __init__(self, calendar: DavCalendar) -> None:
        self.calendar = calendar
        self.clients: list[CaldavClient] = []

    def _client(self) -> CaldavClient:
        client = self.calendar.client(error=TargetError, name=f"plan {PLAN}: target")
        self.clients.append(client)
        return client

    def make_target(self) -> Handle:
        return Handle(CaldavTarget(self._client(), PLAN, ZONE))

    def _objects(self) -> dict[str, tuple[str, bytes]]:
        """Every object by href: (ETag, text), listed afresh."""
        _token, cache, _changed = self._client().refresh(None, {})
        return cache

    def _href(self, uid: str) -> str:
        for href, (_etag, data) in self._objects().items():
            if any(str(e.get("UID")) == uid for e in icalendar.Calendar.from_ical(data).walk("VEVENT")):
                return href
        raise KeyError(uid)

    def _url(self, href: str) -> str:
        return self.calendar.client().absolute(href)

    def _put(self, url: str, text: str) -> None:
        with self.calendar.server.dav() as dav:
            response = dav.put(url, text, {"Content-Type": "text/calendar; charset=utf-8"})
        assert response.status in (200, 201, 204), response.status

    def edit(
        self,
        uid: str,
        *,
        summary: str | None = None,
        start: datetime | None = None,
        location: str | None = None,
    ) -> None:
        href = self._href(uid)
        calendar = icalendar.Calendar.from_ical(self._objects()[href][1])
        edit_calendar(calendar, uid, summary=summary, start=start, location=location)
        self._put(self._url(href), calendar.to_ical().decode())

    def delete(self, uid: str) -> None:
        with self.calendar.server.dav() as dav:
            assert dav.delete(self._url(self._href(uid))).status in (200, 204)

    def add_foreign(self, ics: str) -> None:
        (event,) = icalendar.Calendar.from_ical(ics).walk("VEVENT")
        self._put(f"{self.calendar.url}{event['UID']}.ics", ics)

    def raw(self) -> list[tuple[str, str]]:
        return [
            (str(e["UID"]), data.decode())
            for _etag, data in self._objects().values()
            for e in icalendar.Calendar.from_ical(data).walk("VEVENT")
        ]

    def version(self) -> object:
        return {href: etag for href, (etag, _data) in self._objects().items()}


# --- helpers ---------------------------------------------------------------------------------


def sync(target: Handle, planned: Sequence[Session]) -> tuple[list[Action], Outcome]:
    """One pass: read what calsync owns, reconcile with the plan, apply."""
    owned = target.list_owned()
    actions = reconcile(planned, owned, now=NOW, window_start=WINDOW[0], window_end=WINDOW[1])
    return actions, target.apply(actions)


def pending(target: Handle, planned: Sequence[Session]) -> list[Action]:
    """The actions a pass would take now."""
    owned = target.list_owned()
    return reconcile(planned, owned, now=NOW, window_start=WINDOW[0], window_end=WINDOW[1])


def by_uid(owned: Sequence[OwnedEvent]) -> dict[str, OwnedEvent]:
    """Owned events by UID (asserting there are no duplicates)."""
    index = {o.uid: o for o in owned}
    assert len(index) == len(owned), [o.uid for o in owned]
    return index


def moved(s: Session, hours: int = 2) -> Session:
    """The session a few hours later (a run moved)."""
    assert isinstance(s.start, datetime)
    assert isinstance(s.end, datetime)
    later = timedelta(hours=hours)
    return Session(s.uid, s.kind, s.title, s.start + later, s.end + later, s.week, s.slot, reasons=s.reasons)


def populated(storage: Storage) -> Handle:
    """A target holding every planned session (written by one pass)."""
    target = storage.make_target()
    actions, outcome = sync(target, PLANNED)
    assert [type(a) for a in actions] == [Create] * len(PLANNED)
    assert not outcome.conflicts
    return target


def stale(storage: Storage, action: str) -> tuple[Handle, list[Action]]:
    """A target that read the calendar and planned one ``action`` on S1, not yet applied."""
    populated(storage)
    target = storage.make_target()
    plan = [moved(s) if s.uid == S1 else s for s in PLANNED]
    if action == "delete":
        plan = [s for s in PLANNED if s.uid != S1]
    actions = pending(target, plan)
    assert [type(a).__name__.lower() for a in actions] == [action]
    return target, actions


# --- the contract ----------------------------------------------------------------------------


class TargetContract:
    """What every calendar target promises. A subclass per kind gives the ``storage`` fixture:
    an empty calendar of that kind, and "a person" working on it behind calsync's back."""

    def test_empty_target_owns_nothing(self, storage: Storage) -> None:
        assert storage.make_target().list_owned() == []

    def test_created_sessions_read_back_as_owned(self, storage: Storage) -> None:
        populated(storage)
        owned = by_uid(storage.make_target().list_owned())
        assert sorted(owned) == sorted(BY_UID)
        for uid, event in owned.items():
            planned = BY_UID[uid]
            assert (event.plan_id, event.kind, event.week, event.slot) == (
                PLAN,
                planned.kind,
                planned.week,
                planned.slot,
            )
            assert (event.title, event.start, event.end, event.sequence) == (
                planned.title,
                planned.start,
                planned.end,
                0,
            )
            assert event.written_hash == event.current_hash == session_fingerprint(planned)
            assert not event.edited
        rest = owned[DST_REST]
        assert type(rest.start) is date
        assert type(rest.end) is date
        before, after = owned[DST_S1].start, owned[DST_S2].start
        assert isinstance(before, datetime)
        assert isinstance(after, datetime)
        assert owned[DST_S1].week == owned[DST_S2].week == "2026-W43"
        assert before.utcoffset() == timedelta(hours=2)  # CEST
        assert after.utcoffset() == timedelta(hours=1)  # CET, after the change
        assert after.astimezone(ZONE).hour == 7

    def test_update_in_place_keeps_uid_and_bumps_sequence(self, storage: Storage) -> None:
        populated(storage)
        plan = [moved(s) if s.uid in (S1, DST_S2) else s for s in PLANNED]
        actions, outcome = sync(storage.make_target(), plan)
        assert sorted(a.session.uid for a in actions if isinstance(a, Update)) == sorted([S1, DST_S2])
        assert len(actions) == 2
        assert not outcome.conflicts
        owned = by_uid(storage.make_target().list_owned())
        assert storage.uids() == sorted(BY_UID)  # same UIDs, nothing deleted and re-created
        for s in plan:
            event = owned[s.uid]
            assert (event.start, event.end) == (s.start, s.end)
            assert event.sequence == (1 if s.uid in (S1, DST_S2) else 0)
            assert event.written_hash == event.current_hash == session_fingerprint(s)

    def test_update_keeps_what_a_person_added(self, storage: Storage) -> None:
        populated(storage)
        storage.edit(S1, location="Gym on Main Street")  # not something calsync controls: not an edit
        plan = [moved(s) if s.uid == S1 else s for s in PLANNED]
        actions, _ = sync(storage.make_target(), plan)
        assert [type(a) for a in actions] == [Update]
        assert "Gym on Main Street" in storage.text_of(S1)

    def test_delete_removes_only_that_event(self, storage: Storage) -> None:
        populated(storage)
        storage.add_foreign(FOREIGN_PERSON)
        actions, outcome = sync(storage.make_target(), [s for s in PLANNED if s.uid != S2])
        assert [(type(a), a.previous.uid) for a in actions if isinstance(a, Delete)] == [(Delete, S2)]
        assert len(actions) == 1
        assert not outcome.conflicts
        assert storage.uids() == sorted([*(u for u in BY_UID if u != S2), "dentist-1@example.org"])
        assert S2 not in by_uid(storage.make_target().list_owned())

    def test_a_persons_copy_under_a_new_uid_is_never_owned(self, storage: Storage) -> None:
        """An app duplicates a session (or re-creates it moving it between calendars): same
        content, ``X-CALSYNC-*`` lines and all, another UID. It is the person's event: a pass
        neither deletes it nor the original (issue 14, item 1)."""
        populated(storage)
        copy = "copy-of-s1@person.example"
        text = storage.text_of(S1)
        storage.add_foreign(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Person//App//EN\r\n"
            + text[text.index("BEGIN:VEVENT") : text.index("END:VEVENT")].replace(f"UID:{S1}", f"UID:{copy}")
            + "END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
        storage.delete(S1)
        target = storage.make_target()
        assert copy not in by_uid(target.list_owned())
        actions, outcome = sync(target, [s for s in PLANNED if s.uid != S1])
        assert actions == []
        assert not outcome.conflicts
        assert copy in storage.uids()

    def test_persons_edit_is_seen_and_kept(self, storage: Storage) -> None:
        populated(storage)
        new_start = datetime(2026, 12, 3, 19, 30, tzinfo=ZONE)
        storage.edit(S1, summary="Squats with Anna")
        storage.edit(S2, start=new_start)
        target = storage.make_target()
        owned = by_uid(target.list_owned())
        for uid in (S1, S2):
            assert owned[uid].edited
            assert owned[uid].current_hash != owned[uid].written_hash
        assert not owned[REST].edited
        fixed = {s.uid: s for s in fixed_sessions(list(owned.values()), now=NOW)}
        assert sorted(fixed) == sorted([S1, S2])
        assert fixed[S1].title == "Squats with Anna"
        assert fixed[S1].fixed
        assert fixed[S2].start == new_start
        assert fixed[S2].end == new_start + timedelta(minutes=45)
        # the original plan again: calsync leaves both edits alone
        assert pending(target, PLANNED) == []
        assert "Squats with Anna" in storage.text_of(S1)

    def test_persons_deletion_disappears_from_owned(self, storage: Storage) -> None:
        populated(storage)
        storage.delete(DST_REST)
        owned = by_uid(storage.make_target().list_owned())
        assert sorted(owned) == sorted(u for u in BY_UID if u != DST_REST)

    def test_foreign_events_are_never_owned_nor_changed(self, storage: Storage) -> None:
        storage.add_foreign(FOREIGN_PERSON)
        storage.add_foreign(FOREIGN_PLAN)
        before = dict(storage.raw())
        populated(storage)
        plan = [moved(s) if s.uid == S1 else s for s in PLANNED if s.uid != S2]
        actions, _ = sync(storage.make_target(), plan)
        assert sorted(type(a).__name__ for a in actions) == ["Delete", "Update"]
        assert not FOREIGN_UIDS & set(by_uid(storage.make_target().list_owned()))
        after = dict(storage.raw())
        assert {uid: after[uid] for uid in FOREIGN_UIDS} == before

    def test_create_of_a_uid_already_there_changes_nothing(
        self, storage: Storage, caplog: pytest.LogCaptureFixture
    ) -> None:
        squatter = plain_event(S1, "Someone else's event", "20261130T120000")
        storage.add_foreign(squatter)
        before = storage.text_of(S1)
        target = storage.make_target()
        with caplog.at_level(logging.WARNING):
            actions, outcome = sync(target, PLANNED)
        assert Create(BY_UID[S1]) in actions
        assert outcome.conflicts == [S1]
        assert storage.text_of(S1) == before
        assert S1 not in by_uid(target.list_owned())

    def test_apply_with_no_actions_writes_nothing(self, storage: Storage) -> None:
        empty = storage.version()
        assert storage.make_target().apply([]).conflicts == []
        assert storage.version() == empty  # not even an empty file
        populated(storage)
        before = storage.version()
        target = storage.make_target()
        actions, outcome = sync(target, PLANNED)
        assert actions == []
        assert not outcome.conflicts
        target.apply([])
        assert storage.version() == before

    def test_second_reconcile_after_apply_has_no_actions(self, storage: Storage) -> None:
        target = storage.make_target()
        sync(target, PLANNED)
        assert pending(target, PLANNED) == []  # the same target object
        plan = [moved(s) if s.uid == S2 else s for s in PLANNED if s.uid != DST_S1]
        actions, _ = sync(target, plan)
        assert len(actions) == 2
        assert pending(target, plan) == []
        assert pending(storage.make_target(), plan) == []  # and a fresh one

    def test_fresh_target_adopts_what_is_there(self, storage: Storage) -> None:
        first = populated(storage)
        seen = by_uid(first.list_owned())
        adopted = by_uid(storage.make_target().list_owned())
        assert adopted == seen
        actions, _ = sync(storage.make_target(), PLANNED)
        assert actions == []
        assert storage.uids() == sorted(BY_UID)  # no duplicates

    @pytest.mark.parametrize("action", ["update", "delete"])
    def test_stale_write_keeps_the_persons_edit(
        self, storage: Storage, action: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        target, actions = stale(storage, action)
        storage.edit(S1, summary="Moved by me")  # a person edits between read and apply
        with caplog.at_level(logging.WARNING):
            outcome = target.apply(actions)
        assert outcome.conflicts == [S1]
        assert "Moved by me" in storage.text_of(S1)
        owned = by_uid(storage.make_target().list_owned())
        assert owned[S1].edited
        assert owned[S1].start == BY_UID[S1].start

    @pytest.mark.parametrize("action", ["update", "delete"])
    def test_stale_write_does_not_bring_back_the_persons_deletion(
        self, storage: Storage, action: str
    ) -> None:
        target, actions = stale(storage, action)
        storage.delete(S1)  # a person deletes between read and apply
        outcome = target.apply(actions)
        assert S1 not in storage.uids()
        if outcome.conflicts is not None:  # an update meets a precondition; a delete finds it gone
            assert outcome.conflicts == ([S1] if action == "update" else [])


# --- the kinds -------------------------------------------------------------------------------


class TestIcsFileTarget(TargetContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> Storage:
        return IcsStorage(tmp_path / "out" / "calsync.ics")


class TestMemoryTarget(TargetContract):
    @pytest.fixture
    def storage(self) -> Storage:
        return MemoryStorage()


def _dav_storage(server: DavServer) -> Iterator[Storage]:
    dav = DavStorage(server.calendar())
    yield dav
    for client in dav.clients:
        client.close()


class TestRadicaleTarget(TargetContract):
    @pytest.fixture
    def storage(self, radicale_server: DavServer) -> Iterator[Storage]:
        yield from _dav_storage(radicale_server)


class TestXandikosTarget(TargetContract):
    @pytest.fixture
    def storage(self, xandikos_server: DavServer) -> Iterator[Storage]:
        yield from _dav_storage(xandikos_server)
