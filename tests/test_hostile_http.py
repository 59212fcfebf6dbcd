"""Hostile servers and clients (issue 14, items 3-6, 9, 11, 12): every request has a total deadline,
every body a size cap (redirects included), a cut download is a failed read, and the feed server
keeps serving real clients while slow ones try to hold its slots.

Real parts only: the hostile server and clients of ``hostile_http`` on loopback, the real
``calsync`` command and daemon process, the real feed server.
"""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import support
from calsync.adapters.ics_url import IcsUrlReader
from calsync.config import IcsUrlSource
from calsync.errors import SourceError
from calsync.feeds import Feed, FeedServer, FileFeeds
from calsync.schema import load
from daemon_helpers import DaemonProcess, rolling_plan, wait_for
from hostile_http import (
    Connection,
    HostileServer,
    Slowloris,
    broken_chunked,
    cut_body,
    endless,
    gzip_bomb,
    ok,
    redirect,
    trickled_headers,
)
from support import free_port
from test_cli import run_cli


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    """A fresh hostile server on loopback, closed after the test."""
    server = HostileServer()
    try:
        yield server
    finally:
        server.close()


ZONE = ZoneInfo("Europe/Berlin")
WINDOW = (datetime(2026, 11, 1, tzinfo=ZONE), datetime(2027, 5, 1, tzinfo=ZONE))
NAME = "plan me: source 1"
FEED = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:run-1@test\r\n"
    b"DTSTAMP:20261101T000000Z\r\nDTSTART;VALUE=DATE:20261205\r\nSUMMARY:Long Run 25 km\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)
MB = 1024 * 1024


def reader(url: str, **keys: object) -> IcsUrlReader:
    """The adapter for a feed, as ``registry.source_for`` builds it."""
    source = load(IcsUrlSource, {"kind": "ics_url", "url": url, **keys})
    return IcsUrlReader(source, name=NAME, where="plan[me].source[0]")


