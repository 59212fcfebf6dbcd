"""Benchmark of ``calsync plan``: how fast a year is planned, and how that compares with the floor.

Run it from the repository root with the project's interpreter::

    .venv/bin/python bench/plan_bench.py [--athletes 1000] [--repeat 7] [--seed 2026]

It measures, in one run, on data it generates deterministically into a temporary folder:

(a) **calsync plan against parse + expand.** A 52-week training plan for one runner (weekly runs as
    RRULEs with EXDATE and a moved occurrence, one-off all-day long runs with distances, three races,
    some non-run events; about 300 run occurrences; a Europe/Berlin VTIMEZONE) and a config with
    ``horizon_weeks = 52``. calsync's time is compared with the time to merely parse the same file with
    ``icalendar`` and expand it with ``recurring_ical_events`` over the window calsync reads
    (:func:`calsync.pipeline.window_for`). Two ways:

    * in-process: ``calsync.cli.main([... "plan", "--format", "json", "--now", ...])`` with stdout in
      a buffer (bytes on disk to printed plan), against ``Path.read_bytes`` +
      ``Calendar.from_ical`` + ``recurring_ical_events.of(cal).between(start, end)`` (target: at
      most 2x). A per-stage breakdown (read, classify, plan, JSON) follows, to show where
      calsync's share goes;
    * whole process: ``python -m calsync ... plan`` against a process that imports icalendar and
      recurring_ical_events and parses and expands the file (interpreter start and imports
      included). **This is the figure issue 9 names (target: at most 2x)**: what a person waits
      for, start-up and imports included. Then ``calsync --help`` as a process (issue 12: under
      0.15 s).

(b) **The pure planner per athlete-year.** 1,000 different athletes (``random.Random(seed)``): 52
    weeks of :class:`~calsync.core.model.Run` objects with varied structure (3-7 runs a week, the long run
    on varying days, back-to-backs, 1-3 races with A/B/C priorities, cutback weeks, weeks without
    runs, timed and all-day runs, five time zones), a few busy blocks, and varied rules (1-3 sessions
    a week, windows, rest-day and same-day-order preferences). Only ``plan(inp)`` is timed
    (generation is not). Target: a mean under 20 ms per athlete-year. Every result is also checked
    cheaply (no strength session and no run on a week's rest day, unique UIDs, nothing in the past):
    a violation makes the bench exit with status 1, so it guards correctness too.

How to read the figures: the machine may be shared and noisy, so nothing is compared across runs.
Each figure is taken ``--repeat`` times (calsync and baseline interleaved, after one warm-up) and
the **median** is reported, with the **min** (the least disturbed run) alongside; ratios are
computed from figures of the same run. For (b), each athlete's time is the min over its repeats,
then mean / median / p95 / max are taken over athletes. The garbage collector is paused during
in-process timings (as ``timeit`` does) and run between them.

Exit status: 0 whether or not a target is met (the bench reports; it is not a test), 1 when a
correctness check fails (wrong number of runs read, a broken plan, a failed command).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import gc
import io
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

import calsync
from calsync.cli import main as calsync_main
from calsync.config import PlanConfig, load_config, parse_rules
from calsync.core.catalogue import Catalogue
from calsync.core.model import Busy, PlanResult, Run, RunKind, SessionKind
from calsync.core.planner import PlanInput, plan
from calsync.core.settings import WEEKDAYS, Rules
from calsync.output import dumps_plan_json
from calsync.pipeline import classify_for, plan_input, read_sources, window_for

T = TypeVar("T")

INPROCESS_TARGET = 2.0
"""(a): calsync plan may take at most this many times the parse + expand baseline (in-process)."""
PROCESS_TARGET = 2.0
"""Issue 9: the whole ``calsync plan`` process against a bare parse + expand process."""
HELP_TARGET = 0.150
"""Seconds: ``calsync --help`` as a whole process (issue 12)."""
PLANNER_TARGET_MS = 20.0
"""(b): mean planner time per athlete-year."""
FEED_MONDAY = date(2026, 1, 5)
"""First week of the generated feed (ISO 2026-W02); the year crosses both DST changes."""
FEED_WEEKS = 52
FEED_NOW = "2026-01-05T05:00:00+01:00"
"""``--now`` for (a): that Monday before the first strength window, so the whole year is planned."""
CHECKER = Path(__file__).resolve().parents[2] / "shared" / "checks" / "plan_check.py"
"""The project's hard-rule checker, run once on the plan of (a) when it is there."""


