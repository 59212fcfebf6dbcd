"""calsync with Home Assistant as a user runs it, against a real Home Assistant on loopback.

The run plan lives in an HA calendar entity (recurring runs with a moved and a cancelled
occurrence, all-day runs, a race, a dentist appointment), sessions go into an HA Local Calendar,
and the sensors are read back with ``GET /api/states``. Every pass is a real ``calsync`` process.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

import support
from calsync.adapters import ha_marker
from calsync.executor import execute
from calsync.schema import load

if TYPE_CHECKING:
    from ha_server import HaServer

pytest_plugins = ["ha_server"]

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-27T07:30:00+01:00"
ZONE = ZoneInfo("Europe/Berlin")

PLAN_ICS = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//calsync tests//ha plan//EN
BEGIN:VEVENT
UID:easy-tue@plan
DTSTAMP:20261101T000000Z
SUMMARY:Run: Easy Run 40 min
DESCRIPTION:Keep it conversational.
LOCATION:Park
DTSTART;TZID=Europe/Berlin:20261201T070000
DTEND;TZID=Europe/Berlin:20261201T074000
RRULE:FREQ=WEEKLY;COUNT=12
EXDATE;TZID=Europe/Berlin:20261222T070000
END:VEVENT
BEGIN:VEVENT
UID:easy-tue@plan
DTSTAMP:20261101T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20261215T070000
SUMMARY:Run: Easy Run 40 min (moved)
DTSTART;TZID=Europe/Berlin:20261216T180000
DTEND;TZID=Europe/Berlin:20261216T184000
END:VEVENT
BEGIN:VEVENT
UID:long-sat@plan
DTSTAMP:20261101T000000Z
SUMMARY:Long Run 25 km
DTSTART;VALUE=DATE:20261205
DTEND;VALUE=DATE:20261206
RRULE:FREQ=WEEKLY;COUNT=10
END:VEVENT
BEGIN:VEVENT
UID:intervals@plan
DTSTAMP:20261101T000000Z
SUMMARY:Intervals 8x400m
DTSTART;TZID=Europe/Berlin:20261210T180000
DTEND;TZID=Europe/Berlin:20261210T190000
END:VEVENT
BEGIN:VEVENT
UID:tempo@plan
DTSTAMP:20261101T000000Z
SUMMARY:🏃 Threshold Intervals • 5mi
DTSTART;TZID=Europe/Berlin:20261217T063000
DTEND;TZID=Europe/Berlin:20261217T073000
END:VEVENT
BEGIN:VEVENT
UID:race@plan
DTSTAMP:20261101T000000Z
SUMMARY:Race: Winter Half Marathon (A)
DTSTART;VALUE=DATE:20270110
DTEND;VALUE=DATE:20270111
END:VEVENT
BEGIN:VEVENT
UID:dentist@plan
DTSTAMP:20261101T000000Z
SUMMARY:Dentist
DTSTART;TZID=Europe/Berlin:20261130T060000
DTEND;TZID=Europe/Berlin:20261130T080000
END:VEVENT
END:VCALENDAR
"""


# --- helpers ------------------------------------------------------------------------------------


def _wire(value: Any) -> str:
    return str(value.isoformat())


def _when(event: icalendar.Component, name: str) -> date:
    """A DATE or DATE-TIME property's value (a datetime is a date too)."""
    value = event[name]
    assert isinstance(value, icalendar.vDDDTypes)
    assert isinstance(value.dt, date)
    return value.dt


def _moment(event: icalendar.Component, name: str) -> datetime:
    """A DATE-TIME property's value."""
    value = event[name]
    assert isinstance(value, icalendar.vDDDTypes)
    assert isinstance(value.dt, datetime)
    return value.dt


def load_plan(server: HaServer, entity_id: str, ics: str) -> None:
    """Put an iCalendar plan into a Local Calendar the way a person would in HA: each series or
    event created (with its RRULE), then moved occurrences updated and excluded ones deleted."""
    calendar = icalendar.Calendar.from_ical(ics)
    events = list(calendar.walk("VEVENT"))
    masters = [e for e in events if "RECURRENCE-ID" not in e]
    with server.person() as person:
        for event in masters:
            fields: dict[str, Any] = {
                "summary": str(event["SUMMARY"]),
                "dtstart": _wire(_when(event, "DTSTART")),
                "dtend": _wire(_when(event, "DTEND")),
            }
            for name in ("DESCRIPTION", "LOCATION"):
                if name in event:
                    fields[name.lower()] = str(event[name])
            if "RRULE" in event:
                rrule = event["RRULE"].to_ical()
                assert isinstance(rrule, bytes)
                fields["rrule"] = rrule.decode()
            person.create(entity_id, **fields)

        def occurrence(summary: str, original: datetime) -> dict[str, Any]:
            for item in server.events(entity_id):
                when = item["start"].get("dateTime")
                if item["summary"] == summary and when and datetime.fromisoformat(when) == original:
                    return item
            raise AssertionError(f"no occurrence of {summary} at {original}")

        for event in masters:
            exdates = event.get("EXDATE")
            for group in exdates if isinstance(exdates, list) else [exdates] if exdates else []:
                for moment in group.dts:
                    item = occurrence(str(event["SUMMARY"]), moment.dt)
                    person.delete(entity_id, item["uid"], recurrence_id=item["recurrence_id"])
        for event in events:
            if "RECURRENCE-ID" not in event:
                continue
            master = next(m for m in masters if m["UID"] == event["UID"])
            item = occurrence(str(master["SUMMARY"]), _moment(event, "RECURRENCE-ID"))
            person.update(
                entity_id,
                item["uid"],
                recurrence_id=item["recurrence_id"],
                summary=str(event["SUMMARY"]),
                dtstart=_wire(_when(event, "DTSTART")),
                dtend=_wire(_when(event, "DTEND")),
            )


