"""The feed target's HTTP server, over real HTTP on loopback: conditional GET, gzip, the token,
bounds and concurrency, the all-plans feed, and a feed written by ``calsync rebuild`` then served."""

from __future__ import annotations

import gzip
import http.client
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from icalendar import Calendar, Component, vCategory, vDDDTypes

from calsync.adapters.ics_read import parse_ics
from calsync.adapters.ics_target import write_atomic
from calsync.cli import main
from calsync.core.model import PlanResult, Run, RunKind, Session, SessionKind
from calsync.feeds import Feed, FeedServer, FileFeeds, all_plans_feed

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PLAN = ROOT / "config" / "example-plan.ics"
BERLIN = ZoneInfo("Europe/Berlin")
TOKEN = "s3cret-Token_0123456789"
NOW = datetime(2026, 11, 27, 7, 30, tzinfo=BERLIN)

CALENDAR = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//calsync//calsync//EN\r
BEGIN:VEVENT\r
UID:calsync-me-2026W49-s1\r
DTSTAMP:20261127T063000Z\r
DTSTART:20261130T050000Z\r
DTEND:20261130T054500Z\r
SUMMARY:Strength: heavy lower body\r
END:VEVENT\r
END:VCALENDAR\r
"""


@pytest.fixture
def feed_file(tmp_path: Path) -> Path:
    """A plan's feed file, as ``rebuild`` leaves it."""
    path = tmp_path / "feeds" / "me.ics"
    write_atomic(path, CALENDAR)
    return path


