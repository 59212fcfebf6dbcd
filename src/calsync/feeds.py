"""The ``feed`` target's HTTP side: serve each plan's calendar at ``/feeds/<plan>.ics``.

Part of the *apply* step for ``kind = "feed"`` (PRODUCT.md sections 1 and 4): ``rebuild`` / ``sync``
write the plan's ``.ics`` file atomically (:func:`calsync.registry.feed_path`); ``calsync daemon``
serves those files to calendar apps that subscribe to them, and optionally one in-memory feed with
every plan's runs and sessions (``/feeds/all.ics``).

* :class:`Feed`: one calendar as served (body, strong ETag from a hash of the body, Last-Modified).
* :class:`FileFeeds`: feed names -> files, each read and hashed once per change of the file.
* :func:`all_plans_feed`: every plan's runs and sessions in one calendar.
* :class:`FeedServer`: a small threaded HTTP server (stdlib) with conditional GET, gzip, an
  optional secret path token and ``/healthz``; loopback by default.

A known plan whose file does not exist yet is served as an empty, valid calendar (a subscription
made before the first pass works and fills in later); an unknown name is a 404, exactly like a
wrong or missing token, so a prober learns nothing.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from calsync.adapters import event_ics
from calsync.adapters.vtimezone import add_timezones
from calsync.core.identity import run_copy_uid
from calsync.core.model import PlanResult, Run, When

log = logging.getLogger(__name__)

NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""A feed name: a plan id, or ``all`` for the all-plans feed."""
ALL_PLANS = "all"
"""The name of the feed with every plan's runs and sessions."""
CONTENT_TYPE = "text/calendar; charset=utf-8"
CACHE_CONTROL = "no-cache"
"""Caches may keep a copy but must revalidate it each time: a 304 costs a few bytes, and a moved
session reaches a client at its next poll, not after a max-age."""
GZIP_MIN_BYTES = 1024
"""Smaller bodies are sent as they are: gzip would save nothing worth its ETag variant."""
MAX_REQUEST_LINE = 8 * 1024
MAX_HEADER_BYTES = 32 * 1024
SOCKET_TIMEOUT = 10.0
"""Seconds a connection may stay silent (a slow or idle keep-alive client) before it is closed."""
MAX_CONNECTIONS = 64
"""Connections served at once. One more takes the slot of the connection that has been reading
a request the longest (a slow or idle client), else gets a quick 503 instead of a thread."""
REQUEST_SECONDS = 10.0
"""A connection must send a whole request (line and headers) within this many seconds of the
server starting to wait for it, however it trickles (slowloris); else it is cut."""
REFUSED_LOG_SECONDS = 60.0
"""Refused (503) and cut connections are logged once, then summed up at most this often."""
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(32), *range(127, 160))}
"""Control characters as a log line shows them (a request path must not drive the terminal)."""

_STAMPS = re.compile(rb"^(?:DTSTAMP|CREATED|LAST-MODIFIED)[;:][^\r\n]*\r?\n", re.MULTILINE)
_ETAGS = re.compile(r'(?:W/)?("[^"]*")')
_TOKEN_SEGMENT = re.compile(r"(/feeds/)[^/\s?]+(?=/)")


