"""A real Home Assistant core for the tests, started on loopback by pytest.

A pytest plugin module: load it with ``pytest_plugins = ["ha_server"]`` in a test module.

* ``ha_server`` (session scope): Home Assistant running as a subprocess on 127.0.0.1 with a free
  port, onboarded through its API (owner user, auth code, access token, long-lived token), with a
  minimal ``configuration.yaml`` (no ``default_config``), started with ``--skip-pip``.
  :meth:`HaServer.calendar` makes a new Local Calendar through the config-flow API;
  :class:`HaPerson` changes calendars behind calsync's back over the websocket API.

Home Assistant is installed once into its own virtual environment and reused:
``$CALSYNC_HA_VENV``, else ``~/.cache/calsync-tests/ha-<version>-py<XY>``. The release is the
newest that installs on the running Python (see ``../shared/HOME-ASSISTANT.md``). The install
uses ``uv pip install`` (uv comes from PyPI into that environment) with the lock file
``tests/ha-requirements-py<XY>.txt`` when there is one, else HA's own ``package_constraints.txt``;
it is built in a temporary folder and renamed into place when complete, under a lock file, so a
killed install is never reused and two test runs never install at once. Only the install uses the
network (the package registry); at run time everything stays on loopback. The 150-230 MB frontend
package is replaced by a stand-in ``hass_frontend`` generated at test time.

When Home Assistant cannot be installed or started, the tests that need it FAIL with the reason;
``CALSYNC_SKIP_HA=1`` skips them instead (for machines without a package registry).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from websockets.sync.client import ClientConnection, connect

from support import free_port

HERE = Path(__file__).resolve().parent
RELEASES = {(3, 11): "2024.3.3", (3, 12): "2025.1.4", (3, 13): "2025.4.4"}
"""The newest ``homeassistant`` that installs on each Python (3.14.2+: the newest of all)."""
NEWEST = "2026.11.0"
EXTRA_INTEGRATIONS = ("http", "recorder", "image_upload", "file_upload", "local_calendar")
"""Integrations the tests load (directly or as dependencies) whose requirements HA's core lacks."""
PINS = ("josepy<2", "pyparsing<3.3")
"""``acme`` fails with josepy 2; ``ical`` cannot re-read its store with pyparsing 3.3."""
HA_TIME_ZONE = "America/New_York"
"""Not the plans' zone: HA answers in its own zone, and calsync must not care."""
STARTUP_SECONDS = 90.0
OWNER = ("calsync-test", "test-password-1")


def release() -> str:
    """The Home Assistant release for the running Python."""
    return RELEASES.get(sys.version_info[:2], NEWEST)


def cache_key() -> str:
    """What the environment is built from, hashed: the lock file (else the release), the pins and
    the integrations; a change makes a new environment, never reuses a stale one."""
    lock = lock_file()
    digest = hashlib.sha256(lock.read_bytes() if lock else f"homeassistant=={release()}".encode())
    digest.update("\n".join((*PINS, *EXTRA_INTEGRATIONS)).encode())
    return digest.hexdigest()[:12]


def cache_dir() -> Path:
    """Where the Home Assistant virtual environment lives (kept between runs)."""
    configured = os.environ.get("CALSYNC_HA_VENV")
    if configured:
        return Path(configured)
    tag = f"ha-{release()}-py{sys.version_info[0]}{sys.version_info[1]}-{cache_key()}"
    return Path.home() / ".cache" / "calsync-tests" / tag


def lock_file() -> Path | None:
    """Our frozen requirements for this Python, when we have one for this release."""
    path = HERE / f"ha-requirements-py{sys.version_info[0]}{sys.version_info[1]}.txt"
    if path.is_file() and f"homeassistant=={release()}" in path.read_text():
        return path
    return None


# --- the install ------------------------------------------------------------------------------


class InstallError(RuntimeError):
    """Home Assistant could not be installed (most likely: no package registry)."""


def _run(args: list[str], what: str, timeout: float = 900) -> None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as err:
        raise InstallError(f"{what} took more than {timeout:g} s") from err
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-3000:]
        raise InstallError(f"{what} failed ({done.returncode}):\n{tail}")


