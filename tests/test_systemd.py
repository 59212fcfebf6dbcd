"""The systemd units in systemd/: `systemd-analyze verify` is clean, the hardening is there, the
exposure score stays low, and each unit's command line works with our CLI under its own sandbox.

The units name the installed executable (/opt/calsync/bin/calsync, ~/.local/bin/calsync) and
`verify` checks that it exists, so each test copies the units to a temporary folder and rewrites
that one path to this venv's `calsync`; everything else is verified as committed.

`systemd-analyze` must be there (.ci/run installs Debian's systemd when it is not): without it
these tests fail, unless CALSYNC_SKIP_SYSTEMD=1 says to skip them.

Exposure scores (`systemd-analyze security --offline=true`, systemd 252): 1.1 "OK" for
calsync.service, calsync@.service and calsync-rebuild.service; 6.3 "MEDIUM" for the --user units,
which cannot use the mount-namespace options (docs/systemd.md says why).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from support import free_port

ROOT = Path(__file__).resolve().parents[1]
UNIT_DIR = ROOT / "systemd"
USER_UNIT_DIR = UNIT_DIR / "user"
CALSYNC = Path(sys.executable).parent / "calsync"

INSTALLED = {"system": "/opt/calsync/bin/calsync", "user": "%h/.local/bin/calsync"}
"""The executable each kind of unit names (docs/systemd.md: the install layout)."""
CONFIG_DIR = {"system": "/etc/calsync/", "user": "%E/calsync/"}

SYSTEM_UNITS = sorted(p.name for p in UNIT_DIR.iterdir() if p.suffix in (".service", ".timer"))
USER_UNITS = sorted(p.name for p in USER_UNIT_DIR.iterdir() if p.suffix in (".service", ".timer"))

EXPOSURE_MAX = {"system": 2.0, "user": 6.5}
"""`systemd-analyze security` exposure (0 best, 10 worst): 1.1 and 6.3 today; these catch a regression."""

HARDENING: dict[str, str] = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "PrivateUsers": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "ProtectProc": "invisible",
    "ProcSubset": "pid",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "SystemCallArchitectures": "native",
    "SystemCallErrorNumber": "EPERM",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "UMask": "0077",
    "DynamicUser": "yes",
    "ConfigurationDirectory": "calsync",
}
"""What every system service sets (calsync@.service's StateDirectory is calsync/%i)."""

USER_HARDENING: dict[str, str] = {
    key: HARDENING[key]
    for key in (
        "NoNewPrivileges",
        "RestrictNamespaces",
        "RestrictRealtime",
        "RestrictSUIDSGID",
        "LockPersonality",
        "MemoryDenyWriteExecute",
        "RestrictAddressFamilies",
        "SystemCallArchitectures",
        "SystemCallErrorNumber",
        "UMask",
    )
}
SYSCALL_FILTER = ["@system-service", "~@privileged @resources"]

# Runs a command the way systemd would under the unit's seccomp and prctl() settings:
# NoNewPrivileges, MemoryDenyWriteExecute (the kernel's PR_SET_MDWE), SystemCallFilter= with
# SystemCallErrorNumber=EPERM, RestrictAddressFamilies= and UMask=, through libseccomp (which
# systemd itself uses; it comes with Debian's systemd package). argv[1] is a JSON spec.
SANDBOX = r"""
import ctypes, json, os, sys

spec = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
    raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
if spec["mdwe"] and libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    raise OSError(ctypes.get_errno(), "PR_SET_MDWE")


class Cmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]


sc = ctypes.CDLL("libseccomp.so.2")
sc.seccomp_init.restype = ctypes.c_void_p
sc.seccomp_init.argtypes = [ctypes.c_uint32]
sc.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
sc.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
sc.seccomp_rule_add_array.argtypes = [
    ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(Cmp)
]
sc.seccomp_load.argtypes = [ctypes.c_void_p]
ALLOW, EPERM, CMP_EQ = 0x7FFF0000, 0x00050000 | 1, 4
ctx = sc.seccomp_init(EPERM)
for name in spec["allow"]:
    nr = sc.seccomp_syscall_resolve_name(name.encode())
    if nr >= 0 and name != "socket" and sc.seccomp_rule_add(ctx, ALLOW, nr, 0) != 0:
        raise OSError("seccomp_rule_add " + name)
if "socket" in spec["allow"]:
    nr = sc.seccomp_syscall_resolve_name(b"socket")
    for family in spec["families"]:
        if sc.seccomp_rule_add_array(ctx, ALLOW, nr, 1, ctypes.byref(Cmp(0, CMP_EQ, family, 0))) != 0:
            raise OSError("seccomp_rule_add socket")
if sc.seccomp_load(ctx) != 0:
    raise OSError("seccomp_load")
os.umask(spec["umask"])
os.execv(sys.argv[2], sys.argv[2:])
"""


@pytest.fixture(scope="session")
def analyze() -> str:
    """The systemd-analyze executable: missing fails the test (CI installs it), unless skipped on purpose."""
    path = shutil.which("systemd-analyze")
    if path is None:
        if os.environ.get("CALSYNC_SKIP_SYSTEMD") == "1":
            pytest.skip("systemd-analyze is not installed and CALSYNC_SKIP_SYSTEMD=1")
        pytest.fail(
            "systemd-analyze is not installed: `apt-get install --no-install-recommends systemd` "
            "(.ci/run does), or set CALSYNC_SKIP_SYSTEMD=1 to skip the systemd tests"
        )
    return path


def kind_of(name: str) -> str:
    """``user/calsync.service`` -> "user", ``calsync.service`` -> "system"."""
    return "user" if name.startswith("user/") else "system"


def source(name: str) -> Path:
    return UNIT_DIR / name


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every value assigned, in order (comments and blank lines dropped)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def stage(units: Path, kind: str, dest: Path) -> Path:
    """Copy one kind's units to ``dest``, the executable path rewritten to this venv's calsync."""
    dest.mkdir(parents=True, exist_ok=True)
    for unit in sorted(units.iterdir()):
        if unit.suffix not in (".service", ".timer"):
            continue
        text = unit.read_text(encoding="utf-8")
        if unit.suffix == ".service":
            assert INSTALLED[kind] + " " in text, f"{unit.name} should run {INSTALLED[kind]}"
        (dest / unit.name).write_text(text.replace(INSTALLED[kind], str(CALSYNC)), encoding="utf-8")
    return dest


def analyze_env(tmp_path: Path) -> dict[str, str]:
    """The environment for systemd-analyze; --user needs a runtime dir, which a container may lack."""
    env = dict(os.environ)
    if not env.get("XDG_RUNTIME_DIR"):
        runtime = tmp_path / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    return env


@pytest.mark.parametrize("name", [*SYSTEM_UNITS, *(f"user/{u}" for u in USER_UNITS)])
def test_verify_is_clean(analyze: str, name: str, tmp_path: Path) -> None:
    kind = kind_of(name)
    staged = stage(source(name).parent, kind, tmp_path / "units")
    unit = staged / source(name).name
    mode = ["--user"] if kind == "user" else []
    result = subprocess.run(
        [analyze, *mode, "verify", str(unit)],
        cwd=staged,
        env=analyze_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # No warning either: an unknown key or a bad value is only a warning to systemd.
    assert result.stderr == "", result.stderr
    assert result.stdout == "", result.stdout


def test_every_kind_of_unit_is_there() -> None:
    assert {
        "calsync.service",
        "calsync@.service",
        "calsync-rebuild.service",
        "calsync-rebuild.timer",
    } <= set(SYSTEM_UNITS)
    assert {"calsync.service", "calsync-rebuild.service", "calsync-rebuild.timer"} <= set(USER_UNITS)


@pytest.mark.parametrize("name", [u for u in SYSTEM_UNITS if u.endswith(".service")])
def test_system_services_are_hardened(name: str) -> None:
    service = parse_unit(source(name).read_text(encoding="utf-8"))["Service"]
    for key, value in HARDENING.items():
        assert service.get(key, [None])[-1] == value, f"{name}: {key}={value} expected"
    assert service["SystemCallFilter"] == SYSCALL_FILTER
    state = "calsync/%i" if name == "calsync@.service" else "calsync"
    assert service["StateDirectory"] == [state]
    credentials = service["LoadCredential"]
    assert {c.split(":")[0] for c in credentials} == {"dav", "ics", "ha", "feed-token"}
    if name == "calsync@.service":
        assert all(":calsync-%i." in c for c in credentials), "each instance has its own secrets"
        assert service["ExecStart"][0].endswith("--config /etc/calsync/%i.toml daemon")
        assert service["User"] == ["calsync-%i"]
    else:
        assert service["User"] == ["calsync"], "the daemon and the timer share one user and its state"


@pytest.mark.parametrize("name", [u for u in SYSTEM_UNITS if u.endswith(".service")])
def test_system_services_need_the_network(name: str) -> None:
    unit = parse_unit(source(name).read_text(encoding="utf-8"))["Unit"]
    assert "network-online.target" in unit["Wants"]
    assert "network-online.target" in unit["After"]


@pytest.mark.parametrize("name", ["calsync.service", "calsync@.service", "user/calsync.service"])
def test_daemon_services_restart_reload_and_stop(name: str) -> None:
    service = parse_unit(source(name).read_text(encoding="utf-8"))["Service"]
    assert service["ExecStart"][0].split()[-1] == "daemon"
    assert service["Type"] == ["notify"], "started once the daemon says READY=1 (its handlers set)"
    assert service["NotifyAccess"] == ["main"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert service["Restart"] == ["on-failure"]
    assert service["RestartSec"] == ["30s"]
    assert service["RestartPreventExitStatus"] == ["2"], "a bad config is not retried"
    assert service["TimeoutStopSec"] == ["30s"]


@pytest.mark.parametrize("name", ["calsync-rebuild.timer", "user/calsync-rebuild.timer"])
def test_timers(name: str) -> None:
    timer = parse_unit(source(name).read_text(encoding="utf-8"))["Timer"]
    assert timer["OnCalendar"] == ["*-*-* *:00/15:00"]
    assert timer["Persistent"] == ["true"]
    assert timer["RandomizedDelaySec"] == ["2min"]
    service = parse_unit(source(name.replace(".timer", ".service")).read_text(encoding="utf-8"))
    assert service["Service"]["Type"] == ["oneshot"]
    assert service["Service"]["ExecStart"][0].split()[-1] == "rebuild"


@pytest.mark.parametrize("name", [u for u in USER_UNITS if u.endswith(".service")])
def test_user_services_are_hardened(name: str) -> None:
    service = parse_unit(source(f"user/{name}").read_text(encoding="utf-8"))["Service"]
    for key, value in USER_HARDENING.items():
        assert service.get(key, [None])[-1] == value, f"user/{name}: {key}={value} expected"
    assert service["SystemCallFilter"] == SYSCALL_FILTER
    assert service["StateDirectory"] == ["calsync"], "%S/calsync: where `calsync status` looks"
    assert service["ConfigurationDirectory"] == ["calsync"]


@pytest.mark.parametrize(
    "name", [*(u for u in SYSTEM_UNITS if u.endswith(".service")), "user/calsync.service"]
)
def test_security_exposure_is_low(analyze: str, name: str, tmp_path: Path) -> None:
    kind = kind_of(name)
    staged = stage(source(name).parent, kind, tmp_path / "units")
    mode = ["--user"] if kind == "user" else []
    result = subprocess.run(
        [analyze, *mode, "security", "--offline=true", str(staged / source(name).name)],
        env=analyze_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if "--offline" in result.stderr and "unrecognized option" in result.stderr:
        pytest.skip("this systemd-analyze has no `security --offline` (systemd < 250)")
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d) (\w+)", result.stdout)
    assert found, result.stdout
    exposure = float(found.group(1))
    assert exposure <= EXPOSURE_MAX[kind], result.stdout
    if kind == "system":
        assert found.group(2) == "OK", result.stdout


# --- the command lines -----------------------------------------------------------------------


def write_config(folder: Path, name: str, port: int = 8765, target: str = "ics_file") -> Path:
    """A tiny config: a weekly long run from next Sunday in an .ics file; sessions to an .ics file
    (or to a served ``feed``)."""
    today = date.today()
    sunday = today + timedelta(days=(6 - today.weekday()) % 7 or 7)
    day = sunday.strftime("%Y%m%d")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//calsync tests//systemd//EN",
        "BEGIN:VEVENT",
        "UID:long-run@calsync.test",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID=Europe/Berlin:{day}T070000",
        f"DTEND;TZID=Europe/Berlin:{day}T100000",
        "RRULE:FREQ=WEEKLY;COUNT=6",
        "SUMMARY:Long Run 25 km",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plan.ics").write_bytes("\r\n".join(lines).encode())
    config = folder / f"{name}.toml"
    config.write_text(
        f"""[daemon]
rebuild_at = "off"

[daemon.feeds]
port = {port}

[[plan]]
id = "smoke"
timezone = "Europe/Berlin"
horizon_weeks = 4

[[plan.source]]
kind = "ics_file"
path = "plan.ics"

[plan.target]
kind = "{target}"
"""
        + ('path = "out/smoke-strength.ics"\n' if target == "ics_file" else ""),
        encoding="utf-8",
    )
    return config


def exec_start(name: str, config_dir: Path, instance: str = "smoke") -> list[str]:
    """The unit's ExecStart= as argv, with the executable, the config folder and %i put here."""
    kind = kind_of(name)
    [line] = parse_unit(source(name).read_text(encoding="utf-8"))["Service"]["ExecStart"]
    line = line.replace(INSTALLED[kind], str(CALSYNC)).replace(CONFIG_DIR[kind], f"{config_dir}/")
    line = line.replace("%i", instance)
    assert "%" not in line, f"a specifier left in {line!r}"
    argv = shlex.split(line)
    assert argv[:2] == [str(CALSYNC), "--config"], argv
    return argv


@functools.cache
def syscall_group(analyze: str, group: str) -> frozenset[str]:
    """The system calls of a `@group`, nested groups expanded."""
    out = subprocess.run(
        [analyze, "syscall-filter", group], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    names: set[str] = set()
    for raw in out.splitlines()[1:]:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        names |= syscall_group(analyze, line) if line.startswith("@") else {line}
    return frozenset(names)


def sandbox_spec(analyze: str, name: str) -> dict[str, object]:
    """The unit's own seccomp and prctl() settings, as the SANDBOX runner takes them."""
    service = parse_unit(source(name).read_text(encoding="utf-8"))["Service"]
    allow: set[str] = set()
    for entry in service["SystemCallFilter"]:
        deny = entry.startswith("~")
        groups: set[str] = set()
        for item in entry.removeprefix("~").split():
            groups |= syscall_group(analyze, item) if item.startswith("@") else {item}
        allow = allow - groups if deny else allow | groups
    families = [getattr(socket, f) for f in service["RestrictAddressFamilies"][-1].split()]
    assert service["SystemCallErrorNumber"] == ["EPERM"], "SANDBOX denies with EPERM, as the unit"
    return {
        "allow": sorted(allow),
        "families": families,
        "mdwe": service["MemoryDenyWriteExecute"] == ["yes"],
        "umask": int(service["UMask"][-1], 8),
    }


def sandboxed(spec: dict[str, object], argv: list[str]) -> list[str]:
    return [sys.executable, "-c", SANDBOX, json.dumps(spec), *argv]


def run(argv: list[str], state: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STATE_DIRECTORY": str(state)}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120)


def test_the_sandbox_is_real(analyze: str, tmp_path: Path) -> None:
    """What the unit forbids fails in SANDBOX: so the runs below really ran under those rules."""
    spec = sandbox_spec(analyze, "calsync.service")
    probes = {
        "setuid": "import os; os.setuid(0)",
        "W+X memory": "import mmap; mmap.mmap(-1, 4096, prot=7)",
        "netlink": "import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)",
        "sched_setaffinity (@resources)": "import os; os.sched_setaffinity(0, {0})",
    }
    for what, code in probes.items():
        result = run(sandboxed(spec, [sys.executable, "-c", code]), tmp_path, tmp_path)
        assert result.returncode == 1, f"{what} was allowed"
        assert "PermissionError" in result.stderr or "Operation not permitted" in result.stderr, result.stderr
    allowed = run(
        sandboxed(spec, [sys.executable, "-c", "import socket; socket.socket()"]), tmp_path, tmp_path
    )
    assert allowed.returncode == 0, allowed.stderr


def test_every_module_imports_in_the_sandbox(analyze: str, tmp_path: Path) -> None:
    """The CalDAV, Home Assistant, ICS-URL and feed code is not reached by the tiny config below:
    import all of calsync (and so its libraries) under the sandbox, and do some TLS and threads."""
    code = (
        "import importlib, pkgutil, ssl, threading, calsync\n"
        "for m in pkgutil.walk_packages(calsync.__path__, 'calsync.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "import requests\n"
        "ssl.create_default_context()\n"
        "t = threading.Thread(target=print, args=('threads ok',)); t.start(); t.join()\n"
    )
    result = run(
        sandboxed(sandbox_spec(analyze, "calsync.service"), [sys.executable, "-c", code]), tmp_path, tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "threads ok\n"


@pytest.mark.parametrize("name", ["calsync-rebuild.service", "user/calsync-rebuild.service"])
def test_rebuild_command_line_runs_a_pass_in_its_sandbox(analyze: str, name: str, tmp_path: Path) -> None:
    config_dir, state = tmp_path / "etc", tmp_path / "state"
    write_config(config_dir, "calsync")
    spec = sandbox_spec(analyze, name)
    result = run(sandboxed(spec, exec_start(name, config_dir)), state, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke: " in result.stdout, result.stdout
    assert " created" in result.stdout, result.stdout
    assert (state / "state.sqlite").stat().st_mode & 0o077 == 0, "UMask=0077: the state is private"
    assert (config_dir / "out" / "smoke-strength.ics").is_file()
    status = run(
        sandboxed(spec, [str(CALSYNC), "--config", str(config_dir / "calsync.toml"), "status"]),
        state,
        tmp_path,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert " ok" in status.stdout, status.stdout


DAEMON_UNITS = ["calsync.service", "calsync@.service", "user/calsync.service"]


@pytest.mark.parametrize("name", DAEMON_UNITS)
def test_daemon_command_line_config_is_valid(analyze: str, name: str, tmp_path: Path) -> None:
    """The --config of the daemon's command line works: `calsync check` with it, in the sandbox."""
    config_dir = tmp_path / "etc"
    write_config(config_dir, "smoke" if name == "calsync@.service" else "calsync")
    argv = exec_start(name, config_dir)
    assert argv[-1] == "daemon"
    result = run(sandboxed(sandbox_spec(analyze, name), [*argv[:-1], "check"]), tmp_path / "state", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "config ok" in result.stdout


@pytest.fixture(scope="module")
def has_daemon() -> None:
    """Skips when this calsync has no `daemon` command yet (issue 4 is adding it)."""
    result = subprocess.run([str(CALSYNC), "--help"], capture_output=True, text=True, check=True, timeout=60)
    if not re.search(r"^\s+daemon\b", result.stdout, re.MULTILINE):
        pytest.skip("`calsync --help` lists no `daemon` command yet: the daemon units cannot be run")


@pytest.mark.parametrize("name", DAEMON_UNITS)
def test_daemon_command_line_parses(has_daemon: None, name: str, tmp_path: Path) -> None:
    config_dir = tmp_path / "etc"
    write_config(config_dir, "smoke" if name == "calsync@.service" else "calsync")
    result = run([*exec_start(name, config_dir), "--help"], tmp_path / "state", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "usage:" in result.stdout
    assert "daemon" in result.stdout


@pytest.fixture
def daemon_process() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test; killed if the test leaves one running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


@pytest.mark.parametrize("name", DAEMON_UNITS)
def test_daemon_runs_in_its_sandbox_reloads_and_stops(
    analyze: str, has_daemon: None, daemon_process: list[subprocess.Popen[str]], name: str, tmp_path: Path
) -> None:
    """ExecStart under the unit's sandbox; ExecReload's SIGHUP keeps it running; SIGTERM stops it
    with exit 0 well within TimeoutStopSec=30s."""
    config_dir = tmp_path / "etc"
    port = free_port()
    write_config(config_dir, "smoke" if name == "calsync@.service" else "calsync", port=port, target="feed")
    env = {**os.environ, "STATE_DIRECTORY": str(tmp_path / "state")}
    process = subprocess.Popen(
        sandboxed(sandbox_spec(analyze, name), exec_start(name, config_dir)),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    daemon_process.append(process)
    deadline = time.monotonic() + 20
    listening = False
    while time.monotonic() < deadline and process.poll() is None and not listening:
        with socket.socket() as probe:
            listening = probe.connect_ex(("127.0.0.1", port)) == 0
        time.sleep(0.1)
    assert process.poll() is None, process.communicate()
    assert listening, f"the feed server never listened on 127.0.0.1:{port}"
    process.send_signal(signal.SIGHUP)
    time.sleep(1)
    assert process.poll() is None, f"SIGHUP (systemctl reload) stopped the daemon: {process.communicate()}"
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, out + err
    assert time.monotonic() - started < 10, "the daemon should stop within seconds of SIGTERM"


@pytest.mark.parametrize("unit", ["calsync.service", "calsync-rebuild.service", "calsync@anna.service"])
def test_one_config_reads_the_credentials_of_each_unit(
    unit: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/systemd.md: ``password_file = "${CREDENTIALS_DIRECTORY}/dav"`` names the secret that
    LoadCredential=dav:... gives whichever unit runs the config (each has its own folder)."""
    from calsync.config import CaldavTarget, load_config

    credentials = tmp_path / "run" / "credentials" / unit
    credentials.mkdir(parents=True)
    (credentials / "dav").write_text("app-password\n", encoding="utf-8")
    config = tmp_path / "calsync.toml"
    config.write_text(
        """[[plan]]
id = "me"
timezone = "Europe/Berlin"

[[plan.source]]
kind = "ics_file"
path = "plan.ics"

[plan.target]
kind = "caldav"
url = "https://dav.example.org/calendars/me/strength/"
username = "me"
password_file = "${CREDENTIALS_DIRECTORY}/dav"
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    target = load_config(config).plan[0].target
    assert isinstance(target, CaldavTarget)
    assert target.password_file == credentials / "dav"
    assert target.password("plan[me].target") == "app-password"
    names = {
        line.split("=", 1)[1].split(":")[0]
        for line in (UNIT_DIR / "calsync.service").read_text(encoding="utf-8").splitlines()
        if line.startswith("LoadCredential=")
    }
    assert "dav" in names