CALSYNC = [sys.executable, "-m", "calsync"]
"""The real command: the pipeline hands the HA target the pass's ``--now`` (its listing is around it)."""


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Targets built directly by these tests (not through the pipeline) list around NOW."""
    from calsync.adapters import homeassistant

    monkeypatch.setattr(homeassistant, "_clock", lambda: datetime.fromisoformat(NOW))


def calsync(*args: str) -> subprocess.CompletedProcess[str]:
    """``calsync ARGS`` as a real process."""
    return subprocess.run([*CALSYNC, *args], capture_output=True, text=True, check=False, timeout=120)


def write_config(folder: Path, *, source: str, target: str = "", extra: str = "") -> Path:
    """A config for plan ``me`` with the given ``[[plan.source]]`` and ``[plan.target]`` bodies."""
    return support.write_config(
        folder / "calsync.toml", source=source, target=target, extra=extra, horizon_weeks=8
    )


def ha_keys(server: HaServer, entity_id: str, token_file: Path) -> str:
    """The keys of a homeassistant source or target."""
    return (
        f'kind = "homeassistant"\nurl = "{server.url}"\n'
        f'entity_id = "{entity_id}"\ntoken_file = "{token_file}"'
    )


def ha_to_ha(server: HaServer, source: str, target: str, token_file: Path, folder: Path) -> Path:
    """A config reading the plan from one HA calendar and writing sessions into another."""
    return write_config(
        folder, source=ha_keys(server, source, token_file), target=ha_keys(server, target, token_file)
    )


@pytest.fixture
def token_file(ha_server: HaServer, tmp_path: Path) -> Path:
    """The long-lived token in a file, as systemd credentials would hold it."""
    path = tmp_path / "ha-token"
    path.write_text(ha_server.token + "\n")
    return path


@pytest.fixture
def plan_entity(ha_server: HaServer) -> str:
    """An HA calendar holding the test plan."""
    entity_id = ha_server.calendar()
    load_plan(ha_server, entity_id, PLAN_ICS)
    return entity_id


def plan_json(config: Path) -> dict[str, Any]:
    done = calsync("--config", str(config), "plan", "--format", "json", "--now", NOW)
    assert done.returncode == 0, done.stderr
    (plan,) = json.loads(done.stdout)["plans"]
    return dict(plan)


def comparable_runs(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Runs without what may differ between sources (HA assigns its own uids)."""
    runs = [{k: v for k, v in run.items() if k not in ("uid", "recurrence_id")} for run in plan["runs"]]
    return sorted(runs, key=lambda r: (r["start"], r["title"]))


def sessions_by_uid(server: HaServer, entity_id: str) -> dict[str, dict[str, Any]]:
    """The sessions in a target calendar by calsync UID (a duplicate fails the test)."""
    found: dict[str, dict[str, Any]] = {}
    for item in server.events(entity_id):
        marked = ha_marker.split(item.get("description") or "")
        if marked is None:
            continue
        uid = marked[1].uid
        assert uid not in found, f"duplicate session {uid}"
        found[uid] = item
    return found


def foreign(server: HaServer, entity_id: str) -> list[str]:
    """The events of a calendar calsync did not write, exactly as HA lists them."""
    return sorted(
        json.dumps(i, sort_keys=True)
        for i in server.events(entity_id)
        if ha_marker.split(i.get("description") or "") is None
    )


