"""calsync as a user runs it against real CalDAV servers: a run plan in one calendar, the sessions
written into another (or into the same one), moves updated in place, idle passes cheap."""

from __future__ import annotations

import re
import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import icalendar
import pytest
from caldav.collection import Calendar as DavCollection

from calsync.state import default_state_dir
from test_cli import NOW, run_cli

if TYPE_CHECKING:
    from caldav_servers import DavCalendar

pytest_plugins = ["caldav_servers"]

LATER = "2026-11-27T09:00:00+01:00"
PASSWORD_ENV = "CALSYNC_TEST_DAV_PASSWORD"


def run_events(weeks: int, *, moved_week: int | None = None) -> dict[str, str]:
    """One object per run: an all-day long run each Saturday, an easy run each Wednesday."""
    objects = {}
    first = date(2026, 12, 5)
    for week in range(weeks):
        saturday = first + timedelta(weeks=week)
        long_day = saturday - timedelta(days=2) if week == moved_week else saturday
        for uid, day, title in (
            (f"long{week}", long_day, "Long Run 25 km"),
            (f"easy{week}", saturday - timedelta(days=3), "Easy run 45 min"),
        ):
            objects[uid] = (
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
                f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART;VALUE=DATE:{day:%Y%m%d}\r\n"
                f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}\r\nSUMMARY:{title}\r\n"
                "END:VEVENT\r\nEND:VCALENDAR\r\n"
            )
    return objects


def upload(calendar: DavCalendar, objects: dict[str, str]) -> None:
    """Put the objects into the calendar, as the runner's calendar app would."""
    with calendar.server.dav() as client:
        for uid, text in objects.items():
            response = client.put(f"{calendar.url}{uid}.ics", text, {"Content-Type": "text/calendar"})
            assert response.status in (201, 204), response.status


def events_in(calendar: DavCalendar) -> dict[str, icalendar.Event]:
    """Every VEVENT of a calendar by UID (duplicates fail the test)."""
    found: dict[str, icalendar.Event] = {}
    with calendar.server.dav() as client:
        objects = DavCollection(client=client, url=calendar.url).events()
        assert isinstance(objects, list), "the synchronous client answers with a list"
        for obj in objects:
            for event in icalendar.Calendar.from_ical(obj.data).walk("VEVENT"):
                assert isinstance(event, icalendar.Event)
                uid = str(event["UID"])
                assert uid not in found, f"duplicate UID {uid}"
                found[uid] = event
    return found


