"""The target contract suite (tests/test_target_contract.py) run on a Home Assistant Local Calendar.

:class:`TestHaLocalCalendar` runs the contract with ``storage`` = a fresh Local Calendar on the
real Home Assistant of ``ha_server``; "a person" edits it over the websocket API
as HA's UI does. One contract test does not apply: HA assigns every event its own ``uid``, so no
foreign event can squat a session's UID; its HA counterpart is a create meeting a copy another
instance wrote meanwhile (below), plus duplicate copies collapsed to one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import icalendar
import pytest

from calsync.adapters import ha_marker
from calsync.adapters.homeassistant import HaCalendarTarget
from calsync.config import HomeAssistantTarget
from calsync.core.model import Session
from calsync.core.reconcile import Action, Create, Delete, Update
from calsync.executor import execute
from calsync.schema import load
from test_target_contract import (
    BY_UID,
    FOREIGN_PERSON,
    NOW,
    PLAN,
    PLANNED,
    S1,
    S2,
    ZONE,
    Handle,
    Storage,
    TargetContract,
    by_uid,
    moved,
    pending,
    populated,
    sync,
)

if TYPE_CHECKING:
    from ha_server import HaServer

pytest_plugins = ["ha_server"]


def _wire(when: object) -> str:
    assert isinstance(when, date)
    return when.isoformat()


def _dt(component: icalendar.Component, name: str) -> object:
    """A date/time property's value as icalendar reads it."""
    value = component[name]
    assert isinstance(value, icalendar.vDDDTypes)
    return value.dt


def _session(action: Action) -> Session:
    """The session a create or an update writes."""
    assert not isinstance(action, Delete), action
    return action.session


def _uid(action: Action) -> str:
    """The UID an action is about: its session's, or the deleted event's."""
    return action.previous.uid if isinstance(action, Delete) else action.session.uid


class HaStorage(Storage):
    """A Local Calendar; a person uses HA's websocket API; events are keyed by calsync UID (from
    the marker) or, for foreign ones, by the UID of the ``.ics`` they were made from."""

    def __init__(self, server: HaServer, entity_id: str, token_file: Path) -> None:
        self.server = server
        self.entity_id = entity_id
        self.token_file = token_file
        self.names: dict[str, str] = {}
        """HA uid -> the UID of the foreign ``.ics`` event it was created from."""

    def config(self) -> HomeAssistantTarget:
        return load(
            HomeAssistantTarget,
            {
                "kind": "homeassistant",
                "url": self.server.url,
                "entity_id": self.entity_id,
                "token_file": self.token_file,
            },
        )

    def make_target(self) -> Handle:
        return Handle(HaCalendarTarget(self.config(), PLAN, ZONE, where="test.target", now=NOW))  # type: ignore[arg-type]

    def items(self) -> list[dict[str, Any]]:
        return self.server.events(self.entity_id)

    def key(self, item: dict[str, Any]) -> str:
        found = ha_marker.split(item.get("description") or "")
        if found is not None:
            return found[1].uid
        uid: str = item["uid"]
        return self.names.get(uid, uid)

    def item(self, uid: str) -> dict[str, Any]:
        (item,) = [i for i in self.items() if self.key(i) == uid]
        return item

    def edit(
        self,
        uid: str,
        *,
        summary: str | None = None,
        start: datetime | None = None,
        location: str | None = None,
    ) -> None:
        item = self.item(uid)
        old_start = datetime.fromisoformat(item["start"]["dateTime"])
        old_end = datetime.fromisoformat(item["end"]["dateTime"])
        new_start = start or old_start
        event: dict[str, Any] = {
            "summary": summary if summary is not None else item["summary"],
            "dtstart": new_start.isoformat(),
            "dtend": (new_start + (old_end - old_start)).isoformat(),
        }
        if location is not None:
            event["location"] = location
        with self.server.person() as person:
            person.update(self.entity_id, item["uid"], **event)

    def delete(self, uid: str) -> None:
        with self.server.person() as person:
            person.delete(self.entity_id, self.item(uid)["uid"])

    def add_foreign(self, ics: str) -> None:
        (vevent,) = icalendar.Calendar.from_ical(ics).walk("VEVENT")
        description = str(vevent.get("DESCRIPTION", ""))
        if vevent.get("X-CALSYNC-PLAN"):  # another plan's session: its marker
            marker = ha_marker.Marker(
                str(vevent["X-CALSYNC-PLAN"]),
                str(vevent["UID"]),
                str(vevent["X-CALSYNC-KIND"]),
                str(vevent["X-CALSYNC-WEEK"]),
                str(vevent["X-CALSYNC-SLOT"]),
                0,
                str(vevent["X-CALSYNC-HASH"]),
            )
            description = ha_marker.with_marker(description, marker)
        before = {i["uid"] for i in self.items()}
        with self.server.person() as person:
            person.create(
                self.entity_id,
                summary=str(vevent["SUMMARY"]),
                dtstart=_wire(_dt(vevent, "DTSTART")),
                dtend=_wire(_dt(vevent, "DTEND")),
                description=description,
            )
        (new,) = [i["uid"] for i in self.items() if i["uid"] not in before]
        self.names[new] = str(vevent["UID"])

    def raw(self) -> list[tuple[str, str]]:
        return [(self.key(i), json.dumps(i, sort_keys=True)) for i in self.items()]

    def version(self) -> object:
        return json.dumps(self.items(), sort_keys=True)


