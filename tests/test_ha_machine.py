"""The calendar machine (``calendar_machine.py``) on a real Home Assistant.

The backend writes runs and foreign events over HA's websocket API as HA's UI does, and injects
failures into calsync's HA client: the websocket dropped before a command, an answer lost after
HA acted, HA unreachable, a person editing a session just before calsync's re-check.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from calendar_machine import (
    HORIZON_WEEKS,
    NOW,
    PLAN_ID,
    ZONE,
    Backend,
    CalendarMachine,
    Snapshot,
    run_machine,
)
from calsync.adapters import ha_marker, homeassistant
from calsync.adapters.ha_client import HaClient
from calsync.adapters.homeassistant import HaCalendarTarget
from calsync.config import HomeAssistantTarget, PlanConfig, parse_config
from calsync.core.model import When
from calsync.core.reconcile import OwnedEvent

if TYPE_CHECKING:
    from ha_server import HaServer

pytest_plugins = ["ha_server"]

MAX_EXAMPLES = 12
STEP_COUNT = 15
FAILURES = ("drop", "lost_answer", "down", "person_edit")


# -- failure injection -----------------------------------------------------------------------------


class Injector:
    """Counts calsync's requests to HA (REST and websocket) and fails the ``after``-th one
    (and, when ``sticky``, every one after it)."""

    def __init__(self) -> None:
        self.mode = ""
        self.after = 0
        self.sticky = False
        self.seen = 0
        self.person_edits: Callable[[], None] = lambda: None

    def arm(self, mode: str, after: int, sticky: bool, person_edits: Callable[[], None]) -> None:
        self.mode, self.after, self.sticky, self.seen = mode, after, sticky, 0
        self.person_edits = person_edits

    def disarm(self) -> None:
        self.mode = ""

    def _due(self) -> bool:
        if not self.mode:
            return False
        self.seen += 1
        return self.seen == self.after + 1 or (self.sticky and self.seen > self.after + 1)

    def command(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def command(client: HaClient, kind: str, **fields: Any) -> Any:
            if not self._due() or self.mode == "person_edit":
                return real(client, kind, **fields)
            if self.mode == "drop":
                ws = client._websocket()
                ws.socket.shutdown(socket.SHUT_RDWR)  # the network drops it
                return real(client, kind, **fields)
            if self.mode == "lost_answer":
                real(client, kind, **fields)
                raise client.fail(f"the websocket connection to Home Assistant dropped during {kind}")
            raise client.fail("cannot reach Home Assistant (connection refused)")

        return command

    def rest(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def rest(client: HaClient, method: str, path: str, **kwargs: Any) -> Any:
            if self.mode == "lost_answer" and self.sticky and self.seen > self.after:
                # answers lost on the websocket, not over REST: the listing calsync makes after a
                # lost answer tells what HA did (were both lost, nobody could know; not tested)
                self.seen += 1
                return real(client, method, path, **kwargs)
            if not self._due():
                return real(client, method, path, **kwargs)
            if self.mode == "person_edit":
                self.person_edits()  # just before calsync lists (its read or its re-check)
                return real(client, method, path, **kwargs)
            if self.mode == "lost_answer":
                real(client, method, path, **kwargs)
            raise client.fail("cannot reach Home Assistant (connection refused)")

        return rest


INJECTOR = Injector()


# -- helpers ---------------------------------------------------------------------------------------


def marker_of(item: dict[str, Any]) -> ha_marker.Marker | None:
    found = ha_marker.split(item.get("description") or "")
    return found[1] if found else None


def canonical(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True)


def start_of(item: dict[str, Any]) -> When:
    value = item["start"]
    if "dateTime" in value:
        return datetime.fromisoformat(value["dateTime"])
    return date.fromisoformat(value["date"])


def same_when(a: When, b: When) -> bool:
    if isinstance(a, datetime) or isinstance(b, datetime):
        return isinstance(a, datetime) and isinstance(b, datetime) and a == b
    return a == b


class HaBackend(Backend):
    """A Home Assistant Local Calendar, written as HA's UI does; failures go into calsync's client."""

    failures = FAILURES
    max_after = 10

    def __init__(self, server: HaServer) -> None:
        self.server = server
        self.token = Path(tempfile.mkdtemp(prefix="calsync-ha-machine-token-")) / "token"
        self.token.write_text(server.token)

    def new_calendar(self) -> str:
        return self.server.calendar()

    def config(self, folder: Path, source: str, target: str) -> PlanConfig:
        def keys(entity_id: str) -> str:
            return (
                f'kind = "homeassistant"\nurl = "{self.server.url}"\n'
                f'entity_id = "{entity_id}"\ntoken_file = "{self.token}"'
            )

        text = (
            f'[[plan]]\nid = "{PLAN_ID}"\ntimezone = "Europe/Berlin"\nhorizon_weeks = {HORIZON_WEEKS}\n\n'
            f"[[plan.source]]\n{keys(source)}\n\n[plan.target]\n{keys(target)}\nsensors = false\n"
        )
        path = folder / "calsync.toml"
        path.write_text(text)
        (plan,) = parse_config(text, path).plan
        return plan

    def _items(self, calendar: str) -> list[dict[str, Any]]:
        return self.server.events(calendar)

    def _item(self, calendar: str, uid: str) -> dict[str, Any]:
        (item,) = [i for i in self._items(calendar) if i["uid"] == uid]
        return item

    def _create(self, calendar: str, **event: Any) -> str:
        """Create an event as a person; its HA uid."""
        before = {i["uid"] for i in self._items(calendar)}
        with self.server.person() as person:
            person.create(calendar, **event)
        (uid,) = [i["uid"] for i in self._items(calendar) if i["uid"] not in before]
        return str(uid)

    def add_run(self, calendar: str, key: str, day: date, title: str) -> str:  # noqa: ARG002 - HA picks the uid
        return self._create(
            calendar, summary=title, dtstart=day.isoformat(), dtend=(day + timedelta(days=1)).isoformat()
        )

    def move_run(self, calendar: str, key: str, day: date, title: str, sequence: int) -> None:  # noqa: ARG002
        with self.server.person() as person:
            person.update(
                calendar,
                key,
                summary=title,
                dtstart=day.isoformat(),
                dtend=(day + timedelta(days=1)).isoformat(),
            )

    def delete_run(self, calendar: str, key: str) -> None:
        with self.server.person() as person:
            person.delete(calendar, key)

    def add_foreign(self, calendar: str, key: str, day: date, hour: int, other_plan: bool) -> str:  # noqa: ARG002
        start = datetime.combine(day, datetime.min.time(), ZONE).replace(hour=hour)
        description = "Bring the shoes"
        if other_plan:
            marker = ha_marker.Marker(
                "other", "calsync-other-2026W49-s1", "upper", "2026-W49", "s1", 0, "0" * 16
            )
            description = ha_marker.with_marker("Strength for someone else", marker)
        return self._create(
            calendar,
            summary="Strength: upper body" if other_plan else "Dentist",
            dtstart=start.isoformat(),
            dtend=(start + timedelta(hours=1)).isoformat(),
            description=description,
        )

    def _split(self, calendar: str) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
        mine: dict[str, list[dict[str, Any]]] = {}
        others: dict[str, dict[str, Any]] = {}
        for item in self._items(calendar):
            marker = marker_of(item)
            if marker is not None and marker.plan == PLAN_ID:
                mine.setdefault(marker.uid, []).append(item)
            else:
                others[item["uid"]] = item
        return mine, others

    def others(self, calendar: str) -> dict[str, Snapshot]:
        return {uid: canonical(item) for uid, item in self._split(calendar)[1].items()}

    def owned(self, calendar: str) -> dict[str, list[Snapshot]]:
        return {uid: [canonical(i) for i in items] for uid, items in self._split(calendar)[0].items()}

    def person_edits(self, calendar: str, uid: str, how: str) -> Snapshot:
        item = self._split(calendar)[0][uid][0]
        start, end = item["start"], item["end"]
        if how == "move":
            if "dateTime" in start:
                shift = timedelta(days=1)
                start = {"dateTime": (datetime.fromisoformat(start["dateTime"]) + shift).isoformat()}
                end = {"dateTime": (datetime.fromisoformat(end["dateTime"]) + shift).isoformat()}
            else:
                start = {"date": (date.fromisoformat(start["date"]) + timedelta(days=1)).isoformat()}
                end = {"date": (date.fromisoformat(end["date"]) + timedelta(days=1)).isoformat()}
        summary = item["summary"] if how == "move" else f"{item['summary']} (with Anna)"
        with self.server.person() as person:
            person.update(
                calendar,
                item["uid"],
                summary=summary,
                dtstart=start.get("dateTime") or start["date"],
                dtend=end.get("dateTime") or end["date"],
            )
        return canonical(self._item(calendar, item["uid"]))

    def person_deletes(self, calendar: str, uid: str) -> None:
        with self.server.person() as person:
            for item in self._split(calendar)[0][uid]:
                person.delete(calendar, item["uid"])

    def start_of(self, snapshot: Snapshot) -> When:
        assert isinstance(snapshot, str)
        value = json.loads(snapshot)["start"]
        if "dateTime" in value:
            return datetime.fromisoformat(value["dateTime"])
        return date.fromisoformat(value["date"])

    def duplicates(self, calendar: str) -> dict[str, int]:
        return {uid: len(items) for uid, items in self._split(calendar)[0].items() if len(items) > 1}

    def list_owned(self, config: PlanConfig) -> list[OwnedEvent]:
        assert isinstance(config.target, HomeAssistantTarget)
        target = HaCalendarTarget(config.target, PLAN_ID, ZONE, where="machine")
        try:
            return target.list_owned()
        finally:
            target.close()

    def arm(self, machine: CalendarMachine, mode: str, after: int, sticky: bool) -> None:
        INJECTOR.arm(mode, after, sticky, lambda: machine.person_edits(0, "rename"))

    def disarm(self) -> None:
        INJECTOR.disarm()


@pytest.fixture
def machine_server(ha_server: HaServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[HaServer]:
    """The server, calsync's HA client wired to :data:`INJECTOR`."""
    state_dir = Path(tempfile.mkdtemp(prefix="calsync-ha-machine-state-"))
    monkeypatch.setenv("STATE_DIRECTORY", str(state_dir))
    monkeypatch.setattr(HaClient, "command", INJECTOR.command(HaClient.command))
    monkeypatch.setattr(HaClient, "rest", INJECTOR.rest(HaClient.rest))
    monkeypatch.setattr(homeassistant, "_clock", lambda: NOW)  # the target lists around the clock
    try:
        yield ha_server
    finally:
        INJECTOR.disarm()
        shutil.rmtree(state_dir, ignore_errors=True)


def test_ha_sync_machine(machine_server: HaServer) -> None:
    """Random sequences of edits and (failing) passes keep every promise after each clean pass."""
    run_machine(HaBackend(machine_server), examples=MAX_EXAMPLES, steps=STEP_COUNT)
