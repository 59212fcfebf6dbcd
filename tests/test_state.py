"""The state file: a person's deletions are respected, status reports passes, losing it is harmless."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from icalendar import Calendar

from calsync.config import load_config
from calsync.core.decide import Written
from calsync.registry import state_key
from calsync.state import PassRecord, State, default_state_dir
from test_cli import NOW, run_cli, weekly_long_runs, write_config

LATER = "2026-11-27T09:00:00+01:00"


def owned_uids(path: Path) -> list[str]:
    """UIDs of the calsync events in a target file."""
    calendar = Calendar.from_ical(path.read_bytes())
    return sorted(str(e["UID"]) for e in calendar.walk("VEVENT") if e.get("X-CALSYNC-PLAN"))


def delete_event(path: Path, uid: str) -> None:
    """Delete one event from the file, as a person would in their calendar app."""
    calendar = Calendar.from_ical(path.read_bytes())
    calendar.subcomponents = [c for c in calendar.subcomponents if str(c.get("UID", "")) != uid]
    path.write_bytes(calendar.to_ical())


@pytest.fixture
def planned(tmp_path: Path) -> tuple[Path, Path]:
    """A config whose plan has been rebuilt once; returns (config, target)."""
    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(6), encoding="utf-8")
    config = write_config(tmp_path, source)
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    return config, tmp_path / "out" / "me.ics"


def test_a_deleted_session_is_not_put_back_until_force(
    planned: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, target = planned
    uids = owned_uids(target)
    victim = next(u for u in uids if u.endswith("-s1") and "2026W50" in u)
    delete_event(target, victim)
    capsys.readouterr()
    assert run_cli("--config", str(config), "rebuild", "--now", LATER) == 0
    out = capsys.readouterr().out
    assert "deleted in the target" in out
    assert victim not in owned_uids(target)
    assert owned_uids(target) == sorted(u for u in uids if u != victim), "nothing else changed"
    # a later pass still remembers it
    assert run_cli("--config", str(config), "rebuild", "--now", LATER) == 0
    assert victim not in owned_uids(target)
    assert run_cli("--config", str(config), "rebuild", "--force", "--now", LATER) == 0
    assert victim in owned_uids(target)
    assert owned_uids(target) == uids


def test_a_deleted_rest_day_is_not_replaced(planned: tuple[Path, Path]) -> None:
    config, target = planned
    rest = next(u for u in owned_uids(target) if "2026W50" in u and u.endswith("-rest"))
    delete_event(target, rest)
    assert run_cli("--config", str(config), "rebuild", "--now", LATER) == 0
    assert not [u for u in owned_uids(target) if "2026W50" in u and "rest" in u]


def test_an_emptied_target_is_written_again(
    planned: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A new or wiped calendar is not read as the person deleting every session."""
    config, target = planned
    uids = owned_uids(target)
    target.unlink()
    capsys.readouterr()
    assert run_cli("--config", str(config), "rebuild", "--now", LATER) == 0
    assert "writing them again" in capsys.readouterr().out
    assert owned_uids(target) == uids


def test_losing_the_state_costs_a_pass_not_a_duplicate(planned: tuple[Path, Path]) -> None:
    config, target = planned
    before = target.read_bytes()
    state_file = default_state_dir() / "state.sqlite"
    assert state_file.exists()
    for leftover in state_file.parent.iterdir():  # the state folder as a lost disk leaves it
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    assert run_cli("--config", str(config), "rebuild", "--now", LATER) == 0
    assert target.read_bytes() == before
    uids = owned_uids(target)
    assert len(uids) == len(set(uids))


