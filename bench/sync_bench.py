"""Benchmark of ``calsync sync`` against real CalDAV servers: HTTP requests and wall time per pass.

Run it from the repository root with the project's interpreter (the ``test`` extra installs both
servers)::

    .venv/bin/python bench/sync_bench.py [--servers radicale,xandikos] [--big 3000]

For each server it starts the server itself on 127.0.0.1 (a free port, a temporary folder;
Radicale with htpasswd authentication, Xandikos without), makes fresh calendar collections with
MKCALENDAR and uploads a generated training plan into a *source* calendar with a plain ``caldav``
``DAVClient``, one object per event, each with its own ``PUT`` (Radicale's big source excepted: one
``PUT`` of the whole calendar to the collection, which Radicale stores as one object per event,
because Radicale's per-object ``PUT`` checks UIDs across the whole collection and 3,000 of them
take about 9 minutes; the bench checks the object count either way). The plan is deterministic:
8 weeks of history and 52 weeks ahead, a Saturday all-day long run with its distance
(``Long Run 24 km``), Tuesday intervals and Thursday easy runs at 18:00, an A marathon, plus
non-run filler events (meetings on weekdays between 09:00 and 17:00, outside the strength
windows, so the plan is the same at every size) up to 300 objects, and up to ``--big``
(default 3,000) for the big case.

Every pass is :func:`calsync.pipeline.run_pass` (what ``calsync rebuild`` / ``calsync sync`` run)
with a plan config built by :func:`calsync.config.parse_config` (``kind = "caldav"`` source and
target; Radicale's password through ``password_env``) and a :class:`~calsync.state.State` in a
temporary ``$STATE_DIRECTORY``, so sync tokens carry from one pass to the next as in production.
Requests are counted twice: ``PassReport.requests`` (calsync's own counter), and every HTTP
request by method and calendar (a hook on the HTTP session class while the pass runs), which
splits writes (``PUT`` / ``DELETE``) from reads and the source from the target. The two counts
must agree. Measured, per server:

(a) **rebuild into an empty target**: writes + reads, at 300 and at ``--big`` source events.
    Target: one write per planned session (the sessions of a dry plan of the same source) and a
    constant number of reads (at most :data:`REBUILD_READS_MAX`, the same at both sizes).
(b) **idle sync** (nothing changed since the last pass): requests per calendar, at 300 and at
    ``--big`` source events. Target: at most one per calendar (<= 2 for source + target), the
    same count at both sizes, and no write.
(c) **one long run moved** (week 20's Saturday long run moved to Sunday, same UID, ``PUT`` by the
    plain client): target: the source read in at most 2 requests (sync-collection + one
    multiget), and exactly the sessions whose planned time or content changed (a dry plan before
    and after the move says which) written as updates: 0 creates, 0 deletes.
(d) **wall time** of each pass (seconds, one run each: this is a request-count benchmark first;
    the machine may be shared, so the times are indications), with the share spent waiting for
    HTTP answers. The upload time is shown too: it dominates the runtime (several minutes at
    3,000 events, mostly the servers' per-object write cost, not calsync's).

Exit status: 0 whether or not a target is met (the bench reports PASS / FAIL, it is not a test);
1 when the bench itself breaks (a server does not start, an upload fails, a pass raises, the
plan calsync reads is not the plan that was generated). The servers are stopped and their folders
removed at the end, on error too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time as clock
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from caldav.davclient import DAVClient
from caldav.lib.http_sync import requests as http

from calsync.config import PlanConfig, parse_config
from calsync.core.reconcile import Create, Delete, Update
from calsync.core.render import session_fingerprint
from calsync.pipeline import PassReport, make_plan, run_pass
from calsync.registry import target_for
from calsync.state import State

SMALL = 300
"""Source objects of the small case."""
DEFAULT_BIG = 3000
REBUILD_READS_MAX = 4
"""(a): reads a rebuild into an empty target may take (source listing + multiget, target listing,
one spare)."""
IDLE_PER_CALENDAR_MAX = 1
MOVED_SOURCE_MAX = 2

BERLIN = ZoneInfo("Europe/Berlin")
FIRST_MONDAY = date(2026, 1, 5)
"""Week 0 of the plan; ``now`` is that Monday at 05:00, before the first strength window."""
NOW = datetime.combine(FIRST_MONDAY, time(5, 0), BERLIN)
HISTORY_WEEKS = 8
PLAN_WEEKS = 52
RACE_WEEK = 42
"""The A marathon, on that week's Sunday."""
MOVED_WEEK = 20
"""(c): this week's Saturday long run moves to Sunday."""

