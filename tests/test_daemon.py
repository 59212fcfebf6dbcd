"""``calsync daemon`` as a real process with short intervals, against a real local HTTP server
serving the run plan, a real Radicale, and its own feed server (issue 4's proof)."""

from __future__ import annotations

import itertools
import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from calsync.config import load_config
from calsync.daemon import Daemon, backoff_seconds
from daemon_helpers import CALSYNC, DaemonProcess, rolling_plan, wait_for
from support import free_port
from test_caldav_cli import events_in

if TYPE_CHECKING:
    from caldav_servers import DavServer
    from http_feed import HttpFeed

pytest_plugins = ["caldav_servers", "http_feed"]

POLL = 2.0
"""The daemon's poll interval in these tests (seconds; no jitter)."""


def daemon_table(*, poll: float = POLL, extra: str = "") -> str:
    """A ``[daemon]`` table with a short poll, no jitter and no nightly rebuild."""
    return f'[daemon]\npoll_seconds = {poll}\njitter_seconds = 0\nrebuild_at = "off"\n{extra}\n'


def plan_table(plan_id: str, source: str, target: str, *, horizon: int = 8) -> str:
    """One ``[[plan]]`` with an ``ics_url`` or ``ics_file`` source and any target."""
    return f"""
[[plan]]
id = "{plan_id}"
timezone = "Europe/Berlin"
horizon_weeks = {horizon}

[[plan.source]]
{source}

[plan.target]
{target}
"""


def url_source(url: str) -> str:
    """An ``ics_url`` source with a short timeout."""
    return f'kind = "ics_url"\nurl = "{url}"\ntimeout_seconds = 1'


def file_target(path: Path) -> str:
    """An ``ics_file`` target."""
    return f'kind = "ics_file"\npath = "{path}"'