class BenchError(Exception):
    """A correctness failure: the bench exits non-zero."""


# ---- timing helpers ----------------------------------------------------------------------------


def _timed(func: Callable[[], T], *, collect: bool = True) -> tuple[float, T]:
    """Seconds one call takes (garbage collector paused), and its result.

    ``collect`` runs a full collection first; (b) skips it, since with 1,000 athletes in memory it
    would cost more than the call it prepares (it collects once per round instead).
    """
    if collect:
        gc.collect()
    gc.disable()
    try:
        start = clock.perf_counter()
        result = func()
        elapsed = clock.perf_counter() - start
    finally:
        gc.enable()
    return elapsed, result


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


@dataclass(frozen=True)
class Pair:
    """Repeated timings of calsync and of its baseline, taken interleaved."""

    calsync: list[float]
    baseline: list[float]

    @property
    def median_ratio(self) -> float:
        """Ratio of the medians."""
        return statistics.median(self.calsync) / statistics.median(self.baseline)

    @property
    def min_ratio(self) -> float:
        """Ratio of the minimums."""
        return min(self.calsync) / min(self.baseline)


def _interleaved(first: Callable[[], float], second: Callable[[], float], repeat: int) -> Pair:
    """Time both ``repeat`` times, alternating which goes first, after one warm-up call of each."""
    first()
    second()
    a: list[float] = []
    b: list[float] = []
    for i in range(repeat):
        if i % 2:
            b.append(second())
            a.append(first())
        else:
            a.append(first())
            b.append(second())
    return Pair(a, b)


# ---- (a) the feed ------------------------------------------------------------------------------

BERLIN = ZoneInfo("Europe/Berlin")
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


@dataclass(frozen=True)
class Feed:
    """The generated files of (a) and what calsync must find in them."""

    ics: Path
    config: Path
    runs: int
    """Run occurrences in the file (all inside the planning horizon)."""


def _day(week: int, weekday: int) -> date:
    return FEED_MONDAY + timedelta(weeks=week, days=weekday)


def _local(day: date, hour: int, minute: int = 0) -> str:
    return f"{day:%Y%m%d}T{hour:02d}{minute:02d}00"


class _IcsWriter:
    """Builds iCalendar text line by line (folding is not needed: every line is short)."""

    def __init__(self) -> None:
        self.lines = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//calsync//plan_bench//EN",
            "X-WR-CALNAME:Training plan",
            *VTIMEZONE_BERLIN.splitlines(),
        ]
        self.stamp = "DTSTAMP:20251220T120000Z"

    def timed(self, uid: str, summary: str, day: date, *extra: str, at: time, minutes: int) -> None:
        start = datetime.combine(day, at)
        end = start + timedelta(minutes=minutes)
        self.lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            self.stamp,
            f"SUMMARY:{summary}",
            f"DTSTART;TZID=Europe/Berlin:{start:%Y%m%dT%H%M%S}",
            f"DTEND;TZID=Europe/Berlin:{end:%Y%m%dT%H%M%S}",
            *extra,
            "END:VEVENT",
        ]

    def all_day(self, uid: str, summary: str, day: date, *extra: str, days: int = 1) -> None:
        self.lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            self.stamp,
            f"SUMMARY:{summary}",
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{day + timedelta(days=days):%Y%m%d}",
            *extra,
            "END:VEVENT",
        ]

    def text(self) -> str:
        return "\r\n".join([*self.lines, "END:VCALENDAR", ""])


