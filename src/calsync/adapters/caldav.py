"""CalDAV calendars: a source for the *read* step and a target for the *apply* step.

PRODUCT.md sections 1, 4 and 6; issues 3 and 12. The protocol (HTTP over one kept-alive
connection, authentication, TLS, WebDAV XML) is :mod:`calsync.adapters.webdav`, on the standard
library (the ``caldav`` library cost 0.19 s of imports per process); this module adds what a sync
engine needs on top of it:

* **Incremental listing** (RFC 6578): with a sync token, one ``sync-collection`` REPORT says what
  changed; the changed objects are fetched with one ``calendar-multiget`` (never one GET each).
  A refused token (403/409/412 ``DAV:valid-sync-token``, or a 500 from servers that choke on a
  token they did not issue) costs one full listing, then tokens again. A server without
  ``sync-collection`` is listed with a depth-1 ``PROPFIND`` of ETags instead, and the token
  :data:`ETAG_LISTING` remembers that. Objects are cached per href as ``(etag, ics bytes)``: the
  caller keeps the token and the cache between passes, so an idle pass costs one request.
* **Preconditions on every write**: creates are ``PUT`` with ``If-None-Match: *`` to
  ``<collection>/<uid>.ics``, updates and deletes carry ``If-Match: <etag>``. A 412 means someone
  else changed (or created, or deleted) the event since it was read: nothing is overwritten, the
  action is reported as a :class:`Conflict`, and the caller re-reads and re-plans.
* **Errors for people**: 401/403, 404, 5xx, timeouts, refused connections and TLS failures become
  one-line :class:`SourceError` / :class:`TargetError` messages naming the calendar URL (never a
  password) and what to do. 5xx, timeouts and connection errors are retried a few times with a
  small backoff; 4xx never.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, NamedTuple, NoReturn
from urllib.parse import quote, unquote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from calsync.adapters.kept import KeptUnusableError, kept_key, owned_from_json, owned_to_json

if TYPE_CHECKING:  # imported where an object is parsed or written, not on an idle pass (issue 12)
    from icalendar import Component

from calsync.adapters.webdav import (
    CALDAV,
    CALDAV_NAMESPACES,
    DAV,
    Answer,
    ConnectFailedError,
    DavXmlError,
    Multistatus,
    ReadTimeoutError,
    TlsError,
    TooSlowError,
    WebDav,
    parse_multistatus,
    preconditions,
    request_body,
    text_element,
)
from calsync.core.model import ReadResult, Session, SourceEvent, Version, source_order
from calsync.core.reconcile import OwnedEvent
from calsync.errors import CalsyncError, SourceError
from calsync.ports import ConflictError, SyncStore
from calsync.redact import collection_url, without_credentials

log = logging.getLogger(__name__)

Cache = dict[str, tuple[str, bytes]]
"""Objects of a calendar by href (the URL path, unquoted): ``(etag, iCalendar bytes)``."""

ETAG_LISTING = "calsync:etag-listing"
"""The token of a calendar whose server has no ``sync-collection``: list ETags with PROPFIND."""

MULTIGET_BATCH = 10_000
"""At most this many hrefs per ``calendar-multiget`` (one request up to that many changes)."""

_VALID_SYNC_TOKEN = "{DAV:}valid-sync-token"
_SUPPORTED_REPORT = "{DAV:}supported-report"
_TOKEN_REFUSED = (400, 403, 409, 412, 500)
"""Answers to a sync-collection with a token that mean "this token is no good here"."""
_NO_SYNC = (400, 403, 405, 415, 422, 501)
"""Answers to a sync-collection without a token that mean "no sync-collection here"."""
_RETRY_STATUS = (500, 502, 503, 504)
TOTAL_TIME_FACTOR = 4
"""One HTTP exchange (headers and body) may take this many times the timeout, which bounds each
read only: a server trickling its answer a byte a second is cut there (issue 14)."""
_ICS_TYPE = "text/calendar; charset=utf-8"


redact_url = without_credentials
"""The URL without user name and password (for messages and logs)."""


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds, or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _quote_path(path: str) -> str:
    return quote(path, safe="/:@!$&'()*+,;=-._~")


class _TokenRefusedError(Exception):
    """The server does not accept the sync token (expired, unknown): list everything once."""


class _RefusedError(Exception):
    """A 401/403 the caller asked to handle itself (``passthrough``)."""

    def __init__(self, status: int, preconditions: list[str]) -> None:
        super().__init__(status)
        self.status = status
        self.preconditions = preconditions


class _NoSyncCollectionError(Exception):
    """The server does not do RFC 6578 sync-collection: list ETags with PROPFIND."""


@dataclass(frozen=True)
class Listing:
    """What one listing of a calendar said.

    ``etags`` holds every member (``full``) or only the changed ones; ``None`` when the server
    gave no ETag (the object is fetched then). ``deleted`` hrefs are gone since the token.
    """

    token: str | None
    full: bool
    etags: dict[str, str | None]
    deleted: frozenset[str] = frozenset()


class CaldavClient:
    """One CalDAV calendar collection, with request counting, retries and errors for people.

    ``url`` is the calendar collection itself. ``verify`` turns TLS certificate checks off
    (never do this outside tests) and ``ca_file`` trusts a private CA instead of the system's.
    ``error`` is the error class raised (:class:`SourceError` for sources, :class:`TargetError`
    for targets) and ``name`` starts every message (e.g. ``plan me: source training``).
    ``auth_type`` ``basic`` sends the credentials with every request (no 401 round-trip, so an
    idle pass stays one request); ``digest`` for servers that want it; None lets the server
    choose on a first 401 (one more request per new client). The HTTP and the XML are
    :mod:`calsync.adapters.webdav`'s: one kept-alive connection per client.
    """

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        verify: bool = True,
        ca_file: str | None = None,
        error: type[CalsyncError] = SourceError,
        name: str = "",
        retries: int = 3,
        backoff: float = 0.25,
        auth_type: str | None = "basic",
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {redact_url(url)!r}")
        if username is None and parts.username is not None:
            username = unquote(parts.username)
            if password is None and parts.password is not None:
                password = unquote(parts.password)
        self.url = collection_url(url)
        self.path = unquote(urlsplit(self.url).path)
        """The collection's path, unquoted like the hrefs calsync keeps (a member's href is
        ``path + name``; :meth:`absolute` quotes it for the wire)."""
        self._origin = urlunsplit((parts.scheme, urlsplit(self.url).netloc, "", "", ""))
        self.timeout = timeout
        self.error = error
        self.name = name
        self.retries = max(1, retries)
        self.backoff = backoff
        self._dav = WebDav(
            self.url,
            username=username,
            password=(password or "") if username is not None else None,
            auth_type=auth_type if username is not None else None,
            timeout=timeout,
            total=TOTAL_TIME_FACTOR * timeout,  # ``timeout`` bounds each read; this the whole exchange
            verify=verify or ca_file is not None,  # a CA file is trusted, and checked against
            ca_file=ca_file,
        )

    def __repr__(self) -> str:
        return f"CaldavClient({self.url!r})"

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (each retry and each authentication round-trip counts)."""
        return self._dav.requests

    @property
    def connections(self) -> int:
        """TCP connections opened so far (one per pass while the server keeps it alive)."""
        return self._dav.connections

    def close(self) -> None:
        """Close the HTTP connection."""
        self._dav.close()

    # -- requests and errors ------------------------------------------------------------------

    def fail(self, what: str, advice: str) -> CalsyncError:
        """An error for people: ``<name>: CalDAV calendar <url>: <what>; <advice>``."""
        prefix = f"{self.name}: " if self.name else ""
        return self.error(f"{prefix}CalDAV calendar {self.url}: {what}; {advice}")

    def unreadable(self, err: BaseException) -> CalsyncError:
        """The error for an answer calsync cannot make sense of."""
        return self.fail(
            f"the server's answer cannot be read ({type(err).__name__}: {self._reason(err)})",
            "check that the URL is a CalDAV calendar",
        )

    def _status_error(self, status: int, reason: str = "") -> CalsyncError:
        label = f"HTTP {status}{' ' + reason if reason else ''}"
        if status == 401:
            return self.fail(f"the server refused the login ({label})", "check the username and password")
        if status == 403:
            return self.fail(
                f"access denied ({label})",
                "check the username and password, and that this user may use this calendar",
            )
        if status == 404:
            return self.fail(
                f"not found ({label})", "check the calendar URL (it must be the calendar collection itself)"
            )
        if status >= 500:
            return self.fail(
                f"the server failed ({label}, {self.retries} tries)", "try again later or check the server"
            )
        return self.fail(f"the server refused the request ({label})", "check the calendar URL")

    def absolute(self, href: str) -> str:
        """The URL of an href (a path on the calendar's server)."""
        return self._origin + _quote_path(href)

    def request(
        self,
        method: str,
        url: str,
        body: str = "",
        headers: Mapping[str, str] | None = None,
        *,
        accept: Iterable[int] = (200, 201, 204, 207),
        passthrough: Iterable[int] = (),
    ) -> Answer:
        """Send one request (retried on 5xx, timeouts and connection errors; a 429, or a 503
        with ``Retry-After``, waits as the server asks, at most 10 s).

        Returns the answer when its status is in ``accept`` or ``passthrough`` (the caller
        handles those; a 401/403 in ``passthrough`` comes as :class:`_RefusedError`), else raises
        the error for people.
        """
        handled = set(accept) | set(passthrough)
        delay = self.backoff
        for attempt in range(1, self.retries + 1):
            last = attempt == self.retries
            try:
                answer = self._dav.send(method, url, body.encode("utf-8"), headers=dict(headers or {}))
            except TooSlowError as err:  # answering, too slowly: another try would stall as long
                raise self.fail(
                    f"no whole answer within {err.seconds:g} s ({TOTAL_TIME_FACTOR} x the timeout)",
                    "the server is too slow; calsync tries again later",
                ) from None
            except TlsError as err:
                raise self.fail(
                    f"TLS failed ({self._reason(err)})",
                    "check the server's certificate, or set the CA file that signed it",
                ) from None
            except (ReadTimeoutError, ConnectFailedError) as err:
                if isinstance(err, ReadTimeoutError):
                    what, advice = (
                        f"no answer within {self.timeout:g} s ({self.retries} tries)",
                        "check that the server is up, or raise the timeout",
                    )
                else:
                    what, advice = (
                        f"cannot connect ({self._reason(err)}, {self.retries} tries)",
                        "check the URL and that the server is running and reachable",
                    )
                if last:
                    raise self.fail(what, advice) from None
                log.info("%s: %s %s failed (%s); retrying", self.name, method, redact_url(url), what)
                time.sleep(delay)
                delay *= 2
                continue
            status = answer.status
            if status in (401, 403):
                if status in handled:
                    raise _RefusedError(status, preconditions(answer.body))
                raise self._status_error(status)
            if status == 429 or (status == 503 and answer.headers.get("Retry-After") is not None):
                if last:
                    raise self.fail(
                        f"the server is busy (HTTP {status}, {self.retries} tries)", "try again later"
                    )
                wait = min(_retry_after(answer.headers.get("Retry-After")) or delay, 10.0)
                log.info("%s: %s is busy; retrying in %.1f s", self.name, self.url, wait)
                time.sleep(wait)
                delay *= 2
                continue
            if status in handled:
                return answer
            if status in _RETRY_STATUS and not last:
                log.info("%s: %s %s: HTTP %d; retrying", self.name, method, redact_url(url), status)
                time.sleep(delay)
                delay *= 2
                continue
            raise self._status_error(status, answer.reason)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _reason(err: BaseException) -> str:
        """A short reason from a transport error (its messages repeat the whole URL and more)."""
        text = str(err)
        markers = ("Connection refused", "Name or service not known", "No route to host", "certificate")
        for marker in markers:
            if marker.lower() in text.lower():
                index = text.lower().index(marker.lower())
                return text[index : index + 80].split("'", 1)[0].split(")", 1)[0].strip()
        first = text.splitlines()[0] if text else type(err).__name__
        return first[:120]

    def _multistatus(self, answer: Answer) -> Multistatus:
        """A 207's body; a malformed one, or a member status calsync does not know, is an error
        for people."""
        try:
            result = parse_multistatus(answer.body, answer.url or self.url)
            for item in result.responses:
                if item.status not in (None, 200, 201, 207, 404):
                    raise DavXmlError(f"{item.href}: HTTP {item.status}")
        except DavXmlError as err:
            raise self.unreadable(err) from None
        return result

    # -- listing ------------------------------------------------------------------------------

    def _sync_collection(self, token: str | None) -> Listing:
        """One sync-collection REPORT (RFC 6578), following truncated replies."""
        etags: dict[str, str | None] = {}
        deleted: set[str] = set()
        current = token
        for _page in range(100):
            body = request_body(
                "D:sync-collection",
                text_element("D:sync-token", current or ""),
                "<D:sync-level>1</D:sync-level>",
                "<D:prop><D:getetag/></D:prop>",
            )
            refused = _TOKEN_REFUSED if current else _NO_SYNC
            try:
                answer = self.request(
                    "REPORT", self.url, body, {"Depth": "0"}, accept=(207,), passthrough=refused
                )
            except _RefusedError as err:
                self._sync_refused(current, err.status, err.preconditions)
            if answer.status != 207:
                self._sync_refused(current, answer.status, preconditions(answer.body))
            if not answer.body.strip():
                raise _NoSyncCollectionError  # an empty 207: treated as no sync-collection, as before
            result = self._multistatus(answer)
            for item in result.responses:
                if item.status == 404:
                    etags.pop(item.href, None)
                    deleted.add(item.href)
                elif self._is_member(item.href):
                    etags[item.href] = item.text(f"{DAV}getetag")
                    deleted.discard(item.href)
            if not result.sync_token:
                raise _NoSyncCollectionError
            previous, current = current, result.sync_token
            if not result.truncated or current == previous:
                break
        return Listing(token=current, full=token is None, etags=etags, deleted=frozenset(deleted))

    def _sync_refused(self, token: str | None, status: int, conditions: list[str]) -> NoReturn:
        """Why a sync-collection was refused: a bad token, or no sync-collection at all."""
        log.debug("%s: %s: sync-collection answered %d %s", self.name, self.url, status, conditions)
        if token and (_VALID_SYNC_TOKEN in conditions or _SUPPORTED_REPORT not in conditions):
            raise _TokenRefusedError
        raise _NoSyncCollectionError

    def _is_member(self, key: str) -> bool:
        return not key.endswith("/") and key.rstrip("/") != self.path.rstrip("/")

    def _etag_listing(self) -> Listing:
        """Every member with its ETag (depth-1 PROPFIND), for servers without sync-collection."""
        body = request_body("D:propfind", "<D:prop><D:getetag/></D:prop>")
        answer = self.request("PROPFIND", self.url, body, {"Depth": "1"}, accept=(207,))
        etags: dict[str, str | None] = {}
        for item in self._multistatus(answer).responses:
            if (item.status is None or item.status < 300) and self._is_member(item.href):
                etags[item.href] = item.text(f"{DAV}getetag")
        return Listing(token=ETAG_LISTING, full=True, etags=etags)

    def list_changes(self, token: str | None) -> Listing:
        """What changed since ``token`` (everything when None, or when the server refuses it)."""
        if token == ETAG_LISTING:
            return self._etag_listing()
        if token is not None:
            try:
                return self._sync_collection(token)
            except _TokenRefusedError:
                log.info("%s: %s refused the sync token; listing everything once", self.name, self.url)
            except _NoSyncCollectionError:
                return self._etag_listing()
        try:
            return self._sync_collection(None)
        except (_NoSyncCollectionError, _TokenRefusedError):
            log.info("%s: %s has no sync-collection; listing ETags instead", self.name, self.url)
            return self._etag_listing()

    def multiget(self, hrefs: Sequence[str]) -> tuple[Cache, set[str]]:
        """The objects at ``hrefs`` (one calendar-multiget per :data:`MULTIGET_BATCH`).

        Returns the objects found, and the hrefs the server says are gone.
        """
        found: Cache = {}
        missing: set[str] = set()
        for offset in range(0, len(hrefs), MULTIGET_BATCH):
            batch = hrefs[offset : offset + MULTIGET_BATCH]
            body = request_body(
                "C:calendar-multiget",
                "<D:prop><D:getetag/><C:calendar-data/></D:prop>",
                *(text_element("D:href", _quote_path(h)) for h in batch),
                namespaces=CALDAV_NAMESPACES,
            )
            answer = self.request("REPORT", self.url, body, accept=(207,))
            for item in self._multistatus(answer).responses:
                data = item.raw(f"{CALDAV}calendar-data")
                status = item.status or 200
                if status == 404 or (data is None and status >= 300):
                    missing.add(item.href)
                elif data is not None:
                    found[item.href] = (item.text(f"{DAV}getetag") or "", data.encode("utf-8"))
        for key in set(hrefs) - set(found) - missing:
            log.warning(
                "%s: %s did not return %s in a multiget; it is read next time", self.name, self.url, key
            )
        return found, missing

    def refresh(
        self, token: str | None, cache: Mapping[str, tuple[str, bytes]]
    ) -> tuple[str | None, Cache, bool]:
        """Bring a cache up to date: list the changes, fetch the changed objects in one multiget.

        Returns the new token, the new cache and whether anything changed.
        """
        listing = self.list_changes(token)
        if listing.full:
            fresh: Cache = {h: v for h, v in cache.items() if h in listing.etags}
        else:
            fresh = dict(cache)
        for href in listing.deleted:
            fresh.pop(href, None)
        stale = sorted(
            href
            for href, etag in listing.etags.items()
            if etag is None or href not in fresh or fresh[href][0] != etag
        )
        changed = bool(stale) or len(fresh) != len(cache)
        if stale:
            found, missing = self.multiget(stale)
            for href in missing:
                fresh.pop(href, None)
            for href in stale:
                if href not in found:
                    fresh.pop(href, None)
            fresh.update(found)
        log.debug(
            "%s: %s: %d objects, %d fetched, %d deleted (token %s)",
            self.name,
            self.url,
            len(fresh),
            len(stale),
            len(listing.deleted),
            "new" if listing.token != token else "same",
        )
        return listing.token, fresh, changed

    def probe(self) -> str:
        """Check that the URL is a calendar this user can read (one PROPFIND); its display name."""
        body = request_body("D:propfind", "<D:prop><D:resourcetype/><D:displayname/></D:prop>")
        answer = self.request("PROPFIND", self.url, body, {"Depth": "0"}, accept=(207,))
        for item in self._multistatus(answer).responses:
            if self._is_member(item.href):
                continue
            kinds = item.props.get(f"{DAV}resourcetype")
            if kinds is None or kinds.find(f"{CALDAV}calendar") is None:
                raise self.fail("this is not a calendar collection", "check the calendar URL")
            return item.text(f"{DAV}displayname") or ""
        raise self.fail("the server did not describe the calendar", "check the calendar URL")