RADICALE_USER = "calsync"
RADICALE_PASSWORD = "bench-pw-2026"
PASSWORD_ENV = "CALSYNC_SYNC_BENCH_PASSWORD"
XANDIKOS_USER = "user"
STARTUP_SECONDS = 30.0
UPLOAD_THREADS = 4

VTIMEZONE_BERLIN = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""

FILLER_TITLES = (
    "Team meeting",
    "Standup",
    "Budget review",
    "Call with supplier",
    "Lunch with Sam",
    "Customer workshop",
    "Dentist",
    "Quarterly planning",
)


class BenchError(Exception):
    """The bench itself broke: exit non-zero."""


# ---- servers (the approach of tests/caldav_servers.py, copied: the bench does not import tests) --


def free_port() -> int:
    """A TCP port nobody listens on right now (on 127.0.0.1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (any status, even 401/404)."""
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def _running(name: str, args: list[str], folder: Path, probe: str) -> Iterator[None]:
    """The server process, answering at ``probe``; stopped (terminate, then kill) on exit."""
    with (folder / "server.log").open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    try:
        deadline = clock.monotonic() + STARTUP_SECONDS
        while not _answers(probe):
            if process.poll() is not None:
                output = (folder / "server.log").read_text(errors="replace")[-2000:]
                raise BenchError(f"{name} exited with {process.returncode} at start:\n{output}")
            if clock.monotonic() > deadline:
                raise BenchError(f"{name} did not answer at {probe} within {STARTUP_SECONDS:g} s")
            clock.sleep(0.05)
        yield
    finally:
        _stop(process)


@dataclass
class Server:
    """A CalDAV server running for the bench."""

    name: str
    home: str
    """The collection new calendars are made in (ends with ``/``)."""
    username: str | None = None
    password: str | None = None

    def dav(self) -> DAVClient:
        """A plain caldav client (the "someone else" who writes the source calendar)."""
        return DAVClient(
            url=self.home,
            username=self.username,
            password=self.password,
            auth_type="basic" if self.username else None,
            enable_rfc6764=False,
        )

    def make_calendar(self, label: str) -> str:
        """A new empty calendar collection; its URL."""
        url = f"{self.home}{label}-{uuid.uuid4().hex[:8]}/"
        with self.dav() as client:
            response = client.mkcalendar(url)
        if response.status not in (200, 201):
            raise BenchError(f"{self.name}: MKCALENDAR {url} answered {response.status}")
        return url


@contextlib.contextmanager
def radicale(folder: Path) -> Iterator[Server]:
    """Radicale with htpasswd (plain) authentication and owner_only rights."""
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
    with _running("radicale", args, folder, base + "/"):
        yield Server("radicale", f"{base}/{RADICALE_USER}/", RADICALE_USER, RADICALE_PASSWORD)


@contextlib.contextmanager
def xandikos(folder: Path) -> Iterator[Server]:
    """Xandikos (no authentication) with its default principal ``/user/``."""
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
    with _running("xandikos", args, folder, base + "/"):
        yield Server("xandikos", f"{base}/{XANDIKOS_USER}/calendars/")


SERVERS: dict[str, Callable[[Path], contextlib.AbstractContextManager[Server]]] = {
    "radicale": radicale,
    "xandikos": xandikos,
}


# ---- counting HTTP requests --------------------------------------------------------------------


