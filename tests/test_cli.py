"""The command line as a user runs it: the bundled example, exit codes, one-line errors, guards."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import support
from calsync.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PLAN = ROOT / "config" / "example-plan.ics"
NOW = "2026-11-27T07:30:00+01:00"

RUN_TEMPLATE = """BEGIN:VEVENT
UID:{uid}
DTSTAMP:20261101T000000Z
DTSTART;VALUE=DATE:{day}
DTEND;VALUE=DATE:{next_day}
SUMMARY:{title}
END:VEVENT
"""


def write_config(folder: Path, source: Path, *, extra: str = "", target: str = "out/me.ics") -> Path:
    """A minimal config as PRODUCT.md section 7 shows it, in ``folder``."""
    return support.write_config(
        folder / "calsync.toml",
        source=f'kind = "ics_file"\npath = "{source}"',
        target=f'kind = "ics_file"\npath = "{target}"\n\n'
        '[plan.rules]\nsame_day_order = "lift_first"\nstrength_windows = ["06:00-08:00"]',
        extra=extra,
    )


def weekly_long_runs(weeks: int, first_saturday: str = "20261205") -> str:
    """A calendar with one all-day long run every Saturday and an easy run every Wednesday."""
    from datetime import date, timedelta

    start = date.fromisoformat(first_saturday)
    events = []
    for week in range(weeks):
        sat = start + timedelta(weeks=week)
        wed = sat - timedelta(days=3)
        for uid, day, title in (
            (f"long{week}", sat, "Long Run 25 km"),
            (f"easy{week}", wed, "Easy run 45 min"),
        ):
            events.append(
                RUN_TEMPLATE.format(
                    uid=uid,
                    day=day.strftime("%Y%m%d"),
                    next_day=(day + timedelta(days=1)).strftime("%Y%m%d"),
                    title=title,
                )
            )
    return "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n" + "".join(events) + "END:VCALENDAR\n"


def run_cli(*args: str) -> int:
    """Run the CLI in-process; SystemExit from argparse becomes its code."""
    try:
        return main(list(args))
    except SystemExit as exit_:
        return int(exit_.code or 0)


def test_bundled_example_plan_keeps_every_hard_rule(plan_check_path: Path) -> None:
    """The README's first command, as a real process: the plan it prints passes plan_check."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "calsync",
            "--config",
            str(ROOT / "config" / "example.toml"),
            "plan",
            "--format",
            "json",
            "--now",
            NOW,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    plan = document["plans"][0]
    assert plan["id"] == "example"
    assert len(plan["weeks"]) >= 20
    assert {w["phase"] for w in plan["weeks"]} >= {"base", "build", "peak", "taper", "race", "recovery"}
    assert sum(1 for r in plan["runs"] if r["kind"] == "race") == 2
    check = subprocess.run(
        [sys.executable, str(plan_check_path), "-"],
        input=proc.stdout,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout
    assert "0 hard findings" in check.stdout


def test_table_view_shows_weeks_days_rest_and_sessions(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--config", str(ROOT / "config" / "example.toml"), "plan", "--now", NOW) == 0
    out = capsys.readouterr().out
    assert "2026-W49" in out
    assert "REST" in out
    assert "Strength: heavy lower body" in out
    assert "Long Run 18 km" in out


def test_rebuild_writes_once_then_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, EXAMPLE_PLAN)
    target = tmp_path / "out" / "me.ics"
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    first = target.read_bytes()
    assert b"X-CALSYNC-PLAN:me" in first
    created = capsys.readouterr().out
    assert " 0 created" not in created
    assert run_cli("--config", str(config), "rebuild", "--now", "2026-11-27T09:00:00+01:00") == 0
    assert target.read_bytes() == first
    assert "0 created, 0 updated, 0 deleted" in capsys.readouterr().out


def test_dry_run_lists_actions_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, EXAMPLE_PLAN)
    assert run_cli("--config", str(config), "rebuild", "--dry-run", "--now", NOW) == 0
    out = capsys.readouterr().out
    assert "create" in out
    assert "heavy_lower" in out
    assert "would be created" in out
    assert not (tmp_path / "out").exists()