@pytest.fixture
def serve() -> Iterator[Callable[..., FeedServer]]:
    """Start FeedServers on free loopback ports; every one is stopped after the test."""
    started: list[FeedServer] = []

    def start(
        lookup: Callable[[str], Feed | None], token: str | None = None, max_connections: int = 64
    ) -> FeedServer:
        server = FeedServer("127.0.0.1", 0, token=token, lookup=lookup, max_connections=max_connections)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def raw_get(server: FeedServer, target: str, method: str = "GET") -> int:
    """The status of a request with the target exactly as given (no client-side normalising)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


# --- serving a file ----------------------------------------------------------------------------


def test_get_serves_the_file_with_validators(feed_file: Path, serve: Callable[..., FeedServer]) -> None:
    server = serve(FileFeeds({"me": feed_file}))
    response = requests.get(server.url("me"), timeout=5, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.content == CALENDAR
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Length"] == str(len(CALENDAR))
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Vary"] == "Accept-Encoding"
    etag = response.headers["ETag"]
    assert etag[0] == etag[-1] == '"'  # strong: no W/
    mtime = datetime.fromtimestamp(feed_file.stat().st_mtime, UTC).replace(microsecond=0)
    assert response.headers["Last-Modified"] == format_datetime(mtime, usegmt=True)
    assert "Python" not in response.headers["Server"]


def test_same_etag_gives_304_without_a_body(feed_file: Path, serve: Callable[..., FeedServer]) -> None:
    server = serve(FileFeeds({"me": feed_file}))
    first = requests.get(server.url("me"), timeout=5)
    etag = first.headers["ETag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = requests.get(server.url("me"), headers={"If-None-Match": header}, timeout=5)
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["ETag"] == etag
    other = requests.get(server.url("me"), headers={"If-None-Match": '"other"'}, timeout=5)
    assert other.status_code == 200
    assert other.content == CALENDAR


def test_if_modified_since(feed_file: Path, serve: Callable[..., FeedServer]) -> None:
    server = serve(FileFeeds({"me": feed_file}))
    last_modified = requests.get(server.url("me"), timeout=5).headers["Last-Modified"]
    assert (
        requests.get(server.url("me"), headers={"If-Modified-Since": last_modified}, timeout=5).status_code
        == 304
    )
    earlier = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
    assert (
        requests.get(server.url("me"), headers={"If-Modified-Since": earlier}, timeout=5).status_code == 200
    )
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
    both = {"If-Modified-Since": last_modified, "If-None-Match": '"other"'}
    assert requests.get(server.url("me"), headers=both, timeout=5).status_code == 200
    garbage = {"If-Modified-Since": "yesterday-ish"}
    assert requests.get(server.url("me"), headers=garbage, timeout=5).status_code == 200


def test_a_replaced_file_gets_a_new_etag(feed_file: Path, serve: Callable[..., FeedServer]) -> None:
    feeds = FileFeeds({"me": feed_file})
    server = serve(feeds)
    first = requests.get(server.url("me"), timeout=5)
    changed = CALENDAR.replace(b"heavy lower body", b"upper body")
    write_atomic(feed_file, changed)  # as IcsFileTarget writes: temp file + os.replace, often the same second
    second = requests.get(server.url("me"), headers={"If-None-Match": first.headers["ETag"]}, timeout=5)
    assert second.status_code == 200
    assert second.content == changed
    assert second.headers["ETag"] != first.headers["ETag"]
    # Last-Modified moves even when the replacement happened within the same second
    since = {"If-Modified-Since": first.headers["Last-Modified"]}
    assert requests.get(server.url("me"), headers=since, timeout=5).status_code == 200


def test_an_unchanged_file_is_not_read_again(feed_file: Path) -> None:
    feeds = FileFeeds({"me": feed_file})
    first = feeds("me")
    assert first is not None
    assert feeds("me") is first
    os.utime(feed_file, ns=(1, 1))  # touched: read again, but the same bytes keep the same Feed
    assert feeds("me") is first


def test_an_unreadable_file_is_a_500_or_the_last_copy_read(
    tmp_path: Path, feed_file: Path, serve: Callable[..., FeedServer], caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "dir.ics").mkdir()
    server = serve(FileFeeds({"me": feed_file, "broken": tmp_path / "dir.ics"}))
    assert requests.get(server.url("broken"), timeout=5).status_code == 500
    assert requests.get(server.url("me"), timeout=5).status_code == 200
    feed_file.unlink()
    feed_file.mkdir()  # e.g. a permission or disk problem after a good read
    response = requests.get(server.url("me"), timeout=5)
    assert response.status_code == 200
    assert response.content == CALENDAR
    assert "serving the last copy read" in caplog.text


def test_head_has_the_headers_and_no_body(feed_file: Path, serve: Callable[..., FeedServer]) -> None:
    server = serve(FileFeeds({"me": feed_file}))
    get = requests.get(server.url("me"), timeout=5, headers={"Accept-Encoding": "identity"})
    head = requests.head(server.url("me"), timeout=5, headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200
    assert head.content == b""
    for name in ("ETag", "Last-Modified", "Content-Length", "Content-Type"):
        assert head.headers[name] == get.headers[name]


def test_unknown_plan_404_and_a_plan_without_a_good_pass_503_until_it_has_one(
    tmp_path: Path, serve: Callable[..., FeedServer]
) -> None:
    """A subscriber (Google refreshes every 12-24 h) must not be handed an empty calendar before
    the plan's first good pass: 503 with Retry-After, then the feed once it is written."""
    server = serve(FileFeeds({"new": tmp_path / "not-yet.ics"}))
    assert requests.get(server.url("nobody"), timeout=5).status_code == 404
    for method in (requests.get, requests.head):
        response = method(server.url("new"), timeout=5)
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        assert response.headers["Cache-Control"] == "no-store"
    write_atomic(tmp_path / "not-yet.ics", CALENDAR)
    later = requests.get(server.url("new"), timeout=5)
    assert later.status_code == 200
    assert later.content == CALENDAR


def test_a_good_feed_is_never_replaced_by_an_empty_one(
    tmp_path: Path, serve: Callable[..., FeedServer]
) -> None:
    """The file goes missing (a person, a cleanup job): the last good copy stays served."""
    path = tmp_path / "me.ics"
    write_atomic(path, CALENDAR)
    server = serve(FileFeeds({"me": path}))
    first = requests.get(server.url("me"), timeout=5)
    path.unlink()
    again = requests.get(server.url("me"), timeout=5)
    assert again.status_code == 200
    assert again.content == CALENDAR
    assert again.headers["ETag"] == first.headers["ETag"]