@dataclass
class HttpLog:
    """Every HTTP request sent while :meth:`recording`: ``(method, URL path)``."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    """Time spent waiting for the answers."""

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Log the requests of every HTTP session (calsync's clients count through the same
        method: they wrap the bound ``request`` of their session when they are made)."""
        original = http.Session.request

        def request(session: Any, *args: Any, **kwargs: Any) -> Any:
            method = args[0] if args else kwargs.get("method", "?")
            url = args[1] if len(args) > 1 else kwargs.get("url", "")
            self.calls.append((str(method).upper(), unquote(urlsplit(str(url)).path)))
            start = clock.perf_counter()
            try:
                return original(session, *args, **kwargs)
            finally:
                self.seconds += clock.perf_counter() - start

        setattr(http.Session, "request", request)  # noqa: B010
        try:
            yield
        finally:
            setattr(http.Session, "request", original)  # noqa: B010

    def on(self, calendar_url: str) -> Counter[str]:
        """Requests by method to one calendar collection (and the objects in it)."""
        prefix = unquote(urlsplit(calendar_url).path)
        return Counter(method for method, path in self.calls if path.startswith(prefix))


WRITES = ("PUT", "DELETE")


def writes(methods: Counter[str]) -> int:
    """Requests that change the server."""
    return sum(methods[m] for m in WRITES)


def _methods(methods: Counter[str]) -> str:
    return " ".join(f"{m} {n}" for m, n in sorted(methods.items())) or "none"


# ---- the generated plan ------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceObject:
    """One calendar object of the source calendar."""

    uid: str
    ics: str
    run: bool
    planned: bool = False
    """A run in the planning horizon (weeks 0 to 51): calsync's plan lists it."""


def _day(week: int, weekday: int) -> date:
    return FIRST_MONDAY + timedelta(weeks=week, days=weekday)


def _calendar(*lines: str, timed: bool) -> str:
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calsync//sync_bench//EN"]
    zone = VTIMEZONE_BERLIN.splitlines() if timed else []
    return "\r\n".join([*head, *zone, "BEGIN:VEVENT", *lines, "END:VEVENT", "END:VCALENDAR", ""])


def timed_object(uid: str, summary: str, day: date, at: time, minutes: int, *, run: bool) -> SourceObject:
    """A timed event in Europe/Berlin."""
    start = datetime.combine(day, at)
    end = start + timedelta(minutes=minutes)
    ics = _calendar(
        f"UID:{uid}",
        "DTSTAMP:20251220T120000Z",
        f"SUMMARY:{summary}",
        f"DTSTART;TZID=Europe/Berlin:{start:%Y%m%dT%H%M%S}",
        f"DTEND;TZID=Europe/Berlin:{end:%Y%m%dT%H%M%S}",
        timed=True,
    )
    return SourceObject(uid, ics, run, run and day >= FIRST_MONDAY)


def long_run(week: int, weekday: int = 5, sequence: int = 0) -> SourceObject:
    """The all-day long run of a week (TrainingPeaks style: the distance in the title)."""
    if week < 0:
        km = 12 + week // 2
    elif week < RACE_WEEK - 3:
        km = 14 + round(18 * week / (RACE_WEEK - 4))
        km = round(km * 0.7) if week % 4 == 3 else km
    elif week < RACE_WEEK:
        km = (26, 20, 14)[week - RACE_WEEK + 3]
    else:
        km = min(22, 10 + 2 * (week - RACE_WEEK - 1))
    day = _day(week, weekday)
    uid = f"long-{week}@sync-bench"
    ics = _calendar(
        f"UID:{uid}",
        "DTSTAMP:20251220T120000Z",
        f"SEQUENCE:{sequence}",
        f"SUMMARY:Long Run {km} km",
        f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
        f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
        timed=False,
    )
    return SourceObject(uid, ics, True, week >= 0)