def write_feed(folder: Path) -> Feed:
    """Write the 52-week plan of (a) and its config into ``folder``."""
    ics = _IcsWriter()
    runs = 0
    until = "UNTIL=20270103T225959Z"  # the end of the feed's last Sunday, in UTC as RFC 5545 asks
    holiday = 30  # a week away: no runs, a three-day busy block

    # Tuesday intervals at 18:00, weekly; two cancelled (EXDATE), one moved to Wednesday (RECURRENCE-ID).
    skipped = [_day(holiday, 1), _day(12, 1)]
    moved = _day(20, 1)
    intervals = "Run: Intervals 8x400m"
    ics.timed(
        "tue-intervals@bench",
        intervals,
        _day(0, 1),
        f"RRULE:FREQ=WEEKLY;BYDAY=TU;{until}",
        *(f"EXDATE;TZID=Europe/Berlin:{_local(d, 18)}" for d in skipped),
        at=time(18),
        minutes=75,
    )
    moved_from = f"RECURRENCE-ID;TZID=Europe/Berlin:{_local(moved, 18)}"
    ics.timed(
        "tue-intervals@bench", intervals, moved + timedelta(days=1), moved_from, at=time(18, 30), minutes=75
    )
    runs += FEED_WEEKS - len(skipped)
    # Wednesday lunch easy run, Thursday tempo, Sunday easy: weekly (the latter two off in the holiday).
    weekly = f"RRULE:FREQ=WEEKLY;{until}"
    ics.timed("wed-easy@bench", "Run: Easy Run 40 min", _day(0, 2), weekly, at=time(12, 15), minutes=40)
    off = f"EXDATE;TZID=Europe/Berlin:{_local(_day(holiday, 3), 18)}"
    ics.timed(
        "thu-tempo@bench", "Run: Tempo into VO2max spikes", _day(0, 3), weekly, off, at=time(18), minutes=55
    )
    off = f"EXDATE;TZID=Europe/Berlin:{_local(_day(holiday, 6), 10)}"
    ics.timed("sun-easy@bench", "Run: Easy Run 35 min", _day(0, 6), weekly, off, at=time(10), minutes=35)
    runs += FEED_WEEKS + 2 * (FEED_WEEKS - 1)
    # Friday shake-out every other week; Monday strides for 20 weeks (COUNT).
    every_other = f"RRULE:FREQ=WEEKLY;INTERVAL=2;{until}"
    ics.timed("fri-easy@bench", "Easy Run 30 min", _day(0, 4), every_other, at=time(7), minutes=30)
    runs += FEED_WEEKS // 2
    strides = "Run: Easy Run 30 min with strides"
    ics.timed(
        "mon-strides@bench", strides, _day(22, 0), "RRULE:FREQ=WEEKLY;COUNT=20", at=time(18), minutes=30
    )
    runs += 20

    # Races (title, weekday, minutes): two B races, the A marathon in week 42 (October, after DST ends).
    races = {
        14: ("Race: Citylauf 10K (B)", 5, 60),
        24: ("Race: Half Marathon (B)", 5, 105),
        42: ("Race: Frankfurt Marathon (A)", 6, 240),
    }
    for week, (title, weekday, minutes) in races.items():
        ics.timed(f"race-{week}@bench", title, _day(week, weekday), at=time(9, 30), minutes=minutes)
        runs += 1
    # One-off all-day long runs on Saturday (TrainingPeaks style): a ramp with cutback weeks, a taper.
    for week in range(FEED_WEEKS):
        if week == holiday or (week in races and races[week][1] == 5):
            continue
        if week < 39:
            km = 14 + round(18 * week / 38)
            km = round(km * 0.7) if week % 4 == 3 else km
        elif week < 42:
            km = (26, 20, 14)[week - 39]
        else:
            km = 10 + min(12, 2 * (week - 43)) if week > 42 else 8
        ics.all_day(f"long-{week}@bench", f"Long Run {km} km", _day(week, 5))
        runs += 1

    # Non-run events: a weekly bike ride and an early meeting, cross-training notes (free time),
    # the holiday, a dentist appointment.
    ics.timed("bike@bench", "Bike: 1:30", _day(0, 2), weekly, at=time(17, 30), minutes=90)
    ics.timed("meeting@bench", "Team meeting", _day(0, 3), weekly, at=time(7), minutes=60)
    ics.all_day("xt@bench", "Rest or cross-training", _day(0, 0), weekly, "TRANSP:TRANSPARENT")
    ics.all_day("holiday@bench", "Holiday in the mountains", _day(holiday, 1), days=3)
    ics.timed("dentist@bench", "Dentist", _day(9, 4), at=time(7, 30), minutes=45)

    path = folder / "plan.ics"
    path.write_bytes(ics.text().encode("utf-8"))
    config = folder / "calsync.toml"
    config.write_text(
        '[[plan]]\nid = "bench"\ntimezone = "Europe/Berlin"\nhorizon_weeks = 52\n\n'
        '[[plan.source]]\nkind = "ics_file"\npath = "plan.ics"\n\n'
        '[plan.rules]\nstrength_windows = ["06:00-08:00"]\n',
        encoding="utf-8",
    )
    return Feed(path, config, runs)