def _whole_seconds(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(microsecond=0)


def _etag_of(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


@dataclass(frozen=True)
class Feed:
    """One calendar as served: its bytes, a strong ETag from their hash, and Last-Modified (UTC)."""

    body: bytes
    etag: str
    """Quoted, e.g. ``"3f2a..."``: the same bytes always give the same ETag."""
    last_modified: datetime
    """UTC, whole seconds (what ``Last-Modified`` / ``If-Modified-Since`` can express)."""

    @classmethod
    def of(cls, body: bytes, last_modified: datetime, etag: str | None = None) -> Feed:
        """A feed of these bytes; the ETag is their hash unless given."""
        return cls(body, etag or _etag_of(body), _whole_seconds(last_modified))

    @property
    def gzip_etag(self) -> str:
        """The ETag of the gzip-encoded representation (``"<hash>-gz"``)."""
        return self.etag[:-1] + '-gz"'

    @cached_property
    def gzipped(self) -> bytes:
        """The body gzip-encoded, made once (``mtime=0``: the same body gives the same bytes)."""
        return gzip.compress(self.body, compresslevel=6, mtime=0)


@dataclass
class _Cached:
    path: Path
    key: tuple[int, int, int] | None
    """``(st_mtime_ns, st_size, st_ino)`` of the file read, None for a missing file."""
    feed: Feed


class FeedNotReadyError(LookupError):
    """The feed exists but its plan has had no good pass yet: answered 503 with Retry-After, so a
    subscriber keeps what it has instead of an empty calendar."""


RETRY_AFTER_SECONDS = 60
"""What a 503 for a feed not ready yet asks subscribers to wait."""


@dataclass
class FileFeeds:
    """Feed names mapped to ``.ics`` files, plus feeds kept in memory (the all-plans feed).

    Call it with a name to get the :class:`Feed` (None for an unknown name). A file is read and
    hashed again only when its ``(mtime, size, inode)`` changes, so polling clients cost an
    ``open`` + ``fstat`` each. Files change by atomic replace (``os.replace``), so every read sees
    a whole calendar. Thread-safe.
    """

    paths: Mapping[str, Path] = field(default_factory=dict)
    _memory: dict[str, Feed] = field(default_factory=dict, init=False, repr=False)
    _expected: set[str] = field(default_factory=set, init=False, repr=False)
    _cache: dict[str, _Cached] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.paths = dict(self.paths)

    def set_paths(self, paths: Mapping[str, Path]) -> None:
        """Replace the name -> file mapping (a config reload); cached reads of kept files stay."""
        with self._lock:
            self.paths = dict(paths)
            for name in list(self._cache):
                if self.paths.get(name) != self._cache[name].path:
                    del self._cache[name]

    def expect(self, name: str) -> None:
        """A feed served from memory that has no content yet: 503 until :meth:`set_feed`."""
        with self._lock:
            if name not in self._memory:
                self._expected.add(name)

    def set_feed(self, name: str, feed: Feed | None) -> None:
        """Serve ``feed`` under ``name`` from memory (None: stop serving it).

        A feed with the ETag already served keeps the one served: its bytes and Last-Modified
        stay those of the first time this content was seen.
        """
        with self._lock:
            self._expected.discard(name)
            if feed is None:
                self._memory.pop(name, None)
            elif (old := self._memory.get(name)) is None or old.etag != feed.etag:
                self._memory[name] = feed

    def names(self) -> set[str]:
        """Every name served now."""
        with self._lock:
            return set(self.paths) | set(self._memory) | self._expected

    def __call__(self, name: str) -> Feed | None:
        """The feed called ``name``, or None when there is none; raises :class:`FeedNotReadyError`
        for a known feed without content yet (no good pass of its plan)."""
        with self._lock:
            memory = self._memory.get(name)
            expected = name in self._expected
            path = self.paths.get(name)
            cached = self._cache.get(name)
        if memory is not None:
            return memory
        if expected and path is None:
            raise FeedNotReadyError(name)
        if path is None:
            return None
        if cached is not None and cached.path != path:
            cached = None
        try:
            feed, key = self._read(name, path, cached)
        except OSError as err:
            if cached is None:
                raise
            log.warning("feed %s: cannot read %s (%s); serving the last copy read", name, path, err)
            return cached.feed
        with self._lock:
            if self.paths.get(name) == path:
                self._cache[name] = _Cached(path, key, feed)
        return feed

    def _read(
        self, name: str, path: Path, cached: _Cached | None
    ) -> tuple[Feed, tuple[int, int, int] | None]:
        """Read the file unless it is the one cached (same stat key)."""
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            if cached is not None:  # gone after a good pass wrote it: the last good copy stays
                log.warning("feed %s: %s is gone; serving the last copy read", name, path)
                return cached.feed, cached.key
            raise FeedNotReadyError(name) from None
        else:
            with handle:
                stat = os.fstat(handle.fileno())
                key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
                if cached is not None and cached.key == key:
                    return cached.feed, key
                body = handle.read()
            modified = datetime.fromtimestamp(stat.st_mtime, UTC)
            log.debug("feed %s: read %s (%d bytes)", name, path, len(body))
        feed = Feed.of(body, modified)
        if cached is not None:
            if cached.feed.etag == feed.etag:
                return cached.feed, key  # touched, or replaced by the same bytes
            if feed.last_modified <= cached.feed.last_modified:
                # changed within the same second: Last-Modified must still move for If-Modified-Since
                feed = Feed(feed.body, feed.etag, cached.feed.last_modified + timedelta(seconds=1))
        return feed, key


# --- the all-plans feed ------------------------------------------------------------------------


def _in_zone(when: When, zone: ZoneInfo) -> When:
    """Aware times with a zone iCalendar cannot name (a fixed offset) go to the plan's zone."""
    if isinstance(when, datetime) and when.tzinfo is not None and not isinstance(when.tzinfo, ZoneInfo):
        if when.utcoffset() == timedelta(0):
            return when.astimezone(UTC)
        return when.astimezone(zone)
    return when


def _run_vevent(run: Run, plan_id: str, zone: ZoneInfo, now: datetime, prefix: str) -> Event:
    """A run copied from the plan: read-only information, not an event calsync owns."""
    event = Event()
    event.add("uid", run_copy_uid(plan_id, run.uid, run.recurrence_id))
    event.add("dtstamp", now)
    event.add("dtstart", _in_zone(run.start, zone))
    event.add("dtend", _in_zone(run.end, zone))
    event.add("summary", prefix + run.title)
    details = [f"{run.kind.value} run"]
    if run.priority:
        details.append(f"priority {run.priority}")
    if run.distance_km is not None:
        details.append(f"{run.distance_km:g} km")
    if run.minutes is not None:
        details.append(f"{run.minutes} min")
    event.add("description", ", ".join(details) + f"\nFrom the training plan of {plan_id} (read-only).")
    event.add("categories", ["run", run.kind.value])
    event.add("transp", "OPAQUE")
    return event


def _start_key(when: When) -> str:
    return when.isoformat()


def all_plans_feed(results: Sequence[PlanResult], *, now: datetime) -> Feed:
    """One calendar with every plan's runs (copied, categorised ``run``) and sessions (as calsync
    writes them), with a VTIMEZONE for every TZID.

    With more than one plan, every SUMMARY starts with ``<plan>: `` so a coach sees whose it is.
    ``now`` is the DTSTAMP and the Last-Modified; the ETag hashes the body without the
    DTSTAMP / CREATED / LAST-MODIFIED lines, so the same content at another ``now`` has the same
    ETag (and :meth:`FileFeeds.set_feed` keeps the bytes first served for it).
    """
    if now.tzinfo is None:
        raise ValueError("all_plans_feed needs an aware 'now'")
    stamp = _whole_seconds(now)
    calendar = Calendar()
    calendar.add("prodid", event_ics.PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "calsync: all plans")
    calendar.add("refresh-interval", timedelta(minutes=15), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT15M")  # the same hint, as Outlook-style clients read it
    ordered = sorted(results, key=lambda r: r.plan_id)
    several = len(ordered) > 1
    for result in ordered:
        zone = ZoneInfo(result.timezone)
        prefix = f"{result.plan_id}: " if several else ""
        for run in sorted(result.runs, key=lambda r: (_start_key(r.start), r.uid, r.recurrence_id or "")):
            calendar.add_component(_run_vevent(run, result.plan_id, zone, stamp, prefix))
        for session in sorted(result.sessions, key=lambda s: (_start_key(s.start), s.uid)):
            shown = replace(session, title=prefix + session.title) if prefix else session
            calendar.add_component(event_ics.session_vevent(shown, result.plan_id, 0, stamp))
    add_timezones(calendar)
    body = bytes(calendar.to_ical())
    return Feed.of(body, stamp, etag=_etag_of(_STAMPS.sub(b"", body)))


# --- the HTTP server ---------------------------------------------------------------------------


def _matches(header: str, etags: Iterable[str]) -> bool:
    """``If-None-Match`` against our ETags, by weak comparison (``W/`` ignored); ``*`` matches."""
    if header.strip() == "*":
        return True
    wanted = set(etags)
    return any(tag in wanted for tag in _ETAGS.findall(header))


def _accepts_gzip(header: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (by name, ``x-gzip`` or ``*``, with q > 0)."""
    if not header:
        return False
    weights: dict[str, float] = {}
    for part in header.split(","):
        coding, _, params = part.partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
        weights[coding.strip().lower()] = weight
    for coding in ("gzip", "x-gzip", "*"):
        if coding in weights:
            return weights[coding] > 0
    return False


def _not_modified_since(header: str, last_modified: datetime) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified <= since


class _Tally:
    """Counts one kind of event (a refused or cut connection) for the log: the first is a line
    of its own (the caller's), the rest are summed up at most every :data:`REFUSED_LOG_SECONDS`."""

    def __init__(self, text: str, level: int = logging.WARNING) -> None:
        self.text = text
        self.level = level
        self.count = 0
        self.since = 0.0
        self.lock = threading.Lock()

    def add(self) -> bool:
        """Count one; True when it is the first in a while (the caller logs it in full)."""
        now = time.monotonic()
        with self.lock:
            first = self.since == 0.0
            if first:
                self.since = now
                return True
            self.count += 1
        self.flush()
        return False

    def flush(self, *, final: bool = False) -> None:
        """Log the sum when the interval is over (or ``final``), and start a new interval."""
        now = time.monotonic()
        with self.lock:
            if self.since == 0.0 or (not final and now - self.since < REFUSED_LOG_SECONDS):
                return
            count, seconds = self.count, now - self.since
            self.count, self.since = 0, 0.0 if final or not self.count else now
        if count:
            log.log(self.level, self.text, count, f"{seconds:.0f} s")


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a bound on connections, quick shutdown and logging, not stderr."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        *,
        token: str | None,
        lookup: Callable[[str], Feed | None],
        max_connections: int,
        health: Callable[[], tuple[int, str]] | None = None,
        request_seconds: float = REQUEST_SECONDS,
    ) -> None:
        self.token = token
        self.lookup = lookup
        self.health = health
        self.request_seconds = request_seconds
        self.slots = threading.BoundedSemaphore(max_connections)
        self.open: set[socket.socket] = set()
        self.reading: dict[socket.socket, float] = {}
        """Connections waiting for (or reading) a request: when the server started waiting."""
        self.open_lock = threading.Lock()
        self.refused = _Tally("feeds: %d more connection(s) refused (503: every slot busy answering) in %s")
        self.cut = _Tally(
            "feeds: %d more slow or idle connection(s) cut (no whole request in time) in %s", logging.INFO
        )
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the host (it can hang)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def route(self, target: str) -> str | None:
        """The feed name a request target asks for, or None (404) when it is not a feed path."""
        path = urlsplit(target).path if not target.startswith("/") else target.split("?", 1)[0]
        parts = [unquote(part) for part in path.split("/")]  # an encoded "/" stays inside its segment
        # "", "feeds", [token,] "<name>.ics"
        if len(parts) not in (3, 4) or parts[0] != "" or parts[1] != "feeds":
            return None
        if (len(parts) == 4) != (self.token is not None):
            return None
        if self.token is not None and not hmac.compare_digest(parts[2].encode(), self.token.encode()):
            return None
        leaf = parts[-1]
        if not leaf.endswith(".ics") or not NAME.fullmatch(leaf[:-4]):
            return None
        return leaf[:-4]

    def redact(self, text: str) -> str:
        """A log line without the token (the path segment after ``/feeds/``, and the token itself)."""
        text = _TOKEN_SEGMENT.sub(r"\1<token>", text)
        return text.replace(self.token, "<token>") if self.token else text

    def waiting(self, sock: socket.socket) -> None:
        """The handler starts waiting for a request on ``sock``: its deadline starts now."""
        with self.open_lock:
            self.reading[sock] = time.monotonic()

    def answering(self, sock: socket.socket) -> None:
        """The request on ``sock`` is read whole (or the connection is done)."""
        with self.open_lock:
            self.reading.pop(sock, None)

    def service_actions(self) -> None:
        """Between accepts (at least every poll interval): cut connections past their deadline."""
        limit = time.monotonic() - self.request_seconds
        with self.open_lock:
            late = [sock for sock, since in self.reading.items() if since <= limit]
        for sock in late:
            self._cut(sock, f"sent no whole request within {self.request_seconds:g} s")
        self.summarise()

    def _cut(self, sock: socket.socket, why: str) -> None:
        self.answering(sock)
        if self.cut.add():
            with contextlib.suppress(OSError):
                peer = sock.getpeername()[0]
                log.info("feeds: cut a connection from %s that %s (further ones are summed up)", peer, why)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # its handler's read returns; the thread ends, the slot frees

    def _evict(self) -> bool:
        """Free a slot by cutting the connection that has waited longest for its request; False
        when every slot is busy answering."""
        with self.open_lock:
            oldest = min(self.reading.items(), key=lambda item: item[1], default=None)
        if oldest is None:
            return False
        self._cut(oldest[0], "waited longest for its request while every slot was taken")
        return self.slots.acquire(timeout=1.0)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve in a thread while a slot is free (or one can be freed); else answer 503 at once."""
        self.service_actions()
        if not self.slots.acquire(blocking=False) and not self._evict():
            if self.refused.add():
                log.warning(
                    "feeds: %d connections already open; answering 503 (further ones are summed up)",
                    len(self.open),
                )
            with contextlib.suppress(OSError):
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n"
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
            self.shutdown_request(request)
            return
        with self.open_lock:
            self.open.add(request)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._forget(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection, then free its slot."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._forget(request)

    def _forget(self, request: Any) -> None:
        with self.open_lock:
            self.reading.pop(request, None)
            if request not in self.open:
                return
            self.open.discard(request)
        self.slots.release()

    def summarise(self, *, final: bool = False) -> None:
        """Log what the tallies counted since their last line (all of it when ``final``)."""
        for tally in (self.refused, self.cut):
            tally.flush(final=final)

    def close_connections(self) -> None:
        """Cut every open connection (at stop: idle keep-alive clients must not hold threads)."""
        with self.open_lock:
            sockets = list(self.open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002 - stdlib's signature
        """A client that went away is routine (DEBUG); anything else is logged with its traceback."""
        error = sys.exc_info()[1]
        level = logging.DEBUG if isinstance(error, OSError) else logging.ERROR
        log.log(level, "feeds: connection from %s failed", client_address[0], exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    """GET/HEAD ``/feeds/[<token>/]<name>.ics`` and ``/healthz``; 405 for other methods."""

    protocol_version = "HTTP/1.1"
    server_version = "calsync"
    sys_version = ""
    timeout = SOCKET_TIMEOUT

    @property
    def _server(self) -> _Server:
        assert isinstance(self.server, _Server)
        return self.server

    def handle_one_request(self) -> None:
        """One request; the wait for it and its reading count against ``request_seconds``."""
        self._server.waiting(self.connection)
        try:
            super().handle_one_request()
        finally:
            self._server.answering(self.connection)

    def parse_request(self) -> bool:
        """The stdlib's parse, with tighter limits on the request line and the headers."""
        parsed = super().parse_request()  # reads the headers
        self._server.answering(self.connection)  # read whole: no deadline while it is answered
        if not parsed:
            return False
        if len(getattr(self, "raw_requestline", b"")) > MAX_REQUEST_LINE:
            self.send_error(414)
            return False
        if sum(len(k) + len(v) for k, v in self.headers.items()) > MAX_HEADER_BYTES:
            self.send_error(431)
            return False
        return True

    def do_GET(self) -> None:
        """Serve a feed or the health check."""
        self._serve(with_body=True)

    def do_HEAD(self) -> None:
        """As GET, without the body."""
        self._serve(with_body=False)

    def _not_allowed(self) -> None:
        self.close_connection = True  # a request body we do not read must not become the next request
        self._plain(405, b"method not allowed\n", with_body=True, allow="GET, HEAD")

    def do_POST(self) -> None:
        """405."""
        self._not_allowed()

    def do_PUT(self) -> None:
        """405."""
        self._not_allowed()

    def do_DELETE(self) -> None:
        """405."""
        self._not_allowed()

    def do_PATCH(self) -> None:
        """405."""
        self._not_allowed()

    def do_OPTIONS(self) -> None:
        """405."""
        self._not_allowed()

    def _plain(self, code: int, text: bytes, *, with_body: bool, allow: str | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(text)))
        self.send_header("Cache-Control", "no-store")
        if allow:
            self.send_header("Allow", allow)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if with_body:
            self.wfile.write(text)

    def _not_ready(self, *, with_body: bool) -> None:
        text = b"no good pass of this plan yet; try again later\n"
        self.send_response(503)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(text)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Retry-After", str(RETRY_AFTER_SECONDS))
        self.end_headers()
        if with_body:
            self.wfile.write(text)

    def _serve(self, *, with_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz" or path.startswith("/healthz/"):
            health = self._server.health
            code, text = health() if health is not None else (200, "ok\n")
            token = self._server.token
            given = unquote(path.removeprefix("/healthz").removeprefix("/"))
            if token is not None and not hmac.compare_digest(given.encode(), token.encode()):
                # the plans and their errors name calendars: with a token, only its holders see them
                text = text.split("\n", 1)[0] + "\n"
            self._plain(code, self._server.redact(text).encode(), with_body=with_body)
            return
        server = self._server
        name = server.route(self.path)
        try:
            feed = server.lookup(name) if name is not None else None
        except FeedNotReadyError:
            self._not_ready(with_body=with_body)
            return
        except OSError as err:
            log.warning("feeds: cannot read the feed %s: %s", name, err)
            self._plain(500, b"feed unavailable\n", with_body=with_body)
            return
        except Exception:
            log.exception("feeds: cannot build the feed %s", name)
            self._plain(500, b"feed unavailable\n", with_body=with_body)
            return
        if feed is None:
            self._plain(404, b"not found\n", with_body=with_body)
            return
        zipped = len(feed.body) >= GZIP_MIN_BYTES and _accepts_gzip(self.headers.get("Accept-Encoding"))
        etag = feed.gzip_etag if zipped else feed.etag
        headers = {
            "ETag": etag,
            "Last-Modified": format_datetime(feed.last_modified, usegmt=True),
            "Cache-Control": CACHE_CONTROL,
            "Vary": "Accept-Encoding",
        }
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            unchanged = _matches(if_none_match, (feed.etag, feed.gzip_etag))
        else:
            since = self.headers.get("If-Modified-Since")
            unchanged = since is not None and _not_modified_since(since, feed.last_modified)
        if unchanged:
            self.send_response(304)
            for header, value in headers.items():
                self.send_header(header, value)
            self.end_headers()
            return
        body = feed.gzipped if zipped else feed.body
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        if zipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("X-Content-Type-Options", "nosniff")
        for header, value in headers.items():
            self.send_header(header, value)
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Access and error lines go to the logger at DEBUG, token redacted; never to stderr."""
        if log.isEnabledFor(logging.DEBUG):
            line = self._server.redact(format % args).translate(_CONTROL)
            log.debug("feeds: %s %s", self.client_address[0], line)


def _loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or an address of this machine on a network


class FeedServer:
    """The feed HTTP server of ``calsync daemon`` (stdlib, one thread per connection, bounded).

    ``lookup`` gives the :class:`Feed` of a name (a :class:`FileFeeds`); ``token`` (optional) is a
    secret path segment: feeds are then served at ``/feeds/<token>/<name>.ics`` only.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        token: str | None,
        lookup: Callable[[str], Feed | None],
        max_connections: int = MAX_CONNECTIONS,
        health: Callable[[], tuple[int, str]] | None = None,
        request_seconds: float = REQUEST_SECONDS,
    ) -> None:
        self.host = host
        self.request_seconds = request_seconds
        self._port = port
        self.token = token or None
        self.lookup = lookup
        self.health = health
        """``/healthz``: (status, text); the daemon says which plans fail (none: 200 ok)."""
        self.max_connections = max_connections
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen and serve in a daemon thread; an address in use raises OSError here."""
        if self._server is not None:
            return
        kind = _Server6 if ":" in self.host else _Server
        self._server = kind(
            (self.host, self._port),
            token=self.token,
            lookup=self.lookup,
            max_connections=self.max_connections,
            health=self.health,
            request_seconds=self.request_seconds,
        )
        self._port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name="calsync-feeds",
            daemon=True,
        )
        self._thread.start()
        everywhere = self.host in ("", "0.0.0.0", "::")
        if everywhere:
            log.info(
                "feeds: serving on %s (every address of this machine; here %s)",
                self.listen_url,
                self.base_url,
            )
        else:
            log.info("feeds: serving on %s", self.listen_url)
        if self.token is None and not _loopback(self.host):
            log.warning(
                "feeds: serving on %s without a token: anyone who can reach %s can read every plan's "
                'feed; set [daemon.feeds] token_env or token_file (or keep host = "127.0.0.1" behind '
                "a reverse proxy)",
                self.listen_url,
                f"this machine on every address at port {self.port}" if everywhere else self.host,
            )

    @property
    def port(self) -> int:
        """The port listened on (the one the system chose when 0 was asked for)."""
        return self._port

    @property
    def listen_url(self) -> str:
        """``http://host:port`` as listened on (``0.0.0.0``: every address), for the log."""
        host = self.host or "0.0.0.0"
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://host:port`` to reach the feeds from this machine (no token: safe to log)."""
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def url(self, name: str) -> str:
        """The URL of a feed, with the token in the path when there is one (a secret: do not log)."""
        token = f"{self.token}/" if self.token else ""
        return f"{self.base_url}/feeds/{token}{name}.ics"

    def _wake_address(self) -> tuple[str, int]:
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return host, self.port

    def stop(self) -> None:
        """Stop listening, cut open connections and join the thread (within about a second)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        stopper = threading.Thread(target=server.shutdown, name="calsync-feeds-stop", daemon=True)
        stopper.start()
        while stopper.is_alive():  # wake the accept loop instead of waiting for its poll interval
            with contextlib.suppress(OSError), socket.create_connection(self._wake_address(), timeout=0.2):
                pass
            stopper.join(0.05)
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)
        server.summarise(final=True)
        log.info("feeds: stopped")

    def __enter__(self) -> FeedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