def test_the_all_plans_feed_is_503_until_its_first_pass(serve: Callable[..., FeedServer]) -> None:
    feeds = FileFeeds({})
    feeds.expect("all")
    server = serve(feeds)
    assert requests.get(server.url("all"), timeout=5).status_code == 503
    feeds.set_feed("all", Feed.of(CALENDAR, datetime(2026, 11, 27, tzinfo=UTC)))
    assert requests.get(server.url("all"), timeout=5).content == CALENDAR
    feeds.set_feed("all", None)  # all_plans turned off: no such feed
    assert requests.get(server.url("all"), timeout=5).status_code == 404


def test_token_in_the_path(feed_file: Path, serve: Callable[..., FeedServer]) -> None:
    server = serve(FileFeeds({"me": feed_file}), token=TOKEN)
    assert server.url("me") == f"http://127.0.0.1:{server.port}/feeds/{TOKEN}/me.ics"
    assert requests.get(server.url("me"), timeout=5).status_code == 200
    for target in (
        "/feeds/me.ics",  # no token
        "/feeds/s3cret-Token_0123456788/me.ics",  # wrong token
        f"/feeds/{TOKEN[:-1]}/me.ics",  # a prefix of it
        f"/feeds/me.ics/{TOKEN}",  # in the wrong place
        f"/{TOKEN}/feeds/me.ics",
        f"/feeds/{TOKEN}/{TOKEN}/me.ics",
        f"/feeds/{TOKEN}/nobody.ics",  # right token, unknown plan: the same 404
        f"/feeds/{TOKEN}%2Fme.ics",  # an encoded slash is not a path separator
    ):
        assert raw_get(server, target) == 404, target
    assert raw_get(server, f"/feeds/{TOKEN}/me.ics?x=1") == 200


@pytest.mark.parametrize(
    "target",
    [
        "/feeds/../x.ics",
        "/feeds/%2e%2e/x.ics",
        "/feeds/..%2fme.ics",
        "/feeds/%2E%2E%2Fme.ics",
        "/feeds/../../etc/passwd",
        "/feeds/me.ics/../me.ics",
        "/feeds//me.ics",
        "/feeds/me",
        "/feeds/.ics",
        "/feeds/me.ICS",
        "/feeds/" + "a" * 65 + ".ics",
        "/feeds/me%00.ics",
        "/feeds/",
        "/",
    ],
)
def test_anything_but_a_feed_path_is_404(
    target: str, feed_file: Path, serve: Callable[..., FeedServer]
) -> None:
    server = serve(FileFeeds({"me": feed_file, "x": feed_file}))
    assert raw_get(server, target) == 404


def test_other_methods_get_405(feed_file: Path, serve: Callable[..., FeedServer]) -> None:
    server = serve(FileFeeds({"me": feed_file}))
    response = requests.post(server.url("me"), data=b"BEGIN:VCALENDAR", timeout=5)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert requests.put(server.url("me"), data=b"x", timeout=5).status_code == 405
    assert requests.delete(server.url("me"), timeout=5).status_code == 405


def test_healthz(serve: Callable[..., FeedServer]) -> None:
    server = serve(FileFeeds({}), token=TOKEN)
    response = requests.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.text == "ok\n"


def test_healthz_says_which_plans_fail(serve: Callable[..., FeedServer]) -> None:
    """What the daemon reports is what a monitor sees: 503 while a plan's last pass failed."""
    health = [(200, "ok\nplan a: ok\n")]
    server = FeedServer("127.0.0.1", 0, token=TOKEN, lookup=FileFeeds({}), health=lambda: health[0])
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/healthz/{TOKEN}"
        assert requests.get(url, timeout=5).text == "ok\nplan a: ok\n"
        health[0] = (503, "failing\nplan a: failing (2 in a row): cannot connect\n")
        response = requests.get(url, timeout=5)
        assert response.status_code == 503
        assert "plan a: failing (2 in a row)" in response.text
        # without the token a monitor gets the verdict, not the plans and their errors
        plain = requests.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
        assert (plain.status_code, plain.text) == (503, "failing\n")
        wrong = requests.get(f"http://127.0.0.1:{server.port}/healthz/not-the-token", timeout=5)
        assert (wrong.status_code, wrong.text) == (503, "failing\n")
    finally:
        server.stop()