def plan_objects(total: int) -> list[SourceObject]:
    """The training plan's runs, then non-run filler events up to ``total`` objects."""
    objects: list[SourceObject] = []
    weeks = range(-HISTORY_WEEKS, PLAN_WEEKS)
    for week in weeks:
        if week == RACE_WEEK:
            race = "Race: Frankfurt Marathon (A)"
            objects.append(timed_object("race@sync-bench", race, _day(week, 6), time(9, 30), 240, run=True))
        else:
            objects.append(long_run(week))
        intervals = "Run: Intervals 6x800m"
        objects.append(
            timed_object(f"tue-{week}@sync-bench", intervals, _day(week, 1), time(18), 60, run=True)
        )
        easy = "Run: Easy Run 45 min"
        objects.append(timed_object(f"thu-{week}@sync-bench", easy, _day(week, 3), time(18), 45, run=True))
    days = [_day(week, weekday) for week in weeks for weekday in range(5)]
    fillers = total - len(objects)
    if fillers < 0:
        raise BenchError(f"{total} objects cannot hold the plan's {len(objects)} runs")
    for i in range(fillers):
        day, slot = days[i % len(days)], (i // len(days)) % 16
        title = FILLER_TITLES[i % len(FILLER_TITLES)]
        at = time(9 + slot // 2, 30 * (slot % 2))
        objects.append(timed_object(f"busy-{i}@sync-bench", title, day, at, 30, run=False))
    return objects


def _put(client: DAVClient, server: Server, url: str, body: str) -> None:
    response = client.put(url, body, {"Content-Type": "text/calendar; charset=utf-8"})
    if response.status not in (200, 201, 204):
        raise BenchError(f"{server.name}: PUT {url} answered {response.status}")


def upload(server: Server, calendar_url: str, objects: Sequence[SourceObject], *, bulk: bool) -> float:
    """PUT the objects with a plain caldav client; seconds taken.

    One PUT per object (a few connections in parallel), or with ``bulk`` (Radicale only) one PUT
    of the whole calendar to the collection, which Radicale stores as one object per UID: one
    PUT per object costs Radicale O(objects) each (its UID-conflict check reads the collection),
    about 9 minutes for 3,000.
    """
    start = clock.perf_counter()
    if bulk:
        events: list[str] = []
        for obj in objects:
            lines = obj.ics.split("\r\n")
            events += lines[lines.index("BEGIN:VEVENT") : lines.index("END:VEVENT") + 1]
        head = objects[0].ics.split("\r\n")[:3]
        body = "\r\n".join([*head, *VTIMEZONE_BERLIN.splitlines(), *events, "END:VCALENDAR", ""])
        with server.dav() as client:
            _put(client, server, calendar_url, body)
        return clock.perf_counter() - start

    stop = threading.Event()
    """Set on an error or Ctrl-C: the other threads stop too, so the servers stop soon."""

    def put_all(chunk: Sequence[SourceObject]) -> None:
        with server.dav() as client:
            for obj in chunk:
                if stop.is_set():
                    return
                _put(client, server, f"{calendar_url}{obj.uid}.ics", obj.ics)

    chunks = [objects[i::UPLOAD_THREADS] for i in range(UPLOAD_THREADS)]
    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        futures = [pool.submit(put_all, chunk) for chunk in chunks]
        try:
            for future in futures:
                future.result()
        except BaseException:
            stop.set()
            raise
    return clock.perf_counter() - start


def plan_config(server: Server, plan_id: str, source_url: str, target_url: str) -> PlanConfig:
    """The plan's config, as a person would write it in calsync.toml."""
    auth = f'username = "{server.username}"\npassword_env = "{PASSWORD_ENV}"\n' if server.username else ""
    text = (
        f'[[plan]]\nid = "{plan_id}"\ntimezone = "Europe/Berlin"\nhorizon_weeks = {PLAN_WEEKS}\n\n'
        f'[[plan.source]]\nkind = "caldav"\nname = "training"\nurl = "{source_url}"\n{auth}\n'
        f'[plan.target]\nkind = "caldav"\nurl = "{target_url}"\n{auth}\n'
        '[plan.rules]\nstrength_windows = ["06:00-08:00"]\n'
    )
    return parse_config(text, Path(tempfile.gettempdir()) / "sync_bench.toml").plan[0]


def planned(config: PlanConfig) -> dict[str, str]:
    """A dry plan of the source as it is now, around what the target holds (as a pass plans it:
    a week planned before moves only what the change made invalid); read without state, not
    counted. Fingerprint by UID."""
    target = target_for(config, full=True, now=NOW)
    assert target is not None
    try:
        owned = target.list_owned()
    finally:
        target.close()
    result, _ = make_plan(config, NOW, owned)
    return {s.uid: session_fingerprint(s) for s in result.sessions}


# ---- the passes --------------------------------------------------------------------------------


@dataclass
class Pass:
    """One measured pass."""

    report: PassReport
    seconds: float
    http_seconds: float
    source: Counter[str]
    target: Counter[str]

    @property
    def counted(self) -> int:
        """Requests the hook saw (both calendars)."""
        return sum(self.source.values()) + sum(self.target.values())

    @property
    def writes(self) -> int:
        """PUT and DELETE requests (both calendars)."""
        return writes(self.source) + writes(self.target)

    @property
    def reads(self) -> int:
        """Every other request."""
        return self.counted - self.writes

    def time(self) -> str:
        """Wall time, and the share spent waiting for the server."""
        return f"{self.seconds:.2f} s (HTTP {self.http_seconds:.2f} s)"

    def kinds(self) -> tuple[int, int, int]:
        """Creates, updates and deletes in the report."""
        r = self.report
        return r.count(Create), r.count(Update), r.count(Delete)


def measured_pass(config: PlanConfig, state: State) -> Pass:
    """One ``calsync sync`` pass of the plan, timed and counted."""
    log = HttpLog()
    with log.recording():
        start = clock.perf_counter()
        report = run_pass(config, NOW, dry_run=False, force=False, state=state)
        seconds = clock.perf_counter() - start
    source, target = config.source[0], config.target
    assert target is not None
    result = Pass(
        report, seconds, log.seconds, log.on(getattr(source, "url", "")), log.on(getattr(target, "url", ""))
    )
    if result.counted != report.requests or result.counted != len(log.calls):
        raise BenchError(
            f"plan {config.id}: calsync counted {report.requests} requests, the HTTP hook "
            f"{len(log.calls)} ({result.counted} to the two calendars)"
        )
    return result


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


@dataclass
class Size:
    """The passes of one source size on one server."""

    events: int
    sessions: int
    upload_seconds: float
    bulk: bool
    rebuild: Pass
    idle: Pass


def bench_size(server: Server, state: State, events: int) -> tuple[Size, PlanConfig]:
    """Upload a source of ``events`` objects, rebuild into an empty target, then sync idle."""
    source_url = server.make_calendar(f"source{events}")
    target_url = server.make_calendar(f"target{events}")
    objects = plan_objects(events)
    bulk = server.name == "radicale" and events > SMALL
    seconds = upload(server, source_url, objects, bulk=bulk)
    with server.dav() as client:  # the objects the server holds: one per event
        stored = len(client.calendar(url=source_url).objects())  # type: ignore[no-untyped-call]
    if stored != events:
        raise BenchError(f"{server.name}: the source holds {stored} objects, not {events}")
    config = plan_config(server, f"bench{events}", source_url, target_url)
    result, _ = make_plan(config, NOW)
    runs = sum(1 for o in objects if o.planned)
    if len(result.runs) != runs:
        raise BenchError(
            f"{server.name}: calsync found {len(result.runs)} runs in the horizon "
            f"at {events} events, not {runs}"
        )
    rebuild = measured_pass(config, state)
    idle = measured_pass(config, state)
    return Size(events, len(result.sessions), seconds, bulk, rebuild, idle), config


def bench_server(server: Server, state: State, big: int) -> list[str]:
    """(a) to (d) on one server: the report lines."""
    name = f"sync_bench {server.name}:"
    small, small_config = bench_size(server, state, SMALL)
    large, _ = bench_size(server, state, big)
    how = [
        f"{s.events} in {s.upload_seconds:.1f} s ("
        + ("one PUT of the whole calendar" if s.bulk else f"one PUT each, {UPLOAD_THREADS} connections")
        + ")"
        for s in (small, large)
    ]
    lines = [f"{name} uploaded source events (stored one object per event): {'; '.join(how)}"]

    # (a) rebuild into an empty target
    parts = []
    ok_all = True
    for size in (small, large):
        p = size.rebuild
        creates, updates, deletes = p.kinds()
        ok = (
            p.writes == size.sessions == creates
            and updates == deletes == 0
            and p.reads <= REBUILD_READS_MAX
            and p.reads == small.rebuild.reads
        )
        ok_all &= ok
        parts.append(
            f"at {size.events} events {size.sessions} sessions: {p.writes} writes + {p.reads} reads "
            f"(source {_methods(p.source)}; target {_methods(p.target)}) {_verdict(ok)} {p.time()}"
        )
    lines.append(
        f"{name} rebuild into an empty target (target: 1 write per session + at most "
        f"{REBUILD_READS_MAX} reads, the same at both sizes) {_verdict(ok_all)}"
    )
    lines += [f"    {part}" for part in parts]
    lines += [f"    note at {s.events}: {note}" for s in (small, large) for note in s.rebuild.report.notes]

    # (b) idle sync
    parts = []
    for size in (small, large):
        p = size.idle
        src, tgt = sum(p.source.values()), sum(p.target.values())
        ok = (
            src <= IDLE_PER_CALENDAR_MAX
            and tgt <= IDLE_PER_CALENDAR_MAX
            and p.writes == 0
            and not p.report.actions
            and p.counted == small.idle.counted
        )
        parts.append(
            f"at {size.events}: {p.counted} requests (source {src}, target {tgt}; {_methods(p.source)} / "
            f"{_methods(p.target)}), {p.writes} writes {_verdict(ok)} {p.time()}"
        )
    lines.append(f"{name} idle sync (target: <= 1 request per calendar, same at both sizes, no write)")
    lines += [f"    {part}" for part in parts]

    # (c) one long run moved
    before = planned(small_config)
    with server.dav() as client:
        moved = long_run(MOVED_WEEK, weekday=6, sequence=1)
        _put(client, server, f"{small_config.source[0].url}{moved.uid}.ics", moved.ics)  # type: ignore[union-attr]
    after = planned(small_config)
    changed = {uid for uid in before.keys() | after.keys() if before.get(uid) != after.get(uid)}
    p = measured_pass(small_config, state)
    creates, updates, deletes = p.kinds()
    updated = {a.session.uid for a in p.report.actions if isinstance(a, Update)}
    src = sum(p.source.values())
    ok = src <= MOVED_SOURCE_MAX and creates == deletes == 0 and updated == changed and bool(changed)
    lines.append(
        f"{name} moved long run (week {MOVED_WEEK} Sat -> Sun): source {src} requests "
        f"({_methods(p.source)}), {updates} updates, {creates} creates, {deletes} deletes; "
        f"{len(changed)} session(s) the plan moved, {len(updated & changed)} of them updated, "
        f"{len(updated - changed)} others; target {_methods(p.target)} "
        f"(target: source <= {MOVED_SOURCE_MAX}, only the moved sessions, as updates) {_verdict(ok)} "
        f"{p.time()}"
    )
    return lines


# ---- main --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench on each server and print the report; 1 when the bench itself breaks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--servers", default="radicale,xandikos", help="comma-separated: radicale, xandikos (default both)"
    )
    parser.add_argument(
        "--big", type=int, default=DEFAULT_BIG, help=f"source events of the big case (default {DEFAULT_BIG})"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SERVERS))
    if unknown or not names:
        parser.error(f"--servers: unknown {', '.join(unknown) or '(none given)'}; use {', '.join(SERVERS)}")
    if args.big <= SMALL:
        parser.error(f"--big must be more than {SMALL}")
    os.environ[PASSWORD_ENV] = RADICALE_PASSWORD
    status = 0
    with tempfile.TemporaryDirectory(prefix="sync_bench-") as folder:
        os.environ["STATE_DIRECTORY"] = str(Path(folder) / "state")
        with State.open_default() as state:
            for name in names:
                server_folder = Path(folder) / name
                server_folder.mkdir()
                started = clock.perf_counter()
                try:
                    with SERVERS[name](server_folder) as server:
                        lines = bench_server(server, state, args.big)
                except Exception as err:
                    print(f"sync_bench {name}: BENCH BROKE: {type(err).__name__}: {err}", file=sys.stderr)
                    status = 1
                    continue
                finally:
                    shutil.rmtree(server_folder, ignore_errors=True)
                for line in lines:
                    print(line, flush=True)
                print(f"sync_bench {name}: total {clock.perf_counter() - started:.1f} s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
