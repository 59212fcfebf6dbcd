"""The ``ics_url`` source against a real HTTP(S) server on loopback (``http_feed``), no mocks.

Conditional GET (ETag / Last-Modified, 304 re-uses body and parse, also in a new process),
webcal://, redirects, basic and bearer auth, timeouts, the size cap, failures that are failed
reads (never an empty plan), and secrets that never reach a message or a log line.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict
from zoneinfo import ZoneInfo

import icalendar
import pytest

import support
from calsync.adapters.ics_read import parse_ics
from calsync.adapters.ics_url import MAX_REDIRECTS, READ_OBJECT, STATE_OBJECT, IcsUrlReader
from calsync.config import IcsUrlSource, load_config
from calsync.errors import SourceError
from calsync.pipeline import read_sources, window_for
from calsync.redact import redact_url, scrub, url_secrets, without_credentials
from calsync.registry import source_for, source_key
from calsync.schema import load
from calsync.state import ScopedStore, State
from test_cli import run_cli

if TYPE_CHECKING:
    from http_feed import Auth, HttpFeed

pytest_plugins = ["http_feed"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PLAN = ROOT / "config" / "example-plan.ics"
ZONE = ZoneInfo("Europe/Berlin")
WINDOW = (datetime(2026, 11, 1, tzinfo=ZONE), datetime(2027, 5, 1, tzinfo=ZONE))
NOW = "2026-11-27T07:30"
NAME = "plan me: source 1"
FEED_TOKEN = "f3e9a8c51e0b4d27a6c2"
"""A secret in the feed link (``?token=``), as coaches' platforms hand them out."""


def calendar(*titles: str, day: int = 5) -> bytes:
    """A small feed: one all-day run per title, on consecutive days of December 2026."""
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:run-{i}@test\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;VALUE=DATE:202612{day + i:02d}\r\nSUMMARY:{title}\r\nEND:VEVENT\r\n"
        for i, title in enumerate(titles)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{events}END:VCALENDAR\r\n".encode()


PLAN = calendar("Long Run 25 km", "Easy Run 40 min")


def reader(url: str, **keys: object) -> IcsUrlReader:
    """The adapter for a feed, as ``registry.source_for`` builds it."""
    source = load(IcsUrlSource, {"kind": "ics_url", "url": url, **keys})
    return IcsUrlReader(source, name=NAME, where="plan[me].source[0]")


def store(adapter: IcsUrlReader, state: State | None) -> ScopedStore | None:
    """The adapter's part of the state, as the pipeline hands it over."""
    key = source_key(adapter.source)
    assert key is not None
    return ScopedStore(state, key) if state is not None else None


def read(adapter: IcsUrlReader, state: State | None = None, *, full: bool = False) -> list[str]:
    """The titles the adapter reads."""
    result = adapter.read(*WINDOW, ZONE, store(adapter, state), full=full)
    return [event.summary for event in result.events]


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    """A state file of its own."""
    with State(tmp_path / "state.sqlite") as opened:
        yield opened


def conditional(headers: dict[str, str]) -> tuple[str | None, str | None]:
    return headers.get("If-None-Match"), headers.get("If-Modified-Since")


# -- conditional GET -------------------------------------------------------------------------------


def test_second_read_is_one_conditional_request_answered_304_without_a_parse(
    http_feed: HttpFeed, state: State
) -> None:
    http_feed.set("/plan.ics", PLAN)
    adapter = reader(http_feed.url())
    watcher = sqlite3.connect(state.path)  # sees every commit of another connection
    version = watcher.execute("PRAGMA data_version").fetchone()
    first = adapter.read(*WINDOW, ZONE, store(adapter, state), full=False)
    assert watcher.execute("PRAGMA data_version").fetchone() != version  # validators + body stored
    version = watcher.execute("PRAGMA data_version").fetchone()
    second = adapter.read(*WINDOW, ZONE, store(adapter, state), full=False)
    assert watcher.execute("PRAGMA data_version").fetchone() == version  # the 304 wrote nothing
    watcher.close()

    assert [e.summary for e in first.events] == ["Long Run 25 km", "Easy Run 40 min"]
    assert second is first  # the parse kept on the adapter, not a new one
    assert adapter.parses == 1
    assert adapter.requests == 2
    (_, _, plain, ok), (_, _, asked, not_modified) = http_feed.log
    assert (ok, not_modified) == (200, 304)
    assert conditional(plain) == (None, None)
    resource = http_feed.set("/plan.ics", PLAN)  # same body: same validators
    assert asked["If-None-Match"] == resource.etag
    assert asked["If-Modified-Since"]