def test_status_reports_last_pass_and_failures(
    planned: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = planned
    capsys.readouterr()
    assert run_cli("--config", str(config), "status") == 0
    out = capsys.readouterr().out
    assert "me: last pass 2026-11-27T07:30:00+01:00" in out
    assert "ok" in out
    source = config.parent / "plan.ics"
    source.write_bytes(b"not a calendar")
    for _ in range(2):
        assert run_cli("--config", str(config), "sync", "--now", LATER) == 1
    capsys.readouterr()
    assert run_cli("--config", str(config), "status") == 0
    out = capsys.readouterr().out
    assert "FAILED" in out
    assert "plan.ics" in out
    assert "consecutive failures: 2" in out


def test_sync_is_a_pass_that_writes_only_changes(
    planned: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, target = planned
    before = target.read_bytes()
    capsys.readouterr()
    assert run_cli("--config", str(config), "sync", "--now", LATER) == 0
    assert "0 created, 0 updated, 0 deleted" in capsys.readouterr().out
    assert target.read_bytes() == before


def test_dry_run_records_nothing(tmp_path: Path) -> None:
    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(3), encoding="utf-8")
    config = write_config(tmp_path, source)
    assert run_cli("--config", str(config), "rebuild", "--dry-run", "--now", NOW) == 0
    with State.open_default() as state:
        assert state.last_pass("me") is None


def test_state_round_trip_and_failure_count(tmp_path: Path) -> None:
    with State(tmp_path / "s.sqlite") as state:
        state.record_written("p@t", [Written("a", "h", "e", "x", "2026-12-01T00:00:00+01:00")])
        state.record_written("p@t", [Written("b", "", "", "y", "2026-12-02T00:00:00+01:00", dismissed=True)])
        assert set(state.written("p@t")) == {"a", "b"}
        assert state.written("p@t")["b"].dismissed
        state.record_written("p@t", [], forget=["a"])
        assert set(state.written("p@t")) == {"b"}
        assert state.written("other") == {}
        state.save_sync("cal", "token-1", {"/x.ics": ("etag", b"data")})
        assert state.token("cal") == "token-1"
        assert state.objects("cal") == {"/x.ics": ("etag", b"data")}
        state.save_sync("cal", None, {})
        assert state.token("cal") is None
        first = state.record_pass(PassRecord("p", "t0", "t1", False, "failed", error="boom"))
        second = state.record_pass(PassRecord("p", "t2", "t3", False, "failed", error="boom"))
        assert (first.consecutive_failures, second.consecutive_failures) == (1, 2)
        assert state.record_pass(PassRecord("p", "t4", "t5", True, "ok")).consecutive_failures == 0


def test_state_folder_follows_systemd_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert default_state_dir() == tmp_path / "a"
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == tmp_path / "xdg" / "calsync"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_dir() == Path(os.environ["HOME"]) / ".local" / "state" / "calsync"


def test_unwritable_state_folder_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("x")
    monkeypatch.setenv("STATE_DIRECTORY", str(blocked / "sub"))
    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(2), encoding="utf-8")
    config = write_config(tmp_path, source)
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 1
    err = capsys.readouterr().err
    assert "state" in err
    assert len(err.strip().splitlines()) == 1


def test_plan_preview_leaves_out_what_a_person_deleted(
    planned: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, target = planned
    victim = next(u for u in owned_uids(target) if u.endswith("-s2") and "2026W51" in u)
    delete_event(target, victim)
    assert run_cli("--config", str(config), "rebuild", "--now", LATER) == 0
    capsys.readouterr()
    assert run_cli("--config", str(config), "plan", "--format", "json", "--now", LATER) == 0
    out = capsys.readouterr().out
    assert victim not in out
    assert victim.replace("-s2", "-s1") in out


def test_status_without_a_state_says_where_it_looked_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "no-state-here"
    empty.mkdir()
    monkeypatch.setenv("STATE_DIRECTORY", str(empty))
    config = tmp_path / "calsync.toml"
    config.write_text(
        '[[plan]]\nid = "me"\ntimezone = "UTC"\n[[plan.source]]\nkind = "ics_file"\npath = "x.ics"\n'
    )
    assert run_cli("--config", str(config), "status") == 1
    assert f"no state at {empty / 'state.sqlite'}" in capsys.readouterr().err
    assert list(empty.iterdir()) == [], "status reads; it must not create the state"


def test_status_leaves_the_state_file_unchanged(
    planned: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = planned
    state = default_state_dir() / "state.sqlite"
    before = {p.name: p.stat().st_mtime_ns for p in state.parent.iterdir()}
    assert run_cli("--config", str(config), "status") == 0
    assert "me: last pass" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in state.parent.iterdir()} == before


def test_many_processes_opening_a_new_state_at_once_all_succeed(tmp_path: Path) -> None:
    """Racing instances (two timers, a daemon and a one-off command) create and convert the state
    file at the same moment: none of them fails with "database is locked"."""
    import subprocess
    import sys
    import time

    start = time.time() + 1.5
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from calsync.state import PassRecord, State\n"
        f"time.sleep(max(0.0, {start} - time.time()))\n"
        "with State(Path(sys.argv[1])) as state:\n"
        "    state.record_pass(PassRecord(sys.argv[2], 'a', 'b', True, 'ok'))\n"
    )
    path = tmp_path / "fresh" / "state.sqlite"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), f"p{i}"], stderr=subprocess.PIPE, text=True
        )
        for i in range(12)
    ]
    failures = [(p.wait(timeout=60), p.stderr.read() if p.stderr else "") for p in procs]
    assert all(code == 0 for code, _ in failures), [err for code, err in failures if code]
    with State(path) as state:
        assert all(state.last_pass(f"p{i}") is not None for i in range(12))


def test_a_deletion_is_remembered_by_a_pass_with_nothing_to_write(
    planned: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression (the CalDAV state machine found it on Xandikos): a pass that only notices a
    person's deletion wrote nothing, so it never recorded it; when the person later deleted the
    rest of a small plan's sessions, all of them looked "wiped" and came back."""
    config, target = planned
    victim = next(u for u in owned_uids(target) if u.endswith("-s1") and "2026W50" in u)
    delete_event(target, victim)
    assert run_cli("--config", str(config), "sync", "--now", LATER) == 0
    assert "0 created, 0 updated, 0 deleted" in capsys.readouterr().out, "nothing else to do"
    with State.open_default() as state:
        known = state.written(state_key(load_config(config).plan[0]))
    assert known[victim].dismissed, "the pass remembered that the person deleted it"