class CaldavRead(NamedTuple):
    """What a read of a CalDAV source gives (unpacks as ``result, token, cache``)."""

    result: ReadResult
    token: str | None
    cache: Cache


def _calsync_object(data: bytes) -> bool:
    """Whether an object holds an event written by calsync (cheap test first)."""
    if b"X-CALSYNC-" not in data and b"calsync-" not in data:
        return False
    import icalendar  # noqa: PLC0415 - see the TYPE_CHECKING import

    from calsync.adapters import event_ics  # noqa: PLC0415

    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception:
        return False
    return any(event_ics.is_calsync_event(c) for cal in calendars for c in cal.walk("VEVENT"))


class CaldavSource:
    """A CalDAV calendar as a source of run-plan events (read-only, incremental).

    Events calsync wrote (for any plan: ``X-CALSYNC-PLAN`` or a calsync UID) are left out, so a
    calendar that is both source and target does not read back its own sessions as busy time.
    """

    def __init__(self, client: CaldavClient, *, name: str = "", skip_calsync_events: bool = True) -> None:
        self.client = client
        self.name = name or client.name or client.url
        self.skip_calsync_events = skip_calsync_events
        self._parsed: dict[str, tuple[str, tuple[datetime, datetime, str], ReadResult | str | None]] = {}
        """Per href: the ETag and window it was parsed for, and what it gave (a daemon's idle
        pass parses nothing; None = left out, str = the object's error)."""

    def __repr__(self) -> str:
        return f"CaldavSource({self.client.url!r})"

    def read(
        self,
        window_start: datetime,
        window_end: datetime,
        zone: ZoneInfo,
        *,
        token: str | None,
        cache: Mapping[str, tuple[str, bytes]],
    ) -> CaldavRead:
        """Read the calendar's occurrences in ``[window_start, window_end)``.

        ``token`` and ``cache`` come from the previous read (None and ``{}`` the first time);
        the new ones are returned with the result. Raises :class:`SourceError` when the
        calendar cannot be read, or when it holds objects and none of them is readable; an
        empty calendar gives an empty result.
        """
        new_token, new_cache, _changed = self.client.refresh(token, cache)
        return CaldavRead(self.parse(new_cache, window_start, window_end, zone), new_token, new_cache)

    def parse(
        self,
        cache: Mapping[str, tuple[str, bytes]],
        window_start: datetime,
        window_end: datetime,
        zone: ZoneInfo,
    ) -> ReadResult:
        """Parse every cached object (each one VCALENDAR: a master with its overrides)."""
        events: list[SourceEvent] = []
        problems: list[str] = []
        failed = 0
        skipped = 0
        window = (window_start, window_end, zone.key)
        self._parsed = {h: v for h, v in self._parsed.items() if h in cache}
        for href in sorted(cache):
            etag, data = cache[href]
            memo = self._parsed.get(href)
            if memo is not None and memo[0] == etag and etag and memo[1] == window:
                parsed = memo[2]
            else:
                parsed = self._parse_object(data, window_start, window_end, zone, href)
                self._parsed[href] = (etag, window, parsed)
            if parsed is None:
                skipped += 1
            elif isinstance(parsed, str):
                failed += 1
                problems.append(parsed)
            else:
                events.extend(parsed.events)
                problems.extend(parsed.problems)
        if failed and failed == len(cache) - skipped:
            raise SourceError(
                f"{self.name}: none of the {failed} objects of CalDAV calendar {self.client.url} is "
                f"readable ({problems[0]}); check the calendar"
            )
        if skipped:
            log.debug("%s: left out %d events written by calsync", self.name, skipped)
        events.sort(key=lambda e: source_order(e, zone))
        return ReadResult(events=events, problems=problems)

    def _parse_object(
        self, data: bytes, window_start: datetime, window_end: datetime, zone: ZoneInfo, href: str
    ) -> ReadResult | str | None:
        """One object's occurrences; None when calsync wrote it, the error line when unreadable."""
        if self.skip_calsync_events and _calsync_object(data):
            return None
        from calsync.adapters.ics_read import parse_ics  # noqa: PLC0415 - see the TYPE_CHECKING import

        try:
            return parse_ics(
                data, name=self.name, zone=zone, window_start=window_start, window_end=window_end
            )
        except SourceError as err:
            return f"{err} (object {href})"