def test_etag_only_server(http_feed: HttpFeed) -> None:
    http_feed.set("/plan.ics", PLAN, last_modified=False)
    adapter = reader(http_feed.url())
    assert read(adapter) == read(adapter)
    (_, _, _, _), (_, _, asked, status) = http_feed.log
    assert status == 304
    assert asked.get("If-None-Match")
    assert "If-Modified-Since" not in asked
    assert adapter.parses == 1


def test_last_modified_only_server(http_feed: HttpFeed) -> None:
    http_feed.set("/plan.ics", PLAN, etag=False)
    adapter = reader(http_feed.url())
    assert read(adapter) == read(adapter)
    (_, _, _, _), (_, _, asked, status) = http_feed.log
    assert status == 304
    assert asked.get("If-Modified-Since")
    assert "If-None-Match" not in asked
    assert adapter.parses == 1


def test_server_without_validators_gets_plain_gets_and_an_unchanged_body_is_not_parsed_again(
    http_feed: HttpFeed, state: State
) -> None:
    http_feed.set("/plan.ics", PLAN, etag=False, last_modified=False)
    adapter = reader(http_feed.url())
    first = read(adapter, state)
    watcher = sqlite3.connect(state.path)
    version = watcher.execute("PRAGMA data_version").fetchone()
    assert read(adapter, state) == first
    assert watcher.execute("PRAGMA data_version").fetchone() == version  # same body: not stored again
    watcher.close()
    assert [r.status for r in http_feed.log] == [200, 200]
    assert all(conditional(r.headers) == (None, None) for r in http_feed.log)
    assert adapter.parses == 1


def test_a_changed_feed_is_read_again(http_feed: HttpFeed, state: State) -> None:
    http_feed.set("/plan.ics", PLAN)
    adapter = reader(http_feed.url())
    read(adapter, state)
    http_feed.set("/plan.ics", calendar("Long Run 30 km"))
    assert read(adapter, state) == ["Long Run 30 km"]
    assert [r.status for r in http_feed.log] == [200, 200]
    assert http_feed.log[1].headers.get("If-None-Match")  # asked conditionally, got the new feed
    assert adapter.parses == 2
    # and the new version is what the next pass (and the next process) starts from
    assert read(adapter, state) == ["Long Run 30 km"]
    assert read(reader(http_feed.url()), state) == ["Long Run 30 km"]
    assert [r.status for r in http_feed.log] == [200, 200, 304, 304]


def test_a_changed_feed_with_last_modified_only_is_read_again_within_the_same_second(
    http_feed: HttpFeed,
) -> None:
    http_feed.set("/plan.ics", PLAN, etag=False)
    adapter = reader(http_feed.url())
    read(adapter)
    http_feed.set("/plan.ics", calendar("Tempo Run 10 km"), etag=False)
    assert read(adapter) == ["Tempo Run 10 km"]


def test_304_for_another_window_parses_the_kept_body_without_another_request(
    http_feed: HttpFeed, state: State
) -> None:
    http_feed.set("/plan.ics", PLAN)
    adapter = reader(http_feed.url())
    read(adapter, state)
    later = adapter.read(
        datetime(2026, 12, 6, tzinfo=ZONE), WINDOW[1], ZONE, store(adapter, state), full=False
    )
    assert [e.summary for e in later.events] == ["Easy Run 40 min"]
    assert [r.status for r in http_feed.log] == [200, 304]
    assert adapter.parses == 2


def test_full_read_is_unconditional_and_parses_again(http_feed: HttpFeed, state: State) -> None:
    http_feed.set("/plan.ics", PLAN)
    adapter = reader(http_feed.url())
    read(adapter, state)
    assert read(adapter, state, full=True) == ["Long Run 25 km", "Easy Run 40 min"]
    assert conditional(http_feed.log[1].headers) == (None, None)
    assert http_feed.log[1].status == 200
    assert adapter.parses == 2


