"""``ics_url`` source: the *read* step for an iCalendar feed over HTTP(S) or ``webcal://``.

A coach's subscription link (TrainingPeaks, Final Surge, Google's secret address...) is read with
one conditional GET per pass: the feed's validators (ETag, Last-Modified) and body are kept in
the state, so an unchanged feed costs one request answered 304, also in a new process. The last
parse is kept on the adapter (the daemon keeps it between passes): a 304 or an identical body
for the same window is not parsed again.

Anything but a readable calendar (an HTTP error, a timeout, a body over ``max_bytes``, an HTML
login page, JSON, an empty body) is a :class:`SourceError`, a failed read that deletes nothing.
Messages name the source and show the URL redacted (:func:`calsync.redact.redact_url`): a feed
link is often a secret by itself; passwords and tokens never appear.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import ssl
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from http import HTTPStatus
from urllib.parse import unquote, urljoin, urlsplit
from zoneinfo import ZoneInfo

import requests
import urllib3.exceptions
from requests import RequestException, Response, Session
from requests.auth import HTTPBasicAuth

from calsync import __version__
from calsync.adapters.http_deadline import Deadline
from calsync.adapters.kept import KeptUnusableError, read_from_json, read_to_json, reader_key
from calsync.config import IcsUrlSource
from calsync.core.model import ReadResult
from calsync.errors import SourceError
from calsync.ports import SyncStore
from calsync.redact import redact_url, scrub, url_secrets

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
"""Redirects followed per read (``Authorization`` is dropped when one leaves the host)."""
TOTAL_TIME_FACTOR = 4
"""A whole download may take this many times ``timeout_seconds`` (a server that trickles)."""
CHUNK_BYTES = 64 * 1024
STATE_OBJECT = "feed"
"""The href under which the state keeps the feed's body (its validators in the etag column)."""
READ_OBJECT = "read"
"""The last read of the kept body, one per plan (``read plan[me].source[0]``), for a new process
whose GET is answered 304 (issue 12); empty when the read could not be kept."""
_ACCEPT = "text/calendar, text/plain;q=0.5, */*;q=0.1"
_REDIRECTS = (301, 302, 303, 307, 308)


_Window = tuple[datetime, datetime, ZoneInfo]


@dataclass(frozen=True)
class _Copy:
    """The feed as last read: its validators, a digest of its body, and the body itself unless
    only the state holds it."""

    validators: dict[str, str]
    """``etag`` and ``last_modified`` as the server sent them (either may be missing)."""
    digest: str
    body: bytes | None
    in_state: bool
    """The state holds this body and these validators."""