class CaldavReader:
    """A ``caldav`` source: incremental reads, token and objects kept in its store; parsed objects
    are kept in memory (per href and ETag) while the adapter lives (the daemon)."""

    def __init__(self, name: str, *, client: Callable[[], CaldavClient]) -> None:
        self.name = name
        self._connect = client
        """A new client per read (the password is read then, never kept)."""
        self._requests = 0
        self._reader: CaldavSource | None = None
        self._kept: tuple[str, dict[str, tuple[str, bytes]]] | None = None
        """The token and objects of the last read: while the store holds that token, they are
        what it holds (the daemon's idle pass reads no object from disk)."""

    @property
    def requests(self) -> int:
        """HTTP requests made so far."""
        return self._requests

    def read(
        self,
        window_start: datetime,
        window_end: datetime,
        zone: ZoneInfo,
        store: SyncStore | None,
        *,
        full: bool,
    ) -> ReadResult:
        """The calendar's occurrences in the window (one request when nothing changed)."""
        client = self._connect()
        if self._reader is None:
            self._reader = CaldavSource(client, name=self.name)
        self._reader.client = client
        token = store.token() if store and not full else None
        if token is not None and self._kept is not None and self._kept[0] == token:
            cache = self._kept[1]
        else:
            cache = store.objects() if store and not full else {}
        try:
            read = self._reader.read(window_start, window_end, zone, token=token, cache=cache)
        finally:
            self._requests += client.requests
            client.close()
        if store is not None and (full or read.token != token or read.cache != cache):
            store.save(read.token, read.cache)  # an idle pass writes nothing to disk
        self._kept = (read.token, read.cache) if read.token is not None else None
        return read.result

    def close(self) -> None:
        """Each read closes its connection."""