def test_moved_long_run_updates_sessions_in_place(tmp_path: Path) -> None:
    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(6), encoding="utf-8")
    config = write_config(tmp_path, source)
    target = tmp_path / "out" / "me.ics"
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    before = target.read_text(encoding="utf-8")
    uids_before = sorted(line for line in before.splitlines() if line.startswith("UID:"))
    # the third week's long run moves from Saturday to Wednesday
    source.write_text(
        weekly_long_runs(6)
        .replace("DTSTART;VALUE=DATE:20261219", "DTSTART;VALUE=DATE:20261216")
        .replace("DTEND;VALUE=DATE:20261220", "DTEND;VALUE=DATE:20261217"),
        encoding="utf-8",
    )
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    after = target.read_text(encoding="utf-8")
    uids_after = sorted(line for line in after.splitlines() if line.startswith("UID:"))
    assert uids_after == uids_before, "a moved run updates sessions in place: same UIDs, nothing re-created"
    assert "SEQUENCE:1" in after
    assert after.count("BEGIN:VEVENT") == before.count("BEGIN:VEVENT")


def test_empty_source_deletes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(6), encoding="utf-8")
    config = write_config(tmp_path, source)
    target = tmp_path / "out" / "me.ics"
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    written = target.read_bytes()
    source.write_text("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//x//EN\nEND:VCALENDAR\n", encoding="utf-8")
    capsys.readouterr()
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    assert target.read_bytes() == written
    assert "came back empty" in capsys.readouterr().out


def test_mass_delete_stops_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(12), encoding="utf-8")
    config = write_config(tmp_path, source)
    target = tmp_path / "out" / "me.ics"
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    written = target.read_bytes()
    source.write_text(weekly_long_runs(1), encoding="utf-8")  # the plan suddenly ends after one week
    capsys.readouterr()
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 1
    err = capsys.readouterr().err
    assert "--force" in err
    assert len(err.strip().splitlines()) == 1
    assert target.read_bytes() == written
    assert run_cli("--config", str(config), "rebuild", "--force", "--now", NOW) == 0
    assert target.read_bytes() != written


def test_bad_config_is_one_line_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, EXAMPLE_PLAN, extra="horizon_wekks = 3")
    assert run_cli("--config", str(config), "plan") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "plan[0].horizon_wekks" in err
    assert "Traceback" not in err


def test_bad_rule_value_names_what_is_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, EXAMPLE_PLAN)
    config.write_text(config.read_text().replace('"lift_first"', '"lift_later"'))
    assert run_cli("--config", str(config), "plan") == 2
    err = capsys.readouterr().err
    assert "plan[0].rules.same_day_order" in err
    assert "lift_first" in err
    assert "run_first" in err


def test_missing_source_is_exit_1_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, tmp_path / "nowhere.ics")
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 1
    err = capsys.readouterr().err
    assert "nowhere.ics" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "content",
    [b"", b"<html><body>502 Bad Gateway</body></html>", b"\x00\x01\x02garbage"],
    ids=["empty", "html", "binary"],
)
def test_unreadable_source_fails_and_keeps_the_target(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(4), encoding="utf-8")
    config = write_config(tmp_path, source)
    target = tmp_path / "out" / "me.ics"
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    written = target.read_bytes()
    source.write_bytes(content)
    capsys.readouterr()
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert target.read_bytes() == written


def test_invalid_now_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--config", str(ROOT / "config" / "example.toml"), "plan", "--now", "next tuesday") == 2
    assert "--now" in capsys.readouterr().err


