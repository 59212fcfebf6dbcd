"""Data safety (issue 14): a person's copies, another program writing the same file, private state,
and the small honesty items. Each test failed on the main before its fix."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest
from icalendar import Calendar, Component

from test_cli import NOW, run_cli, weekly_long_runs, write_config

UID = "calsync-me-2026W50-s1"


def events(path: Path) -> dict[str, list[Component]]:
    """The target's VEVENTs by UID (a list: two events may share a UID)."""
    found: dict[str, list[Component]] = {}
    for event in Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
        found.setdefault(str(event["UID"]), []).append(event)
    return found


def copy_event(path: Path, uid: str, *, new_uid: str, days: int = 0) -> None:
    """What a person's app does when it duplicates an event or moves it between calendars: the
    same VEVENT, every property kept (``X-CALSYNC-*`` too), under a new UID; ``days`` moves it."""
    calendar = Calendar.from_ical(path.read_bytes())
    original = next(e for e in calendar.walk("VEVENT") if str(e["UID"]) == uid)
    twin = Calendar.from_ical(original.to_ical())
    twin["UID"] = new_uid
    if days:
        from datetime import timedelta

        for name in ("DTSTART", "DTEND"):
            moved = twin.decoded(name) + timedelta(days=days)
            del twin[name]
            twin.add(name, moved)
    calendar.add_component(twin)
    path.write_bytes(calendar.to_ical())


def setup_plan(tmp_path: Path) -> tuple[Path, Path]:
    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(6), encoding="utf-8")
    config = write_config(tmp_path, source)
    assert run_cli("--config", str(config), "sync", "--now", NOW) == 0
    return config, tmp_path / "out" / "me.ics"


def test_a_copy_under_a_new_uid_is_never_deleted_and_the_original_stays(tmp_path: Path) -> None:
    config, target = setup_plan(tmp_path)
    before = events(target)
    assert UID in before
    copy = f"{uuid.uuid4()}@person.example"
    copy_event(target, UID, new_uid=copy)
    for _ in range(2):
        assert run_cli("--config", str(config), "sync", "--now", NOW) == 0
        after = events(target)
        assert copy in after, "the person's copy was deleted"
        assert UID in after, "the original session was deleted"
        assert set(after) == set(before) | {copy}


def test_a_copy_moved_to_another_day_leaves_the_original_alone(tmp_path: Path) -> None:
    config, target = setup_plan(tmp_path)
    original = events(target)[UID][0].to_ical()
    copy = f"{uuid.uuid4()}@person.example"
    copy_event(target, UID, new_uid=copy, days=1)
    assert run_cli("--config", str(config), "sync", "--now", NOW) == 0
    after = events(target)
    assert copy in after, "the person's moved copy was deleted"
    assert [e.to_ical() for e in after[UID]] == [original], "the original session was changed or deleted"


def test_an_app_that_recreates_the_session_under_a_new_uid_keeps_it(tmp_path: Path) -> None:
    """Moved between calendars and back: the original UID is gone, the re-created copy remains.
    calsync must not delete the copy, and must not write the original a second time beside it."""
    config, target = setup_plan(tmp_path)
    copy = f"{uuid.uuid4()}@person.example"
    copy_event(target, UID, new_uid=copy)
    calendar = Calendar.from_ical(target.read_bytes())
    calendar.subcomponents = [
        c for c in calendar.subcomponents if not (c.name == "VEVENT" and str(c["UID"]) == UID)
    ]
    target.write_bytes(calendar.to_ical())
    for _ in range(2):
        assert run_cli("--config", str(config), "sync", "--now", NOW) == 0
        after = events(target)
        assert copy in after, "the re-created session was deleted"
        assert UID not in after, "the session was written again beside the person's copy"