@dataclass(frozen=True)
class _Seen:
    """What one stored version of an object is to a plan: its owned event, or not its own."""

    ours: bool
    """It holds this plan's event (also when that event cannot be read)."""
    event: OwnedEvent | None
    """The owned event (None: not ours, or unreadable, with a warning logged once)."""
    components: tuple[Component, ...] | None = ()
    """This plan's VEVENTs in it, as parsed (an update carries their details over); None when
    the event came from the listing a former process kept (parsed when an update needs them)."""


_SEEN: OrderedDict[tuple[str, str, str, str, str], _Seen] = OrderedDict()
"""Objects already read, by (collection, plan, zone, href, ETag): each version of an object is
parsed at most once per process (the daemon's passes, and the listing after a pass's writes)."""
_SEEN_MAX = 20_000

LISTING = "#listing"
"""The store's object (never an href) holding the owned events of the target's objects, for the
next process: ``(key, JSON)``, the key naming the plan, zone, collection and reading code."""


_SEEN_LOCK = threading.Lock()
"""The daemon runs plans' passes in threads."""


def _seen_get(key: tuple[str, str, str, str, str]) -> _Seen | None:
    with _SEEN_LOCK:
        found = _SEEN.get(key)
        if found is not None:
            _SEEN.move_to_end(key)
        return found