def test_gzip_round_trip(tmp_path: Path, serve: Callable[..., FeedServer]) -> None:
    big = CALENDAR.replace(b"END:VCALENDAR", b"X-PADDING:" + b"strength " * 400 + b"\r\nEND:VCALENDAR")
    write_atomic(tmp_path / "me.ics", big)
    server = serve(FileFeeds({"me": tmp_path / "me.ics"}))
    plain = requests.get(server.url("me"), headers={"Accept-Encoding": "identity"}, timeout=5)
    zipped = requests.get(server.url("me"), headers={"Accept-Encoding": "gzip"}, timeout=5, stream=True)
    raw = zipped.raw.read(decode_content=False)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(raw) == big == plain.content
    assert int(zipped.headers["Content-Length"]) == len(raw) < len(big) // 4
    # each representation has its own ETag; either one revalidates
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    assert zipped.headers["Vary"] == plain.headers["Vary"] == "Accept-Encoding"
    for etag in (zipped.headers["ETag"], plain.headers["ETag"]):
        again = requests.get(
            server.url("me"), headers={"Accept-Encoding": "gzip", "If-None-Match": etag}, timeout=5
        )
        assert again.status_code == 304
        assert again.headers["ETag"] == zipped.headers["ETag"]
    refused = requests.get(server.url("me"), headers={"Accept-Encoding": "gzip;q=0, br"}, timeout=5)
    assert "Content-Encoding" not in refused.headers


# --- bounds, concurrency, stopping, logs --------------------------------------------------------


def test_a_slow_client_does_not_block_others(feed_file: Path, serve: Callable[..., FeedServer]) -> None:
    server = serve(FileFeeds({"me": feed_file}))
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    slow.sendall(b"GET /feeds/me.ics HTTP/1.1\r\nHost: x\r\n")  # ... and never finishes its headers
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool, requests.Session() as _:
            statuses = list(
                pool.map(lambda _: requests.get(server.url("me"), timeout=5).status_code, range(64))
            )
        assert statuses == [200] * 64
        assert time.monotonic() - started < 3
    finally:
        slow.close()


def test_connections_are_bounded_and_idle_ones_give_way(
    feed_file: Path, serve: Callable[..., FeedServer]
) -> None:
    """Slots are bounded; when idle connections hold them all, a client with a request takes the
    slot of the one that waited longest (a slot busy answering is never taken: see
    test_hostile_http's flood test for the 503)."""
    server = serve(FileFeeds({"me": feed_file}), max_connections=2)
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(2)]
    try:
        time.sleep(0.2)  # both accepted and holding their slots
        assert requests.get(server.url("me"), timeout=5).status_code == 200
        assert idle[0].recv(10) == b"", "the connection idle longest was cut"
    finally:
        for sock in idle:
            sock.close()


def test_oversized_request_line_and_headers_are_refused(
    feed_file: Path, serve: Callable[..., FeedServer]
) -> None:
    server = serve(FileFeeds({"me": feed_file}))
    assert raw_get(server, "/feeds/" + "a" * 9000 + ".ics") == 414
    response = requests.get(
        server.url("me"), headers={f"X-Big-{i}": "y" * 1000 for i in range(40)}, timeout=5
    )
    assert response.status_code == 431


