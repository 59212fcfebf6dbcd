"""Crash safety (PRODUCT.md section 6): "a crash at any point (kill -9 mid-write) leaves a state the
next pass repairs" and "no duplicates, ever: not after a crash, not after two instances race".

The real CLI runs as a subprocess (``python -m calsync rebuild``) with its own ``STATE_DIRECTORY``.
Between kills the source plan changes (long runs move, distances change, weeks come and go), so
every rebuild has real work. The rebuilds are killed with SIGKILL, in turn: after a random delay
from a seeded RNG covering start-up, planning and the write; the instant the target's temporary
file appears (the atomic write has begun); or 0-20 ms after that (around the rename and the state
transaction). After every kill the target is the old or a complete new
calendar and the state file opens; every few kills a clean pass must leave exactly the planned
sessions, no duplicate UID, the foreign events untouched, and a second clean pass must write
nothing.

The target kinds are parametrized (``TARGET_KINDS``): a target kind knows how to configure
itself, list the calsync events it holds, tell whether a write has begun or was cut, and list
leftovers.

CalDAV (``radicale``; ``xandikos`` too with ``CALSYNC_CRASH_ALL_SERVERS=1``): the source stays an
.ics file, the target is a fresh calendar on a real server on loopback. Its write is a series of
PUT and DELETE requests, each atomic on the server: ``at_write`` kills as soon as the collection's
sync token moves (polled with a plain client), ``after_write`` 0-20 ms later. A kill counts as
inside the write when the target changed and a dry run (without state) still has writes to do.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from xml.etree import ElementTree

import pytest
from icalendar import Calendar, Component

from calsync.config import load_config
from calsync.registry import state_key
from calsync.state import State
from test_cli import NOW, RUN_TEMPLATE, write_config

if TYPE_CHECKING:
    from caldav_servers import DavServer

pytest_plugins = ["caldav_servers"]

SEED = 20261127
KILLS = 30
"""Rebuilds killed in the main loop (well under a second each)."""
CHECK_EVERY = 10
"""A clean pass, checked, after this many kills (so crash states also pile up in between)."""
RACES = 6
"""Rounds of two racing rebuilds, one or both killed."""
PLAN_ID = "me"
FIRST_MONDAY = date(2026, 11, 30)
"""The first week of the source plan (the week after ``NOW``)."""
PROCESS_TIMEOUT = 60.0
"""No rebuild of this small plan takes anywhere near this long; a hung one fails the test."""
MODES = ("random", "at_write", "random", "after_write", "at_write")
"""When the rebuilds are killed, in turn: after a random delay, as soon as the write begins, a
little later."""


# -- target kinds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetEvent:
    """A calsync event as the target holds it."""

    uid: str
    start: date | datetime


class Target(Protocol):
    """What the crash test needs to know about one kind of target."""

    kind: str
    env: dict[str, str]
    """Environment variables the CLI needs for this target (e.g. a password)."""

    def write_config(self, folder: Path, source: Path) -> Path:
        """Write a config whose plan ``me`` reads ``source`` and writes to this target."""

    def put_foreign_events(self) -> None:
        """Add events calsync does not own to the target, as a person would."""

    def foreign_events(self) -> list[bytes]:
        """Everything in the target calsync does not own, serialized (to compare before/after)."""

    def calsync_events(self) -> list[TargetEvent]:
        """The calsync events of plan ``me`` (duplicates included); raises if the target is broken."""

    def snapshot(self) -> bytes:
        """The target's full content: equal snapshots mean nothing was written."""

    def in_flight(self) -> set[str]:
        """Markers of a write in progress (e.g. temporary files); they stay behind after a kill."""

    def progress(self) -> object:
        """A cheap marker of the target's writes so far (polled to catch the write beginning)."""

    def write_begun(self, before: object) -> bool:
        """Whether a write began since ``progress()`` gave ``before``."""

    def killed_in_write(self, before: object, old: bytes, cli: Cli) -> bool:
        """After a kill: whether it landed inside the write (``before`` and ``old``: from the start)."""

    def close(self) -> None:
        """Release connections."""


def duplicate_uids(events: list[TargetEvent]) -> list[str]:
    """UIDs the target holds more than once."""
    return sorted(uid for uid, n in Counter(e.uid for e in events).items() if n > 1)


def _owned_by_plan(component: Component) -> bool:
    return component.name == "VEVENT" and str(component.get("X-CALSYNC-PLAN", "")) == PLAN_ID