def write_caldav_config(folder: Path, source: DavCalendar, target: DavCalendar) -> Path:
    """A config with a CalDAV source and target, the password from the environment."""
    user = (
        f'username = "{source.server.username}"\npassword_env = "{PASSWORD_ENV}"\n'
        if source.server.username
        else ""
    )
    config = folder / "calsync.toml"
    config.write_text(
        f"""
[[plan]]
id = "me"
timezone = "Europe/Berlin"
horizon_weeks = 10

[[plan.source]]
kind = "caldav"
url = "{source.url}"
{user}
[plan.target]
kind = "caldav"
url = "{target.url}"
{user}""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch, caldav_calendar: DavCalendar) -> None:
    """The server's password in the environment variable the config names."""
    if caldav_calendar.server.password:
        monkeypatch.setenv(PASSWORD_ENV, caldav_calendar.server.password)


def _stored_objects() -> list[tuple[int, str, str]]:
    """(rowid, key, href) of every object cached in the state: a rewrite changes the rowids."""
    with sqlite3.connect(default_state_dir() / "state.sqlite") as db:
        return sorted(db.execute("SELECT rowid, key, href FROM objects"))


def requests_of(out: str) -> int:
    """The request count a pass printed (0 when it printed none)."""
    match = re.search(r"\((\d+) requests?\)", out)
    return int(match.group(1)) if match else 0


@pytest.mark.usefixtures("password")
def test_rebuild_into_caldav_then_idle_then_move(
    caldav_calendar: DavCalendar, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = caldav_calendar
    target = caldav_calendar.server.calendar()
    upload(source, run_events(6))
    config = write_caldav_config(tmp_path, source, target)

    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    sessions = events_in(target)
    assert sessions
    assert all(str(e.get("X-CALSYNC-PLAN")) == "me" for e in sessions.values())
    out = capsys.readouterr().out
    assert requests_of(out) <= 4 + len(sessions), f"one write per session plus a few reads: {out}"

    assert run_cli("--config", str(config), "sync", "--now", LATER) == 0  # tokens settle
    capsys.readouterr()
    stored = _stored_objects()
    assert run_cli("--config", str(config), "sync", "--now", LATER) == 0
    out = capsys.readouterr().out
    assert "0 created, 0 updated, 0 deleted" in out
    assert requests_of(out) <= 2, f"an idle pass costs one request per calendar: {out}"
    assert _stored_objects() == stored, "an idle pass rewrites no cached object in the state"

    upload(source, {"long2": run_events(6, moved_week=2)["long2"]})
    assert run_cli("--config", str(config), "sync", "--now", LATER) == 0
    out = capsys.readouterr().out
    assert " 0 created" in out
    assert " 0 deleted" in out
    assert "0 updated" not in out
    after = events_in(target)
    assert set(after) == set(sessions), "moves are updates in place: same UIDs, nothing re-created"
    changed = [uid for uid in after if after[uid].get("SEQUENCE") != sessions[uid].get("SEQUENCE")]
    assert changed
    assert all("2026W51" in uid or "2026W50" in uid or "2026W52" in uid for uid in changed), changed


@pytest.mark.usefixtures("password")
def test_source_calendar_as_target_touches_no_run(
    caldav_calendar: DavCalendar, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = run_events(4)
    upload(caldav_calendar, runs)
    before = {uid: e.to_ical() for uid, e in events_in(caldav_calendar).items()}
    config = write_caldav_config(tmp_path, caldav_calendar, caldav_calendar)
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    assert run_cli("--config", str(config), "sync", "--now", LATER) == 0
    assert "0 created, 0 updated, 0 deleted" in capsys.readouterr().out.splitlines()[-1]
    after = events_in(caldav_calendar)
    for uid, text in before.items():
        assert after[uid].to_ical() == text, f"the run {uid} was changed"
    assert len(after) > len(before)


def test_missing_password_variable_is_a_config_error(
    radicale_server: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from caldav_servers import DavServer

    assert isinstance(radicale_server, DavServer)
    calendar = radicale_server.calendar()
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    config = write_caldav_config(tmp_path, calendar, calendar)
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 2
    err = capsys.readouterr().err
    assert PASSWORD_ENV in err
    assert len(err.strip().splitlines()) == 1


def test_wrong_password_fails_cleanly_and_never_shows_it(
    radicale_server: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from caldav_servers import DavServer

    assert isinstance(radicale_server, DavServer)
    calendar = radicale_server.calendar()
    monkeypatch.setenv(PASSWORD_ENV, "not-the-Password-123")
    config = write_caldav_config(tmp_path, calendar, calendar)
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 1
    captured = capsys.readouterr()
    assert "not-the-Password-123" not in captured.err + captured.out
    assert len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err


@pytest.mark.usefixtures("password")
def test_rebuild_reads_everything_again_and_the_state_knows_each_object(
    caldav_calendar: DavCalendar, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from calsync.config import load_config
    from calsync.registry import state_key
    from calsync.state import State

    target = caldav_calendar.server.calendar()
    upload(caldav_calendar, run_events(3))
    config = write_caldav_config(tmp_path, caldav_calendar, target)
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    capsys.readouterr()
    assert run_cli("--config", str(config), "rebuild", "--now", LATER) == 0
    out = capsys.readouterr().out
    assert "0 created, 0 updated, 0 deleted" in out
    assert requests_of(out) >= 3, f"a rebuild lists both calendars in full and fetches the runs: {out}"
    with State.open_default() as state:
        written = state.written(state_key(load_config(config).plan[0]))
    assert written
    assert set(written) == set(events_in(target))
    for record in written.values():
        assert record.href.endswith(f"{record.uid}.ics")
        assert record.etag
        assert record.hash


@pytest.mark.usefixtures("password")
def test_a_kept_source_reads_no_cached_object_from_disk_when_idle(
    caldav_calendar: DavCalendar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon keeps source adapters between passes: an idle pass asks the server once and
    the state for its token only, not for every cached object."""
    from datetime import datetime

    from calsync.config import load_config
    from calsync.pipeline import read_sources, window_for
    from calsync.state import State

    upload(caldav_calendar, run_events(3))
    plan = load_config(
        write_caldav_config(tmp_path, caldav_calendar, caldav_calendar.server.calendar())
    ).plan[0]
    window = window_for(plan, datetime.fromisoformat(NOW))
    adapters: dict[str, object] = {}
    loads: list[str] = []
    real_objects = State.objects

    def counted(self: State, key: str) -> dict[str, tuple[str, bytes]]:
        loads.append(key)
        return real_objects(self, key)

    monkeypatch.setattr(State, "objects", counted)
    with State.open_default() as state:
        first = read_sources(plan, window, state, adapters=adapters)  # type: ignore[arg-type]
        assert len(loads) == 1
        idle = read_sources(plan, window, state, adapters=adapters)  # type: ignore[arg-type]
    assert len(loads) == 1, "the idle pass took the objects it kept, not the state's"
    assert idle.requests == 1
    assert [e.uid for e in idle.events] == [e.uid for e in first.events]


@pytest.mark.usefixtures("password")
def test_a_new_process_lists_the_target_from_the_kept_events_and_updates_keep_a_persons_details(
    caldav_calendar: DavCalendar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: an idle ``calsync sync`` process with a local plan and a CalDAV target parses no
    calendar object (the owned events kept with the objects serve) and imports no iCalendar
    library; when a run moves, an update still carries over what a person added to the event."""
    import os
    import subprocess
    import sys

    import test_ics_file

    target = caldav_calendar
    (tmp_path / "plan.ics").write_bytes(test_ics_file.EXAMPLE.read_bytes())
    user = (
        f'username = "{target.server.username}"\npassword_env = "{PASSWORD_ENV}"\n'
        if target.server.username
        else ""
    )
    config = tmp_path / "calsync.toml"
    config.write_text(
        '[[plan]]\nid = "me"\ntimezone = "Europe/Berlin"\nhorizon_weeks = 8\n'
        '[[plan.source]]\nkind = "ics_file"\npath = "plan.ics"\n'
        f'[plan.target]\nkind = "caldav"\nurl = "{target.url}"\n{user}',
        encoding="utf-8",
    )
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    argv = ["--config", str(config), "sync", "--now", LATER]
    code = (
        "import sys, io, contextlib\nfrom calsync.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    assert main({argv!r}) == 0\n"
        "print(out.getvalue().strip())\n"
        "print('icalendar' in sys.modules)"
    )

    def sync() -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=dict(os.environ)
        )
        return done.stdout.splitlines()

    assert "created" in sync()[-2]
    sync()  # the listing after the writes is kept
    idle = sync()
    assert "0 created, 0 updated, 0 deleted" in idle[-2]
    assert idle[-1] == "False"

    # a person adds a place to the sessions of three weeks; then long runs move a day earlier
    sessions = events_in(target)
    placed = {uid for uid in sessions if re.search(r"2026W5[0-2]", uid)}
    assert placed
    with target.server.dav() as client:
        objects = DavCollection(client=client, url=target.url).events()
        assert isinstance(objects, list), "the synchronous client answers with a list"
        for obj in objects:
            if any(uid in obj.data for uid in placed):
                obj.data = obj.data.replace("END:VEVENT", "LOCATION:Gym on Main Street\r\nEND:VEVENT", 1)
                obj.save()
    assert "0 created, 0 updated, 0 deleted" in sync()[-2]  # a place added is no reason to rewrite
    text = (tmp_path / "plan.ics").read_text(encoding="utf-8")
    moved = re.sub(
        r"(DTSTART;VALUE=DATE:202612)(1[0-9])", lambda m: f"{m[1]}{int(m[2]) - 1:02d}", text, count=3
    )
    assert moved != text
    (tmp_path / "plan.ics").write_text(moved, encoding="utf-8")
    assert "0 updated" not in sync()[-2]
    now = events_in(target)
    updated = {uid for uid in placed if now[uid].get("SEQUENCE") != sessions[uid].get("SEQUENCE")}
    assert updated, "the moves rewrote sessions of the weeks with a place"
    for uid in updated:
        assert str(now[uid].get("LOCATION")) == "Gym on Main Street", uid