def test_stop_is_quick_with_an_idle_keep_alive_connection(feed_file: Path) -> None:
    server = FeedServer("127.0.0.1", 0, token=None, lookup=FileFeeds({"me": feed_file}))
    server.start()
    with requests.Session() as session:
        assert session.get(server.url("me"), timeout=5).status_code == 200  # connection kept alive
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1.5
    assert not [t for t in threading.enumerate() if t.name == "calsync-feeds"]
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url("me"), timeout=2)


def test_access_log_is_debug_without_the_token_and_nothing_on_stderr(
    feed_file: Path,
    serve: Callable[..., FeedServer],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    server = serve(FileFeeds({"me": feed_file}), token=TOKEN)
    with caplog.at_level(logging.DEBUG, logger="calsync.feeds"):
        requests.get(server.url("me"), timeout=5)
        requests.get(server.url("nobody"), timeout=5)
        raw_get(server, f"/x/{TOKEN}")
        socket.create_connection(("127.0.0.1", server.port)).sendall(b"NONSENSE\r\n\r\n")
        time.sleep(0.2)
    lines = [r.getMessage() for r in caplog.records if r.name == "calsync.feeds"]
    assert any("/feeds/<token>/me.ics" in line and " 200 " in line for line in lines)
    assert all(r.levelno == logging.DEBUG for r in caplog.records if "GET" in r.getMessage())
    assert not any(TOKEN in line for line in lines)
    out, err = capfd.readouterr()
    assert err == ""
    assert TOKEN not in out


# --- the all-plans feed -------------------------------------------------------------------------


def _result(plan_id: str, zone: str, hour: int) -> PlanResult:
    tz = ZoneInfo(zone)
    runs = (
        Run("coach-long-1", "Long Run 30 km", RunKind.LONG, datetime(2026, 12, 5, hour, tzinfo=tz),
            datetime(2026, 12, 5, hour + 3, tzinfo=tz), distance_km=30.0),
        Run("coach-race", "Race: Lavaredo 120K", RunKind.RACE, date(2027, 6, 25), date(2027, 6, 26),
            distance_km=120.0, priority="A"),
    )  # fmt: skip
    sessions = (
        Session(f"calsync-{plan_id}-2026W49-s1", SessionKind.HEAVY_LOWER, "Strength: heavy lower body",
                datetime(2026, 11, 30, 6, tzinfo=tz), datetime(2026, 11, 30, 6, 45, tzinfo=tz),
                "2026-W49", "s1"),
        Session(f"calsync-{plan_id}-2026W49-rest", SessionKind.REST, "Rest day",
                date(2026, 12, 6), date(2026, 12, 7), "2026-W49", "rest"),
    )  # fmt: skip
    return PlanResult(plan_id, zone, runs, (), sessions)


def _categories(event: Component) -> list[str]:
    """An event's CATEGORIES as text."""
    value = event["CATEGORIES"]
    assert isinstance(value, vCategory)
    return [str(c) for c in value.cats]


def _dtstart(event: Component) -> object:
    """An event's DTSTART value as icalendar reads it (a date or an aware datetime here)."""
    value = event["DTSTART"]
    assert isinstance(value, vDDDTypes)
    return value.dt


def test_all_plans_feed_holds_every_plans_runs_and_sessions() -> None:
    results = [_result("anna", "Europe/Berlin", 7), _result("ben", "America/New_York", 8)]
    feed = all_plans_feed(results, now=NOW)
    calendar = Calendar.from_ical(feed.body)
    events = calendar.walk("VEVENT")
    assert len(events) == 8
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == 8  # two athletes' identical runs do not collide
    runs = [e for e in events if "run" in _categories(e)]
    assert len(runs) == 4
    summaries = {str(e["SUMMARY"]) for e in events}
    assert {
        "anna: Long Run 30 km",
        "ben: Long Run 30 km",
        "anna: Rest day",
        "ben: Strength: heavy lower body",
    } <= summaries
    sessions = [e for e in events if "X-CALSYNC-PLAN" in e]
    assert {str(e["X-CALSYNC-PLAN"]) for e in sessions} == {"anna", "ben"}
    assert {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")} == {"Europe/Berlin", "America/New_York"}
    assert str(calendar["X-WR-CALNAME"]) == "calsync: all plans"
    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT15M\r\n" in feed.body
    assert b"\r\nX-PUBLISHED-TTL:PT15M\r\n" in feed.body
    long_ben = next(e for e in events if str(e["SUMMARY"]) == "ben: Long Run 30 km")
    assert _dtstart(long_ben) == datetime(2026, 12, 5, 8, tzinfo=ZoneInfo("America/New_York"))
    race = next(e for e in events if str(e["SUMMARY"]) == "anna: Race: Lavaredo 120K")
    assert _dtstart(race) == date(2027, 6, 25)


def test_all_plans_feed_etag_depends_on_content_not_on_now() -> None:
    results = [_result("anna", "Europe/Berlin", 7), _result("ben", "America/New_York", 8)]
    first = all_plans_feed(results, now=NOW)
    later = all_plans_feed(list(reversed(results)), now=NOW + timedelta(hours=5))
    assert later.body != first.body  # DTSTAMP moved
    assert later.etag == first.etag
    assert later.last_modified == first.last_modified + timedelta(hours=5)
    moved = [_result("anna", "Europe/Berlin", 9), results[1]]
    assert all_plans_feed(moved, now=NOW).etag != first.etag
    # the served feed keeps the bytes and Last-Modified first seen for an ETag
    feeds = FileFeeds({})
    feeds.set_feed("all", first)
    feeds.set_feed("all", later)
    assert feeds("all") is first
    feeds.set_feed("all", None)
    assert feeds("all") is None


def test_all_plans_feed_is_read_back_by_calsyncs_reader(serve: Callable[..., FeedServer]) -> None:
    feeds = FileFeeds({})
    feeds.set_feed(
        "all", all_plans_feed([_result("anna", "Europe/Berlin", 7), _result("ben", "UTC", 8)], now=NOW)
    )
    server = serve(feeds)
    response = requests.get(server.url("all"), timeout=5)
    assert response.status_code == 200
    read = parse_ics(
        response.content,
        name="all",
        zone=BERLIN,
        window_start=datetime(2026, 11, 1, tzinfo=BERLIN),
        window_end=datetime(2027, 12, 1, tzinfo=BERLIN),
    )
    assert not read.problems
    assert len(read.events) == 8
    assert sum(1 for e in read.events if "run" in e.categories) == 4


def test_an_empty_all_plans_feed_is_valid() -> None:
    calendar = Calendar.from_ical(all_plans_feed([], now=NOW).body)
    assert calendar.name == "VCALENDAR"
    assert not calendar.walk("VEVENT")


# --- end to end: calsync rebuild writes the feed, the server serves it ----------------------------


def test_rebuild_writes_the_feed_that_is_served(tmp_path: Path, serve: Callable[..., FeedServer]) -> None:
    path = tmp_path / "served" / "example.ics"
    config = tmp_path / "calsync.toml"
    config.write_text(
        f"""
[[plan]]
id = "example"
timezone = "Europe/Berlin"
horizon_weeks = 8

[[plan.source]]
kind = "ics_file"
path = "{EXAMPLE_PLAN}"

[plan.target]
kind = "feed"
path = "{path}"
""",
        encoding="utf-8",
    )
    assert main(["--config", str(config), "rebuild", "--now", "2026-11-27T07:30"]) == 0
    assert path.is_file()
    server = serve(FileFeeds({"example": path}))
    response = requests.get(server.url("example"), timeout=5)
    assert response.status_code == 200
    events = Calendar.from_ical(response.content).walk("VEVENT")
    kinds = {str(e["X-CALSYNC-KIND"]) for e in events}
    assert "rest" in kinds
    assert kinds & {"heavy_lower", "light_lower", "upper", "core", "bodyweight"}
    assert all(str(e["X-CALSYNC-PLAN"]) == "example" for e in events)
    assert (
        requests.get(
            server.url("example"), headers={"If-None-Match": response.headers["ETag"]}, timeout=5
        ).status_code
        == 304
    )
