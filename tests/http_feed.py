"""A real HTTP server for calendar-feed tests: stdlib ``ThreadingHTTPServer`` on 127.0.0.1.

A pytest plugin module: load it with ``pytest_plugins = ["http_feed"]`` in a test module (and
``from http_feed import HttpFeed`` under ``TYPE_CHECKING`` for the annotation).

* ``http_feed`` (function scope): a fresh server on a free port, stopped after the test;
  ``https_feed`` the same over TLS with a self-signed certificate for 127.0.0.1 and localhost
  (``feed.ca_file`` trusts it; needs the ``openssl`` command, else the test is skipped).
  ``feed.set(path, body, ...)`` serves a body (with ETag and Last-Modified, answering
  ``If-None-Match`` / ``If-Modified-Since`` with 304, optional basic/bearer auth and a delay);
  ``feed.redirect(path, to)`` answers with a redirect; ``feed.url(path)`` is the URL to fetch;
  ``feed.log`` lists every request as ``(method, path, headers, status)``.

No network beyond loopback; nothing is mocked (the client under test speaks real HTTP).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest

Auth = tuple[str, str, str] | tuple[str, str]
"""``("basic", user, password)`` or ``("bearer", token)``."""


class Headers(dict[str, str]):
    """Request headers, looked up case-insensitively (``h["if-none-match"]`` = ``h["If-None-Match"]``)."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__((str(k).lower(), str(v)) for k, v in dict(items).items())

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        """The header's value, or ``default``."""
        return super().get(key.lower(), default)


class Request(NamedTuple):
    """One request the server answered (also unpacks as a 4-tuple)."""

    method: str
    path: str
    """The request target as sent (path and query)."""
    headers: Headers
    status: int


