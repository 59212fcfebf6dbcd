"""Real CalDAV servers for the tests: Radicale and Xandikos on loopback, started by pytest.

A pytest plugin module: load it with ``pytest_plugins = ["caldav_servers"]`` in a test module.

* ``radicale_server`` / ``xandikos_server`` (session scope): the server running as a subprocess
  (``python -m radicale`` with htpasswd authentication and ``owner_only`` rights;
  ``python -m xandikos.web --defaults``) on 127.0.0.1 with a free port, in a temporary folder;
  stopped (terminate, then kill) at the end of the session.
* ``caldav_calendar`` (function scope, parametrized over both servers): a fresh, empty calendar
  collection (MKCALENDAR) for one test.

Needs only the ``test`` extra (``radicale``, ``xandikos``); no network beyond loopback.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from caldav.davclient import DAVClient

from calsync.adapters.caldav import CaldavClient
from support import free_port

RADICALE_USER = "calsync"
RADICALE_PASSWORD = "s3cret-pw"
XANDIKOS_USER = "user"
STARTUP_SECONDS = 30.0


@dataclass
class DavServer:
    """A CalDAV server running for the tests."""

    name: str
    base: str
    """``http://127.0.0.1:<port>``."""
    home: str
    """The collection new calendars are made in (ends with ``/``)."""
    username: str | None
    password: str | None
    process: subprocess.Popen[bytes]
    folder: Path

    def dav(self) -> DAVClient:
        """A plain caldav client: "someone else" editing the calendar behind calsync's back."""
        return DAVClient(
            url=self.home,
            username=self.username,
            password=self.password,
            auth_type="basic" if self.username else None,
            enable_rfc6764=False,
        )

    def calendar(self) -> DavCalendar:
        """A new empty calendar collection."""
        return DavCalendar(self, self.make_calendar())

    def at(self, url: str) -> DavCalendar:
        """A calendar URL on this server (which may not exist)."""
        return DavCalendar(self, url)

    def make_calendar(self) -> str:
        """A new empty calendar collection; its URL."""
        url = f"{self.home}t{uuid.uuid4().hex[:10]}/"
        with self.dav() as client:
            response = client.mkcalendar(url)
        if response.status not in (200, 201):
            raise RuntimeError(f"{self.name}: MKCALENDAR {url} answered {response.status}")
        return url


def _answers(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (any status, even 401/404)."""
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _start(name: str, args: list[str], folder: Path, probe: str) -> subprocess.Popen[bytes]:
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = (folder / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name} exited with {process.returncode} at start:\n{output}")
        if _answers(probe):
            return process
        time.sleep(0.05)
    _stop(process)
    raise RuntimeError(f"{name} did not answer at {probe} within {STARTUP_SECONDS:g} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def _server_folder(name: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=f"calsync-{name}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def radicale_server() -> Iterator[DavServer]:
    """Radicale with htpasswd (plain) authentication and owner_only rights."""
    pytest.importorskip("radicale", reason="Radicale is in the test extra: pip install -e '.[test]'")
    with _server_folder("radicale") as folder:
        port = free_port()
        (folder / "users").write_text(f"{RADICALE_USER}:{RADICALE_PASSWORD}\n")
        (folder / "config").write_text(
            "[server]\n"
            f"hosts = 127.0.0.1:{port}\n"
            "[auth]\n"
            "type = htpasswd\n"
            f"htpasswd_filename = {folder / 'users'}\n"
            "htpasswd_encryption = plain\n"
            "delay = 0\n"
            "[rights]\n"
            "type = owner_only\n"
            "[storage]\n"
            f"filesystem_folder = {folder / 'collections'}\n"
            "[logging]\n"
            "level = warning\n"
        )
        base = f"http://127.0.0.1:{port}"
        args = [sys.executable, "-m", "radicale", "--config", str(folder / "config")]
        process = _start("radicale", args, folder, base + "/")
        try:
            yield DavServer(
                "radicale",
                base,
                f"{base}/{RADICALE_USER}/",
                RADICALE_USER,
                RADICALE_PASSWORD,
                process,
                folder,
            )
        finally:
            _stop(process)


@pytest.fixture(scope="session")
def xandikos_server() -> Iterator[DavServer]:
    """Xandikos (no authentication) with its default principal ``/user/``."""
    pytest.importorskip("xandikos", reason="Xandikos is in the test extra: pip install -e '.[test]'")
    with _server_folder("xandikos") as folder:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        args = [
            sys.executable,
            "-m",
            "xandikos.web",
            "--defaults",
            "--no-detect-systemd",
            "-d",
            str(folder / "data"),
            "-l",
            "127.0.0.1",
            "-p",
            str(port),
            "--current-user-principal",
            f"/{XANDIKOS_USER}/",
        ]
        process = _start("xandikos", args, folder, base + "/")
        try:
            yield DavServer(
                "xandikos", base, f"{base}/{XANDIKOS_USER}/calendars/", None, None, process, folder
            )
        finally:
            _stop(process)


@dataclass
class DavCalendar:
    """A fresh calendar collection on one of the test servers."""

    server: DavServer
    url: str

    def client(self, **kwargs: Any) -> CaldavClient:
        """calsync's client for this calendar (fast retries, so failure tests stay quick)."""
        kwargs.setdefault("username", self.server.username)
        kwargs.setdefault("password", self.server.password)
        kwargs.setdefault("backoff", 0.01)
        kwargs.setdefault("timeout", 10.0)
        return CaldavClient(self.url, **kwargs)


@pytest.fixture(params=["radicale", "xandikos"])
def caldav_calendar(request: pytest.FixtureRequest) -> DavCalendar:
    """A fresh, empty calendar on each server in turn."""
    server: DavServer = request.getfixturevalue(f"{request.param}_server")
    return DavCalendar(server, server.make_calendar())