FOREIGN_EVENTS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//a person//by hand//EN
BEGIN:VEVENT
UID:dentist-2026-12-08@example.org
DTSTAMP:20261120T100000Z
DTSTART;TZID=Europe/Berlin:20261208T063000
DTEND;TZID=Europe/Berlin:20261208T073000
SUMMARY:Dentist
LOCATION:Hauptstr. 1
END:VEVENT
BEGIN:VEVENT
UID:calsync-other-2026W50-s1
DTSTAMP:20261120T100000Z
DTSTART;TZID=Europe/Berlin:20261209T060000
DTEND;TZID=Europe/Berlin:20261209T070000
SUMMARY:Strength: someone else's plan
X-CALSYNC-PLAN:other
X-CALSYNC-KIND:upper
END:VEVENT
BEGIN:VTODO
UID:todo-1@example.org
DTSTAMP:20261120T100000Z
SUMMARY:Buy new shoes
END:VTODO
END:VCALENDAR
"""
"""What a person puts into the target by hand: an event, another plan's event, a to-do."""


class IcsFileTarget:
    """The ``ics_file`` target: ``out/me.ics``, written atomically through ``.me.ics.*.tmp``."""

    kind = "ics_file"

    def __init__(self, folder: Path) -> None:
        self.path = folder / "out" / "me.ics"
        self.env: dict[str, str] = {}

    def write_config(self, folder: Path, source: Path) -> Path:
        """The config of tests/test_cli.py, pointing at ``out/me.ics``."""
        return write_config(folder, source, target="out/me.ics")

    def _calendar(self) -> Calendar:
        data = self.path.read_bytes()
        text = data.decode("utf-8")
        lines = [line for line in text.splitlines() if line]
        if not lines or lines[-1] != "END:VCALENDAR":
            raise ValueError(f"{self.path} does not end with END:VCALENDAR (truncated?)")
        begins = sum(1 for line in lines if line.startswith("BEGIN:"))
        ends = sum(1 for line in lines if line.startswith("END:"))
        if begins != ends:
            raise ValueError(f"{self.path}: {begins} BEGIN lines but {ends} END lines")
        calendar = Calendar.from_ical(data)
        if not isinstance(calendar, Calendar):
            raise ValueError(f"{self.path} holds no VCALENDAR")
        return calendar

    def put_foreign_events(self) -> None:
        """Add the hand-made components to the file (after calsync wrote it)."""
        calendar = self._calendar()
        for component in Calendar.from_ical(FOREIGN_EVENTS).subcomponents:
            calendar.add_component(component)
        self.path.write_bytes(calendar.to_ical())

    def foreign_events(self) -> list[bytes]:
        """Every component but this plan's events and the time zones calsync adds."""
        return [
            c.to_ical()
            for c in self._calendar().subcomponents
            if not _owned_by_plan(c) and c.name != "VTIMEZONE"
        ]

    def calsync_events(self) -> list[TargetEvent]:
        """This plan's VEVENTs, with their DTSTART."""
        return [
            TargetEvent(str(c["UID"]), c.decoded("DTSTART"))
            for c in self._calendar().subcomponents
            if _owned_by_plan(c)
        ]

    def snapshot(self) -> bytes:
        """The file's bytes."""
        return self.path.read_bytes()

    def in_flight(self) -> set[str]:
        """The temporary files of the atomic write (``write_atomic``) in the target folder."""
        prefix = f".{self.path.name}."
        try:
            names = os.listdir(self.path.parent)
        except FileNotFoundError:
            return set()
        return {n for n in names if n.startswith(prefix) and n.endswith(".tmp")}

    def progress(self) -> set[str]:
        """The temporary files there are now."""
        return self.in_flight()

    def write_begun(self, before: object) -> bool:
        """A new temporary file appeared: the atomic write has begun."""
        return bool(self.in_flight() - set(before))  # type: ignore[call-overload]

    def killed_in_write(self, before: object, old: bytes, cli: Cli) -> bool:
        """A new temporary file stayed behind: the process died between writing it and the rename."""
        del old, cli  # the temporary file tells by itself
        return self.write_begun(before)

    def close(self) -> None:
        """Nothing to release."""