def caldav_target(server: DavServer, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A new calendar on ``server`` and a ``[plan.target]`` body writing to it (password from
    the environment)."""
    calendar = server.make_calendar()
    monkeypatch.setenv("CALSYNC_TEST_DAV_PASSWORD", server.password or "")
    target = (
        f'kind = "caldav"\nurl = "{calendar}"\nusername = "{server.username}"\n'
        'password_env = "CALSYNC_TEST_DAV_PASSWORD"'
    )
    return calendar, target


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A one-off calsync command against the daemon's config and state."""
    return subprocess.run(
        [*CALSYNC, "--config", str(config), *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    """Daemons a test starts; killed afterwards whatever happened."""
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.kill()


def start(daemons: list[DaemonProcess], config: Path) -> DaemonProcess:
    """Start a daemon on ``config`` (its log next to the config)."""
    daemon = DaemonProcess(config, config.with_suffix(f".{len(daemons)}.log"))
    daemons.append(daemon)
    return daemon


def sessions_at(calendar_url: str, server: DavServer) -> dict[str, str]:
    """UID -> DTSTART, DTEND and SUMMARY of every event in a CalDAV calendar (a duplicate UID
    fails the test). A moved run may change a session's kind and length on its day (Stability)."""
    from caldav_servers import DavCalendar

    out = {}
    for uid, event in events_in(DavCalendar(server, calendar_url)).items():
        start, end = event.decoded("DTSTART").isoformat(), event.decoded("DTEND").isoformat()
        out[uid] = f"{start} {end} {event.get('SUMMARY')}"
    return out


def test_a_run_moved_in_the_feed_is_moved_in_the_caldav_target_within_two_intervals(
    http_feed: HttpFeed,
    radicale_server: DavServer,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    http_feed.set("/plan.ics", rolling_plan())
    calendar, target = caldav_target(radicale_server, monkeypatch)
    config = tmp_path / "calsync.toml"
    config.write_text(daemon_table() + plan_table("me", url_source(http_feed.url("/plan.ics")), target))
    daemon = start(daemons, config)
    daemon.wait_log("plan me: sync ok")
    before = sessions_at(calendar, radicale_server)
    assert len(before) > 10

    http_feed.set("/plan.ics", rolling_plan(moved_week=2))
    moved_at = time.monotonic()
    after = wait_for(
        "the moved run's sessions in the CalDAV target",
        lambda: s if (s := sessions_at(calendar, radicale_server)) != before else None,
        timeout=4 * POLL + 10,
        every=0.2,
    )
    took = time.monotonic() - moved_at
    assert took <= 2 * POLL + 2.0, f"the move reached the target after {took:.1f} s"
    assert set(after) == set(before), "sessions are updated in place (same UIDs), none created or deleted"
    dry = run(config, "sync", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "0 would be created" in dry.stdout or "0 created, 0 updated, 0 deleted" in dry.stdout, dry.stdout
    assert daemon.stop() == 0


def test_the_served_feed_returns_the_sessions_then_304(
    http_feed: HttpFeed, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    http_feed.set("/plan.ics", rolling_plan())
    port = free_port()
    token = "feed-token-0123456789abcdef"
    feed_file = tmp_path / "feeds" / "me.ics"
    config = tmp_path / "calsync.toml"
    config.write_text(
        daemon_table(
            extra=f"[daemon.feeds]\nport = {port}\nall_plans = true\n"
            'token_env = "CALSYNC_TEST_FEED_PATH_TOKEN"\n'
        )
        + plan_table("me", url_source(http_feed.url("/plan.ics")), f'kind = "feed"\npath = "{feed_file}"')
    )
    daemon = DaemonProcess(config, tmp_path / "d.log", env={"CALSYNC_TEST_FEED_PATH_TOKEN": token})
    daemons.append(daemon)
    daemon.wait_log("plan me: sync ok")
    url = f"http://127.0.0.1:{port}/feeds/{token}/me.ics"
    first = requests.get(url, timeout=5)
    assert first.status_code == 200
    assert first.headers["Content-Type"].startswith("text/calendar")
    assert first.text.count("BEGIN:VEVENT") > 10
    assert "X-CALSYNC-PLAN:me" in first.text
    again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=5)
    assert again.status_code == 304
    assert again.content == b""
    assert requests.get(f"http://127.0.0.1:{port}/feeds/me.ics", timeout=5).status_code == 404, "token needed"
    assert requests.get(f"http://127.0.0.1:{port}/feeds/{token}/nobody.ics", timeout=5).status_code == 404
    everything = requests.get(f"http://127.0.0.1:{port}/feeds/{token}/all.ics", timeout=5)
    assert everything.status_code == 200
    assert "Long Run 20 km" in everything.text, "the all-plans feed carries the runs"
    assert everything.text.count("BEGIN:VEVENT") > first.text.count("BEGIN:VEVENT"), "runs and sessions"
    assert token not in daemon.log
    assert daemon.stop() == 0


@pytest.mark.parametrize("failure", ["500", "garbage", "timeout"])
def test_a_failing_source_leaves_its_target_untouched_and_the_other_plan_syncing(
    failure: str, http_feed: HttpFeed, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    http_feed.set("/a.ics", rolling_plan())
    http_feed.set("/b.ics", rolling_plan())
    target_a, target_b = tmp_path / "a.ics", tmp_path / "b.ics"
    config = tmp_path / "calsync.toml"
    config.write_text(
        daemon_table(poll=1.0)
        + plan_table("a", url_source(http_feed.url("/a.ics")), file_target(target_a))
        + plan_table("b", url_source(http_feed.url("/b.ics")), file_target(target_b))
    )
    daemon = start(daemons, config)
    daemon.wait_log("plan a: sync ok")
    daemon.wait_log("plan b: sync ok")
    kept = target_a.read_bytes()
    before_b = target_b.read_bytes()

    if failure == "500":
        http_feed.set("/a.ics", b"internal error", status=500, content_type="text/plain")
    elif failure == "garbage":
        http_feed.set("/a.ics", b"<html><body>Maintenance</body></html>", content_type="text/html")
    else:
        http_feed.set("/a.ics", rolling_plan(moved_week=1), delay=3.0)
    http_feed.set("/b.ics", rolling_plan(moved_week=1))

    wait_for("plan b's target to follow its moved run", lambda: target_b.read_bytes() != before_b, timeout=20)
    log = daemon.wait_log("plan a: sync failed (2 in a row)", timeout=30)
    assert target_a.read_bytes() == kept, "a failed read must not touch the target"
    assert "retrying in" in log
    status = run(config, "status")
    assert status.returncode == 0, status.stderr
    assert "a: last pass" in status.stdout, status.stdout
    assert "FAILED" in status.stdout
    assert "consecutive failures" in status.stdout
    assert "next pass (daemon)" in status.stdout

    http_feed.set("/a.ics", rolling_plan())  # the source recovers: plan a syncs again
    daemon.wait_log("plan a: back to normal", timeout=40)
    assert daemon.stop() == 0


def test_sigterm_mid_pass_exits_0_and_the_next_start_finishes_without_duplicates(
    http_feed: HttpFeed,
    radicale_server: DavServer,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    http_feed.set("/plan.ics", rolling_plan(weeks=26))
    calendar, target = caldav_target(radicale_server, monkeypatch)
    config = tmp_path / "calsync.toml"
    config.write_text(
        daemon_table(poll=30) + plan_table("me", url_source(http_feed.url("/plan.ics")), target, horizon=26)
    )
    daemon = start(daemons, config)
    wait_for(
        "the first writes", lambda: len(sessions_at(calendar, radicale_server)) >= 3, timeout=60, every=0.05
    )
    stopped_at = time.monotonic()
    daemon.signal(signal.SIGTERM)
    assert daemon.stop(timeout=15, send=False) == 0
    assert time.monotonic() - stopped_at < 10, "SIGTERM must end the daemon within seconds"
    assert "sync stopped for shutdown" in daemon.log, "the pass stops at a write boundary, not at its end"
    partial = sessions_at(calendar, radicale_server)

    restarted = start(daemons, config)
    restarted.wait_log("plan me: sync ok", timeout=90)
    final = sessions_at(calendar, radicale_server)  # events_in fails on any duplicate UID
    assert set(partial) < set(final), "the restart wrote what the stopped pass left"
    dry = run(config, "sync", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "0 created, 0 updated, 0 deleted" in dry.stdout or "0 would be created" in dry.stdout, dry.stdout
    assert restarted.stop() == 0


def test_sighup_with_a_broken_config_keeps_the_old_one_running(
    tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    plan = tmp_path / "plan.ics"
    plan.write_bytes(rolling_plan())
    target = tmp_path / "out.ics"
    config = tmp_path / "calsync.toml"
    good = daemon_table(poll=1.0) + plan_table(
        "me", f'kind = "ics_file"\npath = "{plan}"', file_target(target)
    )
    config.write_text(good)
    daemon = start(daemons, config)
    daemon.wait_log("plan me: sync ok")
    before = target.read_bytes()

    config.write_text(good.replace("horizon_weeks = 8", "horizon_weeks = banana"))
    daemon.signal(signal.SIGHUP)
    daemon.wait_log("new config refused, the old one keeps running")
    plan.write_bytes(rolling_plan(moved_week=1))
    wait_for("the old config to keep syncing", lambda: target.read_bytes() != before, timeout=15)

    second = tmp_path / "second.ics"
    config.write_text(good + plan_table("two", f'kind = "ics_file"\npath = "{plan}"', file_target(second)))
    daemon.signal(signal.SIGHUP)
    daemon.wait_log("config reloaded: 2 plan(s)")
    wait_for("the new plan's target", second.exists, timeout=15)
    assert daemon.stop() == 0


def test_a_bad_config_at_start_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "calsync.toml"
    config.write_text(
        '[[plan]]\nid = "me"\ntimezone = "Mars/Olympus"\n[[plan.source]]\nkind = "ics_file"\npath = "x.ics"\n'
    )
    proc = subprocess.run(
        [*CALSYNC, "--config", str(config), "daemon"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert "timezone" in proc.stderr
    assert "Traceback" not in proc.stderr

    config.write_text(
        daemon_table()
        + '[daemon.feeds]\ntoken_env = "CALSYNC_TEST_UNSET_FEED_TOKEN"\n'
        + plan_table("me", 'kind = "ics_file"\npath = "x.ics"', 'kind = "feed"')
    )
    proc = subprocess.run(
        [*CALSYNC, "--config", str(config), "daemon"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert "CALSYNC_TEST_UNSET_FEED_TOKEN is not set" in proc.stderr


@pytest.mark.parametrize(
    ("failures", "poll", "cap", "wait"),
    [
        (0, 300, 3600, 300),
        (1, 300, 3600, 300),
        (2, 300, 3600, 600),
        (3, 300, 3600, 1200),
        (5, 300, 3600, 3600),
        (50, 300, 3600, 3600),
        (4, 2, 5, 5),
    ],
)
def test_backoff_doubles_per_failure_up_to_the_cap(
    failures: int, poll: float, cap: float, wait: float
) -> None:
    assert backoff_seconds(failures, poll, cap) == wait


def test_the_daemon_log_never_shows_a_secret(
    tmp_path: Path, http_feed: HttpFeed, daemons: list[DaemonProcess]
) -> None:
    """Even with -v (urllib3 logs every request line): neither the bearer token nor the secret
    part of the feed's link appears."""
    secret = "s3cr3t-T0ken-that-must-never-show"
    link = "/feed/9f8e7d6c5b4a39281706f5e4d3c2b1a0.ics"
    http_feed.set(link, rolling_plan(), auth=("bearer", "another-token-entirely"))
    config = tmp_path / "calsync.toml"
    config.write_text(
        daemon_table(poll=1.0)
        + plan_table(
            "me",
            url_source(http_feed.url(link)) + '\ntoken_env = "CALSYNC_TEST_FEED_TOKEN"',
            file_target(tmp_path / "out.ics"),
        )
    )
    daemon = DaemonProcess(config, tmp_path / "d.log", env={"CALSYNC_TEST_FEED_TOKEN": secret}, verbose=True)
    daemons.append(daemon)
    log = daemon.wait_log("plan me: sync failed (2 in a row)", timeout=30)
    assert "GET /feed/" in log, "the debug log has the request lines (the test can see a leak)"
    assert secret not in log
    assert "9f8e7d6c5b4a39281706f5e4d3c2b1a0" not in log
    assert daemon.stop() == 0
    status = run(config, "status").stdout
    assert secret not in status
    assert "9f8e7d6c5b4a39281706f5e4d3c2b1a0" not in status
    assert "not running" in status, "status tells a stopped daemon schedules nothing"


def test_a_failing_plan_really_backs_off(
    tmp_path: Path, http_feed: HttpFeed, daemons: list[DaemonProcess]
) -> None:
    http_feed.set("/plan.ics", b"down", status=503, content_type="text/plain")
    config = tmp_path / "calsync.toml"
    config.write_text(
        daemon_table(poll=1.0, extra="max_backoff_seconds = 4\n")
        + plan_table("me", url_source(http_feed.url("/plan.ics")), file_target(tmp_path / "out.ics"))
    )
    daemon = start(daemons, config)
    daemon.wait_log("sync failed (5 in a row)", timeout=40)
    failed = [daemon.times_of(f"sync failed ({n} in a row)")[0] for n in range(1, 6)]
    gaps = [b - a for a, b in itertools.pairwise(failed)]
    assert gaps[0] < 1.9, gaps  # 1 poll
    assert gaps[1] >= 1.8, gaps  # 2 polls
    assert gaps[2] >= 3.6, gaps  # 4 polls
    assert gaps[3] >= 3.6, gaps  # capped at 4 s
    assert gaps[3] < 6.0, gaps
    assert daemon.stop() == 0


def test_ready_for_systemd_once_signals_are_handled(tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """Under Type=notify, systemd sends ExecReload's SIGHUP only after READY=1: the daemon says
    READY=1 once its handlers are in place, so a reload right then does not kill it."""
    plan = tmp_path / "plan.ics"
    plan.write_bytes(rolling_plan())
    config = tmp_path / "calsync.toml"
    config.write_text(daemon_table(poll=1.0) + file_plan("me", plan, tmp_path / "o.ics"))
    notify = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(notify))
        listener.settimeout(30)
        daemon = DaemonProcess(config, tmp_path / "d.log", env={"NOTIFY_SOCKET": str(notify)})
        daemons.append(daemon)
        assert listener.recv(4096) == b"READY=1"
        daemon.signal(signal.SIGHUP)
        assert listener.recv(4096).startswith(b"RELOADING=1")
        assert listener.recv(4096) == b"READY=1"
        daemon.wait_log("config reloaded")
        daemon.wait_log("plan me: sync ok")
        daemon.signal(signal.SIGTERM)
        assert listener.recv(4096) == b"STOPPING=1"
    assert daemon.stop(send=False) == 0


def test_a_missing_secret_of_a_plan_stops_the_daemon_at_start(tmp_path: Path) -> None:
    config = tmp_path / "calsync.toml"
    config.write_text(
        daemon_table()
        + plan_table(
            "me",
            url_source("https://coach.example.org/plan.ics") + '\ntoken_env = "CALSYNC_TEST_UNSET_TOKEN"',
            file_target(tmp_path / "o.ics"),
        )
    )
    proc = subprocess.run(
        [*CALSYNC, "--config", str(config), "daemon"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert "CALSYNC_TEST_UNSET_TOKEN is not set" in proc.stderr


def _daemon_for(config_text: str, folder: Path) -> Daemon:
    config = folder / "calsync.toml"
    config.write_text(config_text)
    return Daemon(load_config(config))


def file_plan(plan_id: str, source: Path, target: Path | None, *, horizon: int = 8) -> str:
    """A plan reading an .ics file (and writing one, unless ``target`` is None)."""
    text = plan_table(plan_id, f'kind = "ics_file"\npath = "{source}"', "", horizon=horizon)
    if target is None:
        return text.replace("[plan.target]\n", "")
    return text.replace("[plan.target]\n", f"[plan.target]\n{file_target(target)}")


def test_reload_applies_rebuild_off_and_leaves_unchanged_plans_alone(tmp_path: Path) -> None:
    plan = tmp_path / "plan.ics"
    plan.write_bytes(rolling_plan())
    config = tmp_path / "calsync.toml"
    nightly = '[daemon]\nrebuild_at = "03:30"\n'
    config.write_text(
        nightly + file_plan("a", plan, tmp_path / "a.ics") + file_plan("b", plan, tmp_path / "b.ics")
    )
    daemon = Daemon(load_config(config))
    for slot in daemon.slots.values():
        daemon._schedule(slot)
    assert daemon.scheduler.get_job("rebuild:a") is not None
    kept = daemon.slots["a"]
    kept.adapters["a/0"] = object()  # type: ignore[assignment]
    kept.failures = 3

    config.write_text(
        nightly
        + file_plan("a", plan, tmp_path / "a.ics")
        + file_plan("b", plan, tmp_path / "b.ics", horizon=9)
    )
    assert daemon.reload(lambda: load_config(config))
    assert daemon.slots["a"].adapters, "an unchanged plan keeps its adapters"
    assert daemon.slots["a"].failures == 3, "... and its backoff"
    assert daemon.slots["b"].config.horizon_weeks == 9

    config.write_text(
        '[daemon]\nrebuild_at = "off"\n'
        + file_plan("a", plan, tmp_path / "a.ics")
        + file_plan("b", plan, tmp_path / "b.ics")
    )
    assert daemon.reload(lambda: load_config(config))
    assert daemon.scheduler.get_job("rebuild:a") is None, "rebuild_at = off removes the nightly rebuild"
    assert daemon.scheduler.get_job("poll:a") is not None

    config.write_text(file_plan("a", plan, tmp_path / "a.ics") + file_plan("b", plan, None))
    assert not daemon.reload(lambda: load_config(config)), "a plan without a target is refused"
    assert daemon.slots["b"].config.target is not None


def test_an_idle_daemon_writes_nothing_to_disk(tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    """PRODUCT.md section 6: a pass where nothing changed writes nothing (a Raspberry Pi's SD card
    lives on it): neither the target nor the state changes over several idle polls."""
    import sqlite3

    from calsync.state import default_state_dir

    plan = tmp_path / "plan.ics"
    plan.write_bytes(rolling_plan())
    target = tmp_path / "out.ics"
    config = tmp_path / "calsync.toml"
    config.write_text(daemon_table(poll=1.0) + file_plan("me", plan, target))
    daemon = start(daemons, config)
    daemon.wait_log("plan me: sync ok")
    daemon.wait_log("0 created, 0 updated, 0 deleted")  # the first idle pass
    written = target.stat().st_mtime_ns
    with sqlite3.connect(default_state_dir() / "state.sqlite") as db:
        before = db.execute("PRAGMA data_version").fetchone()
        daemon.wait_log("0 created, 0 updated, 0 deleted", count=4, timeout=20)
        after = db.execute("PRAGMA data_version").fetchone()
    assert after == before, "no idle pass committed anything to the state"
    assert target.stat().st_mtime_ns == written
    assert daemon.stop() == 0


def test_a_subscriber_and_a_monitor_see_a_failing_plan_as_failing(
    http_feed: HttpFeed, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    """Issue 13: before a plan's first good pass its feed is 503 with Retry-After (never an empty
    calendar a subscriber would keep for a day); /healthz and ``status --format json`` name the
    failing plan; once its source recovers, the feed appears and the health is ok again."""
    http_feed.set("/good.ics", rolling_plan())
    http_feed.set("/bad.ics", b"internal error", status=500, content_type="text/plain")
    port = free_port()
    config = tmp_path / "calsync.toml"
    config.write_text(
        daemon_table(poll=1.0, extra=f"[daemon.feeds]\nport = {port}\n")
        + plan_table("good", url_source(http_feed.url("/good.ics")), 'kind = "feed"')
        + plan_table("bad", url_source(http_feed.url("/bad.ics")), 'kind = "feed"')
    )
    daemon = start(daemons, config)
    daemon.wait_log("plan good: sync ok")
    daemon.wait_log("plan bad: sync failed (1 in a row)")
    base = f"http://127.0.0.1:{port}"
    assert requests.get(f"{base}/feeds/good.ics", timeout=5).status_code == 200
    waiting = requests.get(f"{base}/feeds/bad.ics", timeout=5)
    assert waiting.status_code == 503
    assert int(waiting.headers["Retry-After"]) > 0
    health = requests.get(f"{base}/healthz", timeout=5)
    assert health.status_code == 503
    assert "plan good: ok" in health.text
    assert "plan bad: failing" in health.text
    status = run(config, "status", "--format", "json")
    assert status.returncode == 1, status.stderr
    plans = {p["plan"]: p for p in json.loads(status.stdout)["plans"]}
    assert plans["good"]["ok"] is True
    assert plans["bad"]["ok"] is False
    assert plans["bad"]["last_pass"]["consecutive_failures"] >= 1
    assert plans["bad"]["daemon"]["running"] is True

    http_feed.set("/bad.ics", rolling_plan())
    daemon.wait_log("plan bad: back to normal", timeout=60)
    assert requests.get(f"{base}/feeds/bad.ics", timeout=5).status_code == 200
    recovered = requests.get(f"{base}/healthz", timeout=5)
    assert recovered.status_code == 200
    assert "plan bad: ok" in recovered.text
    assert run(config, "status", "--format", "json").returncode == 0
    assert daemon.stop() == 0


def test_the_all_plans_feed_turned_on_by_sighup_is_served_at_once(
    http_feed: HttpFeed, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    """Plans with a good pass already: the all-plans feed turned on in the config and reloaded is
    served from them at once, not 503 until each plan's next poll (an hour here)."""
    http_feed.set("/plan.ics", rolling_plan())
    port = free_port()
    config = tmp_path / "calsync.toml"
    plan = plan_table("me", url_source(http_feed.url("/plan.ics")), file_target(tmp_path / "me.ics"))
    config.write_text(daemon_table(poll=3600, extra=f"[daemon.feeds]\nport = {port}\n") + plan)
    daemon = start(daemons, config)
    daemon.wait_log("plan me: sync ok")
    http_feed.remove("/plan.ics")  # the passes after the reload fail: what is served is the last good one
    config.write_text(
        daemon_table(poll=3600, extra=f"[daemon.feeds]\nport = {port}\nall_plans = true\n") + plan
    )
    daemon.signal(signal.SIGHUP)
    daemon.wait_log("config reloaded")
    everything = requests.get(f"http://127.0.0.1:{port}/feeds/all.ics", timeout=5)
    assert everything.status_code == 200, everything.text
    assert "Long Run 20 km" in everything.text
    assert daemon.log.count("plan me: sync ok") == 1
    assert daemon.stop() == 0