def test_state_folder_and_files_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The state holds feed URL tokens and the last feed body: 0700 / 0600 whatever the umask."""
    state = tmp_path / "state"
    monkeypatch.setenv("STATE_DIRECTORY", str(state))
    old = os.umask(0o022)
    try:
        setup_plan(tmp_path)
    finally:
        os.umask(old)
    found = [p for p in tmp_path.rglob("*") if "state" in p.relative_to(tmp_path).parts[:1]]
    assert found, "the state was written where the tests expect it"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for path in found:
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


OTHERS_EVENT = (
    "BEGIN:VEVENT\r\nUID:dentist-while-calsync-writes@person.example\r\nDTSTAMP:20261127T070000Z\r\n"
    "DTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\n"
)


def test_a_save_by_another_program_during_the_write_is_never_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another program saves the target after calsync read it and before calsync replaces it (on a
    big file this window lasts seconds): its event must survive and calsync's sessions land too."""
    from calsync.adapters import ics_target, vtimezone

    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(6), encoding="utf-8")
    config = write_config(tmp_path, source)
    target = tmp_path / "out" / "me.ics"
    target.parent.mkdir()
    target.write_bytes(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Person//App//EN\r\n"
        + b"".join(
            f"BEGIN:VEVENT\r\nUID:old-{n}@person.example\r\nDTSTAMP:20261101T000000Z\r\n"
            f"DTSTART:20261{1 + n % 2}0{1 + n % 9}T120000Z\r\nSUMMARY:Old {n}\r\nEND:VEVENT\r\n".encode()
            for n in range(200)
        )
        + b"END:VCALENDAR\r\n"
    )
    real = vtimezone.add_timezones
    saves: list[bool] = []

    def the_other_program_saves_meanwhile(calendar: Calendar) -> None:
        if not saves:  # once: the other program saves exactly while calsync builds its file
            text = target.read_text(encoding="utf-8")
            ics_target.write_atomic(
                target, text.replace("END:VCALENDAR", OTHERS_EVENT + "END:VCALENDAR").encode()
            )
            saves.append(True)
        real(calendar)

    monkeypatch.setattr(vtimezone, "add_timezones", the_other_program_saves_meanwhile)
    capsys.readouterr()
    assert run_cli("--config", str(config), "sync", "--now", NOW) == 0
    assert saves, "the other program saved during calsync's write"
    out = capsys.readouterr().out
    assert out.count("the target changed while calsync wrote") == 1, out
    after = events(target)
    assert "dentist-while-calsync-writes@person.example" in after, "the other program's event was lost"
    assert len([u for u in after if u.startswith("old-")]) == 200
    assert UID in after, "calsync's sessions were not written after the redo"
    # and the next pass has nothing to do: the redo recorded what it wrote
    assert run_cli("--config", str(config), "sync", "--now", NOW) == 0
    assert events(target).keys() == after.keys()


def test_a_target_that_keeps_changing_fails_the_pass_and_overwrites_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from calsync.adapters import ics_target, vtimezone

    config, target = setup_plan(tmp_path)
    (tmp_path / "plan.ics").write_text(weekly_long_runs(6, first_saturday="20261206"), encoding="utf-8")
    real = vtimezone.add_timezones
    saves: list[int] = []

    def another_save_every_time(calendar: Calendar) -> None:
        text = target.read_text(encoding="utf-8")
        uid = f"save-{len(saves)}@person.example"
        event = OTHERS_EVENT.replace("dentist-while-calsync-writes@person.example", uid)
        ics_target.write_atomic(target, text.replace("END:VCALENDAR", event + "END:VCALENDAR").encode())
        saves.append(1)
        real(calendar)

    monkeypatch.setattr(vtimezone, "add_timezones", another_save_every_time)
    capsys.readouterr()
    assert run_cli("--config", str(config), "sync", "--now", NOW) == 1
    assert "another program changed the file while calsync wrote it" in capsys.readouterr().err
    assert len(saves) == 4, "read again three times, then gave up"
    after = events(target)
    assert all(f"save-{n}@person.example" in after for n in range(4)), "a save of the other program was lost"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"s3cret\n", "s3cret"),
        (b"s3cret\r\n", "s3cret"),
        (b"s3cret", "s3cret"),
        (b"  two spaces both sides  \n", "  two spaces both sides  "),
        (b"ends with a tab\t\n", "ends with a tab\t"),
        (b"line\n\n", "line"),
        (b"token\r\n\r\n", "token"),
    ],
)
def test_a_secret_file_loses_only_its_final_newlines(tmp_path: Path, content: bytes, expected: str) -> None:
    from calsync.config import read_secret

    secret = tmp_path / "secret"
    secret.write_bytes(content)
    assert read_secret(None, secret, "plan[me].source[0]", "password") == expected