PASSWORD_ENV = "CALSYNC_TEST_DAV_PASSWORD"
CALDAV_FOREIGN = {
    "dentist.ics": "BEGIN:VEVENT\r\nUID:dentist-2026-12-08@example.org\r\nDTSTAMP:20261120T100000Z\r\n"
    "DTSTART:20261208T053000Z\r\nDTEND:20261208T063000Z\r\nSUMMARY:Dentist\r\nLOCATION:Hauptstr. 1\r\n"
    "END:VEVENT\r\n",
    "other-plan.ics": "BEGIN:VEVENT\r\nUID:calsync-other-2026W50-s1\r\nDTSTAMP:20261120T100000Z\r\n"
    "DTSTART:20261209T050000Z\r\nDTEND:20261209T060000Z\r\nSUMMARY:Strength: someone else's plan\r\n"
    "X-CALSYNC-PLAN:other\r\nX-CALSYNC-KIND:upper\r\nEND:VEVENT\r\n",
    "todo.ics": "BEGIN:VTODO\r\nUID:todo-1@example.org\r\nDTSTAMP:20261120T100000Z\r\n"
    "SUMMARY:Buy new shoes\r\nEND:VTODO\r\n",
}
"""What a person puts into the calendar by hand, one object each: an event, another plan's event,
a to-do (UTC times: no VTIMEZONE needed)."""
DAV = "{DAV:}"
CALDAV_NS = "{urn:ietf:params:xml:ns:caldav}"
ALL_OBJECTS = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    "<D:prop><D:getetag/><C:calendar-data/></D:prop>"
    '<C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>'
)
SYNC_TOKEN = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<D:propfind xmlns:D="DAV:"><D:prop><D:sync-token/></D:prop></D:propfind>'
)


class CaldavTarget:
    """A ``caldav`` target: a fresh calendar on a test server, one object per session.

    A write is a series of PUT and DELETE requests; there is nothing like a temporary file, so the
    write is watched through the collection's sync token, and a kill landed inside it when the
    target changed but a dry run still has actions left."""

    def __init__(self, server: DavServer) -> None:
        self.kind = server.name
        self.server = server
        self.url = server.make_calendar()
        self.env = {PASSWORD_ENV: server.password} if server.password else {}
        self.client = server.dav()

    def write_config(self, folder: Path, source: Path) -> Path:
        """The config of tests/test_cli.py with a CalDAV target (password from the environment)."""
        user = (
            f'username = "{self.server.username}"\npassword_env = "{PASSWORD_ENV}"\n'
            if self.server.username
            else ""
        )
        config = folder / "calsync.toml"
        config.write_text(
            f"""
[[plan]]
id = "me"
timezone = "Europe/Berlin"
horizon_weeks = 12

[[plan.source]]
kind = "ics_file"
path = "{source}"

[plan.target]
kind = "caldav"
url = "{self.url}"
{user}
[plan.rules]
same_day_order = "lift_first"
strength_windows = ["06:00-08:00"]
""",
            encoding="utf-8",
        )
        return config

    def objects(self) -> dict[str, bytes]:
        """Every object of the calendar: href -> calendar data (one REPORT)."""
        response = self.client.report(self.url, ALL_OBJECTS, depth=1)
        if response.status != 207:
            raise RuntimeError(f"REPORT {self.url} answered {response.status}")
        raw = response.raw
        root = ElementTree.fromstring(raw.encode("utf-8") if isinstance(raw, str) else raw)
        found: dict[str, bytes] = {}
        for item in root.iter(f"{DAV}response"):
            href = item.findtext(f"{DAV}href") or ""
            data = item.find(f".//{CALDAV_NS}calendar-data")
            if data is not None and data.text:
                found[href] = data.text.encode("utf-8")
        return found

    def _components(self) -> Iterator[Component]:
        for href, data in sorted(self.objects().items()):
            calendar = Calendar.from_ical(data)
            if not isinstance(calendar, Calendar):
                raise ValueError(f"{href} holds no VCALENDAR")
            yield from calendar.subcomponents

    def put_foreign_events(self) -> None:
        """Put the hand-made components into the calendar, one object each."""
        for name, body in CALDAV_FOREIGN.items():
            text = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//a person//EN\r\n{body}END:VCALENDAR\r\n"
            response = self.client.put(f"{self.url}{name}", text, {"Content-Type": "text/calendar"})
            if response.status not in (201, 204):
                raise RuntimeError(f"PUT {name} answered {response.status}")

    def foreign_events(self) -> list[bytes]:
        """Every component but this plan's events and time zones, in href order."""
        return [c.to_ical() for c in self._components() if not _owned_by_plan(c) and c.name != "VTIMEZONE"]

    def calsync_events(self) -> list[TargetEvent]:
        """This plan's VEVENTs in all objects, with their DTSTART."""
        return [
            TargetEvent(str(c["UID"]), c.decoded("DTSTART")) for c in self._components() if _owned_by_plan(c)
        ]

    def snapshot(self) -> bytes:
        """Every href and its data, in href order."""
        return b"".join(href.encode() + b"\n" + data for href, data in sorted(self.objects().items()))

    def in_flight(self) -> set[str]:
        """A PUT or DELETE leaves nothing behind."""
        return set()

    def progress(self) -> str:
        """The collection's sync token: it moves with every PUT and DELETE."""
        response = self.client.propfind(self.url, SYNC_TOKEN, depth=0)
        raw = response.raw
        root = ElementTree.fromstring(raw.encode("utf-8") if isinstance(raw, str) else raw)
        return root.findtext(f".//{DAV}sync-token") or ""

    def write_begun(self, before: object) -> bool:
        """The sync token moved."""
        return self.progress() != before

    def killed_in_write(self, before: object, old: bytes, cli: Cli) -> bool:
        """The target changed, yet a dry run (no state) still finds writes to do."""
        del before  # the sync token moves after the last write too
        if self.snapshot() == old:
            return False
        proc = cli.run("rebuild", "--dry-run")
        return proc.returncode != 0 or "0 created, 0 updated, 0 deleted" not in proc.stdout

    def close(self) -> None:
        """Close the plain client."""
        self.client.close()