def test_a_new_process_sends_a_conditional_get_from_the_state(http_feed: HttpFeed, tmp_path: Path) -> None:
    """The validators, the body and its read live in the state file: a new adapter (a new
    ``calsync sync``) gets a 304 and takes the same events from the kept read, parsing nothing."""
    http_feed.set("/plan.ics", PLAN)
    url = http_feed.url("/plan.ics?token=" + FEED_TOKEN)
    with State(tmp_path / "state.sqlite") as first_state:
        first = read(reader(url), first_state)
    with State(tmp_path / "state.sqlite") as second_state:
        adapter = reader(url)
        assert read(adapter, second_state) == first
        stored = second_state.objects(f"source:{url}")
    assert [r.status for r in http_feed.log] == [200, 304]
    assert adapter.requests == 1
    assert adapter.parses == 0
    assert set(stored) == {STATE_OBJECT, f"{READ_OBJECT} plan[me].source[0]"}
    assert stored[STATE_OBJECT][1] == PLAN
    assert source_key(adapter.source) == "source:" + url


def test_a_new_process_loads_the_kept_feed_once_per_read(
    http_feed: HttpFeed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state's copy of the feed holds its whole body: a new process's idle read (a 304) loads
    it once, for the validators and the kept read alike, and a changed feed's read once more to
    save the new copy."""
    http_feed.set("/plan.ics", PLAN)
    url = http_feed.url()
    loads: list[str] = []
    real = ScopedStore.objects

    def counted(self: ScopedStore) -> dict[str, tuple[str, bytes]]:
        loads.append(self.key)
        return real(self)

    with State(tmp_path / "state.sqlite") as state:
        read(reader(url), state)
        monkeypatch.setattr(ScopedStore, "objects", counted)
        idle = reader(url)
        assert read(idle, state) == ["Long Run 25 km", "Easy Run 40 min"]
        assert (idle.parses, len(loads)) == (0, 1)
        http_feed.set("/plan.ics", PLAN.replace(b"Long Run 25 km", b"Long Run 26 km"))
        changed = reader(url)
        assert read(changed, state) == ["Long Run 26 km", "Easy Run 40 min"]
        assert (changed.parses, len(loads)) == (1, 2)
    assert [r.status for r in http_feed.log] == [200, 304, 200]


def test_a_new_process_parses_the_kept_body_for_another_window_or_a_damaged_read(
    http_feed: HttpFeed, tmp_path: Path
) -> None:
    http_feed.set("/plan.ics", PLAN)
    url = http_feed.url()
    with State(tmp_path / "state.sqlite") as state:
        read(reader(url), state)
        later = reader(url)
        december = datetime(2026, 12, 6, tzinfo=ZONE)
        events = later.read(december, WINDOW[1], ZONE, store(later, state), full=False)
        assert [e.summary for e in events.events] == ["Easy Run 40 min"]
        assert later.parses == 1  # another window: the kept body parsed, its read kept
        again = reader(url)
        again.read(december, WINDOW[1], ZONE, store(again, state), full=False)
        assert again.parses == 0
        kept = state.objects(f"source:{url}")
        state_store = store(again, state)
        assert state_store is not None
        ours = f"{READ_OBJECT} plan[me].source[0]"
        damaged_read = (kept[ours][0], b"[1, 2")
        state_store.save(None, {STATE_OBJECT: kept[STATE_OBJECT], ours: damaged_read})
        damaged = reader(url)
        assert read(damaged, state) == ["Long Run 25 km", "Easy Run 40 min"]
        assert damaged.parses == 1
    assert [r.status for r in http_feed.log] == [200, 304, 304, 304]


def test_a_304_with_nothing_kept_to_reuse_reads_the_feed_whole(http_feed: HttpFeed, tmp_path: Path) -> None:
    """The daemon's adapter remembers validators; if the state lost the body meanwhile, a 304
    cannot be used: the feed is read again unconditionally instead of failing."""
    http_feed.set("/plan.ics", PLAN)
    adapter = reader(http_feed.url())
    with State(tmp_path / "a.sqlite") as state:
        read(adapter, state)
    with State(tmp_path / "b.sqlite") as empty:
        later = adapter.read(
            datetime(2026, 12, 6, tzinfo=ZONE), WINDOW[1], ZONE, store(adapter, empty), full=False
        )
    assert [e.summary for e in later.events] == ["Easy Run 40 min"]
    assert [r.status for r in http_feed.log] == [200, 304, 200]


def test_the_daemon_keeps_the_adapter_one_request_per_idle_pass(http_feed: HttpFeed, tmp_path: Path) -> None:
    """Through ``pipeline.read_sources`` with kept adapters (the daemon): an idle pass is one
    conditional GET, counted in the pass's requests, and nothing is parsed."""
    http_feed.set("/plan.ics", EXAMPLE_PLAN.read_bytes())
    config_file = tmp_path / "calsync.toml"
    config_file.write_text(
        f'[[plan]]\nid = "me"\ntimezone = "Europe/Berlin"\n\n'
        f'[[plan.source]]\nkind = "ics_url"\nurl = "{http_feed.url()}"\nname = "coach"\n',
        encoding="utf-8",
    )
    plan = load_config(config_file).plan[0]
    window = window_for(plan, datetime.fromisoformat(NOW).replace(tzinfo=ZONE))
    adapters: dict[str, object] = {}
    with State(tmp_path / "state.sqlite") as state:
        first = read_sources(plan, window, state, adapters=adapters)  # type: ignore[arg-type]
        second = read_sources(plan, window, state, adapters=adapters)  # type: ignore[arg-type]
    (adapter,) = adapters.values()
    assert isinstance(adapter, IcsUrlReader)
    assert isinstance(source_for(plan, 0), IcsUrlReader)
    assert (first.requests, second.requests) == (1, 1)
    assert first.events
    assert second.events == first.events
    assert [r.status for r in http_feed.log] == [200, 304]
    assert adapter.parses == 1
    adapter.close()


# -- webcal, TLS, redirects ------------------------------------------------------------------------


def test_webcal_is_read_as_https(https_feed: HttpFeed) -> None:
    https_feed.set("/feed.ics", PLAN)
    url = https_feed.url("/feed.ics", scheme="webcal")
    assert IcsUrlSource(kind="ics_url", url=url).http_url == https_feed.url("/feed.ics")
    assert IcsUrlSource(kind="ics_url", url="WEBCAL://h/x.ics").http_url == "https://h/x.ics"
    adapter = reader(url, ca_file=str(https_feed.ca_file))
    assert read(adapter) == ["Long Run 25 km", "Easy Run 40 min"]
    assert read(adapter) == ["Long Run 25 km", "Easy Run 40 min"]
    assert [r.status for r in https_feed.log] == [200, 304]


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_an_untrusted_certificate_is_a_clear_error_and_verify_tls_false_reads_it(
    https_feed: HttpFeed,
) -> None:
    https_feed.set("/feed.ics", PLAN)
    url = https_feed.url("/feed.ics", scheme="webcal")
    with pytest.raises(SourceError, match=r"TLS certificate is not trusted .*set ca_file") as failure:
        read(reader(url))
    assert str(failure.value).startswith(f"{NAME}: webcal://127.0.0.1:{https_feed.port}/feed.ics: ")
    assert read(reader(url, verify_tls=False)) == ["Long Run 25 km", "Easy Run 40 min"]


def test_https_on_a_plain_http_port_is_a_clear_error(http_feed: HttpFeed) -> None:
    http_feed.set("/plan.ics", PLAN)
    with pytest.raises(SourceError, match="TLS handshake failed"):
        read(reader(http_feed.url(scheme="https")))


def test_redirects_are_followed_and_counted(http_feed: HttpFeed, state: State) -> None:
    http_feed.redirect("/old.ics", "/moved.ics", status=301)
    http_feed.redirect("/moved.ics", http_feed.url("/plan.ics"), status=302)
    http_feed.set("/plan.ics", PLAN)
    adapter = reader(http_feed.url("/old.ics"))
    assert read(adapter, state) == ["Long Run 25 km", "Easy Run 40 min"]
    assert adapter.requests == 3
    assert read(adapter, state) == ["Long Run 25 km", "Easy Run 40 min"]
    assert [(r.path, r.status) for r in http_feed.log[3:]] == [
        ("/old.ics", 301),
        ("/moved.ics", 302),
        ("/plan.ics", 304),
    ]
    assert http_feed.log[5].headers.get("If-None-Match")


def test_a_redirect_loop_is_a_failed_read(http_feed: HttpFeed) -> None:
    http_feed.redirect("/a.ics", "/b.ics")
    http_feed.redirect("/b.ics", "/a.ics", status=307)
    with pytest.raises(SourceError, match=f"more than {MAX_REDIRECTS} redirects; check the URL"):
        read(reader(http_feed.url("/a.ics")))
    assert len(http_feed.log) == MAX_REDIRECTS + 1


def test_credentials_go_along_a_redirect_on_the_same_host_but_not_to_another_host(
    http_feed: HttpFeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEED_TOKEN", "bearer-token-123")
    http_feed.set("/plan.ics", PLAN, auth=("bearer", "bearer-token-123"))
    http_feed.set("/elsewhere.ics", PLAN)
    http_feed.redirect("/same.ics", "/plan.ics")
    http_feed.redirect("/other.ics", http_feed.url("/elsewhere.ics", host="localhost"))
    assert read(reader(http_feed.url("/same.ics"), token_env="FEED_TOKEN"))
    assert read(reader(http_feed.url("/other.ics"), token_env="FEED_TOKEN"))
    by_path = {r.path: r for r in http_feed.log}
    assert by_path["/plan.ics"].status == 200
    assert by_path["/plan.ics"].headers["Authorization"] == "Bearer bearer-token-123"
    assert by_path["/elsewhere.ics"].headers["Host"].startswith("localhost:")
    assert "Authorization" not in by_path["/elsewhere.ics"].headers


# -- auth ----------------------------------------------------------------------------------------------


def test_basic_auth_from_the_environment(http_feed: HttpFeed, monkeypatch: pytest.MonkeyPatch) -> None:
    http_feed.set("/plan.ics", PLAN, auth=("basic", "runner", "correct horse 9"))
    monkeypatch.setenv("FEED_PASSWORD", "correct horse 9")
    adapter = reader(http_feed.url(), username="runner", password_env="FEED_PASSWORD")
    assert read(adapter) == ["Long Run 25 km", "Easy Run 40 min"]
    monkeypatch.setenv("FEED_PASSWORD", "wrong-password-77")
    with pytest.raises(SourceError) as failure:
        read(reader(http_feed.url(), username="runner", password_env="FEED_PASSWORD"))
    message = str(failure.value)
    assert "HTTP 401 Unauthorized: the server refused the credentials; check username" in message
    assert "wrong-password-77" not in message
    assert "correct horse" not in message


def test_bearer_token_from_a_file(http_feed: HttpFeed, tmp_path: Path) -> None:
    http_feed.set("/plan.ics", PLAN, auth=("bearer", "tok-5a1b2c3d4e"))
    secret = tmp_path / "token"
    secret.write_text("tok-5a1b2c3d4e\n", encoding="utf-8")
    assert read(reader(http_feed.url(), token_file=str(secret))) == ["Long Run 25 km", "Easy Run 40 min"]
    secret.write_text("tok-wrong-999\n", encoding="utf-8")
    with pytest.raises(
        SourceError, match=r"refused the credentials; check .*token_env / token_file"
    ) as failure:
        read(reader(http_feed.url(), token_file=str(secret)))
    assert "tok-wrong-999" not in str(failure.value)


def test_a_feed_that_needs_credentials_says_so(http_feed: HttpFeed) -> None:
    http_feed.set("/plan.ics", PLAN, auth=("basic", "runner", "pw12345"))
    with pytest.raises(SourceError, match="HTTP 401 Unauthorized: the feed needs credentials"):
        read(reader(http_feed.url()))
    http_feed.set("/plan.ics", PLAN, status=403)
    with pytest.raises(SourceError, match="HTTP 403 Forbidden: the feed needs credentials"):
        read(reader(http_feed.url()))


# -- failures are failed reads -------------------------------------------------------------------------


def test_a_slow_server_times_out(http_feed: HttpFeed) -> None:
    http_feed.set("/plan.ics", PLAN, delay=1.0)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"no answer within 0.2 s \(timeout_seconds\)"):
        read(reader(http_feed.url(), timeout_seconds=0.2))
    assert time.monotonic() - started < 0.9


def test_a_trickling_download_is_cut_at_four_timeouts(http_feed: HttpFeed) -> None:
    """Each piece arrives within the timeout, but the whole download may not take forever."""
    http_feed.set("/plan.ics", PLAN + b" " * 60_000, trickle=0.02)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"the download took longer than 0.4 s"):
        read(reader(http_feed.url(), timeout_seconds=0.1))
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "no-content-length"])
def test_a_feed_over_max_bytes_is_refused(http_feed: HttpFeed, announced: bool) -> None:
    big = PLAN.replace(b"END:VCALENDAR", b"X-PAD:" + b"x" * 300_000 + b"\r\nEND:VCALENDAR")
    http_feed.set("/plan.ics", big, content_length=announced)
    with pytest.raises(SourceError, match=r"larger than max_bytes \(100000 bytes\).*raise max_bytes"):
        read(reader(http_feed.url(), max_bytes=100_000))
    http_feed.set("/plan.ics", PLAN, content_length=announced)
    assert read(reader(http_feed.url(), max_bytes=100_000)) == ["Long Run 25 km", "Easy Run 40 min"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "expected"),
    [
        (b"<!DOCTYPE html><html><body>Please log in</body></html>", "text/html", 200, "got an HTML page"),
        (b'{"error": "feed disabled"}', "application/json", 200, r"got JSON \(application/json"),
        (b"", "text/calendar", 200, r"got an empty body \(0 bytes\)"),
        (b"\r\n  \r\n", "text/calendar", 200, "got an empty body"),
        (b"<?xml version='1.0'?><feed/>", "application/atom+xml", 200, "got XML"),
        (b"garbage \x00\x01 not a calendar", "text/calendar", 200, "this is not iCalendar data"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:cut", "text/calendar", 200, "cut off"),
        (PLAN, "text/calendar", 500, "HTTP 500 Internal Server Error: the server failed"),
        (PLAN, "text/calendar", 503, "HTTP 503 Service Unavailable"),
        (PLAN, "text/calendar", 404, "HTTP 404 Not Found: check the URL"),
        (PLAN, "text/calendar", 410, "HTTP 410 Gone: check the URL"),
        (PLAN, "text/calendar", 429, "HTTP 429 Too Many Requests"),
        (PLAN, "text/calendar", 204, "HTTP 204 No Content"),
    ],
    ids=[
        "html",
        "json",
        "empty",
        "blank",
        "xml",
        "garbage",
        "truncated",
        "500",
        "503",
        "404",
        "410",
        "429",
        "204",
    ],
)
def test_a_feed_that_fails_or_is_not_a_calendar_is_a_failed_read_and_nothing_is_kept(  # noqa: PLR0917
    http_feed: HttpFeed, state: State, body: bytes, content_type: str, status: int, expected: str
) -> None:
    http_feed.set("/plan.ics", PLAN)
    adapter = reader(http_feed.url())
    read(adapter, state)
    kept = state.objects(f"source:{http_feed.url()}")
    http_feed.set("/plan.ics", body, content_type=content_type, status=status)
    for fresh in (adapter, reader(http_feed.url())):  # the daemon's adapter and a new process
        with pytest.raises(SourceError, match=expected) as failure:
            read(fresh, state)
        assert str(failure.value).startswith(f"{NAME}: ")
        assert "\n" not in str(failure.value)
    assert state.objects(f"source:{http_feed.url()}") == kept  # the last good copy stays
    # the next pass still asks conditionally with the last good validators
    http_feed.set("/plan.ics", PLAN)
    assert read(adapter, state) == ["Long Run 25 km", "Easy Run 40 min"]
    assert http_feed.log[-1].status == 304


