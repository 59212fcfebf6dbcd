"""Fixtures for the calsync integration's tests on Home Assistant's own test harness
(pytest-homeassistant-custom-component, pinned to Home Assistant 2024.3.3).

The ICS URL source is a real HTTP server on loopback (a thread): it answers ETag and
Last-Modified conditional GETs with 304, and a test can change what it serves or make it fail.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

# imported before any test freezes the clock: pydantic 1.10 (ical's) subclasses datetime.date at
# import, which fails on freezegun's stand-in class
import homeassistant.components.local_calendar.calendar  # noqa: F401
import pytest
import pytest_socket

pytest_plugins = "pytest_homeassistant_custom_component"

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PLAN = ROOT / "config" / "example-plan.ics"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/calsync from the repository."""


@dataclass
class Feed:
    """What the loopback server serves at /plan.ics, and what it was asked."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/calendar"
    requests: list[dict[str, str]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    base: str = ""

    @property
    def url(self) -> str:
        return self.base + "/plan.ics"

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class _Handler(BaseHTTPRequestHandler):
    feed: Feed

    def do_GET(self) -> None:
        feed = self.feed
        feed.requests.append(dict(self.headers.items()))
        if self.path.split("?")[0] != "/plan.ics":
            status, body = 404, b"not found"
        elif feed.status != 200:
            status, body = feed.status, b"server trouble"
        elif self.headers.get("If-None-Match") == feed.etag:
            status, body = 304, b""
        else:
            status, body = 200, feed.body
        feed.answers.append(status)
        self.send_response(status)
        if status in (200, 304):
            self.send_header("ETag", feed.etag)
            self.send_header("Last-Modified", "Fri, 27 Nov 2026 06:00:00 GMT")
        self.send_header("Content-Type", feed.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="session")
def _server() -> Iterator[tuple[HTTPServer, Feed]]:
    feed = Feed()
    handler = type("Handler", (_Handler,), {"feed": feed})
    pytest_socket.enable_socket()  # phcc blocks sockets before each test; this one is ours
    try:
        server = HTTPServer(("127.0.0.1", 0), handler)
    finally:
        pytest_socket.socket_allow_hosts(["127.0.0.1"])
        pytest_socket.disable_socket(allow_unix_socket=True)
    feed.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="calsync-feed", daemon=True)
    thread.start()
    yield server, feed
    server.shutdown()


@pytest.fixture
def feed(_server: tuple[HTTPServer, Feed], socket_enabled: None) -> Feed:
    """The loopback feed, serving the bundled example plan."""
    feed = _server[1]
    feed.body = EXAMPLE_PLAN.read_bytes()
    feed.status = 200
    feed.content_type = "text/calendar"
    feed.requests.clear()
    feed.answers.clear()
    return feed