def _constraints(python: Path, folder: Path) -> tuple[list[str], Path]:
    """Requirements and constraints read from the release's own wheel (no lock file)."""
    wheels = folder / "wheel"
    _run(
        [
            str(python),
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "-d",
            str(wheels),
            f"homeassistant=={release()}",
        ],
        "downloading the homeassistant wheel",
    )
    (wheel,) = wheels.glob("homeassistant-*.whl")
    requirements = [f"homeassistant=={release()}", *PINS]
    with zipfile.ZipFile(wheel) as archive:
        constraints = archive.read("homeassistant/package_constraints.txt").decode()
        for domain in EXTRA_INTEGRATIONS:
            manifest = json.loads(archive.read(f"homeassistant/components/{domain}/manifest.json"))
            requirements += manifest.get("requirements", [])
    kept = [line for line in constraints.splitlines() if "home-assistant-frontend" not in line]
    path = folder / "constraints.txt"
    path.write_text("\n".join(kept) + "\n")
    return requirements, path


def _install_into(venv: Path, work: Path) -> None:
    _run([sys.executable, "-m", "venv", str(venv)], "creating a virtual environment")
    python = venv / "bin" / "python"
    lock = lock_file()
    if lock is not None:
        plan: list[str] = ["-r", str(lock)]
    else:
        requirements, constraints = _constraints(python, work)
        plan = ["-c", str(constraints), *requirements]
    try:
        _run([str(python), "-m", "pip", "install", "-q", "uv"], "installing uv")
        uv = venv / "bin" / "uv"
        _run([str(uv), "pip", "install", "-q", "--python", str(python), *plan], "uv pip install")
    except InstallError:  # no uv for this machine: pip does it, slower
        _run([str(python), "-m", "pip", "install", "-q", *plan], "pip install")
    _run(
        [str(python), "-c", "import homeassistant.__main__, sqlalchemy, PIL, ical"], "importing homeassistant"
    )


COMPLETE = "calsync-complete"
"""In an environment these tests finished installing."""
BUILDING = "calsync-building"
"""In an environment these tests are installing (or a killed install left)."""