def test_unknown_plan_id_lists_the_plans(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--config", str(ROOT / "config" / "example.toml"), "plan", "--plan", "nobody") == 2
    assert "example" in capsys.readouterr().err


def test_unknown_command_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("frobnicate") == 2
    assert "calsync:" in capsys.readouterr().err


def test_config_search_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --config: $CALSYNC_CONFIG, then ./calsync.toml (PRODUCT.md section 5)."""
    shutil.copy(EXAMPLE_PLAN, tmp_path / "plan.ics")
    write_config(tmp_path, Path("plan.ics"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALSYNC_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert run_cli("plan", "--format", "json", "--now", NOW) == 0
    assert json.loads(capsys.readouterr().out)["plans"][0]["id"] == "me"
    monkeypatch.setenv("CALSYNC_CONFIG", str(ROOT / "config" / "example.toml"))
    assert run_cli("plan", "--format", "json", "--now", NOW) == 0
    assert json.loads(capsys.readouterr().out)["plans"][0]["id"] == "example"


def test_no_config_anywhere_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALSYNC_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if Path("/etc/calsync/calsync.toml").exists():
        pytest.skip("this machine has /etc/calsync/calsync.toml")
    assert run_cli("plan") == 2
    err = capsys.readouterr().err
    assert "calsync.toml" in err
    assert "--config" in err


def test_check_reaches_source_and_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, EXAMPLE_PLAN)
    assert run_cli("--config", str(config), "check", "--now", NOW) == 0
    out = capsys.readouterr().out
    assert "sources ok" in out
    assert "target ok" in out
    assert not (tmp_path / "out").exists(), "check is read-only"


def test_an_unset_variable_in_a_secret_path_is_a_clear_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    config = tmp_path / "calsync.toml"
    config.write_text(
        '[[plan]]\nid = "me"\ntimezone = "UTC"\n[[plan.source]]\nkind = "caldav"\n'
        'url = "https://dav.example.org/cal/"\nusername = "me"\n'
        'password_file = "${CREDENTIALS_DIRECTORY}/dav"\n'
    )
    assert run_cli("--config", str(config), "check") == 2
    err = capsys.readouterr().err
    assert "plan[me].source[0].password_file" in err
    assert "CREDENTIALS_DIRECTORY" in err
    assert "is not set" in err
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    (tmp_path / "dav").write_text("pw\n")
    from calsync.config import load_config

    source = load_config(config).plan[0].source[0]
    assert source.password("here") == "pw"  # type: ignore[union-attr]


def test_one_file_as_source_and_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The sessions calsync writes into the runner's own calendar file are not read back as busy
    time or runs: the second pass changes nothing."""
    calendar = tmp_path / "calendar.ics"
    calendar.write_bytes(EXAMPLE_PLAN.read_bytes())
    config = tmp_path / "calsync.toml"
    config.write_text(
        '[[plan]]\nid = "me"\ntimezone = "Europe/Berlin"\nhorizon_weeks = 8\n'
        '[[plan.source]]\nkind = "ics_file"\npath = "calendar.ics"\n'
        '[plan.target]\nkind = "ics_file"\npath = "calendar.ics"\n'
    )
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    first = capsys.readouterr().out
    assert " 0 created" not in first
    written = calendar.read_bytes()
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    assert "0 created, 0 updated, 0 deleted" in capsys.readouterr().out
    assert calendar.read_bytes() == written


def test_a_target_that_cannot_show_its_extras_still_gets_its_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a target shows besides events (Home Assistant's sensors) failing is a note, not a
    failed pass: the sessions are written and the exit code is 0."""
    from calsync import pipeline
    from calsync.errors import TargetError

    class Refusing:
        """A publisher whose instance refuses the token."""

        requests = 1

        def publish(self, _result: object, _now: object) -> None:
            raise TargetError("plan me: sensors refused: the token is not an administrator's")

        def close(self) -> None:
            """Nothing to release."""

    monkeypatch.setattr(pipeline, "publisher_for", lambda _config, _state=None: Refusing())
    config = write_config(tmp_path, EXAMPLE_PLAN)
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    out = capsys.readouterr().out
    assert "the calendar is up to date, but plan me: sensors refused" in out
    assert (tmp_path / "out" / "me.ics").read_text().count("BEGIN:VEVENT") > 10


def test_the_command_line_is_read_before_anything_heavy_is_imported() -> None:
    """``calsync --help`` (and a usage error) loads no config model, pipeline or calendar library:
    the command line is parsed first (issue 12: start-up time)."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom calsync.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('pydantic', 'icalendar', 'caldav', 'requests', 'websockets', 'apscheduler', "
        "'calsync.config', 'calsync.pipeline', 'sqlite3')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "usage: calsync" in done.stdout
    assert done.stderr.strip() == "[]"


def test_a_plan_of_local_files_imports_no_network_or_scheduler_library() -> None:
    """Only what a command needs is imported (issue 12): ``calsync plan`` of a plan reading and
    writing local files loads no HTTP, CalDAV, websocket or scheduler library."""
    import subprocess
    import sys

    code = (
        "import sys, io, contextlib\nfrom calsync.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main(['--config', {str(ROOT / 'config' / 'example.toml')!r}, 'plan', "
        "'--now', '2026-11-27T07:30'])\n"
        "assert code == 0, code\n"
        "heavy = ('pydantic', 'caldav', 'niquests', 'requests', 'urllib3', 'websockets', 'apscheduler', "
        "'http.client', 'calsync.daemon', 'calsync.feeds')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip() == "[]"