def _dav_target(server: str) -> Callable[[Path, pytest.FixtureRequest], Target]:
    def make(_folder: Path, request: pytest.FixtureRequest) -> Target:
        return CaldavTarget(request.getfixturevalue(f"{server}_server"))

    return make


ALL_SERVERS_ENV = "CALSYNC_CRASH_ALL_SERVERS"
"""Set to 1 to run the CalDAV cases against Xandikos too (another ~40 s)."""
TARGET_KINDS: dict[str, Callable[[Path, pytest.FixtureRequest], Target]] = {
    "ics_file": lambda folder, _: IcsFileTarget(folder),
    "radicale": _dav_target("radicale"),
    **({"xandikos": _dav_target("xandikos")} if os.environ.get(ALL_SERVERS_ENV) == "1" else {}),
}
"""Every target kind the crash test runs against: a file, a calendar on Radicale (and on Xandikos
with ``CALSYNC_CRASH_ALL_SERVERS=1``)."""
KILLS_OF = {"ics_file": KILLS, "radicale": 12, "xandikos": 12}
MIN_INSIDE = 3
"""Kills that must land inside the write window, and outside it, for the loop to prove anything."""
"""Rebuilds killed per target kind (a CalDAV kill also costs a dry run: fewer)."""
CHECK_EVERY_OF = {"ics_file": CHECK_EVERY, "radicale": 6, "xandikos": 6}
"""A clean pass after this many kills, per target kind."""


# -- the source plan ------------------------------------------------------------------------------


@dataclass
class Week:
    """One week of the source: a long run (or a 10k race) on some day, maybe an easy run on Wednesday."""

    long_day: int = 5
    long_km: int = 25
    easy: bool = True
    race: bool = False


