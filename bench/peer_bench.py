"""calsync next to vdirsyncer on the same Radicale: one process per sync, as a user runs them.

Run it from the repository root with the project's interpreter::

    .venv/bin/python bench/peer_bench.py [--rounds 5] [--foreign 3000] [--in-place]

It installs vdirsyncer into its own virtual environment (``$TMPDIR/calsync-peer-bench-venv``,
kept between runs) and this checkout into another (``$TMPDIR/calsync-peer-bench-calsync-venv``,
with its runtime dependencies only, as ``pip install calsync`` gives it; ``--in-place`` measures
the calsync beside the Python that runs the bench instead), starts one Radicale (no
authentication, a temporary folder) behind a small counting proxy (every request by method, for
both tools alike), and measures, interleaved (one calsync run, one vdirsyncer run, and again),
medians of ``--rounds`` (at least 5):

* **idle sync, 62 sessions**: calsync ``sync`` of the bundled example (its run plan from a
  local file, its 62 sessions in a Radicale calendar) when nothing changed, and ``vdirsyncer
  sync`` of a local vdir holding the same 62 objects and a Radicale calendar, in sync;
* **a moved run**: a long run of the example moved to the next day (and back, the next round)
  in calsync's source file, and ``vdirsyncer sync`` after 6 of its local objects changed;
* **idle, with ``--foreign`` other events** in each Radicale calendar (the calendar a person
  shares with calsync, a vdir that syncs every event).

Wall time and CPU seconds (user + system of the process and its children) of each process, and
the requests each sent by method. Exit status 0 unless the bench itself breaks.
"""

from __future__ import annotations

import argparse
import base64
import compileall
import contextlib
import http.client
import importlib.util
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-27T07:30"
VENV = Path(tempfile.gettempdir()) / "calsync-peer-bench-venv"
VDIRSYNCER = "vdirsyncer==0.21.*"
CALSYNC_VENV = Path(tempfile.gettempdir()) / "calsync-peer-bench-calsync-venv"
"""calsync as ``pip install calsync`` gives it: this checkout, its runtime dependencies only (no
test extras: the caldav library's niquests brings urllib3-future, whose ``.pth`` file runs in
every process of an environment that has it)."""
USER, PASSWORD = "bench", "bench-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- a proxy that counts requests by method -------------------------------------------------------


class CountingProxy:
    """Forwards every request to the server and counts them by method."""

    def __init__(self, upstream_port: int) -> None:
        self.counts: Counter[str] = Counter()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.counts[self.command] += 1
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")
                }
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status, answer.reason)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length", "keep-alive"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            def log_message(self, *_: object) -> None:
                return

        for method in ("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PROPFIND", "PROPPATCH", "REPORT"):
            setattr(Handler, f"do_{method}", Handler._forward)
        Handler.do_MKCALENDAR = Handler._forward  # type: ignore[attr-defined]  # a WebDAV verb

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> Counter[str]:
        """The counts since the last call."""
        counts, self.counts = self.counts, Counter()
        return counts