def one_line_error(done: subprocess.CompletedProcess[str], *needles: str, token: str = "") -> str:
    """The failure's single stderr line, checked for exit 1, its words and no token."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    if token:
        assert token not in done.stderr + done.stdout
    return lines[0]


# --- the source --------------------------------------------------------------------------------


def test_runs_from_ha_equal_runs_from_the_same_plan_as_ics(
    ha_server: HaServer, plan_entity: str, token_file: Path, tmp_path: Path
) -> None:
    ics = tmp_path / "plan.ics"
    ics.write_text(PLAN_ICS, encoding="utf-8")
    from_ics = plan_json(write_config(tmp_path / "a", source=f'kind = "ics_file"\npath = "{ics}"'))
    from_ha = plan_json(write_config(tmp_path / "b", source=ha_keys(ha_server, plan_entity, token_file)))
    runs = comparable_runs(from_ha)
    assert runs == comparable_runs(from_ics)
    titles = [r["title"] for r in runs]
    assert "Run: Easy Run 40 min (moved)" in titles
    assert not any(r["start"].startswith("2026-12-22") for r in runs)  # the cancelled occurrence
    assert {r["kind"] for r in runs} == {"easy", "long", "quality", "race"}
    assert any(r["all_day"] for r in runs)
    assert from_ha["sessions"] == from_ics["sessions"]
    assert from_ha["weeks"] == from_ics["weeks"]


def test_bundled_example_plan_reads_the_same_from_ha(
    ha_server: HaServer, token_file: Path, tmp_path: Path
) -> None:
    example = ROOT / "config" / "example-plan.ics"
    entity_id = ha_server.calendar()
    load_plan(ha_server, entity_id, example.read_text(encoding="utf-8"))
    from_ics = plan_json(write_config(tmp_path / "a", source=f'kind = "ics_file"\npath = "{example}"'))
    from_ha = plan_json(write_config(tmp_path / "b", source=ha_keys(ha_server, entity_id, token_file)))
    assert comparable_runs(from_ha) == comparable_runs(from_ics)
    assert len(from_ha["runs"]) > 20


# --- the target, pass after pass -----------------------------------------------------------------


def test_sessions_written_moved_edited_deleted_with_foreign_events_untouched(
    ha_server: HaServer, plan_entity: str, token_file: Path, tmp_path: Path
) -> None:
    target = ha_server.calendar()
    with ha_server.person() as person:
        person.create(
            target,
            summary="Physio",
            dtstart="2026-12-08T06:00:00+01:00",
            dtend="2026-12-08T07:00:00+01:00",
            description="Bring the shoes",
            location="Clinic",
        )
        person.create(target, summary="Holiday", dtstart="2026-12-24", dtend="2026-12-27")
    theirs = foreign(ha_server, target)
    config = write_config(
        tmp_path,
        source=ha_keys(ha_server, plan_entity, token_file),
        target=ha_keys(ha_server, target, token_file),
    )
    planned = plan_json(config)["sessions"]

    dry = calsync("--config", str(config), "rebuild", "--dry-run", "--now", NOW)
    assert dry.returncode == 0, dry.stderr
    assert "would be created" in dry.stdout
    assert sessions_by_uid(ha_server, target) == {}  # --dry-run writes nothing

    first = calsync("--config", str(config), "rebuild", "--now", NOW)
    assert first.returncode == 0, first.stderr
    written = sessions_by_uid(ha_server, target)
    future = {s["uid"] for s in planned}
    assert set(written) == future
    for session in planned:
        item = written[session["uid"]]
        assert item["summary"] == session["title"]
        start = item["start"].get("dateTime") or item["start"]["date"]
        if session["all_day"]:
            assert start == session["start"]
        else:
            assert datetime.fromisoformat(start) == datetime.fromisoformat(session["start"])
    assert foreign(ha_server, target) == theirs

    before = json.dumps(ha_server.events(target), sort_keys=True)
    idle = calsync("--config", str(config), "sync", "--now", NOW)
    assert idle.returncode == 0, idle.stderr
    assert "0 created, 0 updated, 0 deleted" in idle.stdout
    # source and target listing (a fresh process: PRODUCT.md's one request per remote calendar);
    # the sensors did not change and the state says they were posted: one GET asks whether HA
    # still has them (it forgets posted states when it restarts)
    assert "(3 requests)" in idle.stdout
    assert json.dumps(ha_server.events(target), sort_keys=True) == before

    # a person edits one session and deletes another in HA; the coach moves a long run
    strength = sorted((s for s in planned if s["kind"] != "rest"), key=lambda s: s["start"])
    edited, deleted = strength[0]["uid"], strength[1]["uid"]
    ha_uids = {uid: item["uid"] for uid, item in written.items()}
    with ha_server.person() as person:
        item = written[edited]
        person.update(
            target,
            item["uid"],
            summary="Squats with Anna",
            dtstart=item["start"]["dateTime"],
            dtend=item["end"]["dateTime"],
        )
        person.delete(target, written[deleted]["uid"])
        moved_long_run(ha_server, plan_entity, person)
    kept_edit = json.dumps(sessions_by_uid(ha_server, target)[edited], sort_keys=True)

    third = calsync("--config", str(config), "sync", "--now", NOW)
    assert third.returncode == 0, third.stderr
    counts = re.search(r"(\d+) created, (\d+) updated, (\d+) deleted", third.stdout)
    assert counts is not None, third.stdout
    after = sessions_by_uid(ha_server, target)
    assert deleted not in after  # a person's deletion is not put back
    assert json.dumps(after[edited], sort_keys=True) == kept_edit  # a person's edit is kept
    replanned = {s["uid"]: s for s in plan_json(config)["sessions"]}
    assert set(after) == set(replanned)
    changed = [uid for uid in after if uid in ha_uids and after[uid]["uid"] == ha_uids[uid]]
    assert len(changed) == len([u for u in after if u in ha_uids])  # updated in place: same HA event
    moved = [uid for uid, item in after.items() if uid in written and item != written[uid] and uid != edited]
    assert moved, "the moved long run moved no session"
    assert int(counts[2]) == len(moved), third.stdout  # the moved sessions, updated in place
    created = set(after) - set(written)
    assert int(counts[1]) == len(created), third.stdout
    for uid in moved:
        marker = ha_marker.split(after[uid]["description"])
        assert marker is not None
        assert marker[1].sequence >= 1
    assert foreign(ha_server, target) == theirs

    again = calsync("--config", str(config), "sync", "--now", NOW)
    assert "0 created, 0 updated, 0 deleted" in again.stdout


def moved_long_run(server: HaServer, entity_id: str, person: Any) -> None:
    """The coach moves the long run of 2026-12-12 to Thursday 2026-12-10."""
    (item,) = [i for i in server.events(entity_id) if i["start"].get("date") == "2026-12-12"]
    person.update(
        entity_id,
        item["uid"],
        recurrence_id=item["recurrence_id"],
        summary=item["summary"],
        dtstart="2026-12-10",
        dtend="2026-12-11",
    )


# --- sensors -------------------------------------------------------------------------------------


def test_sensors_read_back(ha_server: HaServer, plan_entity: str, token_file: Path, tmp_path: Path) -> None:
    target = ha_server.calendar()
    config = write_config(
        tmp_path,
        source=ha_keys(ha_server, plan_entity, token_file),
        target=ha_keys(ha_server, target, token_file),
        extra="",
    ).read_text()
    config_path = tmp_path / "sensors.toml"
    config_path.write_text(config.replace('id = "me"', 'id = "Anna-Marie"'))
    done = calsync("--config", str(config_path), "rebuild", "--now", NOW)
    assert done.returncode == 0, done.stderr
    plan = plan_json(config_path)
    now = datetime.fromisoformat(NOW)
    upcoming = sorted(
        (s for s in plan["sessions"] if s["kind"] != "rest" and datetime.fromisoformat(s["end"]) > now),
        key=lambda s: s["start"],
    )
    following = upcoming[0]
    nxt = ha_server.state("sensor.calsync_anna_marie_next_session")
    assert nxt is not None
    assert datetime.fromisoformat(nxt["state"]) == datetime.fromisoformat(following["start"])
    attributes = nxt["attributes"]
    assert attributes["device_class"] == "timestamp"
    assert attributes["kind"] == following["kind"]
    assert attributes["title"] == following["title"]
    assert attributes["minutes"] == round(
        (datetime.fromisoformat(following["end"]) - datetime.fromisoformat(following["start"])).seconds / 60
    )
    assert attributes["duration"] == f"{attributes['minutes']} min"
    assert attributes["exercises"]
    assert attributes["reasons"] == following["reasons"]
    assert attributes["friendly_name"]
    week = ha_server.state("sensor.calsync_anna_marie_week")
    assert week is not None
    # the week of now, else (before the plan starts) the first planned week
    this_week = next(w for w in plan["weeks"] if w["start"] > "2026-11-20")
    assert week["attributes"]["week"] == this_week["week"]
    assert week["state"] == this_week["phase"]
    assert week["attributes"]["device_class"] == "enum"
    assert week["state"] in week["attributes"]["options"]
    assert week["attributes"]["run_minutes"] == this_week["run_minutes"]
    assert week["attributes"]["rest_day"] == this_week["rest_day"]
    assert "strength_minutes" in week["attributes"]
    assert isinstance(week["attributes"]["warnings"], list)


def test_sensors_off(ha_server: HaServer, plan_entity: str, token_file: Path, tmp_path: Path) -> None:
    target = ha_server.calendar()
    text = write_config(
        tmp_path,
        source=ha_keys(ha_server, plan_entity, token_file),
        target=ha_keys(ha_server, target, token_file) + "\nsensors = false",
    ).read_text()
    config = tmp_path / "quiet.toml"
    config.write_text(text.replace('id = "me"', 'id = "quiet"'))
    done = calsync("--config", str(config), "rebuild", "--now", NOW)
    assert done.returncode == 0, done.stderr
    assert sessions_by_uid(ha_server, target)
    assert ha_server.state("sensor.calsync_quiet_next_session") is None
    assert ha_server.state("sensor.calsync_quiet_week") is None


# --- errors --------------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_bad_token_unknown_entity_and_ha_down_give_one_line(
    ha_server: HaServer, plan_entity: str, token_file: Path, tmp_path: Path
) -> None:
    ics = tmp_path / "plan.ics"
    ics.write_text(PLAN_ICS, encoding="utf-8")
    file_source = f'kind = "ics_file"\npath = "{ics}"'
    bad = tmp_path / "bad-token"
    bad.write_text("not-a-valid-token-0123456789\n")
    target = ha_server.calendar()

    def run(name: str, source: str, target_keys: str) -> subprocess.CompletedProcess[str]:
        config = write_config(tmp_path / name, source=source, target=target_keys)
        return calsync("--config", str(config), "rebuild", "--now", NOW)

    line = one_line_error(
        run("badtarget", file_source, ha_keys(ha_server, target, bad)),
        "plan me",
        target,
        "401",
        "token_file",
        token="not-a-valid-token",
    )
    assert ha_server.url in line
    one_line_error(
        run("badsource", ha_keys(ha_server, plan_entity, bad), ha_keys(ha_server, target, token_file)),
        "plan me: source",
        plan_entity,
        "401",
        token="not-a-valid-token",
    )
    line = one_line_error(
        run("unknown", file_source, ha_keys(ha_server, "calendar.no_such_thing", token_file)),
        "plan me",
        "calendar.no_such_thing",
        "no calendar entity",
        token=ha_server.token,
    )
    assert "HA has calendar." in line  # it names the calendars HA has (the first ten)
    down = f"http://127.0.0.1:{closed_port()}"
    one_line_error(
        run("down", file_source, ha_keys(ha_server, target, token_file).replace(ha_server.url, down)),
        "plan me",
        "cannot reach Home Assistant",
        down,
    )
    one_line_error(
        run(
            "downsource",
            ha_keys(ha_server, plan_entity, token_file).replace(ha_server.url, down),
            ha_keys(ha_server, target, token_file),
        ),
        "plan me: source",
        "cannot reach Home Assistant",
    )
    assert sessions_by_uid(ha_server, target) == {}


def test_websocket_dropped_mid_pass_loses_nothing_and_the_next_pass_finishes(
    ha_server: HaServer, plan_entity: str, token_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from calsync.adapters import ha_client
    from calsync.config import load_config
    from calsync.errors import TargetError
    from calsync.pipeline import run_pass
    from calsync.registry import state_key
    from calsync.state import State

    target = ha_server.calendar()
    config_path = write_config(
        tmp_path,
        source=ha_keys(ha_server, plan_entity, token_file),
        target=ha_keys(ha_server, target, token_file),
    )
    (plan_config,) = load_config(config_path).plan
    now = datetime.fromisoformat(NOW)
    sockets: list[Any] = []
    real_websocket: Callable[..., Any] = ha_client.HaClient._websocket

    def watched_websocket(client: Any) -> Any:
        connection = real_websocket(client)
        sockets.append(connection)
        return connection

    monkeypatch.setattr(ha_client.HaClient, "_websocket", watched_websocket)
    writes = 0

    def drop_after_three() -> bool:
        """Asked between writes: after the third, the network drops the websocket."""
        nonlocal writes
        writes += 1
        if writes == 4:
            sockets[-1].socket.shutdown(socket.SHUT_RDWR)
        return False

    with State(tmp_path / "state.sqlite") as state:
        with pytest.raises(TargetError) as failed:
            run_pass(
                plan_config, now, dry_run=False, force=False, state=state, full=True, stop=drop_after_three
            )
        message = str(failed.value)
        assert "\n" not in message
        assert "websocket" in message
        assert "plan me" in message
        assert target in message
        assert ha_server.token not in message
        assert len(sessions_by_uid(ha_server, target)) == 3
        assert len(state.written(state_key(plan_config))) == 3  # the confirmed writes are recorded

        monkeypatch.setattr(ha_client.HaClient, "_websocket", real_websocket)
        report = run_pass(plan_config, now, dry_run=False, force=False, state=state, full=False)
        assert report.applied
        planned = {s["uid"] for s in plan_json(config_path)["sessions"]}
        assert set(sessions_by_uid(ha_server, target)) == planned  # no duplicates, none missing
        idle = run_pass(plan_config, now, dry_run=False, force=False, state=state)
        assert idle.actions == []


def test_a_session_created_while_the_answer_was_lost_is_recorded(
    ha_server: HaServer, plan_entity: str, token_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HA created a session but its answer never came ("may or may not be done"): the failed
    pass lists the calendar once and records it, so a person who deletes it before the next
    pass has it stay deleted."""
    from calsync.adapters import ha_client
    from calsync.config import load_config
    from calsync.errors import TargetError
    from calsync.pipeline import run_pass
    from calsync.registry import state_key
    from calsync.state import State

    target = ha_server.calendar()
    (plan_config,) = load_config(ha_to_ha(ha_server, plan_entity, target, token_file, tmp_path)).plan
    now = datetime.fromisoformat(NOW)
    real: Callable[..., Any] = ha_client.HaClient.command
    creates = 0
    lost = ""

    def command(client: Any, kind: str, **fields: Any) -> Any:
        nonlocal creates, lost
        answer = real(client, kind, **fields)
        if kind == "calendar/event/create":
            creates += 1
            if creates == 2:
                marker = ha_marker.split(fields["event"]["description"])
                assert marker is not None
                lost = marker[1].uid
                raise client.fail(f"the websocket connection to Home Assistant dropped during {kind}")
        return answer

    monkeypatch.setattr(ha_client.HaClient, "command", command)
    with State(tmp_path / "state.sqlite") as state:
        with pytest.raises(TargetError):
            run_pass(plan_config, now, dry_run=False, force=False, state=state, full=True)
        monkeypatch.setattr(ha_client.HaClient, "command", real)
        assert lost in state.written(state_key(plan_config))
        assert len(state.written(state_key(plan_config))) == 2
        with ha_server.person() as person:
            person.delete(target, sessions_by_uid(ha_server, target)[lost]["uid"])
        run_pass(plan_config, now, dry_run=False, force=False, state=state)
        assert lost not in sessions_by_uid(ha_server, target)  # the person's deletion stays