@dataclass
class SourcePlan:
    """A run plan that changes between passes, written as an .ics file."""

    path: Path
    weeks: list[Week] = field(default_factory=lambda: [Week() for _ in range(10)])

    def write(self) -> None:
        """Write the plan to its file."""
        events = []
        for index, week in enumerate(self.weeks):
            monday = FIRST_MONDAY + timedelta(weeks=index)
            title = "City 10k race" if week.race else f"Long Run {week.long_km} km"
            runs = [(f"long{index}", monday + timedelta(days=week.long_day), title)]
            if week.easy and week.long_day != 2:
                runs.append((f"easy{index}", monday + timedelta(days=2), "Easy run 45 min"))
            for uid, day, title in runs:
                events.append(
                    RUN_TEMPLATE.format(
                        uid=uid,
                        day=f"{day:%Y%m%d}",
                        next_day=f"{day + timedelta(days=1):%Y%m%d}",
                        title=title,
                    )
                )
        self.path.write_text(
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n" + "".join(events) + "END:VCALENDAR\n",
            encoding="utf-8",
        )

    def mutate(self, rng: random.Random) -> None:
        """One to three changes a runner's coach makes, then write the file.

        A race put in or taken out makes a pass delete sessions, or want them back."""
        for _ in range(rng.randint(1, 3)):
            week = rng.choice(self.weeks)
            change = rng.choice(("move", "move", "distance", "easy", "race", "race", "add", "remove"))
            if change == "race":
                week.race = not week.race
            elif change == "move":
                week.long_day = rng.choice([d for d in (3, 4, 5, 6) if d != week.long_day])
            elif change == "distance":
                week.long_km = rng.choice([k for k in range(14, 36, 3) if k != week.long_km])
            elif change == "easy":
                week.easy = not week.easy
            elif change == "add" and len(self.weeks) < 14:
                self.weeks.append(Week(rng.choice((4, 5, 6)), rng.choice(range(14, 36, 3))))
            elif change == "remove" and len(self.weeks) > 8:
                # not below 8 weeks: a plan shrinking by half between two passes that finish
                # stops at the mass-delete guard (by design), which is not what this test is about
                self.weeks.pop()
        self.write()


# -- running the CLI ------------------------------------------------------------------------------


@dataclass
class Cli:
    """The calsync command line of one test folder."""

    config: Path
    state_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    """What the target needs in the environment (a password)."""

    @functools.cached_property
    def state_key(self) -> str:
        """Under which key the state files the plan's written sessions."""
        return state_key(load_config(self.config).plan[0])

    def argv(self, *args: str) -> list[str]:
        """The command line of ``calsync --config ... args --now NOW``."""
        return [sys.executable, "-m", "calsync", "--config", str(self.config), *args, "--now", NOW]

    def env(self, state_dir: Path | None = None) -> dict[str, str]:
        """The environment: the test's own state folder."""
        return {**os.environ, **self.extra_env, "STATE_DIRECTORY": str(state_dir or self.state_dir)}

    def run(self, *args: str, state_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run to the end."""
        return subprocess.run(
            self.argv(*args),
            env=self.env(state_dir),
            capture_output=True,
            text=True,
            check=False,
            timeout=PROCESS_TIMEOUT,
        )

    def planned(self, state_dir: Path | None = None) -> dict[str, date | datetime]:
        """UID -> start of every session ``calsync plan --format json`` plans at ``NOW``."""
        proc = self.run("plan", "--format", "json", state_dir=state_dir)
        if proc.returncode != 0:
            pytest.fail(f"calsync plan failed: {proc.stderr}")
        (plan,) = json.loads(proc.stdout)["plans"]
        return {
            s["uid"]: date.fromisoformat(s["start"]) if s["all_day"] else datetime.fromisoformat(s["start"])
            for s in plan["sessions"]
        }


@contextmanager
def reaped() -> Iterator[list[subprocess.Popen[bytes]]]:
    """A list to start processes into; whatever still runs on the way out is killed and reaped."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        yield processes
    finally:
        for proc in processes:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=PROCESS_TIMEOUT)  # reaps it and closes its pipe