@dataclass
class Resource:
    """What the server answers at one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/calendar"
    delay: float = 0.0
    """Seconds to wait before answering (to provoke a client timeout)."""
    etag: str | None = None
    last_modified: datetime | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: Auth | None = None
    content_length: bool = True
    """False: no Content-Length, the body ends when the connection closes."""
    location: str | None = None
    """Set for a redirect."""
    trickle: float = 0.0
    """Seconds to wait between 1 KiB pieces of the body (a slow server)."""
    cut_after: int | None = None
    """Announce the whole body, send this many bytes of it, then drop the connection."""


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _parse_http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _etag_matches(header: str, etag: str) -> bool:
    """``If-None-Match`` uses the weak comparison: ``W/"x"`` matches ``"x"``."""
    if header.strip() == "*":
        return True
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag.removeprefix("W/") in wanted


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 and localhost, made by the ``openssl`` command."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class HttpFeed:
    """A running server: set what it serves, read what it was asked."""

    def __init__(self, *, tls: bool = False) -> None:
        self._resources: dict[str, Resource] = {}
        self._lock = threading.Lock()
        self.log: list[Request] = []
        """Every request answered: ``(method, path, headers, status)``."""
        feed = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                feed._answer(self, send_body=True)

            def do_HEAD(self) -> None:
                feed._answer(self, send_body=False)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reads ``feed.log`` instead."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "https" if tls else "http"
        self.ca_file: Path | None = None
        """The certificate to trust (``https_feed`` only)."""
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        if tls:
            self._folder = tempfile.TemporaryDirectory(prefix="http-feed-")
            cert, key = self_signed_certificate(Path(self._folder.name))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.ca_file = cert
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="http-feed", daemon=True
        )
        self._thread.start()

    # -- what the test sets -------------------------------------------------------------------
    def url(self, path: str = "/plan.ics", *, host: str = "127.0.0.1", scheme: str | None = None) -> str:
        """The URL of a path on this server (``host="localhost"`` for a second host name)."""
        return f"{scheme or self.scheme}://{host}:{self.port}{path}"

    def set(
        self,
        path: str,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = "text/calendar",
        delay: float = 0.0,
        etag: bool | str = True,
        last_modified: bool | datetime = True,
        headers: dict[str, str] | None = None,
        auth: Auth | None = None,
        content_length: bool = True,
        trickle: float = 0.0,
        cut_after: int | None = None,
    ) -> Resource:
        """Serve ``body`` at ``path`` (replacing what was there).

        ``etag``: True derives a strong ETag from the body, a string is used as is, False sends
        none (and ignores ``If-None-Match``). ``last_modified``: True is now (always later than
        what this path served before, so a change within one second is still newer), a datetime
        is used as is, False sends none (and ignores ``If-Modified-Since``). ``content_length``
        False ends the body by closing the connection; ``trickle`` sends it slowly; ``cut_after``
        drops the connection part-way through it (a download that breaks off).
        """
        with self._lock:
            previous = self._resources.get(path)
            modified: datetime | None = None
            if isinstance(last_modified, datetime):
                modified = last_modified
            elif last_modified:
                modified = datetime.now(UTC).replace(microsecond=0)
                if previous and previous.last_modified and previous.body != body:
                    modified = max(modified, previous.last_modified + timedelta(seconds=1))
                elif previous and previous.last_modified:
                    modified = previous.last_modified
            tag: str | None = None
            if isinstance(etag, str):
                tag = etag
            elif etag:
                tag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            resource = Resource(
                body=body,
                status=status,
                content_type=content_type,
                delay=delay,
                etag=tag,
                last_modified=modified,
                headers=dict(headers or {}),
                auth=auth,
                content_length=content_length,
                trickle=trickle,
                cut_after=cut_after,
            )
            self._resources[path] = resource
            return resource

    def redirect(self, path: str, to_path: str, status: int = 301) -> None:
        """Answer ``path`` with a redirect to ``to_path`` (a path on this server or a full URL)."""
        with self._lock:
            self._resources[path] = Resource(status=status, location=to_path, content_type="text/plain")

    def remove(self, path: str) -> None:
        """Stop serving ``path`` (it answers 404)."""
        with self._lock:
            self._resources.pop(path, None)

    def requests(self, path: str | None = None) -> list[Request]:
        """The requests answered so far (to ``path`` only, when given; query strings ignored)."""
        with self._lock:
            return [r for r in self.log if path is None or urlsplit(r.path).path == path]

    def clear_log(self) -> None:
        """Forget the requests answered so far."""
        with self._lock:
            self.log.clear()

    def close(self) -> None:
        """Stop the server."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self._folder is not None:
            self._folder.cleanup()

    # -- answering ------------------------------------------------------------------------------
    def _lookup(self, target: str) -> Resource | None:
        with self._lock:
            if target in self._resources:
                return self._resources[target]
            return self._resources.get(urlsplit(target).path)

    def _answer(self, handler: BaseHTTPRequestHandler, *, send_body: bool) -> None:
        headers = Headers(handler.headers.items())
        resource = self._lookup(handler.path)
        if resource is not None and resource.delay:
            time.sleep(resource.delay)
        status, extra, body = self._response(resource, headers)
        with self._lock:
            self.log.append(Request(handler.command, handler.path, headers, status))
        close = resource is not None and not resource.content_length and status == 200
        with contextlib.suppress(OSError):
            handler.send_response(status)
            for name, value in extra.items():
                handler.send_header(name, value)
            if close:
                handler.send_header("Connection", "close")
                handler.close_connection = True
            elif status != 304:
                handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if send_body and status != 304:
                if resource is not None and resource.cut_after is not None and status == 200:
                    handler.wfile.write(body[: resource.cut_after])
                    handler.wfile.flush()
                    handler.close_connection = True
                elif resource is not None and resource.trickle:
                    for start in range(0, len(body), 1024):
                        handler.wfile.write(body[start : start + 1024])
                        handler.wfile.flush()
                        time.sleep(resource.trickle)
                else:
                    handler.wfile.write(body)
            handler.wfile.flush()

    def _response(self, resource: Resource | None, headers: Headers) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a request."""
        if resource is None:
            return 404, {"Content-Type": "text/plain"}, b"not found\n"
        if resource.location is not None:
            return resource.status, {"Location": resource.location}, b""
        if resource.auth is not None and not _authorized(resource.auth, headers.get("Authorization", "")):
            scheme = "Basic" if resource.auth[0] == "basic" else "Bearer"
            return 401, {"WWW-Authenticate": f'{scheme} realm="feed"', "Content-Type": "text/plain"}, b"no\n"
        validators: dict[str, str] = {}
        if resource.etag:
            validators["ETag"] = resource.etag
        if resource.last_modified:
            validators["Last-Modified"] = _http_date(resource.last_modified)
        if resource.status == 200 and self._not_modified(resource, headers):
            return 304, validators, b""
        out = {"Content-Type": resource.content_type, **validators, **resource.headers}
        return resource.status, out, resource.body

    @staticmethod
    def _not_modified(resource: Resource, headers: Headers) -> bool:
        """RFC 9110: If-None-Match decides when the server has ETags; else If-Modified-Since."""
        if_none_match = headers.get("If-None-Match")
        if if_none_match is not None and resource.etag:
            return _etag_matches(if_none_match, resource.etag)
        since = headers.get("If-Modified-Since")
        if since is not None and resource.last_modified:
            moment = _parse_http_date(since)
            return moment is not None and resource.last_modified <= moment
        return False


def _authorized(auth: Auth, header: str) -> bool:
    if auth[0] == "basic" and len(auth) == 3:
        expected = base64.b64encode(f"{auth[1]}:{auth[2]}".encode()).decode()
        return header == f"Basic {expected}"
    if auth[0] == "bearer":
        return header == f"Bearer {auth[1]}"
    raise ValueError(f"unknown auth {auth[0]!r}: use ('basic', user, password) or ('bearer', token)")


@pytest.fixture
def http_feed() -> Iterator[HttpFeed]:
    """A real HTTP server on 127.0.0.1 for one test."""
    feed = HttpFeed()
    try:
        yield feed
    finally:
        feed.close()


@pytest.fixture
def https_feed() -> Iterator[HttpFeed]:
    """A real HTTPS server on 127.0.0.1 for one test (self-signed: trust ``feed.ca_file``)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    feed = HttpFeed(tls=True)
    try:
        yield feed
    finally:
        feed.close()