@contextlib.contextmanager
def radicale(folder: Path) -> Iterator[CountingProxy]:
    port = free_port()
    (folder / "users").write_text(f"{USER}:{PASSWORD}\n")
    (folder / "config").write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = htpasswd\n"
        f"htpasswd_filename = {folder / 'users'}\nhtpasswd_encryption = plain\ndelay = 0\n"
        f"[rights]\ntype = owner_only\n[storage]\nfilesystem_folder = {folder / 'collections'}\n"
        "[logging]\nlevel = warning\n"
    )
    with (folder / "radicale.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(folder / "config")], stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("radicale did not start") from None
                time.sleep(0.05)
        proxy = CountingProxy(port)
        yield proxy
        proxy.server.shutdown()
    finally:
        process.terminate()
        process.wait(timeout=10)


def dav(base: str, method: str, path: str, body: str = "") -> int:
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=300)
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    if body:
        headers["Content-Type"] = "text/calendar; charset=utf-8"
    connection.request(method, path, body=body.encode() if body else None, headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


# ---- the two tools ---------------------------------------------------------------------------------


def vdirsyncer_bin() -> Path:
    exe = VENV / "bin" / "vdirsyncer"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", VDIRSYNCER], check=True)
    return exe


def calsync_bin(in_place: bool) -> Path:
    """The ``calsync`` to measure: this checkout installed (not editable) into its own virtual
    environment with its runtime dependencies, or with ``in_place`` the one beside this Python."""
    if in_place:
        return Path(sys.executable).parent / "calsync"
    pip = [str(CALSYNC_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    if not (CALSYNC_VENV / "bin" / "python").exists():  # remove the folder to take new dependencies
        subprocess.run([sys.executable, "-m", "venv", str(CALSYNC_VENV)], check=True)
        subprocess.run([*pip, str(ROOT)], check=True)  # the runtime dependencies, once
    subprocess.run([*pip, "--force-reinstall", "--no-deps", str(ROOT)], check=True)  # this checkout
    return CALSYNC_VENV / "bin" / "calsync"


def compile_calsync() -> None:
    """Compile the calsync this Python imports, as an installed package is (pip compiles it;
    vdirsyncer's venv has its bytecode): an editable install on a machine that sets
    PYTHONDONTWRITEBYTECODE would otherwise compile every module in every process timed."""
    spec = importlib.util.find_spec("calsync")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("calsync is not importable from this interpreter")
    for location in spec.submodule_search_locations:
        compileall.compile_dir(location, quiet=1)


def measured(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system, with children) and stdout of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _count_range(counts: list[int]) -> str:
    """A method's requests per run: one number when every run sent as many, else the range and mean
    (a moved run and its move back need not cost the same)."""
    low, high = min(counts), max(counts)
    if low == high:
        return str(low)
    return f"{low}-{high} (mean {statistics.mean(counts):.1f})"


class Row:
    """One row of the table: each tool's runs."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.runs: dict[str, list[tuple[float, float, Counter[str]]]] = {"calsync": [], "vdirsyncer": []}

    def add(self, tool: str, wall: float, cpu: float, counts: Counter[str]) -> None:
        self.runs[tool].append((wall, cpu, counts))

    def cell(self, tool: str) -> str:
        runs = self.runs[tool]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        methods = sorted({m for r in runs for m in r[2]})
        per_run = ", ".join(f"{m} {_count_range([r[2][m] for r in runs])}" for m in methods)
        return f"{wall:.2f} s wall, {cpu:.2f} s CPU ({per_run or 'no request'})"

    def ratio(self) -> str:
        mine = statistics.median(r[1] for r in self.runs["calsync"])
        theirs = statistics.median(r[1] for r in self.runs["vdirsyncer"])
        return f"{mine / theirs:.2f}x CPU"


def move_long_run(source: Path, forward: bool) -> None:
    """Move the example's first long run after NOW by one day (back again when not ``forward``)."""
    text = source.read_text()
    starts = [m for m in re.finditer(r"BEGIN:VEVENT.*?END:VEVENT", text, re.S) if "Long Run" in m.group(0)]
    chosen = next(m for m in starts if re.search(r"DTSTART[^:]*:2026120", m.group(0)))

    def shift(found: re.Match[str]) -> str:
        day = int(found.group(2))
        return f"{found.group(1)}{day + (1 if forward else -1):02d}"

    block = re.sub(r"((?:DTSTART|DTEND)[^:\n]*:202612)(\d\d)", shift, chosen.group(0))
    source.write_text(text[: chosen.start()] + block + text[chosen.end() :])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--foreign", type=int, default=3000)
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="measure the calsync beside this Python (default: this checkout in its own venv)",
    )
    args = parser.parse_args()
    rounds = max(5, args.rounds)
    vds = vdirsyncer_bin()
    calsync = calsync_bin(args.in_place)
    if args.in_place:
        compile_calsync()
    folder = Path(tempfile.mkdtemp(prefix="calsync-peer-bench-"))
    try:
        with radicale(folder) as proxy:
            return run(folder, proxy, vds, calsync, rounds=rounds, foreign=args.foreign)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(
    folder: Path, proxy: CountingProxy, vds: Path, calsync_exe: Path, *, rounds: int, foreign: int
) -> int:
    base = proxy.url
    for name in ("calsync", "vds"):
        assert dav(base, "MKCALENDAR", f"/bench/{name}/") in (200, 201)
    # calsync: the bundled example, its sessions in Radicale
    config_dir = folder / "calsync"
    shutil.copytree(ROOT / "config", config_dir)
    toml = config_dir / "example.toml"
    text = re.sub(
        r"^\[plan\.target\]\n(?:(?!\[).*\n)*",
        f'[plan.target]\nkind = "caldav"\nurl = "{base}/bench/calsync/"\nusername = "{USER}"\n'
        'password_env = "PEER_BENCH_PASSWORD"\n\n',
        toml.read_text(),
        flags=re.M,
    )
    toml.write_text(text)
    env = {**os.environ, "STATE_DIRECTORY": str(folder / "state"), "PEER_BENCH_PASSWORD": PASSWORD}
    calsync = [str(calsync_exe), "--config", str(toml)]
    measured([*calsync, "rebuild", "--now", NOW], env)
    # vdirsyncer: a vdir with the same 62 objects, synced once
    vdir = folder / "vdir"
    vdir.mkdir()
    objects = sorted((folder / "collections").rglob("calsync/*.ics"))
    for obj in objects:
        shutil.copy(obj, vdir / obj.name)
    sessions = len(objects)
    (folder / "vds.conf").write_text(
        f'[general]\nstatus_path = "{folder / "status"}/"\n\n'
        '[pair bench]\na = "local"\nb = "remote"\ncollections = null\nconflict_resolution = "a wins"\n\n'
        f'[storage local]\ntype = "filesystem"\npath = "{vdir}/"\nfileext = ".ics"\n\n'
        f'[storage remote]\ntype = "caldav"\nurl = "{base}/bench/vds/"\n'
        f'username = "{USER}"\npassword = "{PASSWORD}"\n'
    )
    vds_cmd = [str(vds), "-c", str(folder / "vds.conf")]
    venv_env = {**os.environ, "PATH": f"{vds.parent}:{os.environ['PATH']}"}
    measured([*vds_cmd, "discover"], venv_env)
    measured([*vds_cmd, "sync"], venv_env)
    proxy.take()

    rows = [
        Row(f"idle sync, {sessions} sessions"),
        Row("a moved run"),
        Row(f"idle, {foreign} other events in the calendar"),
    ]

    def timed(row: Row, tool: str, command: list[str], tool_env: dict[str, str]) -> str:
        proxy.take()
        wall, cpu, out = measured(command, tool_env)
        row.add(tool, wall, cpu, proxy.take())
        return out

    for _ in range(rounds):
        timed(rows[0], "calsync", [*calsync, "sync", "--now", NOW], env)
        timed(rows[0], "vdirsyncer", [*vds_cmd, "sync"], venv_env)
    source = config_dir / "example-plan.ics"
    changed = sorted(vdir.glob("*.ics"))[:6]
    for i in range(rounds):
        move_long_run(source, forward=i % 2 == 0)
        timed(rows[1], "calsync", [*calsync, "sync", "--now", NOW], env)
        for path in changed:
            body = path.read_text()
            body = re.sub(
                r"SUMMARY:([^\r\n]*?)( \(moved\))?(\r?\n)",
                lambda m: f"SUMMARY:{m.group(1)}{'' if m.group(2) else ' (moved)'}{m.group(3)}",
                body,
                count=1,
            )
            path.write_text(body)
        timed(rows[1], "vdirsyncer", [*vds_cmd, "sync"], venv_env)
    # other events: one PUT of a whole calendar into each collection (Radicale stores one object each)
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:other-{i}@bench\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART:2027{1 + i % 12:02d}{1 + i % 28:02d}T{9 + i % 8:02d}0000Z\r\nDURATION:PT1H\r\n"
        f"SUMMARY:Meeting {i}\r\nEND:VEVENT\r\n"
        for i in range(foreign)
    )
    whole = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n{events}END:VCALENDAR\r\n"
    for name in ("calsync", "vds"):
        assert dav(proxy.url, "PUT", f"/bench/{name}/", whole) in (200, 201, 204)
    measured([*calsync, "sync", "--now", NOW], env)
    measured([*vds_cmd, "sync"], venv_env)  # the vdir receives them once
    for _ in range(rounds):
        timed(rows[2], "calsync", [*calsync, "sync", "--now", NOW], env)
        timed(rows[2], "vdirsyncer", [*vds_cmd, "sync"], venv_env)

    print(f"peer_bench: one Radicale, medians of {rounds} interleaved runs, one process per sync")
    print("| one process | calsync | vdirsyncer 0.21 | calsync / vdirsyncer |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row.name} | {row.cell('calsync')} | {row.cell('vdirsyncer')} | {row.ratio()} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