# ---- (a) the measurements ----------------------------------------------------------------------


def _calsync_argv(feed: Feed) -> list[str]:
    return ["--config", str(feed.config), "plan", "--format", "json", "--now", FEED_NOW]


def _calsync_in_process(feed: Feed) -> str:
    """The whole pipeline from the file to the printed JSON, as ``calsync plan`` runs it."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = calsync_main(_calsync_argv(feed))
    if status != 0:
        raise BenchError(f"calsync plan exited with status {status}")
    return buffer.getvalue()


def _parse_and_expand(path: Path, start: datetime, end: datetime) -> int:
    """The baseline: read, parse and expand the file over the window; the number of occurrences."""
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    return len(recurring_ical_events.of(calendar).between(start, end))


_BASELINE_PROCESS = """
import sys
from datetime import datetime
from pathlib import Path
import icalendar, recurring_ical_events
calendar = icalendar.Calendar.from_ical(Path(sys.argv[1]).read_bytes())
occurrences = recurring_ical_events.of(calendar).between(
    datetime.fromisoformat(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
)
print(len(occurrences))
"""


def _process(argv: Sequence[str]) -> float:
    """Wall time of a child process; its failure is a bench failure."""
    start = clock.perf_counter()
    proc = subprocess.run(argv, capture_output=True, check=False)
    elapsed = clock.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv[:3])}... exited with {proc.returncode}: {proc.stderr[-300:]!r}")
    return elapsed


def _check_plan_json(text: str, feed: Feed) -> list[str]:
    """What is wrong with the plan of (a): the runs calsync read, and plan_check's findings."""
    problems = []
    data = json.loads(text)
    found = len(data["plans"][0]["runs"])
    if found != feed.runs:
        problems.append(f"(a) calsync read {found} runs from the feed, expected {feed.runs}")
    if CHECKER.is_file():
        proc = subprocess.run(
            [sys.executable, str(CHECKER), "-"], input=text, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            problems.append(f"(a) plan_check found broken rules: {proc.stdout.strip()[-600:]}")
    return problems


def bench_feed(folder: Path, repeat: int) -> tuple[list[str], list[str]]:
    """(a): the report lines and the correctness problems."""
    feed = write_feed(folder)
    config: PlanConfig = load_config(feed.config).plan[0]
    now = datetime.fromisoformat(FEED_NOW).astimezone(config.zone)
    window = window_for(config, now)
    output = _calsync_in_process(feed)
    problems = _check_plan_json(output, feed)
    occurrences = _parse_and_expand(feed.ics, window.read_start, window.read_end)
    weeks = len(json.loads(output)["plans"][0]["weeks"])

    inproc = _interleaved(
        lambda: _timed(lambda: _calsync_in_process(feed))[0],
        lambda: _timed(lambda: _parse_and_expand(feed.ics, window.read_start, window.read_end))[0],
        repeat,
    )
    stages = _stages(config, now, repeat)
    python = sys.executable
    # an installed package has its bytecode; this checkout may run with PYTHONDONTWRITEBYTECODE
    compileall.compile_dir(str(Path(calsync.__file__).parent), quiet=1)
    process = _interleaved(
        lambda: _process([python, "-m", "calsync", *_calsync_argv(feed)]),
        lambda: _process(
            [
                python,
                "-c",
                _BASELINE_PROCESS,
                str(feed.ics),
                window.read_start.isoformat(),
                window.read_end.isoformat(),
            ]
        ),
        repeat,
    )

    helps = sorted(_process([python, "-m", "calsync", "--help"]) for _ in range(max(repeat, 5)))
    help_verdict = "PASS" if statistics.median(helps) < HELP_TARGET else "FAIL"

    c_med, b_med = statistics.median(inproc.calsync), statistics.median(inproc.baseline)
    verdict = "PASS" if inproc.median_ratio <= INPROCESS_TARGET else "FAIL"
    process_verdict = "PASS" if process.median_ratio <= PROCESS_TARGET else "FAIL"
    p_med, pb_med = statistics.median(process.calsync), statistics.median(process.baseline)
    size_kb = feed.ics.stat().st_size / 1024
    lines = [
        f"feed: {FEED_WEEKS} weeks from {FEED_MONDAY}, {feed.runs} run occurrences, "
        f"{occurrences} occurrences in calsync's read window "
        f"{window.read_start.date()}..{window.read_end.date()}, {size_kb:.0f} KiB; "
        f"calsync planned {weeks} weeks",
        f"calsync plan (in-process) {_ms(c_med)} vs parse+expand {_ms(b_med)} -> "
        f"{inproc.median_ratio:.2f}x (target <= {INPROCESS_TARGET:g}x) "
        f"{verdict}",
        f"    medians of {repeat}; min {_ms(min(inproc.calsync))} vs {_ms(min(inproc.baseline))} -> "
        f"{inproc.min_ratio:.2f}x",
        "    calsync stages (medians): " + ", ".join(f"{name} {_ms(t)}" for name, t in stages),
        f"calsync plan (process) {_ms(p_med)} vs python -c 'import icalendar, recurring_ical_events; "
        f"parse+expand' {_ms(pb_med)} -> {process.median_ratio:.2f}x (target <= {PROCESS_TARGET:g}x, "
        f"the whole process, issue 9's figure) {process_verdict}",
        f"    medians of {repeat}; min {_ms(min(process.calsync))} vs {_ms(min(process.baseline))} -> "
        f"{process.min_ratio:.2f}x",
        f"calsync --help (process) {_ms(statistics.median(helps))}, min {_ms(helps[0])} "
        f"(target < {_ms(HELP_TARGET)}) {help_verdict}",
    ]
    return lines, problems


def _stages(config: PlanConfig, now: datetime, repeat: int) -> list[tuple[str, float]]:
    """Median time of each pipeline stage of ``calsync plan`` for the feed of (a)."""
    window = window_for(config, now)
    times: dict[str, list[float]] = {"read+expand": [], "classify": [], "plan": [], "json": []}
    for _ in range(repeat + 1):  # the first round is a warm-up
        t_read, read = _timed(lambda: read_sources(config, window))
        t_classify, classified = _timed(partial(classify_for, config, now, read.events))
        inp = plan_input(config, now, classified)
        t_plan, result = _timed(partial(plan, inp))
        t_json, _ = _timed(partial(dumps_plan_json, [result], generated_at=now))
        for name, seconds in zip(times, (t_read, t_classify, t_plan, t_json), strict=True):
            times[name].append(seconds)
    return [(name, statistics.median(values[1:])) for name, values in times.items()]


# ---- (b) generated athletes --------------------------------------------------------------------

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo", "Europe/London")
WINDOW_CHOICES: tuple[tuple[str, ...], ...] = (
    ("06:00-08:00",),
    ("06:00-07:30", "18:00-20:00"),
    ("05:30-07:00",),
    ("12:00-13:30", "19:00-21:00"),
    ("06:00-09:00",),
)
RACE_KM = (5.0, 10.0, 21.1, 42.2, 50.0, 100.0, 161.0)


@dataclass(frozen=True)
class Athlete:
    """One generated athlete-year."""

    inp: PlanInput
    rest_runs: dict[date, int]
    """Runs per local day (a rest day must have none)."""


def _athlete_rules(rng: random.Random) -> Rules:
    by_day: dict[str, list[str]] = {}
    if rng.random() < 0.3:
        by_day[rng.choice(WEEKDAYS[5:])] = ["08:00-11:00"]
    return parse_rules(
        {
            "strength_sessions_per_week": rng.randint(1, 3),
            "strength_windows": list(rng.choice(WINDOW_CHOICES)),  # strings, as a config file has them
            "strength_windows_by_day": by_day,
            "same_day_order": rng.choice(("lift_first", "lift_first", "run_first")),
            "rest_day": rng.choice((None, None, "mon", "fri")),
            "preferred_strength_days": rng.sample(WEEKDAYS, 3) if rng.random() < 0.25 else [],
        }
    )


class _AthleteBuilder:
    """Generates one athlete's runs and busy time for 52 weeks (plus a few weeks of history)."""

    def __init__(self, rng: random.Random, index: int) -> None:
        self.rng = rng
        self.index = index
        self.zone = ZoneInfo(rng.choice(ZONES))
        self.first_week = date(2026, 1, 5) + timedelta(weeks=rng.randrange(52))
        self.timed_style = rng.choice(("timed", "all_day", "mixed"))
        self.run_hour = rng.choice((6, 7, 12, 17, 18))
        self.runs: list[Run] = []

    def _run(self, kind: RunKind, day: date, minutes: int, title: str, **extra: object) -> None:
        uid = f"a{self.index}-{day.isoformat()}-{len(self.runs)}"
        timed = self.timed_style == "timed" or (self.timed_style == "mixed" and self.rng.random() < 0.5)
        if timed:
            start = datetime.combine(day, time(self.run_hour, 0), self.zone)
            self.runs.append(
                Run(uid, title, kind, start, start + timedelta(minutes=minutes), minutes=minutes, **extra)  # type: ignore[arg-type]
            )
        else:
            self.runs.append(Run(uid, title, kind, day, day + timedelta(days=1), minutes=minutes, **extra))  # type: ignore[arg-type]

    def build(self, rules: Rules) -> Athlete:
        rng = self.rng
        a_week = rng.randint(30, 51)
        races = {a_week: "A"}
        for _ in range(rng.randint(0, 2)):
            races.setdefault(rng.randint(4, a_week - 4), rng.choice("BBC"))
        off_weeks = set(rng.sample(range(52), rng.randint(0, 3))) - set(races)
        long_day = rng.choice((5, 6, 6, 6, 4))
        back_to_back = rng.random() < 0.3
        cutback = rng.choice((3, 4))
        base_long, peak_long = rng.randint(60, 100), rng.randint(150, 240)
        for week in range(-4, 52):
            monday = self.first_week + timedelta(weeks=week)
            if week in off_weeks:
                continue
            day_of_long = (long_day + (rng.choice((-1, 1)) if rng.random() < 0.1 else 0)) % 7
            ramp = min(1.0, max(0.0, (week + 4) / max(1, a_week - 3)))
            long_minutes = round(base_long + (peak_long - base_long) * ramp)
            if week % cutback == cutback - 1 or a_week - 3 < week <= a_week + 3:
                long_minutes = round(long_minutes * 0.6)
            used = {day_of_long}
            if week in races:
                race_day = monday + timedelta(days=rng.choice((5, 6)))
                used.add(race_day.weekday())
                km = rng.choice(RACE_KM if races[week] == "A" else RACE_KM[:4])
                self._run(
                    RunKind.RACE,
                    race_day,
                    round(km * 6),
                    f"Race {self.index}-{week}",
                    distance_km=km,
                    priority=races[week],
                )
                if races[week] == "A":
                    continue  # race week: the race and a couple of shake-outs at most
            else:
                self._run(RunKind.LONG, monday + timedelta(days=day_of_long), long_minutes, "Long run")
                if back_to_back and ramp > 0.5 and day_of_long < 6:
                    used.add(day_of_long + 1)
                    self._run(
                        RunKind.LONG,
                        monday + timedelta(days=day_of_long + 1),
                        long_minutes // 2,
                        "Long run B2B",
                    )
            count = rng.randint(3, 7) - len(used)
            others = rng.sample([d for d in range(7) if d not in used], max(0, min(count, 7 - len(used))))
            for n, weekday in enumerate(sorted(others)):
                day = monday + timedelta(days=weekday)
                if n < rng.randint(1, 2):
                    self._run(RunKind.QUALITY, day, rng.randint(45, 80), "Intervals")
                else:
                    self._run(RunKind.EASY, day, rng.randint(30, 60), "Easy run")
        busy = self._busy()
        rest_runs: dict[date, int] = {}
        for run in self.runs:
            day = run.first_day
            while day <= run.last_day:
                rest_runs[day] = rest_runs.get(day, 0) + 1
                day += timedelta(days=1)
        rng.shuffle(self.runs)  # the planner must not depend on the order
        inp = PlanInput(
            plan_id=f"athlete-{self.index:04d}",
            zone=self.zone,
            runs=tuple(self.runs),
            busy=tuple(busy),
            rules=rules,
            now=datetime.combine(self.first_week, time(5, 0), self.zone),
            horizon_weeks=52,
            catalogue=Catalogue(),
        )
        return Athlete(inp, rest_runs)

    def _busy(self) -> list[Busy]:
        rng = self.rng
        out = []
        for _ in range(rng.randint(2, 6)):
            day = self.first_week + timedelta(days=rng.randrange(364))
            if rng.random() < 0.7:
                start = datetime.combine(day, time(rng.choice((6, 7, 12, 18)), 0), self.zone)
                out.append(Busy(start, start + timedelta(minutes=rng.choice((30, 60, 90))), "Meeting"))
            else:
                start = datetime.combine(day, time(0), self.zone)
                end = datetime.combine(day + timedelta(days=rng.randint(1, 4)), time(0), self.zone)
                out.append(Busy(start, end, "Trip"))
        return out


def make_athletes(count: int, seed: int) -> list[Athlete]:
    """``count`` different athletes, the same for the same seed."""
    rng = random.Random(seed)
    return [_AthleteBuilder(rng, i).build(_athlete_rules(rng)) for i in range(count)]


def check_result(athlete: Athlete, result: PlanResult) -> list[str]:
    """Cheap invariants of a plan: rest days free of sessions and runs, unique UIDs, nothing past."""
    problems = []
    inp = athlete.inp
    uids = [s.uid for s in result.sessions]
    if len(set(uids)) != len(uids):
        dupes = sorted({u for u in uids if uids.count(u) > 1})
        problems.append(f"{inp.plan_id}: duplicate session UIDs {dupes[:3]}")
    rest_days = {w.rest_day for w in result.weeks if w.rest_day is not None}
    for session in result.sessions:
        if session.kind is SessionKind.REST:
            if session.day not in rest_days:
                problems.append(f"{inp.plan_id}: rest session on {session.day} is not a week's rest day")
            continue
        if session.day in rest_days:
            problems.append(f"{inp.plan_id}: {session.kind.value} on rest day {session.day} ({session.uid})")
        if not isinstance(session.start, datetime):
            problems.append(f"{inp.plan_id}: strength session {session.uid} is not timed")
        elif session.start <= inp.now:
            problems.append(f"{inp.plan_id}: {session.uid} starts in the past ({session.start})")
    problems += [
        f"{inp.plan_id}: rest day {day} has a run" for day in sorted(rest_days) if athlete.rest_runs.get(day)
    ]
    return problems


def bench_planner(athletes: int, seed: int, repeat: int) -> tuple[list[str], list[str], list[float]]:
    """(b): the report lines, the correctness problems, and the per-athlete times (seconds)."""
    generated = make_athletes(athletes, seed)
    plan(generated[0].inp)  # warm-up
    best = [float("inf")] * len(generated)
    problems: list[str] = []
    sessions = weeks = 0
    for round_ in range(repeat):
        gc.collect()
        for i, athlete in enumerate(generated):
            elapsed, result = _timed(partial(plan, athlete.inp), collect=False)
            best[i] = min(best[i], elapsed)
            if round_ == 0:
                problems += check_result(athlete, result)
                sessions += len(result.sessions)
                weeks += len(result.weeks)
    ms = sorted(t * 1000 for t in best)
    mean = statistics.fmean(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * len(ms)) - 1)]
    verdict = "PASS" if mean < PLANNER_TARGET_MS else "FAIL"
    lines = [
        f"planner: {athletes} athlete-years (seed {seed}, {weeks} weeks, {sessions} sessions placed), "
        f"min of {repeat} per athlete",
        f"planner per athlete-year: mean {mean:.2f} ms, median {statistics.median(ms):.2f} ms, "
        f"p95 {p95:.2f} ms, max {ms[-1]:.2f} ms; total {sum(ms) / 1000:.2f} s "
        f"(target: mean < {PLANNER_TARGET_MS:g} ms) {verdict}",
        f"planner checks: {athletes} plans, no session or run on a rest day, unique UIDs, "
        "nothing in the past: " + ("OK" if not problems else f"{len(problems)} FAILURE(S)"),
    ]
    return lines, problems, best


# ---- main --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run both benchmarks and print the report; 1 on a correctness failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--athletes", type=int, default=1000, help="athletes for (b) (default 1000)")
    parser.add_argument("--repeat", type=int, default=5, help="timings per figure (default 5)")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the generated athletes")
    args = parser.parse_args(argv)
    if args.athletes < 1 or args.repeat < 1:
        parser.error("--athletes and --repeat must be at least 1")
    problems: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="plan_bench-") as folder:
            lines, found = bench_feed(Path(folder), args.repeat)
        problems += found
        for line in lines:
            print(f"plan_bench: {line}", flush=True)
        lines, found, _ = bench_planner(args.athletes, args.seed, args.repeat)
        problems += found
        for line in lines:
            print(f"plan_bench: {line}", flush=True)
    except BenchError as err:
        problems.append(str(err))
    for problem in problems[:20]:
        print(f"plan_bench: CORRECTNESS FAILURE: {problem}", file=sys.stderr)
    if len(problems) > 20:
        print(f"plan_bench: ... and {len(problems) - 20} more", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