@pytest.fixture
def storage(ha_server: HaServer, tmp_path: Path) -> HaStorage:
    """An empty Local Calendar on the real Home Assistant."""
    token_file = tmp_path / "ha-token"
    token_file.write_text(ha_server.token + "\n")
    return HaStorage(ha_server, ha_server.calendar(), token_file)


class TestHaLocalCalendar(TargetContract):
    """The whole contract on a Local Calendar (the ``storage`` fixture above), bar one test."""

    @pytest.mark.skip(reason="HA gives every event its own uid: no foreign event can squat a session's UID")
    def test_create_of_a_uid_already_there_changes_nothing(
        self, storage: Storage, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Its HA counterpart: a create meeting a copy another instance wrote (next test)."""

    @pytest.mark.skip(
        reason="HA picks every event's uid: calsync knows its sessions by the marker line, so an unedited "
        "copy carrying it is read as a second copy of the session (two instances raced), not as a person's"
    )
    def test_a_persons_copy_under_a_new_uid_is_never_owned(self, storage: Storage) -> None:
        """Not a promise of this target (see the reason)."""


def test_create_meeting_another_instances_copy_is_a_conflict(storage: HaStorage) -> None:
    """HA's counterpart of "a create of a UID already there": between this target's read and its
    apply, another instance wrote the same session; the create is a conflict, not a second copy."""
    target = storage.make_target()
    actions = pending(target, PLANNED)
    storage.make_target().apply([a for a in actions if isinstance(a, Create) and a.session.uid == S1])
    outcome = target.apply(actions)
    assert outcome.conflicts == [S1]
    assert storage.uids().count(S1) == 1
    assert pending(storage.make_target(), PLANNED) == []


def housekeeping(handle: Handle, planned: Sequence[Session] = PLANNED) -> None:
    """What a pass with nothing else to write does after its listing: the duplicate copies that
    reconcile finds are deleted (and nothing else is written)."""
    actions = pending(handle, planned)
    assert all(isinstance(a, Delete) and a.duplicate for a in actions), actions
    assert not handle.apply(actions).conflicts


def only_duplicate_deletes(actions: list[Action]) -> bool:
    """Whether reconcile's actions are nothing but deletes of extra copies."""
    return all(isinstance(a, Delete) and a.duplicate for a in actions)


def copy_of(storage: HaStorage, uid: str) -> None:
    """A second event with the same calsync UID and content: what two instances racing through
    the moment between their last listing and their create leave behind."""
    item = storage.item(uid)
    with storage.server.person() as person:
        person.create(
            storage.entity_id,
            summary=item["summary"],
            dtstart=item["start"].get("dateTime") or item["start"]["date"],
            dtend=item["end"].get("dateTime") or item["end"]["date"],
            description=item["description"],
        )


def test_two_copies_of_one_session_collapse_to_one(storage: HaStorage) -> None:
    """The next pass keeps one copy and deletes the other (in ``publish`` when it has nothing
    else to write), whichever instance does it."""
    populated(storage)
    copy_of(storage, S1)
    assert storage.uids().count(S1) == 2
    target = storage.make_target()
    owned = by_uid(target.list_owned())
    assert sorted(owned) == sorted(s.uid for s in PLANNED)
    assert not owned[S1].edited
    actions = pending(target, PLANNED)
    assert [(a.previous.uid, a.duplicate) for a in actions if isinstance(a, Delete)] == [(S1, True)]
    assert only_duplicate_deletes(actions)
    housekeeping(target)
    assert storage.uids() == sorted(s.uid for s in PLANNED)


def test_copies_are_collapsed_before_writing(storage: HaStorage) -> None:
    populated(storage)
    copy_of(storage, S2)
    plan = [moved(s) if s.uid == S2 else s for s in PLANNED]
    actions, outcome = sync(storage.make_target(), plan)
    assert [a.session.uid for a in actions if isinstance(a, Update)] == [S2]
    assert not outcome.conflicts
    assert storage.uids() == sorted(s.uid for s in PLANNED)
    assert by_uid(storage.make_target().list_owned())[S2].start == moved(BY_UID[S2]).start


def test_a_copy_a_person_edited_is_theirs_and_the_unedited_one_stays_owned(storage: HaStorage) -> None:
    """Two copies, one changed by a person: only unedited copies are collapsed, so the unedited
    one stays the session and the edited one is the person's own (never touched)."""
    populated(storage)
    copy_of(storage, S1)
    items = [i for i in storage.items() if storage.key(i) == S1]
    chosen = max(items, key=lambda i: i["uid"])  # not the one kept when both are unedited
    start = datetime.fromisoformat(chosen["start"]["dateTime"])
    with storage.server.person() as person:
        person.update(
            storage.entity_id,
            chosen["uid"],
            summary="Squats with Anna",
            dtstart=start.isoformat(),
            dtend=(start + timedelta(minutes=45)).isoformat(),
        )
    theirs = json.dumps(next(i for i in storage.items() if i["uid"] == chosen["uid"]), sort_keys=True)
    target = storage.make_target()
    owned = by_uid(target.list_owned())
    assert not owned[S1].edited
    assert owned[S1].title == BY_UID[S1].title
    assert pending(target, PLANNED) == []  # the edited copy is theirs: not a duplicate to delete
    housekeeping(target)
    copies = {i["uid"]: json.dumps(i, sort_keys=True) for i in storage.items() if storage.key(i) == S1}
    assert len(copies) == 2
    assert copies[chosen["uid"]] == theirs


def test_a_description_pasted_into_a_persons_event_does_not_take_the_session(storage: HaStorage) -> None:
    """A person pastes a session's description (marker included) into a new event of their own,
    days later: the session is kept (not deleted as a "duplicate"), their event is not touched."""
    populated(storage)
    original = storage.item(S1)
    start = datetime.fromisoformat(original["start"]["dateTime"]) + timedelta(days=4)
    with storage.server.person() as person:
        person.create(
            storage.entity_id,
            summary=original["summary"] + " (again)",
            dtstart=start.isoformat(),
            dtend=(start + timedelta(hours=1)).isoformat(),
            description=original["description"],
        )
    (pasted,) = [i for i in storage.items() if storage.key(i) == S1 and i["uid"] != original["uid"]]
    target = storage.make_target()
    assert by_uid(target.list_owned())[S1].start == BY_UID[S1].start
    plan = [moved(s) if s.uid == S1 else s for s in PLANNED]
    actions, outcome = sync(target, plan)
    assert [_session(a).uid for a in actions] == [S1]
    assert not outcome.conflicts
    housekeeping(storage.make_target(), plan)
    now = {i["uid"]: i for i in storage.items() if storage.key(i) == S1}
    assert now[pasted["uid"]] == pasted  # theirs: untouched
    assert datetime.fromisoformat(now[original["uid"]]["start"]["dateTime"]) == moved(BY_UID[S1]).start


def test_an_event_deleted_right_after_the_re_check_is_gone_not_a_failed_pass(
    storage: HaStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person deletes two sessions in the moment between calsync's re-check and its writes:
    the delete of one is "already gone", the update of the other a conflict; the pass goes on."""
    from calsync.adapters.ha_client import HaClient

    populated(storage)
    target = storage.make_target()
    plan = [moved(s) if s.uid == S1 else s for s in PLANNED if s.uid != S2]
    actions = pending(target, plan)
    assert sorted((type(a).__name__, _uid(a)) for a in actions) == [
        ("Delete", S2),
        ("Update", S1),
    ]
    real = HaClient.rest
    gone = {S1: storage.item(S1)["uid"], S2: storage.item(S2)["uid"]}

    def rest(client: HaClient, method: str, path: str, **kwargs: Any) -> Any:
        answer = real(client, method, path, **kwargs)
        if method == "GET" and gone:  # the re-check: then the person deletes both
            with storage.server.person() as person:
                for ha_uid in gone.values():
                    person.delete(storage.entity_id, ha_uid)
            gone.clear()
        return answer

    monkeypatch.setattr(HaClient, "rest", rest)
    result = execute(actions, target.target, now=NOW)
    assert [c.uid for c in result.conflicts] == [S1]
    assert result.deleted == []
    assert S1 not in storage.uids()
    assert S2 not in storage.uids()


def test_collapsing_copies_is_logged(storage: HaStorage, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    populated(storage)
    copy_of(storage, S1)
    caplog.set_level(logging.INFO, logger="calsync")
    target = storage.make_target()
    target.list_owned()
    housekeeping(target)
    assert any("duplicate" in r.getMessage() and S1 in r.getMessage() for r in caplog.records), caplog.text


def test_foreign_person_event_is_never_owned(storage: HaStorage) -> None:
    storage.add_foreign(FOREIGN_PERSON)
    assert storage.make_target().list_owned() == []
    actions, _ = sync(storage.make_target(), PLANNED)
    assert len(actions) == len(PLANNED)
    assert storage.uids().count("dentist-1@example.org") == 1