def measured(call: Callable[[], object]) -> tuple[object, float, int]:
    """What ``call`` returned (or raised), the seconds it took and the peak of Python allocations."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        outcome: object = call()
    except Exception as err:
        outcome = err
    seconds = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, seconds, peak


def bounded(call: Callable[[], object], within: float) -> tuple[object, float]:
    """Run ``call`` in a thread: what it returned (or raised) and the seconds it took; fails the
    test when it is still running after ``within`` seconds (the fixture's teardown frees it)."""
    box: list[object] = []

    def run() -> None:
        try:
            box.append(call())
        except Exception as err:
            box.append(err)

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(within)
    assert not worker.is_alive(), f"still running after {within} s"
    return box[0], time.monotonic() - started


def titles(adapter: IcsUrlReader) -> list[str]:
    """The titles the adapter reads."""
    return [event.summary for event in adapter.read(*WINDOW, ZONE, None, full=True).events]


# --- item 3: a cut download is a failed read; nothing is written ---------------------------------


def _sync_config(tmp_path: Path, url: str) -> Path:
    return support.write_config(
        tmp_path / "calsync.toml",
        source=f'kind = "ics_url"\nurl = "{url}"\ntimeout_seconds = 2',
        target=f'kind = "ics_file"\npath = "{tmp_path / "out.ics"}"',
        horizon_weeks=8,
    )


@pytest.mark.parametrize(
    "cut",
    [
        cut_body(rolling_plan(), 0.7, content_length=False),
        cut_body(rolling_plan(), 0.7, content_length=True),
        broken_chunked(rolling_plan(), 0.7),
    ],
    ids=["no-content-length", "shorter-than-content-length", "broken-chunked"],
)
def test_a_feed_cut_at_70_percent_is_a_failed_read_and_nothing_is_written(
    hostile: HostileServer, tmp_path: Path, cut: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    url = hostile.route("/plan.ics", ok(rolling_plan()))
    config = _sync_config(tmp_path, url)
    assert run_cli("--config", str(config), "sync") == 0
    written = (tmp_path / "out.ics").read_bytes()
    assert written.count(b"BEGIN:VEVENT") > 5
    capsys.readouterr()
    hostile.route("/plan.ics", cut)
    assert run_cli("--config", str(config), "sync") == 1
    err = capsys.readouterr().err
    assert "plan me" in err
    assert "cut off" in err or "broke off" in err, err
    assert (tmp_path / "out.ics").read_bytes() == written


# --- items 4 and 5: caps and deadline hold while a redirect is followed ---------------------------


def test_a_302_whose_body_is_a_gzip_bomb_costs_neither_memory_nor_time(hostile: HostileServer) -> None:
    bomb = gzip_bomb(100 * MB)  # about 100 KB on the wire
    hostile.route("/feed.ics", ok(FEED))
    url = hostile.route("/old.ics", redirect("/feed.ics", [bomb], headers=[("Content-Encoding", "gzip")]))
    outcome, seconds, peak = measured(lambda: titles(reader(url, max_bytes=1 * MB)))
    assert outcome == ["Long Run 25 km"]
    assert seconds < 2
    assert peak < 16 * MB, f"peak {peak / MB:.0f} MB"


def test_a_gzip_bomb_as_the_feed_is_refused_at_max_bytes_with_little_memory(hostile: HostileServer) -> None:
    body = gzip_bomb(100 * MB)
    url = hostile.route("/feed.ics", ok(body, headers=[("Content-Encoding", "gzip")]))
    outcome, seconds, peak = measured(lambda: titles(reader(url, max_bytes=1 * MB)))
    assert isinstance(outcome, SourceError)
    assert "larger than max_bytes" in str(outcome)
    assert seconds < 2
    assert peak < 16 * MB, f"peak {peak / MB:.0f} MB"


def test_a_302_with_an_endless_body_is_followed_without_reading_it(hostile: HostileServer) -> None:
    hostile.route("/feed.ics", ok(FEED))
    url = hostile.route("/old.ics", redirect("/feed.ics", endless()))
    outcome, seconds, peak = measured(lambda: titles(reader(url, max_bytes=1 * MB)))
    assert outcome == ["Long Run 25 km"]
    assert seconds < 2
    assert peak < 16 * MB, f"peak {peak / MB:.0f} MB"


def test_an_endless_feed_behind_a_302_stops_at_max_bytes(hostile: HostileServer) -> None:
    def forever(conn: Connection) -> None:
        if conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nConnection: close\r\n\r\n"):
            for chunk in endless():
                if not conn.send(chunk):
                    return

    hostile.route("/feed.ics", forever)
    url = hostile.route("/old.ics", redirect("/feed.ics", [b"moved"]))
    outcome, seconds, peak = measured(lambda: titles(reader(url, max_bytes=1 * MB)))
    assert isinstance(outcome, SourceError)
    assert "larger than max_bytes" in str(outcome)
    assert seconds < 2
    assert peak < 16 * MB, f"peak {peak / MB:.0f} MB"


# --- item 6: every request has a total deadline ----------------------------------------------------


def test_trickled_response_headers_hit_the_total_deadline(hostile: HostileServer) -> None:
    url = hostile.route("/feed.ics", trickled_headers(0.2))  # each byte well within timeout_seconds
    outcome, seconds = bounded(lambda: titles(reader(url, timeout_seconds=0.5)), within=10)
    assert isinstance(outcome, SourceError), outcome
    assert "took longer than 2 s" in str(outcome)
    assert seconds < 3.5


def test_a_trickled_body_behind_a_302_hits_the_total_deadline(hostile: HostileServer) -> None:
    def slow(conn: Connection) -> None:
        if conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nConnection: close\r\n\r\n"):
            conn.trickle(FEED * 1000, 0.1)

    hostile.route("/feed.ics", slow)
    url = hostile.route("/old.ics", redirect("/feed.ics", [b"moved"]))
    outcome, seconds = bounded(lambda: titles(reader(url, timeout_seconds=0.5)), within=10)
    assert isinstance(outcome, SourceError), outcome
    assert "took longer than 2 s" in str(outcome)
    assert seconds < 3.5


def test_a_caldav_source_whose_headers_trickle_hits_the_total_deadline(hostile: HostileServer) -> None:
    from calsync.adapters.caldav import CaldavClient, CaldavSource  # imported as the registry does

    url = hostile.route("/cal/", trickled_headers(0.2))
    client = CaldavClient(url, timeout=0.5, backoff=0.01, name="plan me: source training")

    def read() -> object:
        return CaldavSource(client).read(*WINDOW, ZONE, token=None, cache={})

    outcome, seconds = bounded(read, within=15)
    assert isinstance(outcome, SourceError), outcome
    assert str(outcome).startswith("plan me: source training: CalDAV calendar")
    assert "no whole answer within 2 s" in str(outcome)
    assert client.requests == 1, "a server that answers this slowly is not asked again in this pass"
    assert seconds < 3.5


def test_the_daemon_plan_whose_feed_trickles_fails_and_retries_instead_of_sticking(
    hostile: HostileServer, tmp_path: Path
) -> None:
    url = hostile.route("/plan.ics", trickled_headers(0.2))
    config = _sync_config(tmp_path, url)
    text = config.read_text(encoding="utf-8").replace("timeout_seconds = 2", "timeout_seconds = 0.5")
    config.write_text('[daemon]\npoll_seconds = 1\njitter_seconds = 0\nrebuild_at = "off"\n' + text)
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        log = daemon.wait_log("plan me: sync failed", count=2, timeout=20)
        assert "took longer than 2 s" in log
        stamps = daemon.times_of("plan me: sync failed")
        assert stamps[1] - stamps[0] < 6, "the failed pass is retried after its back-off"
        assert daemon.stop() == 0
    finally:
        daemon.kill()


# --- item 9 and item 12: the feed server under slow and flooding clients ---------------------------


def _get(server: FeedServer, target: str, *, timeout: float = 5.0) -> int:
    """A real client's GET: the status it gets."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.fixture
def feed_server(tmp_path: Path) -> Iterator[Callable[..., FeedServer]]:
    """Start a real feed server on a free loopback port serving one plan's file (stopped after)."""
    path = tmp_path / "me.ics"
    path.write_bytes(FEED)
    started: list[FeedServer] = []

    def start(**keys: Any) -> FeedServer:
        server = FeedServer(
            "127.0.0.1", 0, token=None, lookup=keys.pop("lookup", FileFeeds({"me": path})), **keys
        )
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_slowloris_cannot_hold_the_feed_servers_slots(feed_server: Callable[..., FeedServer]) -> None:
    server = feed_server(request_seconds=2.0)
    assert _get(server, "/feeds/me.ics") == 200
    slow = Slowloris("127.0.0.1", server.port, 70, every=0.5)  # more than the 64 slots
    try:
        time.sleep(0.5)
        started = time.monotonic()
        assert _get(server, "/feeds/me.ics") == 200, "a real client is served during the flood"
        assert time.monotonic() - started < 2.0
        wait_for("every slow client cut", lambda: slow.cut() == 70 or None, timeout=6.0)
        assert time.monotonic() - started < 5.0, "each slow request is cut at its total deadline"
        assert _get(server, "/feeds/me.ics") == 200
    finally:
        slow.close()


def test_control_characters_in_a_request_path_are_escaped_in_the_access_log(
    feed_server: Callable[..., FeedServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = feed_server()
    caplog.set_level(logging.DEBUG, logger="calsync.feeds")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"GET /feeds/\x1b[2J\x1b[31mfake\x07\x7f.ics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 404")
    lines = [r.getMessage() for r in caplog.records if r.name == "calsync.feeds"]
    assert any("fake" in line for line in lines), lines
    for line in lines:
        assert not any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in line), repr(line)
    assert any("\\x1b[2J\\x1b[31mfake\\x07\\x7f.ics" in line for line in lines), lines


def test_a_flood_of_refused_connections_is_one_warning_and_a_summary(
    feed_server: Callable[..., FeedServer], caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()

    def stuck(name: str) -> Feed | None:  # every slot busy answering, none reading a request
        release.wait(10)
        return None

    server = feed_server(lookup=stuck, max_connections=2)
    caplog.set_level(logging.INFO, logger="calsync.feeds")
    busy = [threading.Thread(target=_get, args=(server, "/feeds/me.ics"), daemon=True) for _ in range(2)]
    for thread in busy:
        thread.start()
    time.sleep(0.3)
    refused = [_get(server, "/feeds/me.ics") for _ in range(200)]
    assert refused == [503] * 200
    release.set()
    server.stop()
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) <= 3, lines
    assert "answering 503" in lines[0]
    assert any("199 more connection(s) refused" in line for line in lines), lines


# --- item 11: the log says where the feeds really are; all addresses without a token warns ----------


def test_feeds_on_every_address_without_a_token_are_logged_as_such_with_a_warning(
    hostile: HostileServer, tmp_path: Path
) -> None:
    hostile.route("/plan.ics", ok(rolling_plan()))
    port = free_port()
    feed = tmp_path / "feeds" / "me.ics"
    config = _sync_config(tmp_path, hostile.url("/plan.ics"))
    text = config.read_text(encoding="utf-8").replace(
        f'kind = "ics_file"\npath = "{tmp_path / "out.ics"}"', f'kind = "feed"\npath = "{feed}"'
    )
    config.write_text(
        '[daemon]\npoll_seconds = 60\njitter_seconds = 0\nrebuild_at = "off"\n'
        f'[daemon.feeds]\nhost = "0.0.0.0"\nport = {port}\n' + text
    )
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        log = daemon.wait_log("plan me: sync ok")
        assert f"http://0.0.0.0:{port}" in log
        assert f"serving on http://127.0.0.1:{port}" not in log
        warnings = [line for line in log.splitlines() if "WARNING" in line and "token" in line]
        assert len(warnings) == 1, log
        assert "every address" in warnings[0]
        assert "token_file" in warnings[0]
        # item 10 for feed files: the feed (it is the plan, and a link may be a secret) is private
        assert feed.stat().st_mode & 0o777 == 0o600
        assert daemon.stop() == 0
    finally:
        daemon.kill()


def test_a_feed_file_is_created_private_whatever_the_umask(hostile: HostileServer, tmp_path: Path) -> None:
    hostile.route("/plan.ics", ok(rolling_plan()))
    feed = tmp_path / "feeds" / "me.ics"
    config = _sync_config(tmp_path, hostile.url("/plan.ics"))
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(f'kind = "ics_file"\npath = "{tmp_path / "out.ics"}"', f'kind = "feed"\npath = "{feed}"')
    )
    old = os.umask(0o022)
    try:
        assert run_cli("--config", str(config), "sync") == 0
        assert feed.stat().st_mode & 0o777 == 0o600
        feed.chmod(0o644)  # a feed file written by an older calsync
        hostile.route("/plan.ics", ok(rolling_plan(moved_week=1)))
        assert run_cli("--config", str(config), "sync") == 0
        assert feed.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_the_total_deadline_holds_through_a_proxy(
    hostile: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile.route("http://feed.invalid/plan.ics", trickled_headers(0.2))  # the proxy trickles
    monkeypatch.setenv("HTTP_PROXY", hostile.url(""))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    outcome, seconds = bounded(
        lambda: titles(reader("http://feed.invalid/plan.ics", timeout_seconds=0.5)), within=10
    )
    assert isinstance(outcome, SourceError), outcome
    assert "took longer than 2 s" in str(outcome)
    assert seconds < 3.5
    assert hostile.log[0][0] == "http://feed.invalid/plan.ics", "read through the proxy"


def test_the_total_deadline_holds_over_tls(tmp_path: Path) -> None:
    from http_feed import self_signed_certificate  # here: other modules load http_feed as a plugin

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command for a test certificate")
    cert, key = self_signed_certificate(tmp_path)
    server = HostileServer(tls=(cert, key))
    try:
        url = server.route("/feed.ics", trickled_headers(0.2))
        adapter = reader(url, timeout_seconds=0.5, ca_file=str(cert))
        outcome, seconds = bounded(lambda: titles(adapter), within=10)
        assert isinstance(outcome, SourceError), outcome
        assert "took longer than 2 s" in str(outcome)
        assert seconds < 3.5
        server.route("/feed.ics", ok(FEED))
        assert titles(adapter) == ["Long Run 25 km"], "the next read works on a fresh connection"
    finally:
        server.close()


def test_home_assistant_rest_whose_headers_trickle_hits_the_total_deadline(hostile: HostileServer) -> None:
    """The Home Assistant source and target read over REST too: the same total deadline."""
    from calsync.adapters.ha_client import HaClient

    url = hostile.route("/api/calendars/calendar.training", trickled_headers(0.2))
    client = HaClient(
        url.removesuffix("/api/calendars/calendar.training"),
        "token",
        entity_id="calendar.training",
        label="plan me: source training",
        error=SourceError,
        timeout=0.5,
    )
    outcome, seconds = bounded(lambda: client.rest("GET", "/api/calendars/calendar.training"), within=10)
    assert isinstance(outcome, SourceError), outcome
    assert "took longer than 2 s" in str(outcome)
    assert seconds < 3.5