def test_a_binary_secret_file_is_a_config_error_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import support

    secret = tmp_path / "secret"
    secret.write_bytes(b"\xff\xfe\x00binary\x80")
    config = support.write_config(
        tmp_path / "calsync.toml",
        source=f'kind = "ics_url"\nurl = "http://127.0.0.1:9/plan.ics"\nusername = "me"\n'
        f'password_file = "{secret}"',
    )
    assert run_cli("--config", str(config), "plan", "--now", NOW) == 2
    err = capsys.readouterr().err
    assert "plan[me].source[0].password_file" in err
    assert "UTF-8" in err
    assert "UnicodeDecodeError" not in err
    assert "internal error" not in err


def test_a_symlinked_ics_target_is_written_through(tmp_path: Path) -> None:
    """The target path is a link to a file a web server or a synced folder serves: calsync writes
    the real file and keeps the link (it replaced the link by a regular file before)."""
    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(6), encoding="utf-8")
    real = tmp_path / "served" / "strength.ics"
    real.parent.mkdir()
    link = tmp_path / "out" / "me.ics"
    link.parent.mkdir()
    link.symlink_to(real)
    config = write_config(tmp_path, source)
    for _ in range(2):
        assert run_cli("--config", str(config), "sync", "--now", NOW) == 0
        assert link.is_symlink(), "the link was replaced by a regular file"
        assert UID in events(real)
    source.write_text(weekly_long_runs(6, first_saturday="20261206"), encoding="utf-8")
    assert run_cli("--config", str(config), "sync", "--now", NOW) == 0
    assert link.is_symlink()
    assert not list(real.parent.glob(".*.tmp"))
    assert not list(link.parent.glob(".*.tmp"))


def test_a_killed_write_leaves_no_temp_file_after_the_next_pass(tmp_path: Path) -> None:
    """A write killed before its rename leaves a hidden temporary file: the next pass removes it,
    even when it has nothing to write."""
    config, target = setup_plan(tmp_path)
    leftover = target.with_name(f".{target.name}.0123456789ab.tmp")
    leftover.write_bytes(target.read_bytes()[:100])
    assert run_cli("--config", str(config), "sync", "--now", NOW) == 0
    assert not leftover.exists()


@pytest.mark.parametrize(
    "damage", [b"\x00\x01 not a database at all " * 100, b"SQLite format 3\x00" + b"\xff" * 4000]
)
def test_a_damaged_state_file_says_what_is_wrong_and_how_to_recover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], damage: bytes
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("STATE_DIRECTORY", str(state))
    config, target = setup_plan(tmp_path)
    for extra in state.glob("state.sqlite-*"):
        extra.unlink()
    (state / "state.sqlite").write_bytes(damage)
    written = target.read_bytes()
    capsys.readouterr()
    assert run_cli("--config", str(config), "sync", "--now", NOW) == 1
    err = capsys.readouterr().err
    assert "damaged" in err
    assert "move it aside" in err
    assert "writable" not in err
    assert target.read_bytes() == written, "nothing is written while the state cannot be read"