@dataclass(frozen=True)
class _Answer:
    """One HTTP exchange: the final status, validators and body (None for a 304)."""

    status: int
    validators: dict[str, str]
    body: bytes | None
    content_type: str
    redirects: int


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what caused it (``__cause__``, ``__context__``, urllib3's ``reason``)."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [c for c in (current.__cause__, current.__context__) if c is not None]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
        todo += [a for a in current.args if isinstance(a, BaseException)]


def _what_it_is(body: bytes, content_type: str) -> str | None:
    """A short description of a body that is clearly not a calendar, else None."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    kind = content_type.split(";", 1)[0].strip().lower()
    if not head:
        return f"an empty body ({len(body)} bytes)"
    if b"begin:vcalendar" in body[:65536].lower() or b"begin:vevent" in head:
        return None
    if head.startswith((b"<!doctype html", b"<html")) or kind in ("text/html", "application/xhtml+xml"):
        return f"an HTML page ({kind or 'no content type'}, {len(body)} bytes), not a calendar"
    if head.startswith((b"{", b"[")) or kind.endswith("json"):
        return f"JSON ({kind or 'no content type'}, {len(body)} bytes), not a calendar"
    if head.startswith(b"<") or kind.endswith("xml"):
        return f"XML ({kind or 'no content type'}, {len(body)} bytes), not a calendar"
    return None


def _validators(response: Response) -> dict[str, str]:
    found = {"etag": response.headers.get("ETag"), "last_modified": response.headers.get("Last-Modified")}
    return {key: value for key, value in found.items() if value}


def _validators_from_json(text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if k in ("etag", "last_modified") and isinstance(v, str) and v}


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port (the default port made explicit): credentials stay within one."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _url_auth(url: str) -> HTTPBasicAuth | None:
    """Basic auth from credentials written in the URL (sent again on a same-host redirect)."""
    parts = urlsplit(url)
    if parts.username is None:
        return None
    return HTTPBasicAuth(unquote(parts.username), unquote(parts.password or ""))


def _phrase(status: int) -> str:
    """``HTTP 404 Not Found`` (the standard phrase, never the server's own text)."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


class _ManualRedirects(requests.Session):
    """A session that leaves redirects to the caller: requests reads a redirect's whole body
    (decoded: a gzip bomb is inflated in memory) even with ``allow_redirects=False``, to prepare
    the next hop; here no redirect is seen, so no body is read but the one calsync streams."""

    def get_redirect_target(self, resp: Response) -> str | None:  # noqa: ARG002 - requests' signature
        """None: calsync follows redirects itself (:meth:`IcsUrlReader._exchange`)."""
        return None


class _LoadedOnce:
    """A source's store whose objects are loaded at most once per read: they hold the feed's
    whole body, and a read looks at them for its validators, its kept read and its save."""

    def __init__(self, store: SyncStore) -> None:
        self._store = store
        self._objects: dict[str, tuple[str, bytes]] | None = None

    def token(self) -> str | None:
        return self._store.token()

    def objects(self) -> dict[str, tuple[str, bytes]]:
        if self._objects is None:
            self._objects = self._store.objects()
        return self._objects

    def save(self, token: str | None, objects: Mapping[str, tuple[str, bytes]]) -> None:
        self._store.save(token, objects)
        self._objects = dict(objects)  # a save replaces what the store holds


class IcsUrlReader:
    """Reads an ``.ics`` feed with a conditional GET (``webcal://`` is read as ``https://``)."""

    def __init__(self, source: IcsUrlSource, *, name: str, where: str) -> None:
        self.source = source
        self.name = name
        self.where = where
        self.url = source.http_url
        """What is fetched (never shown: see :attr:`label`)."""
        self.label = redact_url(source.url)
        """The feed's URL for messages and logs."""
        self.parses = 0
        """Parses so far: a 304 or an unchanged body for the same window is not parsed again."""
        self._requests = 0
        self._session: Session | None = None
        self._deadline = Deadline()
        self._copy: _Copy | None = None
        self._memo: tuple[tuple[str, datetime, datetime, str], ReadResult] | None = None
        self._read: tuple[str, bytes] | None = None
        """The last read as JSON, under its key (the body's digest first): kept with the body."""
        self._unsaved_read = False
        self._read_object = f"{READ_OBJECT} {where}"
        self._secrets: set[str] = set(url_secrets(source.url))
        """What messages must never show: the link's secrets, and each password or token used."""

    def __repr__(self) -> str:
        return f"IcsUrlReader({self.label!r})"

    @property
    def requests(self) -> int:
        """HTTP requests made so far (each redirect followed counts)."""
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
        """The feed's occurrences in the window. A conditional GET unless ``full``; a 304 re-uses
        the kept body (and parse, for the same window). Raises SourceError when the feed cannot
        be read; then nothing is kept."""
        window = (window_start, window_end, zone)
        before, parses = self._requests, self.parses
        store = _LoadedOnce(store) if store is not None else None
        known = None if full else self._known(store)
        answer = self._fetch(known)
        if answer.status == 304 and known is not None:
            result = self._not_modified(known, answer, window, store)
            if result is not None:
                self._log(answer, before, parses)
                return result
            answer = self._fetch(None)  # nothing kept to re-use after all: read it whole
        if answer.body is None:
            raise self._error(
                "the server answered 304 Not Modified to a request that was not conditional; "
                "check that the URL is the feed itself"
            )
        body = answer.body
        digest = _digest(body)
        unchanged = (
            known is not None
            and known.in_state
            and known.digest == digest
            and known.validators == answer.validators
        )
        copy = _Copy(answer.validators, digest, body, in_state=unchanged)
        result = None if full else self._memoized(digest, window)
        if result is None:
            result = self._parse(body, digest, answer.content_type, window, None if full else store)
        self._keep(copy, body, store, write=not unchanged)
        self._log(answer, before, parses)
        return result

    def close(self) -> None:
        """Release the HTTP session."""
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- what is kept between reads ---------------------------------------------------------
    def _known(self, store: SyncStore | None) -> _Copy | None:
        """The copy to send a conditional GET for: the one in memory, else the store's."""
        if self._copy is not None:
            return self._copy
        if store is None:
            return None
        stored = store.objects().get(STATE_OBJECT)
        if stored is None:
            return None
        return _Copy(_validators_from_json(stored[0]), _digest(stored[1]), stored[1], in_state=True)

    def _not_modified(
        self, known: _Copy, answer: _Answer, window: _Window, store: SyncStore | None
    ) -> ReadResult | None:
        """The result for a 304: the parse kept for this window, else the kept body parsed again;
        None when no body is kept any more (the caller then reads the feed whole)."""
        copy = replace(known, validators={**known.validators, **answer.validators})
        result = self._memoized(copy.digest, window)
        body = known.body
        if result is None:
            body = body if body is not None else self._body_from_store(store, known.digest)
            if body is None:
                return None
            result = self._parse(body, known.digest, "", window, store)
        changed = copy.validators != known.validators or (store is not None and not known.in_state)
        self._keep(copy, body, store, write=changed)
        return result

    def _body_from_store(self, store: SyncStore | None, digest: str) -> bytes | None:
        """The store's copy of the body, if it is the one with this digest."""
        stored = store.objects().get(STATE_OBJECT) if store is not None else None
        if stored is None or _digest(stored[1]) != digest:
            return None
        return stored[1]

    def _keep(self, copy: _Copy, body: bytes | None, store: SyncStore | None, *, write: bool) -> None:
        """Remember a copy that was read and parsed: in the store (validators + body) when there
        is one and something changed, in memory always (the body only when no store holds it)."""
        in_state = copy.in_state
        if store is not None and (write or self._unsaved_read) and body is not None:
            validators = json.dumps(copy.validators, sort_keys=True)
            objects = {STATE_OBJECT: (validators, body)}
            # the reads kept for this body: this plan's, and those of other plans reading the feed
            for name, kept in store.objects().items():
                if name.startswith(READ_OBJECT) and kept[0].startswith(copy.digest):
                    objects[name] = kept
            if self._read is not None and self._read[0].startswith(copy.digest):
                objects[self._read_object] = self._read
            store.save(None, objects)
            in_state = True
            self._unsaved_read = False
        self._copy = replace(copy, body=None if in_state else body, in_state=in_state)

    def _memoized(self, digest: str, window: _Window) -> ReadResult | None:
        if self._memo is None:
            return None
        key, result = self._memo
        return result if key == (digest, window[0], window[1], window[2].key) else None

    def _parse(
        self, body: bytes, digest: str, content_type: str, window: _Window, store: SyncStore | None
    ) -> ReadResult:
        """Parse the feed (and keep the result for the next read of the same body and window);
        the read a former process kept in ``store`` for them is taken instead when it is there."""
        from calsync.adapters.ics_read import parse_ics  # noqa: PLC0415 - not when a kept read serves

        start, end, zone = window
        key = "|".join((digest, reader_key(), start.isoformat(), end.isoformat(), zone.key))
        kept = store.objects().get(self._read_object) if store is not None else None
        if kept is not None and kept[0] == key and kept[1]:  # empty: this read could not be kept
            try:
                result = read_from_json(kept[1], self.name)
            except KeptUnusableError as err:
                log.debug("%s: the kept read is unusable (%s): parsing the body", self.name, err)
            else:
                self._read = kept
                self._memo = ((digest, start, end, zone.key), result)
                return result
        self.parses += 1
        try:
            result = parse_ics(body, name=self.name, zone=zone, window_start=start, window_end=end)
        except SourceError as err:
            got = f"{content_type}, " if content_type else ""
            raise SourceError(self._scrub(f"{err} (from {self.label}: {got}{len(body)} bytes)")) from None
        self._memo = ((digest, start, end, zone.key), result)
        self._read = (key, read_to_json(result, self.name) or b"")
        self._unsaved_read = store is not None and kept != self._read
        return result

    # -- HTTP ---------------------------------------------------------------------------------
    def _fetch(self, known: _Copy | None) -> _Answer:
        """One GET (conditional when ``known`` has validators); SourceError unless 200 or 304.

        The whole exchange (every redirect, the headers and the body) must end within
        ``TOTAL_TIME_FACTOR x timeout_seconds``: a watchdog cuts the connection when it does not.
        """
        headers: dict[str, str] = {}
        if known is not None and "etag" in known.validators:
            headers["If-None-Match"] = known.validators["etag"]
        if known is not None and "last_modified" in known.validators:
            headers["If-Modified-Since"] = known.validators["last_modified"]
        auth = self._auth(headers)
        budget = TOTAL_TIME_FACTOR * self.source.timeout_seconds
        deadline = time.monotonic() + budget
        session = self._http()
        try:
            with self._deadline.within(budget):
                return self._exchange(session, headers, auth, deadline)
        except SourceError:
            if self._deadline.expired:
                raise self._too_slow() from None
            raise

    def _exchange(
        self, session: Session, headers: dict[str, str], auth: HTTPBasicAuth | None, deadline: float
    ) -> _Answer:
        """The GET and its redirects, followed one by one: a redirect's body is never read (it
        may be a bomb or endless), and credentials go along only while the host stays the same."""
        timeout = self.source.timeout_seconds
        verify: bool | str = str(self.source.ca_file) if self.source.ca_file else self.source.verify_tls
        url, origin = self.url, _origin(self.url)
        if auth is None:
            auth = _url_auth(self.url)
        for redirects in range(MAX_REDIRECTS + 1):
            here = _origin(url)
            upgraded = (origin[0], origin[2], here[0], here[2]) == ("http", 80, "https", 443)
            same = here[1] == origin[1] and (here == origin or upgraded)
            hop_headers = headers if same else {k: v for k, v in headers.items() if k != "Authorization"}
            self._requests += 1
            try:
                response = session.get(
                    url,
                    headers=hop_headers,
                    auth=auth if same else None,
                    timeout=(timeout, timeout),
                    verify=verify,
                    stream=True,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                raise self._network_error(exc) from None
            with response:
                location = response.headers.get("Location")
                if response.status_code in _REDIRECTS and location:
                    url = urljoin(url, location)
                    if urlsplit(url).scheme not in ("http", "https"):
                        raise self._error("a redirect leads to a URL that is not http(s); check the URL")
                    continue
                status = response.status_code
                content_type = response.headers.get("Content-Type", "")
                answer = _Answer(status, _validators(response), None, content_type, redirects)
                if status == 304:
                    return answer
                if status not in (200, 203):
                    raise self._status_error(status)
                body = self._download(response, deadline)
            what = _what_it_is(body, content_type)
            if what is not None:
                hint = " and the credentials (a login page?)" if "HTML" in what else ""
                raise self._error(f"{_phrase(200)} but got {what}; check the URL{hint}")
            from calsync.adapters.ics_read import truncation  # noqa: PLC0415 - see _parse

            cut = truncation(body)
            if cut is not None:
                raise self._error(f"the download is cut off ({cut}); calsync tries again on the next pass")
            return replace(answer, body=body)
        raise self._error(f"more than {MAX_REDIRECTS} redirects; check the URL")

    def _http(self) -> Session:
        """The HTTP session (kept while the adapter lives: connections are re-used), its
        connections known to the deadline's watchdog."""
        if self._session is None:
            session = _ManualRedirects()
            session.max_redirects = MAX_REDIRECTS
            session.headers["User-Agent"] = f"calsync/{__version__}"
            session.headers["Accept"] = _ACCEPT
            session.headers["Accept-Encoding"] = "gzip, deflate"
            self._deadline.guard(session)
            self._session = session
        return self._session

    def _auth(self, headers: dict[str, str]) -> HTTPBasicAuth | None:
        """Basic auth, or a bearer token put in ``headers``; secrets are read now (rotated ones
        are picked up). Both are dropped on a redirect to another host."""
        token = self.source.token(self.where)
        if token is not None:
            if not token:
                raise self._error("the bearer token is empty; check token_env / token_file")
            self._secrets.add(token)
            headers["Authorization"] = f"Bearer {token}"
            return None
        password = self.source.password(self.where)
        if password is None:
            return None
        self._secrets.add(password)
        return HTTPBasicAuth(self.source.username or "", password)

    def _download(self, response: Response, deadline: float) -> bytes:
        """The body, streamed and decoded here (gzip / deflate, never by the library): refused
        once it passes ``max_bytes`` (decoded or not) or takes too long, and a failed read when
        it ends before its Content-Length or its compressed stream does."""
        limit = self.source.max_bytes
        too_big = (
            f"the feed is larger than max_bytes ({limit} bytes); check the URL, or raise max_bytes "
            "in [[plan.source]] if the feed really is that big"
        )
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) > limit:
            raise self._error(too_big.replace("larger than", f"{int(announced)} bytes, larger than"))
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            inflate = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib, told by the header
        else:
            raise self._error(f"the server sent the feed in an encoding calsync cannot read ({encoding})")
        chunks: list[bytes] = []
        size = received = 0
        try:
            for raw in response.raw.stream(CHUNK_BYTES, decode_content=False):
                received += len(raw)
                chunk = raw if inflate is None else inflate.decompress(raw, limit - size + 1)
                size += len(chunk)
                if size > limit or received > limit:
                    raise self._error(too_big)
                if time.monotonic() > deadline:
                    raise self._too_slow()
                chunks.append(chunk)
            if inflate is not None:
                tail = inflate.flush()
                size += len(tail)
                if size > limit:
                    raise self._error(too_big)
                chunks.append(tail)
                if not inflate.eof:
                    raise self._error(
                        f"the download broke off after {received} bytes (the {encoding} stream "
                        "ends early); calsync tries again later"
                    )
        except (urllib3.exceptions.HTTPError, OSError, zlib.error) as exc:
            if self._deadline.expired:
                raise self._too_slow() from None
            if isinstance(exc, zlib.error):
                raise self._error(
                    f"the {encoding} body cannot be decoded; calsync tries again later"
                ) from None
            raise self._error(
                f"the download broke off after {received} bytes; calsync tries again later"
            ) from None
        if announced.isdigit() and received < int(announced):
            raise self._error(
                f"the download broke off after {received} of {int(announced)} bytes; "
                "calsync tries again later"
            )
        return b"".join(chunks)

    def _too_slow(self) -> SourceError:
        budget = TOTAL_TIME_FACTOR * self.source.timeout_seconds
        return self._error(
            f"the download took longer than {budget:g} s ({TOTAL_TIME_FACTOR} x timeout_seconds); "
            "the server is too slow, calsync tries again on the next pass"
        )

    # -- errors ---------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    def _error(self, text: str) -> SourceError:
        """A SourceError naming the source and the (redacted) URL, with every secret scrubbed."""
        return SourceError(self._scrub(f"{self.name}: {self.label}: {text}"))

    def _status_error(self, status: int) -> SourceError:
        phrase = _phrase(status)
        source = self.source
        keys = (source.password_env, source.password_file, source.token_env, source.token_file)
        has_credentials = any(keys) or "@" in urlsplit(self.url).netloc
        if status in (401, 403) and has_credentials:
            return self._error(
                f"{phrase}: the server refused the credentials; check username and "
                "password_env / password_file, or token_env / token_file"
            )
        if status in (401, 403):
            return self._error(
                f"{phrase}: the feed needs credentials (or a fresh link); set username + "
                "password_env / password_file, or token_env / token_file"
            )
        if status in (404, 410):
            return self._error(f"{phrase}: check the URL (the feed may have moved or its link been renewed)")
        if status == 429:
            return self._error(f"{phrase}: the server asks to poll less often; calsync tries again later")
        if status >= 500:
            return self._error(f"{phrase}: the server failed; nothing was changed, calsync tries again later")
        return self._error(f"{phrase}: not a feed answer; check the URL")

    def _network_error(self, exc: RequestException, *, received: int | None = None) -> SourceError:
        """One line for a failed connection, without the library's text (it holds the URL)."""
        if self._deadline.expired:
            return self._too_slow()
        timeout = self.source.timeout_seconds
        causes = list(_causes(exc))
        if isinstance(exc, requests.exceptions.SSLError):
            for cause in causes:
                if isinstance(cause, ssl.SSLCertVerificationError):
                    return self._error(
                        f"the server's TLS certificate is not trusted ({cause.verify_message}); set "
                        "ca_file to the CA that signed it (verify_tls = false only on a network you trust)"
                    )
            return self._error("the TLS handshake failed; check the URL (https:// on a plain-HTTP port?)")
        if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
            return self._error("connection refused; check the host and port (is the server running?)")
        unresolved = (socket.gaierror, urllib3.exceptions.NameResolutionError)
        if any(isinstance(cause, unresolved) for cause in causes):
            return self._error("the host name cannot be resolved; check the URL and the network")
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return self._error(f"no connection within {timeout:g} s; check the host and the network")
        # (urllib3's NewConnectionError is a ConnectTimeoutError too: not a sign of a timeout)
        timed_out = (requests.exceptions.Timeout, urllib3.exceptions.ReadTimeoutError, TimeoutError)
        if any(isinstance(cause, timed_out) for cause in causes):
            return self._error(
                f"no answer within {timeout:g} s (timeout_seconds); the server is slow or down, "
                "calsync tries again later"
            )
        if received is not None:
            return self._error(f"the download broke off after {received} bytes; calsync tries again later")
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema)):
            return self._error("the URL is not valid; check it")
        if isinstance(exc, requests.ConnectionError):
            return self._error(f"cannot connect ({type(exc).__name__}); check the URL and the network")
        return self._error(f"the request failed ({type(exc).__name__}); check the URL")

    def _log(self, answer: _Answer, requests_before: int, parses_before: int) -> None:
        log.debug(
            "%s: GET %s: %s, %d bytes, %s, %d request(s)",
            self.name,
            self.label,
            "304 not modified" if answer.status == 304 else f"HTTP {answer.status}",
            len(answer.body or b""),
            "parsed" if self.parses > parses_before else "parse re-used",
            self._requests - requests_before,
        )