def start(cli: Cli, processes: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """Start ``calsync rebuild`` (its errors, one line, are kept for the report)."""
    proc = subprocess.Popen(
        cli.argv("rebuild"), env=cli.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    processes.append(proc)
    return proc


def kill_when(
    victims: list[subprocess.Popen[bytes]], mode: str, rng: random.Random, target: Target, span: float
) -> None:
    """Wait for the moment ``mode`` names, then SIGKILL the victims and reap them.

    ``span`` is how long a rebuild takes. ``random``: a delay in [0, 1.2 * span) (start-up,
    planning, write); ``at_write``: as soon as the target's write begins (polled without pause,
    after the first half span, which start-up alone takes); ``after_write``: 0-20 ms after that
    (the rename and the state transaction of a file; further PUTs and DELETEs on CalDAV).
    """
    before = target.progress()
    started = time.monotonic()

    def running() -> bool:
        return time.monotonic() - started < PROCESS_TIMEOUT and any(p.poll() is None for p in victims)

    if mode == "random":
        deadline = started + rng.uniform(0.0, 1.2 * span)
        while running() and time.monotonic() < deadline:
            time.sleep(min(0.005, max(0.0, deadline - time.monotonic())))
    else:
        extra = 0.0 if mode == "at_write" else rng.uniform(0.0, 0.02)
        time.sleep(span / 2)
        while running():
            if target.write_begun(before):
                time.sleep(extra)
                break
    for proc in victims:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    for proc in victims:
        proc.wait(timeout=PROCESS_TIMEOUT)


def errors(proc: subprocess.Popen[bytes]) -> str:
    """Wait for a process and return what it wrote to stderr."""
    _, err = proc.communicate(timeout=PROCESS_TIMEOUT)
    return err.decode("utf-8", "replace")


def target_problem(bench: Bench, old: bytes) -> str | None:
    """None when the target is its old content, or a complete calendar without duplicates whose
    foreign events are as the person left them."""
    try:
        if bench.target.snapshot() == old:
            return None
        events = bench.target.calsync_events()
        foreign = bench.target.foreign_events()
    except Exception as err:
        return f"target broken: {type(err).__name__}: {err}"
    if duplicate_uids(events):
        return f"duplicate UIDs {duplicate_uids(events)}"
    if foreign != bench.foreign:
        return "foreign events changed"
    return None


def state_problem(state_dir: Path) -> str | None:
    """None when calsync opens the state file and SQLite finds it intact."""
    path = state_dir / "state.sqlite"
    try:
        with State(path) as state:
            state.written(PLAN_ID)
        db = sqlite3.connect(path)
        try:
            (result,) = db.execute("PRAGMA integrity_check").fetchone()
        finally:
            db.close()
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None if result == "ok" else f"integrity_check: {result}"


def state_lags(cli: Cli, target: Target) -> bool:
    """The state's live records are not the calsync events the target holds."""
    try:
        with State(cli.state_dir / "state.sqlite") as state:
            known = {uid for uid, w in state.written(cli.state_key).items() if not w.dismissed}
        return known != {e.uid for e in target.calsync_events()}
    except Exception:
        return False  # a broken target or state is reported by the checks above


# -- the main loop: many kills, a clean pass every few ---------------------------------------------


@dataclass
class Kill:
    """One killed rebuild."""

    index: int
    mode: str
    returncode: int
    stderr: str
    in_write: bool
    """A new temporary file was there when the process died: the kill landed inside the write."""
    state_lags: bool
    """The target changed but the state does not list what it holds: the kill landed between the
    target write and the state transaction."""
    target_problem: str | None
    state_problem: str | None


@dataclass
class CleanPass:
    """A clean rebuild after some kills, and what it left."""

    after_kills: int
    returncode: int
    output: str
    events: list[TargetEvent]
    planned: dict[str, date | datetime]
    """What ``calsync plan --format json`` plans now, with the instance's state."""
    planned_afresh: dict[str, date | datetime]
    """What it plans with an empty state: the plan a crash-free history would have."""
    foreign_intact: bool
    second_returncode: int
    second_output: str
    second_identical: bool
    leftovers: set[str]


@dataclass
class CrashRun:
    """Everything the main loop observed."""

    kind: str
    kills: list[Kill] = field(default_factory=list)
    passes: list[CleanPass] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Bench:
    """One test folder: the CLI, the target, the source plan and the person's foreign events."""

    cli: Cli
    target: Target
    source: SourcePlan
    foreign: list[bytes]
    """The foreign events as the person left them."""


def setup_bench(folder: Path, kind: str, request: pytest.FixtureRequest) -> Bench:
    """A source plan, a config and a target holding calsync's sessions plus a person's events."""
    source = SourcePlan(folder / "plan.ics")
    source.write()
    target = TARGET_KINDS[kind](folder, request)
    request.addfinalizer(target.close)
    cli = Cli(target.write_config(folder, source.path), folder / "state", target.env)
    first = cli.run("rebuild")
    if first.returncode != 0:
        pytest.fail(f"the first rebuild failed: {first.stderr}")
    target.put_foreign_events()
    return Bench(cli, target, source, target.foreign_events())


def clean_pass(bench: Bench, after_kills: int, scratch: Path) -> CleanPass:
    """Run a clean rebuild, compare the target with the plan, then run another rebuild."""
    cli, target = bench.cli, bench.target
    first = cli.run("rebuild")
    events = target.calsync_events()
    foreign_intact = target.foreign_events() == bench.foreign
    snapshot = target.snapshot()
    planned = cli.planned()
    afresh = scratch / f"fresh-state-{after_kills}"
    try:
        planned_afresh = cli.planned(state_dir=afresh)
    finally:
        shutil.rmtree(afresh, ignore_errors=True)
    second = cli.run("rebuild")
    return CleanPass(
        after_kills=after_kills,
        returncode=first.returncode,
        output=first.stdout + first.stderr,
        events=events,
        planned=planned,
        planned_afresh=planned_afresh,
        foreign_intact=foreign_intact,
        second_returncode=second.returncode,
        second_output=second.stdout + second.stderr,
        second_identical=target.snapshot() == snapshot,
        leftovers=target.in_flight(),
    )


def rebuild_seconds(cli: Cli) -> float:
    """How long a rebuild with nothing to do takes here (start-up and planning)."""
    started = time.monotonic()
    proc = cli.run("rebuild")
    if proc.returncode != 0:
        pytest.fail(f"a rebuild with nothing to do failed: {proc.stderr}")
    return time.monotonic() - started


@pytest.fixture(scope="module", params=sorted(TARGET_KINDS))
def crash_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrashRun]:
    """Kill ``KILLS_OF[kind]`` rebuilds of a changing plan, with a clean pass every
    ``CHECK_EVERY_OF[kind]`` kills."""
    kind: str = request.param
    folder = tmp_path_factory.mktemp(f"crash-{kind}")
    started = time.monotonic()
    rng = random.Random(SEED)
    bench = setup_bench(folder, kind, request)
    cli, target = bench.cli, bench.target
    span = rebuild_seconds(cli)
    run = CrashRun(kind)
    with reaped() as processes:
        index = -1
        while True:
            index += 1
            inside = sum(1 for k in run.kills if k.in_write)
            outside = sum(1 for k in run.kills if k.returncode == -signal.SIGKILL and not k.in_write)
            # the machine's load moves where the kills land: go on (up to three times as long)
            # until at least three landed inside the write window and three elsewhere
            enough = inside >= MIN_INSIDE and outside >= MIN_INSIDE
            if index >= KILLS_OF[kind] and (enough or index >= 3 * KILLS_OF[kind]):
                break
            bench.source.mutate(rng)
            old = target.snapshot()
            before = target.progress()
            mode = MODES[index % len(MODES)]
            proc = start(cli, processes)
            kill_when([proc], mode, rng, target, span)
            run.kills.append(
                Kill(
                    index=index,
                    mode=mode,
                    returncode=proc.returncode,
                    stderr=errors(proc),
                    in_write=target.killed_in_write(before, old, cli),
                    state_lags=target.snapshot() != old and state_lags(cli, target),
                    target_problem=target_problem(bench, old),
                    state_problem=state_problem(cli.state_dir),
                )
            )
            if (index + 1) % CHECK_EVERY_OF[kind] == 0:
                run.passes.append(clean_pass(bench, index + 1, folder))
    run.seconds = time.monotonic() - started
    yield run
    shutil.rmtree(folder, ignore_errors=True)


def test_kills_land_before_inside_and_after_the_write(crash_run: CrashRun) -> None:
    """The loop really exercises the write window (reported with ``-s``), and kills land elsewhere too."""
    inside = [k for k in crash_run.kills if k.in_write]
    lagging = [k for k in crash_run.kills if k.state_lags]
    killed = [k for k in crash_run.kills if k.returncode == -signal.SIGKILL]
    tally = {
        mode: "{} started, {} killed, {} inside the write, {} before the state commit".format(
            *(sum(1 for k in group if k.mode == mode) for group in (crash_run.kills, killed, inside, lagging))
        )
        for mode in sorted(set(MODES))
    }
    print(
        f"\n[{crash_run.kind}] {len(crash_run.kills)} rebuilds, {len(killed)} killed, "
        f"{len(inside)} inside the write window; {tally}; {crash_run.seconds:.1f} s"
    )
    assert len(inside) >= MIN_INSIDE, [(k.mode, k.returncode) for k in crash_run.kills]
    assert len(killed) - len(inside) >= MIN_INSIDE
    finished = [k for k in crash_run.kills if k.returncode != -signal.SIGKILL]
    assert all(k.returncode == 0 for k in finished), [(k.index, k.returncode, k.stderr) for k in finished]


def test_every_kill_leaves_the_old_or_a_complete_new_target(crash_run: CrashRun) -> None:
    problems = [(k.index, k.mode, k.target_problem) for k in crash_run.kills if k.target_problem]
    assert not problems


def test_state_file_opens_after_every_kill(crash_run: CrashRun) -> None:
    problems = [(k.index, k.mode, k.state_problem) for k in crash_run.kills if k.state_problem]
    assert not problems


def test_clean_pass_after_kills_holds_exactly_the_plan(crash_run: CrashRun) -> None:
    """Exit 0, the planned UIDs at the planned times, no duplicate, the person's events untouched."""
    assert crash_run.passes
    for check in crash_run.passes:
        assert check.returncode == 0, (check.after_kills, check.output)
        assert not duplicate_uids(check.events), (check.after_kills, duplicate_uids(check.events))
        assert {e.uid: e.start for e in check.events} == check.planned, check.after_kills
        assert check.foreign_intact, check.after_kills


def test_second_clean_pass_writes_nothing(crash_run: CrashRun) -> None:
    for check in crash_run.passes:
        assert check.second_returncode == 0, (check.after_kills, check.second_output)
        assert check.second_identical, (check.after_kills, check.second_output)
        assert "0 created, 0 updated, 0 deleted" in check.second_output


def test_crash_is_not_mistaken_for_a_persons_deletion(crash_run: CrashRun) -> None:
    """Regression: a kill after a pass deleted sessions, before its state was saved, made the
    next pass take them for a person's deletions (the pass now forgets them before writing).

    After the clean pass the plan is the one a crash-free history gives: a session calsync
    deleted just before a kill is not remembered as deleted by the person."""
    for check in crash_run.passes:
        assert check.planned == check.planned_afresh, check.after_kills


def test_clean_pass_removes_temporary_files_a_crash_left(crash_run: CrashRun) -> None:
    """The next pass repairs what a crash left, the temporary files of a killed write included."""
    assert any(k.in_write for k in crash_run.kills)
    for check in crash_run.passes:
        assert not check.leftovers, (check.after_kills, sorted(check.leftovers))


# -- two instances racing -------------------------------------------------------------------------


@dataclass
class RaceRun:
    """What the racing rounds observed, and the clean pass after them."""

    problems: list[tuple[int, str]]
    check: CleanPass


@pytest.fixture(scope="module", params=sorted(TARGET_KINDS))
def race_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RaceRun]:
    """``RACES`` rounds of two rebuilds started together: both killed, one of them, or neither (a
    pure race), at the moments of ``MODES``; then a clean pass."""
    kind: str = request.param
    folder = tmp_path_factory.mktemp(f"race-{kind}")
    rng = random.Random(SEED + 1)
    bench = setup_bench(folder, kind, request)
    cli, target = bench.cli, bench.target
    span = rebuild_seconds(cli)
    problems: list[tuple[int, str]] = []
    with reaped() as processes:
        for round_ in range(RACES):
            bench.source.mutate(rng)
            old = target.snapshot()
            pair = [start(cli, processes), start(cli, processes)]
            share = round_ % 4  # 0: both killed, 1 and 2: one of them, 3: neither
            victims = pair if share == 0 else [] if share == 3 else [rng.choice(pair)]
            kill_when(victims, MODES[round_ % len(MODES)], rng, target, 2 * span)
            for proc in pair:
                stderr = errors(proc)
                if proc.returncode not in ({0, -signal.SIGKILL} if proc in victims else {0}):
                    problems.append((round_, f"exit {proc.returncode}: {stderr}"))
            for problem in (target_problem(bench, old), state_problem(cli.state_dir)):
                if problem:
                    problems.append((round_, problem))
    yield RaceRun(problems, clean_pass(bench, RACES, folder))
    shutil.rmtree(folder, ignore_errors=True)


def test_racing_rebuilds_leave_an_intact_target_and_state(race_run: RaceRun) -> None:
    """Every round: a rebuild not killed exits 0, the target is old or complete, the state opens."""
    assert not race_run.problems


def test_clean_pass_after_races_has_no_duplicates_and_exactly_the_plan(race_run: RaceRun) -> None:
    check = race_run.check
    assert check.returncode == 0, check.output
    assert not duplicate_uids(check.events)
    assert {e.uid: e.start for e in check.events} == check.planned
    assert check.foreign_intact
    assert check.second_returncode == 0, check.second_output
    assert check.second_identical, check.second_output


def test_races_are_not_mistaken_for_a_persons_deletion(race_run: RaceRun) -> None:
    assert race_run.check.planned == race_run.check.planned_afresh