def test_plan_needs_no_writable_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``plan`` writes nothing: a state folder that cannot be made is no reason to fail, and a
    missing one is not created."""
    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(6), encoding="utf-8")
    config = write_config(tmp_path, source)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("STATE_DIRECTORY", str(blocker / "state"))
    assert run_cli("--config", str(config), "plan", "--now", NOW) == 0
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "not-yet"))
    assert run_cli("--config", str(config), "plan", "--now", NOW) == 0
    assert not (tmp_path / "not-yet").exists()


def test_plan_reads_a_persons_deletions_from_the_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    config, target = setup_plan(tmp_path)
    calendar = Calendar.from_ical(target.read_bytes())
    calendar.subcomponents = [
        c for c in calendar.subcomponents if not (c.name == "VEVENT" and str(c["UID"]) == UID)
    ]
    target.write_bytes(calendar.to_ical())
    assert run_cli("--config", str(config), "sync", "--now", NOW) == 0
    capsys.readouterr()
    assert run_cli("--config", str(config), "plan", "--format", "json", "--now", NOW) == 0
    planned = {s["uid"] for p in json.loads(capsys.readouterr().out)["plans"] for s in p["sessions"]}
    assert planned, "the plan has sessions"
    assert UID not in planned, "plan shows a session the person deleted"


def test_a_secret_with_a_line_break_inside_is_a_config_error(tmp_path: Path) -> None:
    from calsync.config import read_secret
    from calsync.errors import ConfigError

    secret = tmp_path / "secret"
    secret.write_bytes(b"first line\nsecond line\n")
    with pytest.raises(ConfigError, match=r"plan\[me\]\.source\[0\]\.password_file: .* line break"):
        read_secret(None, secret, "plan[me].source[0]", "password")


def test_a_state_file_damaged_inside_says_so_instead_of_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The header is intact (it opens) but a page inside is not: found when read, not later."""
    import sqlite3

    state = tmp_path / "state"
    monkeypatch.setenv("STATE_DIRECTORY", str(state))
    config, target = setup_plan(tmp_path)
    from calsync.core.decide import Written
    from calsync.state import State

    with State(state / "state.sqlite") as opened:  # another plan's records fill the file
        rows = [Written(f"u{i}", "h", "e", "x" * 50, "2030-01-01T00:00:00+00:00") for i in range(3000)]
        opened.record_written("other", rows, forget=[])
    db = sqlite3.connect(state / "state.sqlite")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray((state / "state.sqlite").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 80_000] = os.urandom(len(data[middle : middle + 80_000]))
    (state / "state.sqlite").write_bytes(bytes(data))
    written = target.read_bytes()
    capsys.readouterr()
    assert run_cli("--config", str(config), "sync", "--now", NOW) == 1
    err = capsys.readouterr().err
    assert "damaged" in err
    assert "internal error" not in err
    assert target.read_bytes() == written


def test_two_passes_over_one_plan_take_turns(tmp_path: Path) -> None:
    """Interleaved, one pass could record an event as there after the other deleted it (then read
    as a person's deletion: tests/test_crash.py's races found it once). A second process waits
    while a pass holds the plan's lock, and goes on when it is released."""
    import fcntl
    import os
    import subprocess
    import sys
    import time

    config, _target = setup_plan(tmp_path)
    (tmp_path / "plan.ics").write_text(weekly_long_runs(4, first_saturday="20261206"), encoding="utf-8")
    state_dir = tmp_path / "state"
    env = {**os.environ, "STATE_DIRECTORY": str(state_dir)}
    argv = [sys.executable, "-m", "calsync", "--config", str(config), "sync", "--now", NOW]
    assert subprocess.run(argv, env=env, capture_output=True, check=False).returncode == 0
    lock = os.open(state_dir / "locks" / "me.lock", os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as another pass would
        waiting = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.5)
        assert waiting.poll() is None, "the second pass went on while the first held the lock"
    finally:
        os.close(lock)
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert b"unchanged" in out