def test_a_download_that_breaks_off_is_a_failed_read(http_feed: HttpFeed) -> None:
    """The server announces the whole feed and drops the connection part-way: never a short plan."""
    body = EXAMPLE_PLAN.read_bytes()
    http_feed.set("/plan.ics", body, cut_after=len(body) // 2)
    with pytest.raises(SourceError, match=r"the download broke off after \d+ bytes"):
        read(reader(http_feed.url()))


def test_connection_refused() -> None:
    from support import free_port

    url = f"http://127.0.0.1:{free_port()}/plan.ics"
    with pytest.raises(SourceError, match="connection refused; check the host and port"):
        read(reader(url))


def test_unknown_host() -> None:
    with pytest.raises(SourceError, match="host name cannot be resolved"):
        read(reader("http://calsync-test.invalid/plan.ics", timeout_seconds=2))


# -- the real-world corpus served over HTTP -------------------------------------------------------------

CORPUS_SAMPLE = [
    "strava-mcp/training_plan.ics",
    "python-recurring-ical-events/Germany.ics",
    "ical/empty.ics",
    "ical/fold.ics",
    "icalendar/big_bad_calendar.ics",
    "icalendar/bom_calendar.ics",
    "icalendar/issue_104_broken_calendar.ics",
    "node-ical/large-file-with-late-error.ics",
    "ics_calendar/issue34.ics",
]


@pytest.mark.corpus
@pytest.mark.parametrize("relative", CORPUS_SAMPLE)
def test_corpus_file_over_http_reads_as_the_file_does(
    http_feed: HttpFeed, corpus_dir: Path, relative: str
) -> None:
    """Served over HTTP, each file gives what reading it from disk gives: the same occurrences,
    or a SourceError (never a crash, never an empty plan for garbage)."""
    data = (corpus_dir / relative).read_bytes()
    http_feed.set("/feed.ics", data)
    window = (datetime(2000, 1, 1, tzinfo=ZONE), datetime(2030, 1, 1, tzinfo=ZONE))
    try:
        expected = parse_ics(data, name=NAME, zone=ZONE, window_start=window[0], window_end=window[1])
    except SourceError:
        with pytest.raises(SourceError):
            reader(http_feed.url("/feed.ics")).read(*window, ZONE, None, full=False)
        return
    got = reader(http_feed.url("/feed.ics")).read(*window, ZONE, None, full=False)
    assert got == expected


# -- calsync as a user runs it: two processes, one state --------------------------------------------------


def write_config(folder: Path, source: str, target: Path) -> Path:
    return support.write_config(
        folder / f"calsync-{target.stem}.toml", source=source, target=f'kind = "ics_file"\npath = "{target}"'
    )


def calsync(*args: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    """``calsync`` as its own process."""
    env = {**os.environ, "STATE_DIRECTORY": str(state_dir)}
    return subprocess.run(
        [sys.executable, "-m", "calsync", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def events_without_stamps(path: Path) -> list[bytes]:
    """The VEVENTs of a written file, without DTSTAMP (the moment of writing)."""
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    out = []
    for event in cal.walk("VEVENT"):
        event.pop("DTSTAMP", None)
        out.append(event.to_ical())
    return sorted(out)


def test_cli_rebuild_from_a_feed_then_idle_sync_in_a_new_process(
    http_feed: HttpFeed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``rebuild`` from an ics_url source writes what the same plan as an ics_file source writes;
    ``sync`` in a new process sends one conditional GET, gets 304 and writes nothing; a feed
    that starts failing makes ``sync`` exit 1 and leaves the target byte-identical."""
    http_feed.set("/plan.ics", EXAMPLE_PLAN.read_bytes())
    url = http_feed.url("/plan.ics?token=" + FEED_TOKEN)
    from_feed, from_file = tmp_path / "feed-out.ics", tmp_path / "file-out.ics"
    feed_config = write_config(tmp_path, f'kind = "ics_url"\nurl = "{url}"', from_feed)
    file_config = write_config(tmp_path, f'kind = "ics_file"\npath = "{EXAMPLE_PLAN}"', from_file)

    done = calsync("--config", str(feed_config), "rebuild", "--now", NOW, state_dir=tmp_path / "state")
    assert done.returncode == 0, done.stderr
    assert run_cli("--config", str(file_config), "rebuild", "--now", NOW) == 0  # its own state dir
    sessions = events_without_stamps(from_feed)
    assert len(sessions) > 10
    assert sessions == events_without_stamps(from_file)
    assert [r.status for r in http_feed.log] == [200]

    written, stat = from_feed.read_bytes(), from_feed.stat()
    idle = calsync("--config", str(feed_config), "sync", "--now", NOW, state_dir=tmp_path / "state")
    assert idle.returncode == 0, idle.stderr
    assert [r.status for r in http_feed.log] == [200, 304]
    assert http_feed.log[1].headers.get("If-None-Match")
    assert from_feed.read_bytes() == written
    assert from_feed.stat().st_mtime_ns == stat.st_mtime_ns  # not even rewritten

    http_feed.set("/plan.ics", b"oops", status=500, content_type="text/html")
    failed = calsync("-v", "--config", str(feed_config), "sync", "--now", NOW, state_dir=tmp_path / "state")
    assert failed.returncode == 1, failed.stderr
    assert from_feed.read_bytes() == written
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("calsync: plan me: source 1: http://127.0.0.1:"), failed.stderr
    assert "HTTP 500" in last
    assert FEED_TOKEN not in failed.stderr + failed.stdout  # also in -v debug lines and tracebacks

    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))  # the same state, in-process
    for body in (b"\x00garbage\x01", b"<html>maintenance</html>"):
        http_feed.set("/plan.ics", body)
        assert run_cli("--config", str(feed_config), "sync", "--now", NOW) == 1
        assert from_feed.read_bytes() == written


# -- secrets ------------------------------------------------------------------------------------------------


class Served(TypedDict, total=False):
    """How :meth:`HttpFeed.set` serves one case's body (its keyword arguments)."""

    status: int
    content_type: str
    delay: float
    auth: Auth


def test_no_secret_in_any_message_or_calsync_log_record(
    http_feed: HttpFeed, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A token in the feed link, a password and a bearer token: every read, failed or not,
    leaves none of them in an error message or in a log record of calsync."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="calsync")
    password, token = "hunter2-password", "bearer-9f8e7d6c5b4a"
    monkeypatch.setenv("FEED_PASSWORD", password)
    monkeypatch.setenv("FEED_TOKEN", token)
    secret_path = f"/feed/{FEED_TOKEN}.ics"
    link = http_feed.url(f"{secret_path}?token={FEED_TOKEN}x&user=me")
    messages: list[str] = []
    cases: list[tuple[bytes, Served, dict[str, object]]] = [
        (PLAN, {}, {}),
        (
            PLAN,
            {"auth": ("basic", "runner", "other-password")},
            {"username": "runner", "password_env": "FEED_PASSWORD"},
        ),
        (PLAN, {"auth": ("bearer", "other-token-000")}, {"token_env": "FEED_TOKEN"}),
        (PLAN, {"status": 500}, {"token_env": "FEED_TOKEN"}),
        (PLAN, {"status": 404}, {}),
        (PLAN, {"delay": 0.5}, {"timeout_seconds": 0.1}),
        (b"<html>login</html>", {"content_type": "text/html"}, {}),
        (b"not a calendar at all", {}, {}),
        (f"BEGIN:VCALENDAR\r\nX:{FEED_TOKEN}\r\n".encode(), {}, {}),
    ]
    for body, served, keys in cases:
        http_feed.set(secret_path, body, **served)
        adapter = reader(link, **keys)
        try:
            read(adapter, None)
            read(adapter, None)
        except SourceError as err:
            messages.append(str(err))
        adapter.close()
    http_feed.redirect("/hop.ics", link)
    adapter = reader(http_feed.url(f"/hop.ics?key={FEED_TOKEN}"), max_bytes=1000)
    http_feed.set(secret_path, PLAN + b" " * 2000)
    with pytest.raises(SourceError) as failure:
        read(adapter)
    messages.append(str(failure.value))

    assert len(messages) == 9
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("calsync")]
    assert any("GET" in line for line in ours)
    for text in messages + ours:
        for secret in (password, token, FEED_TOKEN, "other-password", "other-token-000"):
            assert secret not in text, text
    assert f"http://127.0.0.1:{http_feed.port}/feed/***.ics?token=***&user=***" in messages[0]


# -- redact_url ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("webcal://example.org/feed/3f9a8c51e0b2d2d2.ics", "webcal://example.org/feed/***.ics"),
        (
            "https://me:pw@example.org:8443/cal.ics?token=abc&x",
            "https://example.org:8443/cal.ics?token=***&***",
        ),
        (
            "https://calendar.google.com/calendar/ical/me%40gmail.com/private-0123456789abcdef01234567/basic.ics",
            "https://calendar.google.com/calendar/ical/me%40gmail.com/***/basic.ics",
        ),
        (
            "https://log.example.com/ical/2f1c6a0e-8f5d-4c1b-9e7a-3d2b1a0c9f8e",
            "https://log.example.com/ical/***",
        ),
        (
            "http://[::1]:8080/training-plan/2026-11/calendar.ics#frag",
            "http://[::1]:8080/training-plan/2026-11/calendar.ics#***",
        ),
        ("https://example.org/u/ABCdefGHIjklMNOpqrST", "https://example.org/u/***"),
        ("http://127.0.0.1:8000/plan.ics", "http://127.0.0.1:8000/plan.ics"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    for secret in url_secrets(url):
        assert secret not in shown


def test_without_credentials_and_scrub() -> None:
    assert without_credentials("https://me:pw@h:1/a?b=c") == "https://h:1/a?b=c"
    assert without_credentials("https://h/a") == "https://h/a"
    assert scrub("a hunter2 b abc", ["hunter2", "abc", None, ""]) == "a *** b abc"


def test_redact_docstring_example() -> None:
    import doctest

    import calsync.redact

    assert doctest.testmod(calsync.redact).failed == 0