def _seen_put(key: tuple[str, str, str, str, str], seen: _Seen) -> None:
    with _SEEN_LOCK:
        _SEEN[key] = seen
        while len(_SEEN) > _SEEN_MAX:
            _SEEN.popitem(last=False)


@dataclass(frozen=True)
class _Where:
    href: str
    etag: str


class CaldavTarget:
    """A CalDAV calendar that calsync writes one plan's sessions into.

    Only this plan's events are ever written; foreign events (other plans', a person's, the
    runs themselves when the target is the source calendar) are read once to tell them apart
    and then remembered by ETag only. The sync token and listing carry between passes through
    the adapter's :class:`~calsync.ports.SyncStore`.
    """

    deferred = False
    """Each write is done when its request returns."""

    def __init__(
        self,
        client: CaldavClient,
        plan_id: str,
        zone: ZoneInfo,
        *,
        store: SyncStore | None = None,
        resume: bool = True,
    ) -> None:
        self.client = client
        self.plan_id = plan_id
        self.zone = zone
        self.store = store
        """Where the token and listing are kept between passes (none: every pass lists afresh)."""
        self.token = store.token() if store is not None and resume else None
        self.cache: Cache = dict(store.objects()) if store is not None and resume else {}
        """This plan's objects by href; foreign objects are kept as ``(etag, b"")``."""
        listing = self.cache.pop(LISTING, None)
        self._stored_listing: tuple[str, bytes] | None = (listing[0], listing[1]) if listing else None
        """The owned events kept with the objects (under the key they are valid for)."""
        self._kept: dict[str, OwnedEvent] | None = None
        self._saved: tuple[str | None, Cache] = (self.token, dict(self.cache))
        """What the store holds already (nothing to save while the listing stays the same)."""
        self._where: dict[str, _Where] = {}
        self._wrote = False

    def __repr__(self) -> str:
        return f"CaldavTarget({self.client.url!r}, plan={self.plan_id!r})"

    @property
    def url(self) -> str:
        """The calendar collection's URL (without credentials)."""
        return self.client.url

    @property
    def label(self) -> str:
        """The collection's URL, for messages."""
        return redact_url(self.client.url)

    @property
    def requests(self) -> int:
        """HTTP requests made so far."""
        return self.client.requests

    def close(self) -> None:
        """Close the HTTP connection."""
        self.client.close()

    def _owned_components(self, data: bytes) -> list[Component]:
        if not data:
            return []
        import icalendar  # noqa: PLC0415 - see the TYPE_CHECKING import

        from calsync.adapters import event_ics  # noqa: PLC0415

        calendars = icalendar.Calendar.from_ical(data, multiple=True)
        return [c for cal in calendars for c in cal.walk("VEVENT") if event_ics.owns(c, self.plan_id)]

    def _seen_key(self, href: str, etag: str) -> tuple[str, str, str, str, str]:
        return (self.client.url, self.plan_id, self.zone.key, href, etag)

    def _read(self, href: str, etag: str, data: bytes) -> _Seen:
        """What an object version is to this plan: parsed once (a cheap byte test first: an
        object without calsync's marks is never parsed), then remembered by its ETag."""
        key = self._seen_key(href, etag)
        seen = _seen_get(key) if etag else None
        if seen is not None:
            return seen
        kept = self._kept_listing().get(href) if etag else None
        if kept is not None and kept.etag == etag:
            seen = _Seen(ours=True, event=replace(kept, href="", etag=""), components=None)
        elif b"X-CALSYNC-" not in data and b"calsync-" not in data:
            seen = _Seen(ours=False, event=None)
        else:
            from calsync.adapters import event_ics  # noqa: PLC0415 - see the TYPE_CHECKING import

            try:
                components = self._owned_components(data)
            except Exception as err:  # not readable as iCalendar: not ours to touch
                log.debug("%s: %s is not readable: %s", self, href, err)
                components = []
            event = (
                event_ics.owned_master(components, self.plan_id, self.zone, self.url) if components else None
            )
            seen = _Seen(ours=bool(components), event=event, components=tuple(components))
        if etag:
            _seen_put(key, seen)
        return seen

    def list_owned(self) -> list[OwnedEvent]:
        """This plan's events in the calendar with their href and ETag (incremental: one request
        when nothing changed); the token and listing go to the store when they changed.

        An owned event calsync cannot make sense of is skipped with a warning and never touched.
        """
        token, fresh, _changed = self.client.refresh(self.token, self.cache)
        self.token = token
        self.cache = {}
        self._where = {}
        owned: list[OwnedEvent] = []
        for href in sorted(fresh):
            etag, data = fresh[href]
            seen = self._read(href, etag or "", data) if data else _Seen(ours=False, event=None)
            self.cache[href] = (etag, data if seen.ours else b"")
            if seen.event is not None:
                owned.append(replace(seen.event, href=href, etag=etag or ""))
                self._where[seen.event.uid] = _Where(href, etag)
        self._keep(owned)
        return owned

    def _listing_key(self) -> str:
        return kept_key(self.plan_id, self.zone.key, self.url)

    def _kept_listing(self) -> dict[str, OwnedEvent]:
        """The owned events a former process kept with the objects, by href (each valid for its
        ETag): a new process parses only the objects that changed since."""
        if self._kept is None:
            self._kept = {}
            stored = self._stored_listing
            if stored is not None and stored[0] == self._listing_key():
                try:
                    self._kept = {event.href: event for event in owned_from_json(stored[1])[0]}
                except KeptUnusableError as err:
                    log.debug("%s: the kept listing is unusable (%s)", self, err)
        return self._kept

    def _keep(self, owned: list[OwnedEvent]) -> None:
        """Save the token, the objects and their owned events for the next pass, when they
        changed (an idle pass writes nothing to disk: SD cards on a Raspberry Pi last longer)."""
        if self.store is None:
            return
        listing = owned_to_json(owned, [])
        kept = (self._listing_key(), listing) if listing is not None else None
        if (self.token, self.cache) == self._saved and kept == self._stored_listing:
            return
        self._saved = (self.token, dict(self.cache))
        self._stored_listing = kept
        self.store.save(self.token, {**self.cache, LISTING: kept} if kept is not None else self.cache)

    def href_for(self, uid: str) -> str:
        """Where a new event goes: ``<collection>/<uid>.ics``."""
        return f"{self.client.path}{uid}.ics"

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """After writes, list once more (one request) to move the sync token past them: a token
        from before them would, on some servers (Xandikos), never report an event calsync created
        that a person deletes before the next pass, leaving it in the cache as a phantom."""
        self._wrote = False
        yield
        if self._wrote:
            self.list_owned()

    def _put(self, href: str, data: bytes, headers: dict[str, str]) -> tuple[int, str | None]:
        response = self.client.request(
            "PUT",
            self.client.absolute(href),
            data.decode("utf-8"),
            {"Content-Type": _ICS_TYPE, **headers},
            accept=(200, 201, 204),
            passthrough=(409, 412),
        )
        etag = response.headers.get("ETag") if response.headers else None
        return int(response.status), etag

    def _remember(self, uid: str, href: str, etag: str | None, data: bytes, vevent: Component) -> Version:
        from calsync.adapters import event_ics  # noqa: PLC0415 - see the TYPE_CHECKING import

        self._wrote = True
        if etag:
            self.cache[href] = (etag, data)
            self._where[uid] = _Where(href, etag)
            # the listing after the writes finds this version: it is what calsync just wrote
            event = event_ics.owned_master([vevent], self.plan_id, self.zone, self.url)
            _seen_put(self._seen_key(href, etag), _Seen(ours=True, event=event, components=(vevent,)))
            return href, etag
        # the server changed what it stored: read it back next time
        self.cache.pop(href, None)
        self._where.pop(uid, None)
        return href, ""

    def create(self, session: Session, *, now: datetime) -> Version:
        """PUT with ``If-None-Match: *``; a 409 / 412 (the UID is there) is a conflict."""
        from calsync.adapters import event_ics  # noqa: PLC0415 - see the TYPE_CHECKING import

        href = self.href_for(session.uid)
        vevent = event_ics.session_vevent(session, self.plan_id, 0, now)
        data = event_ics.object_calendar(vevent).to_ical()
        status, etag = self._put(href, data, {"If-None-Match": "*"})
        if status in (409, 412):
            raise ConflictError(f"an event with this UID is already there (HTTP {status})")
        return self._remember(session.uid, href, etag, data, vevent)

    def update(self, previous: OwnedEvent, session: Session, *, sequence: int, now: datetime) -> Version:
        """PUT with ``If-Match`` the listed ETag; a 409 / 412 (changed meanwhile) is a conflict."""
        where = self._where.get(previous.uid)
        if where is None or where.href not in self.cache:
            raise ConflictError("it was not in the last listing")
        from calsync.adapters import event_ics  # noqa: PLC0415 - see the TYPE_CHECKING import

        data = self.cache[where.href][1]
        current = self._read(where.href, where.etag or "", data).components
        if current is None:  # from a kept listing: parse now, the update carries their details over
            current = tuple(self._owned_components(data))
        old = current[0] if current else None  # none readable: rewrite from the session alone
        vevent = event_ics.updated_vevent(old, session, self.plan_id, sequence, now)
        data = event_ics.object_calendar(vevent).to_ical()
        status, etag = self._put(where.href, data, {"If-Match": where.etag})
        if status in (409, 412):
            raise ConflictError(f"it changed on the server since it was read (HTTP {status})")
        return self._remember(session.uid, where.href, etag, data, vevent)

    def delete(self, previous: OwnedEvent) -> bool:
        """DELETE with ``If-Match``; a 404 is an event already gone, a 409 / 412 a conflict."""
        uid = previous.uid
        where = self._where.get(uid)
        if where is None:
            raise ConflictError("it was not in the last listing")
        response = self.client.request(
            "DELETE",
            self.client.absolute(where.href),
            headers={"If-Match": where.etag},
            accept=(200, 204),
            passthrough=(404, 409, 412),
        )
        status = int(response.status)
        if status in (409, 412):
            raise ConflictError(f"it changed on the server since it was read (HTTP {status})")
        self._wrote = True
        self.cache.pop(where.href, None)
        self._where.pop(uid, None)
        return status != 404


__all__ = [
    "ETAG_LISTING",
    "Cache",
    "CaldavClient",
    "CaldavRead",
    "CaldavReader",
    "CaldavSource",
    "CaldavTarget",
    "Listing",
    "redact_url",
]