def _runs(python: Path) -> bool:
    """Whether the environment's Python starts (its base Python may have been removed)."""
    try:
        done = subprocess.run(
            [str(python), "-c", "import homeassistant"], check=False, capture_output=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def ensure_installed() -> Path:
    """The Python of a complete Home Assistant environment, installing it if needed. A folder
    in the way that these tests did not make is never removed: that is an InstallError."""
    target = cache_dir()
    python = target / "bin" / "python"
    if (target / COMPLETE).is_file() and _runs(python):
        return python
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be installing it right now
        if (target / COMPLETE).is_file() and _runs(python):
            return python
        if target.exists():
            if not ((target / COMPLETE).is_file() or (target / BUILDING).is_file()):
                raise InstallError(
                    f"{target} is in the way and was not made by these tests; "
                    "move it away or point CALSYNC_HA_VENV at another folder"
                )
            shutil.rmtree(target)  # ours: an unfinished install, or one whose Python no longer runs
        building = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            (building / "venv").mkdir()
            (building / "venv" / BUILDING).write_text("an unfinished install of the calsync tests\n")
            _install_into(building / "venv", building)
            (building / "venv" / COMPLETE).write_text(f"homeassistant=={release()}\n")
            (building / "venv" / BUILDING).unlink()
            # a venv run as `python -m` works after a rename (no script shebangs are used)
            os.rename(building / "venv", target)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return target / "bin" / "python"


# --- the server -------------------------------------------------------------------------------


CONFIGURATION = """\
homeassistant:
  name: calsync tests
  latitude: 52.52
  longitude: 13.40
  elevation: 34
  unit_system: metric
  time_zone: {zone}
  currency: EUR
  country: DE
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
websocket_api:
auth:
onboarding:
config:
calendar:
logger:
  default: warning
"""

STAND_IN_FRONTEND = '''\
"""A stand-in for home-assistant-frontend (150-230 MB): the API needs only where()."""
from pathlib import Path


def where() -> Path:
    return Path(__file__).parent / "www"
'''


@dataclass
class HaServer:
    """A running Home Assistant."""

    url: str
    """``http://127.0.0.1:<port>``."""
    token: str
    """A long-lived access token of the owner."""
    process: subprocess.Popen[bytes]
    folder: Path
    version: str
    calendars: list[str] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        """The websocket API."""
        return "ws" + self.url[4:] + "/api/websocket"

    def rest(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A REST request with the owner's token."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def calendar(self, name: str | None = None) -> str:
        """A new, empty Local Calendar; its entity id."""
        name = name or f"t {uuid.uuid4().hex[:10]}"
        flow = self.rest("POST", "/api/config/config_entries/flow", json={"handler": "local_calendar"})
        flow.raise_for_status()
        flow_id = flow.json()["flow_id"]
        done = self.rest("POST", f"/api/config/config_entries/flow/{flow_id}", json={"calendar_name": name})
        done.raise_for_status()
        assert done.json()["type"] == "create_entry", done.text
        entity_id = "calendar." + "_".join(name.lower().replace("-", " ").split())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            listed = self.rest("GET", "/api/calendars").json()
            if any(c["entity_id"] == entity_id for c in listed):
                self.calendars.append(entity_id)
                return entity_id
            time.sleep(0.05)
        raise RuntimeError(f"{entity_id} did not appear in /api/calendars: {listed}")

    def events(
        self, entity_id: str, start: str = "2020-01-01T00:00:00Z", end: str = "2035-01-01T00:00:00Z"
    ) -> list[dict[str, Any]]:
        """Every event of a calendar in a wide window, as the REST API gives them."""
        answer = self.rest("GET", f"/api/calendars/{entity_id}", params={"start": start, "end": end})
        answer.raise_for_status()
        return list(answer.json())

    def state(self, entity_id: str) -> dict[str, Any] | None:
        """An entity's state object (None when HA has no such entity)."""
        answer = self.rest("GET", f"/api/states/{entity_id}")
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return dict(answer.json())

    @contextlib.contextmanager
    def person(self) -> Iterator[HaPerson]:
        """Someone using HA's UI: websocket commands with the owner's token."""
        with connect(self.ws_url, open_timeout=30) as ws:
            _ws_auth(ws, self.token)
            yield HaPerson(ws)


class HaPerson:
    """Websocket calendar commands, as HA's UI sends them."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_id = 1

    def command(self, kind: str, **fields: Any) -> Any:
        """Send one command; its result (raises on an error answer)."""
        ident = self.next_id
        self.next_id += 1
        self.ws.send(json.dumps({"id": ident, "type": kind, **fields}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == ident and message.get("type") == "result":
                if not message["success"]:
                    raise RuntimeError(f"{kind}: {message['error']}")
                return message.get("result")

    def create(self, entity_id: str, **event: Any) -> None:
        """``calendar/event/create`` (summary, dtstart, dtend, description, location, rrule)."""
        self.command("calendar/event/create", entity_id=entity_id, event=event)

    def update(self, entity_id: str, uid: str, recurrence_id: str | None = None, **event: Any) -> None:
        """``calendar/event/update``: a partial merge (dtstart, dtend and summary are required)."""
        extra = {"recurrence_id": recurrence_id} if recurrence_id else {}
        self.command("calendar/event/update", entity_id=entity_id, uid=uid, event=event, **extra)

    def delete(self, entity_id: str, uid: str, recurrence_id: str | None = None) -> None:
        """``calendar/event/delete``."""
        extra = {"recurrence_id": recurrence_id} if recurrence_id else {}
        self.command("calendar/event/delete", entity_id=entity_id, uid=uid, **extra)


def _ws_auth(ws: ClientConnection, token: str) -> None:
    hello = json.loads(ws.recv(timeout=30))
    assert hello["type"] == "auth_required", hello
    ws.send(json.dumps({"type": "auth", "access_token": token}))
    answer = json.loads(ws.recv(timeout=30))
    assert answer["type"] == "auth_ok", answer


def _log_tail(folder: Path) -> str:
    texts = []
    for name in ("ha.out", "home-assistant.log"):
        path = folder / name
        if path.is_file():
            texts.append(f"--- {name}\n" + path.read_text(errors="replace")[-3000:])
    return "\n".join(texts)


def _wait_for(process: subprocess.Popen[bytes], folder: Path, probe: str, what: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"Home Assistant exited with {process.returncode} at start:\n{_log_tail(folder)}"
            )
        try:
            if requests.get(probe, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"Home Assistant: {what} not within {STARTUP_SECONDS:g} s:\n{_log_tail(folder)}")


def _onboard(url: str) -> str:
    """Create the owner and return a long-lived access token."""
    client_id = url + "/"
    user = requests.post(
        url + "/api/onboarding/users",
        json={
            "client_id": client_id,
            "name": "Runner",
            "username": OWNER[0],
            "password": OWNER[1],
            "language": "en",
        },
        timeout=30,
    )
    user.raise_for_status()
    token = requests.post(
        url + "/auth/token",
        data={"grant_type": "authorization_code", "code": user.json()["auth_code"], "client_id": client_id},
        timeout=30,
    )
    token.raise_for_status()
    access = token.json()["access_token"]
    with connect("ws" + url[4:] + "/api/websocket", open_timeout=30) as ws:
        _ws_auth(ws, access)
        person = HaPerson(ws)
        return str(person.command("auth/long_lived_access_token", client_name="calsync tests", lifespan=3650))


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """For ``preexec_fn``: Home Assistant gets SIGTERM when the test process dies, even by SIGKILL
    (Linux ``PR_SET_PDEATHSIG``; elsewhere None: stop_server is all there is)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def arm() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


PR_SET_PDEATHSIG = 1


def start_server(python: Path, folder: Path) -> HaServer:
    """Start Home Assistant in ``folder`` and onboard it."""
    port = free_port()
    (folder / "configuration.yaml").write_text(CONFIGURATION.format(zone=HA_TIME_ZONE, port=port))
    stand_in = folder / "stand-in" / "hass_frontend"
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text(STAND_IN_FRONTEND)
    process = _launch(python, folder)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(process, folder, url + "/api/onboarding", "no answer")
        token = _onboard(url)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            config = requests.get(
                url + "/api/config", headers={"Authorization": f"Bearer {token}"}, timeout=5
            )
            if config.ok and config.json().get("state") == "RUNNING":
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"Home Assistant never reached RUNNING:\n{_log_tail(folder)}")
        version = str(config.json().get("version"))
    except BaseException:
        stop_server(process)
        raise
    return HaServer(url, token, process, folder, version)


def _launch(python: Path, folder: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(folder / "stand-in")
    with (folder / "ha.out").open("ab") as out:
        return subprocess.Popen(
            [str(python), "-m", "homeassistant", "-c", str(folder), "--skip-pip"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
            env=env,
            start_new_session=True,  # Ctrl-C in pytest does not reach it mid-test; we stop it
            preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509 - the point of it
        )


def restart_server(python: Path, server: HaServer) -> None:
    """Stop Home Assistant and start it again on the same folder and port (its stored calendars
    are read back from disk); the token stays valid."""
    stop_server(server.process)
    server.process = _launch(python, server.folder)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"Home Assistant exited at restart:\n{_log_tail(server.folder)}")
        try:
            config = server.rest("GET", "/api/config")
            if config.ok and config.json().get("state") == "RUNNING":
                calendars = {c["entity_id"] for c in server.rest("GET", "/api/calendars").json()}
                if set(server.calendars) <= calendars:
                    return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"Home Assistant did not come back:\n{_log_tail(server.folder)}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL (a stop can hang on non-daemon threads)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def ha_python() -> Path:
    """The Python of the Home Assistant environment (installed on first use)."""
    if os.environ.get("CALSYNC_SKIP_HA") == "1":
        pytest.skip("CALSYNC_SKIP_HA=1: Home Assistant tests skipped")
    try:
        return ensure_installed()
    except InstallError as err:
        failure = str(err)
    pytest.fail(
        f"Home Assistant {release()} could not be installed into {cache_dir()}: {failure}\n"
        "These tests need the package registry once (CALSYNC_SKIP_HA=1 skips them).",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def ha_server(ha_python: Path) -> Iterator[HaServer]:
    """A running, onboarded Home Assistant on loopback for the whole test session."""
    folder = Path(tempfile.mkdtemp(prefix="calsync-ha-"))
    try:
        server = start_server(ha_python, folder)
        try:
            yield server
        finally:
            stop_server(server.process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