def test_no_websocket_frame_is_logged_even_at_debug(
    ha_server: HaServer, token_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``-v`` sets DEBUG: the websockets library must not log frames (the auth frame holds the
    token)."""
    import logging

    from calsync.adapters.ha_client import HaClient
    from calsync.errors import TargetError

    caplog.set_level(logging.DEBUG)
    client = HaClient(
        ha_server.url, ha_server.token, entity_id=ha_server.calendar(), label="plan me", error=TargetError
    )
    try:
        client.command(
            "calendar/event/create",
            entity_id=client.entity_id,
            event={
                "summary": "x",
                "dtstart": "2026-12-01T07:00:00+01:00",
                "dtend": "2026-12-01T08:00:00+01:00",
            },
        )
    finally:
        client.close()
    text = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert ha_server.token[:12] not in text
    assert not [r for r in caplog.records if r.levelno < logging.INFO and "websocket" in r.name], text
    assert "access_token" not in text


def test_an_idle_listing_covers_the_planning_window_not_years(
    ha_server: HaServer, plan_entity: str, token_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HA expands a person's recurring events over the whole listed range: the target lists from
    just before this week to past the horizon, and still finds every session it wrote."""
    from calsync.adapters import ha_client
    from calsync.adapters.homeassistant import HaCalendarTarget
    from calsync.config import load_config
    from calsync.pipeline import run_pass
    from calsync.state import State

    target = ha_server.calendar()
    with ha_server.person() as person:  # a person's daily habit, without end
        person.create(
            target,
            summary="Stretch",
            dtstart="2026-01-05T21:00:00+01:00",
            dtend="2026-01-05T21:10:00+01:00",
            rrule="FREQ=DAILY",
        )
    (plan_config,) = load_config(ha_to_ha(ha_server, plan_entity, target, token_file, tmp_path)).plan
    now = datetime.fromisoformat(NOW)
    real: Callable[..., Any] = ha_client.HaClient.rest
    listed: list[tuple[datetime, datetime, int]] = []

    def rest(client: Any, method: str, path: str, **kwargs: Any) -> Any:
        answer = real(client, method, path, **kwargs)
        if path == f"/api/calendars/{target}":
            params = kwargs["params"]
            span = (datetime.fromisoformat(params["start"]), datetime.fromisoformat(params["end"]))
            listed.append((*span, len(answer)))
        return answer

    monkeypatch.setattr(ha_client.HaClient, "rest", rest)
    with State(tmp_path / "state.sqlite") as state:
        first = run_pass(plan_config, now, dry_run=False, force=False, state=state, full=True)
        assert first.applied
        listed.clear()
        idle = run_pass(plan_config, now, dry_run=False, force=False, state=state)
        assert idle.actions == []
    ((start, end, count),) = listed
    assert now - timedelta(days=8) <= start <= now - timedelta(days=6)
    defaults = HaCalendarTarget.__init__.__kwdefaults__
    assert defaults is not None
    assert end - now <= timedelta(weeks=defaults["horizon_weeks"] + 2)
    sessions = len(sessions_by_uid(ha_server, target))
    assert count <= sessions + (end - start).days + 1  # not 3 years back and 5 ahead
    # a target told its plan's horizon lists only that far
    told = HaCalendarTarget(
        plan_config.target,  # type: ignore[arg-type]
        "me",
        ZONE,
        where="test",
        horizon_weeks=plan_config.horizon_weeks,
        now=now,
    )
    try:
        assert {o.uid for o in told.list_owned()} == set(sessions_by_uid(ha_server, target))
    finally:
        told.close()
    ((start, end, count),) = listed[1:]
    assert end - start <= timedelta(weeks=plan_config.horizon_weeks + 2, days=8)
    assert count <= sessions + (end - start).days + 1


def test_a_dropped_websocket_is_closed_before_the_next_one_opens(
    ha_server: HaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from websockets.sync.client import connect as real_connect

    from calsync.adapters import ha_client
    from calsync.errors import TargetError

    opened: list[Any] = []
    closed: list[Any] = []

    class Tracked:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.inner = real_connect(*args, **kwargs)

        def __enter__(self) -> Any:
            ws = self.inner.__enter__()
            opened.append(ws)
            return ws

        def __exit__(self, *exc: Any) -> Any:
            closed.append(opened[-1] if self.inner in opened else self.inner)
            return self.inner.__exit__(*exc)

    monkeypatch.setattr(ha_client, "connect", Tracked)
    entity = ha_server.calendar()
    client = ha_client.HaClient(
        ha_server.url, ha_server.token, entity_id=entity, label="t", error=TargetError
    )
    event = {"summary": "x", "dtstart": "2026-12-01T07:00:00+01:00", "dtend": "2026-12-01T08:00:00+01:00"}
    try:
        client.command("calendar/event/create", entity_id=entity, event=event)
        opened[0].socket.shutdown(socket.SHUT_RDWR)
        with pytest.raises(TargetError):
            client.command("calendar/event/create", entity_id=entity, event=event)
        assert len(closed) == 1  # the dropped one, at once
        client.command("calendar/event/create", entity_id=entity, event=event)
        assert len(opened) == 2
    finally:
        client.close()
    assert len(closed) == 2


def test_crash_after_create_is_adopted_not_duplicated(
    ha_server: HaServer, plan_entity: str, token_file: Path, tmp_path: Path
) -> None:
    """A pass killed after HA created a session but before the state was saved: the next pass
    finds the session by the calsync UID in its marker and writes no second copy."""
    target = ha_server.calendar()
    config = write_config(
        tmp_path,
        source=ha_keys(ha_server, plan_entity, token_file),
        target=ha_keys(ha_server, target, token_file),
    )
    assert calsync("--config", str(config), "rebuild", "--now", NOW).returncode == 0
    written = sessions_by_uid(ha_server, target)
    state_dir = tmp_path / "fresh-state"  # as if the state was never saved
    done = subprocess.run(
        [*CALSYNC, "--config", str(config), "sync", "--now", NOW],
        capture_output=True,
        text=True,
        check=False,
        env={**__import__("os").environ, "STATE_DIRECTORY": str(state_dir)},
    )
    assert done.returncode == 0, done.stderr
    assert "0 created, 0 updated, 0 deleted" in done.stdout
    assert sessions_by_uid(ha_server, target) == written


# --- the fixture ---------------------------------------------------------------------------------

ORPHAN = """\
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import ha_server
server = ha_server.start_server(ha_server.ensure_installed(), Path(sys.argv[2]))
print(server.process.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_home_assistant_does_not_outlive_a_killed_test_process(ha_python: Path, tmp_path: Path) -> None:
    import os
    import signal
    import time

    folder = tmp_path / "ha"
    folder.mkdir()
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN, str(ROOT / "tests"), str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    assert _alive(pid)
    parent.kill()  # as a CI timeout kills pytest: no finally, no fixture teardown
    parent.wait()
    deadline = time.monotonic() + 20
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        pytest.fail("Home Assistant outlived the killed test process")


def test_a_session_in_the_fall_back_hour_reads_back_unedited_after_ha_restarts(
    ha_python: Path, tmp_path: Path
) -> None:
    """Local Calendar stores floating local times: after a restart a session at 01:30 EST (the
    second 01:30 of HA's fall-back night) reads back as 01:30 EDT, an hour early. calsync accepts
    either reading of an ambiguous hour in HA's zone: not a person's edit, not moved."""
    from calsync.adapters.homeassistant import HaCalendarTarget
    from calsync.config import HomeAssistantTarget
    from calsync.core.model import Session, SessionKind
    from calsync.core.reconcile import Create
    from ha_server import restart_server, start_server, stop_server

    folder = tmp_path / "ha"
    folder.mkdir()
    server = start_server(ha_python, folder)
    try:
        entity = server.calendar()
        token = tmp_path / "token"
        token.write_text(server.token)
        config = load(
            HomeAssistantTarget,
            {"kind": "homeassistant", "url": server.url, "entity_id": entity, "token_file": token},
        )
        now = datetime(2026, 10, 28, 7, 0, tzinfo=ZONE)
        # 2026-11-01 01:30 EST (fold 1 in America/New_York) = 07:30 in Berlin
        start = datetime(2026, 11, 1, 7, 30, tzinfo=ZONE)
        session = Session(
            "calsync-me-2026W44-s1",
            SessionKind.CORE,
            "Strength: core",
            start,
            start + timedelta(minutes=30),
            "2026-W44",
            "s1",
        )

        def owned() -> Any:
            target = HaCalendarTarget(config, "me", ZONE, where="t", now=now, horizon_weeks=8)
            try:
                (event,) = target.list_owned()
                return event
            finally:
                target.close()

        writer = HaCalendarTarget(config, "me", ZONE, where="t", now=now, horizon_weeks=8)
        try:
            assert writer.list_owned() == []
            execute([Create(session)], writer, now=now)
        finally:
            writer.close()
        before = owned()
        assert not before.edited
        restart_server(ha_python, server)
        (item,) = server.events(entity)
        after = owned()
        assert not after.edited, item["start"]
        assert after.start == session.start
        assert after.end == session.end
    finally:
        stop_server(server.process)


def test_sensors_come_back_on_the_next_pass_after_ha_restarts(ha_python: Path, tmp_path: Path) -> None:
    """Home Assistant forgets posted states when it restarts: the next pass posts the sensors
    again although their content is the same and the 15-minute repost is not due (issue 11)."""
    from calsync.adapters.homeassistant import HaSensorPublisher
    from calsync.config import HomeAssistantTarget
    from calsync.core.model import Phase, PlanResult, WeekPlan
    from calsync.state import ScopedStore, State
    from ha_server import restart_server, start_server, stop_server

    folder = tmp_path / "ha"
    folder.mkdir()
    server = start_server(ha_python, folder)
    try:
        token = tmp_path / "token"
        token.write_text(server.token)
        config = load(
            HomeAssistantTarget,
            {"kind": "homeassistant", "url": server.url, "entity_id": server.calendar(), "token_file": token},
        )
        week = WeekPlan("2026-W48", date(2026, 11, 23), Phase.BASE, 240, date(2026, 11, 29), 90, 0.5, 120)
        result = PlanResult("restart", "Europe/Berlin", (), (week,), ())
        now = datetime.fromisoformat(NOW)
        with State(tmp_path / "state.sqlite") as state:

            def publish(at: datetime) -> int:
                """One pass's publish, as a fresh process does it (the state remembers the posts)."""
                publisher = HaSensorPublisher(
                    config, "restart", where="t", store=ScopedStore(state, "sensors:restart")
                )
                try:
                    publisher.publish(result, at)
                    return publisher.requests
                finally:
                    publisher.close()

            assert publish(now) == 2
            assert publish(now + timedelta(minutes=1)) == 1  # HA still has them: one look, no post
            restart_server(ha_python, server)
            assert server.state("sensor.calsync_restart_week") is None  # HA forgot them
            assert publish(now + timedelta(minutes=2)) == 3  # the look, then both posted again
        week_state = server.state("sensor.calsync_restart_week")
        assert week_state is not None
        assert week_state["state"] == "base"
        assert server.state("sensor.calsync_restart_next_session") is not None
    finally:
        stop_server(server.process)


def test_the_fixture_never_removes_a_folder_it_did_not_make(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ha_server

    theirs = tmp_path / "venv"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    monkeypatch.setenv("CALSYNC_HA_VENV", str(theirs))
    with pytest.raises(ha_server.InstallError, match="not made by these tests"):
        ha_server.ensure_installed()
    assert (theirs / "notes.txt").read_text() == "mine"


def test_the_fixture_cache_is_keyed_on_the_lock_file_and_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    import ha_server

    monkeypatch.delenv("CALSYNC_HA_VENV", raising=False)
    before = ha_server.cache_dir()
    assert ha_server.cache_key() in before.name
    monkeypatch.setattr(ha_server, "PINS", (*ha_server.PINS, "something<2"))
    assert ha_server.cache_dir() != before


# --- pure parts ----------------------------------------------------------------------------------


def test_marker_round_trip_and_a_persons_text() -> None:
    marker = ha_marker.Marker("me", "calsync-me-2026W49-s1", "core", "2026-W49", "s1", 2, "0123456789abcdef")
    text = ha_marker.with_marker("- Plank: 3 x 30 s\n\nWhy here: R9.", marker)
    assert ha_marker.split(text) == ("- Plank: 3 x 30 s\n\nWhy here: R9.", marker)
    assert ha_marker.split(text.replace("\n", "\r\n")) == ("- Plank: 3 x 30 s\n\nWhy here: R9.", marker)
    moved = marker.line() + "\n\nmy notes"
    assert ha_marker.split(moved) == ("my notes", marker)
    assert ha_marker.split("no marker here") is None
    assert ha_marker.split("[calsync plan=me uid=x]") is None


def test_sensor_entity_ids_are_valid_for_any_plan_id() -> None:
    from calsync.adapters.ha_sensors import next_session_entity, week_entity

    assert next_session_entity("me") == "sensor.calsync_me_next_session"
    assert week_entity("Anna--Marie_") == "sensor.calsync_anna_marie_week"
    assert next_session_entity("__") == "sensor.calsync_next_session"


def test_sensor_payloads_without_any_session() -> None:
    from calsync.adapters.ha_sensors import sensor_states
    from calsync.core.model import PlanResult

    states = sensor_states(PlanResult("me", "Europe/Berlin", (), (), ()), datetime(2026, 11, 27, tzinfo=ZONE))
    assert {k: v["state"] for k, v in states.items()} == {
        "sensor.calsync_me_next_session": "unknown",
        "sensor.calsync_me_week": "unknown",
    }


def test_check_reaches_an_ha_source_and_target(
    ha_server: HaServer, plan_entity: str, token_file: Path, tmp_path: Path
) -> None:
    target = ha_server.calendar()
    config = ha_to_ha(ha_server, plan_entity, target, token_file, tmp_path)
    done = calsync("--config", str(config), "check")
    assert done.returncode == 0, done.stderr
    assert "me: sources ok" in done.stdout
    assert "me: target ok, 0 events owned by calsync" in done.stdout
    assert ha_server.token not in done.stdout + done.stderr


def test_unchanged_sensors_are_not_posted_again_by_the_same_process(
    ha_server: HaServer, token_file: Path
) -> None:
    from calsync.adapters.homeassistant import HaSensorPublisher
    from calsync.config import HomeAssistantTarget
    from calsync.core.model import Phase, PlanResult, WeekPlan

    config = load(
        HomeAssistantTarget,
        {
            "kind": "homeassistant",
            "url": ha_server.url,
            "entity_id": ha_server.calendar(),
            "token_file": token_file,
        },
    )
    week = WeekPlan("2026-W48", date(2026, 11, 23), Phase.BASE, 240, date(2026, 11, 29), 90, 0.5, 120)
    result = PlanResult("cache-test", "Europe/Berlin", (), (week,), ())
    now = datetime.fromisoformat(NOW)
    target = HaSensorPublisher(config, "cache-test", where="test", store=None)
    target.publish(result, now)
    assert target.requests == 2
    target.publish(result, now)
    assert target.requests == 3  # nothing changed: nothing posted, one GET (does HA still have it?)
    changed = PlanResult("cache-test", "Europe/Berlin", (), (replace(week, phase=Phase.BUILD),), ())
    target.publish(changed, now)
    assert target.requests == 4  # only the week sensor changed (a post is due: no GET)
    target.close()
    state = ha_server.state("sensor.calsync_cache_test_week")
    assert state is not None
    assert state["state"] == "build"
    assert state["attributes"]["rest_weekday"] == "Sun"


def test_one_calendar_as_source_and_target(ha_server: HaServer, plan_entity: str, token_file: Path) -> None:
    """The sessions go into the plan's own calendar: the source leaves them out (they are not
    runs, nor busy time), so the second pass has nothing to do and the runs stay as they were."""
    config = ha_to_ha(ha_server, plan_entity, plan_entity, token_file, token_file.parent / "same")
    before = plan_json(config)
    runs_before = foreign(ha_server, plan_entity)
    first = calsync("--config", str(config), "rebuild", "--now", NOW)
    assert first.returncode == 0, first.stderr
    assert sessions_by_uid(ha_server, plan_entity)
    after = plan_json(config)
    assert after["runs"] == before["runs"]
    assert after["sessions"] == before["sessions"]
    again = calsync("--config", str(config), "sync", "--now", NOW)
    assert "0 created, 0 updated, 0 deleted" in again.stdout, again.stdout
    assert foreign(ha_server, plan_entity) == runs_before  # the runs are untouched


@pytest.mark.parametrize("round_", range(3))
def test_racing_instances_leave_one_copy_of_each_session(
    ha_server: HaServer, plan_entity: str, token_file: Path, round_: int
) -> None:
    """Two ``calsync rebuild`` at once into an empty calendar: whatever they both created is
    collapsed to one copy by the next pass, which then has nothing else to do."""
    target = ha_server.calendar()
    config = ha_to_ha(ha_server, plan_entity, target, token_file, token_file.parent / f"race{round_}")
    args = [*CALSYNC, "--config", str(config), "rebuild", "--now", NOW]
    racers = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    for racer in racers:
        _out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err
    follow_up = calsync("--config", str(config), "sync", "--now", NOW)
    assert follow_up.returncode == 0, follow_up.stderr
    planned = {s["uid"] for s in plan_json(config)["sessions"]}
    assert set(sessions_by_uid(ha_server, target)) == planned  # fails on any duplicate
    last = calsync("--config", str(config), "sync", "--now", NOW)
    assert "0 created, 0 updated, 0 deleted" in last.stdout


def test_an_idle_pass_in_a_long_running_process_costs_three_requests(
    ha_server: HaServer, plan_entity: str, token_file: Path, tmp_path: Path
) -> None:
    """The daemon's case: one read of the source, one listing of the target, no writes, and the
    sensors not posted again while their content is the same (one GET asks whether HA still has
    them: it forgets posted states when it restarts)."""
    from calsync.config import load_config
    from calsync.pipeline import run_pass
    from calsync.state import State

    target = ha_server.calendar()
    (plan_config,) = load_config(ha_to_ha(ha_server, plan_entity, target, token_file, tmp_path)).plan
    now = datetime.fromisoformat(NOW)
    with State(tmp_path / "state.sqlite") as state:
        first = run_pass(plan_config, now, dry_run=False, force=False, state=state, full=True)
        assert first.applied
        idle = run_pass(plan_config, now, dry_run=False, force=False, state=state)
        assert idle.actions == []
        assert idle.requests == 3  # + one GET: does HA still have the sensors?
