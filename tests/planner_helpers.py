"""Small builders for the planner scenario tests: runs in Europe/Berlin, one-call planning, plan_check.

Weeks are counted from ``MON`` (Monday 2026-11-30, ISO week 2026-W49): ``d(0, "sat")`` is the
Saturday of that week, ``d(1, "mon")`` the next Monday. ``NOW`` is that Monday at 05:00, before
the first strength window, so the whole week can be planned.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from calsync.config import parse_rules
from calsync.core.model import Busy, PlanResult, Run, RunKind, Session, SessionKind
from calsync.core.planner import PlanInput, plan
from calsync.core.settings import WEEKDAYS
from calsync.output import plan_json
from conftest import PLAN_CHECK

BERLIN = ZoneInfo("Europe/Berlin")
MON = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 5, 0, tzinfo=BERLIN)
STRENGTH = frozenset(k for k in SessionKind if k is not SessionKind.REST)


def d(week: int, weekday: str) -> date:
    """The day ``weekday`` (``mon``..``sun``) of week ``week`` counted from ``MON``."""
    return MON + timedelta(weeks=week, days=WEEKDAYS.index(weekday))


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall time in Berlin."""
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def timed(
    kind: RunKind,
    day: date,
    hour: int = 18,
    minutes: int = 60,
    *,
    title: str | None = None,
    uid: str | None = None,
    km: float | None = None,
    priority: str | None = None,
) -> Run:
    """A timed run starting at ``hour`` (Berlin) and lasting ``minutes``."""
    start = at(day, hour)
    return Run(
        uid=uid or f"{kind.value}-{day.isoformat()}@test",
        title=title or f"{kind.value.capitalize()} run {day:%a %d %b}",
        kind=kind,
        start=start,
        end=start + timedelta(minutes=minutes),
        distance_km=km,
        minutes=minutes,
        priority=priority,
    )


def all_day(
    kind: RunKind,
    day: date,
    *,
    title: str | None = None,
    uid: str | None = None,
    km: float | None = None,
    minutes: int | None = None,
    priority: str | None = None,
    days: int = 1,
) -> Run:
    """An all-day run (TrainingPeaks style): it takes the default run time (07:00) for planning."""
    return Run(
        uid=uid or f"{kind.value}-{day.isoformat()}@test",
        title=title or f"{kind.value.capitalize()} run {day:%a %d %b}",
        kind=kind,
        start=day,
        end=day + timedelta(days=days),
        distance_km=km,
        minutes=minutes,
        priority=priority,
    )


def race(day: date, km: float, priority: str = "A", title: str | None = None) -> Run:
    """An all-day race of ``km`` kilometres."""
    return all_day(RunKind.RACE, day, km=km, priority=priority, title=title or f"Race {km:g} km ({priority})")


def plan_week(
    runs: Iterable[Run],
    *,
    busy: Sequence[Busy] = (),
    now: datetime = NOW,
    fixed: Sequence[Session] = (),
    previous: Sequence[Session] = (),
    horizon_weeks: int = 16,
    plan_id: str = "me",
    **rules: Any,
) -> PlanResult:
    """Plan the runs with the default rules, changed by ``rules`` (any :class:`Rules` field)."""
    return plan(
        PlanInput(
            plan_id=plan_id,
            zone=BERLIN,
            runs=list(runs),
            busy=list(busy),
            rules=parse_rules(rules),
            now=now,
            horizon_weeks=horizon_weeks,
            fixed=list(fixed),
            previous=list(previous),
        )
    )


def history(runs: Iterable[Run], weeks: int = 1) -> list[Run]:
    """The same runs ``weeks`` earlier (already done): a plan under way, so its first planned
    week is not the first heavy week (which would be eased in at a moderate load)."""
    shift = timedelta(weeks=weeks)
    out = []
    for run in runs:
        out.append(replace(run, uid=f"past{weeks}-{run.uid}", start=run.start - shift, end=run.end - shift))
    return out


def strength(result: PlanResult) -> list[Session]:
    """The strength sessions (everything but rest days), in order."""
    return [s for s in result.sessions if s.kind in STRENGTH]


def sessions_in(result: PlanResult, week: int) -> list[Session]:
    """The sessions of week ``week`` counted from ``MON``."""
    first = MON + timedelta(weeks=week)
    return [s for s in result.sessions if first <= s.day < first + timedelta(days=7)]


def by_day(result: PlanResult, week: int = 0) -> dict[str, list[str]]:
    """``{"mon": ["heavy_lower"], ...}`` for one week: what the planner put on each weekday."""
    out: dict[str, list[str]] = {}
    for s in sessions_in(result, week):
        out.setdefault(WEEKDAYS[s.day.weekday()], []).append(s.kind.value)
    return out


def rest_days(result: PlanResult) -> list[date]:
    """The days of the rest-day sessions."""
    return [s.day for s in result.sessions if s.kind is SessionKind.REST]


def codes(result: PlanResult) -> list[str]:
    """Warning codes, in order."""
    return [w.code for w in result.warnings]


def phases(result: PlanResult) -> dict[date, str]:
    """Phase of each planned week, by its Monday."""
    return {w.start: w.phase.value for w in result.weeks}


def hard_findings(result: PlanResult, generated_at: datetime = NOW) -> list[str]:
    """plan_check's hard findings on the plan's JSON; skips the test when plan_check is absent."""
    if not PLAN_CHECK.is_file():
        pytest.skip(f"plan_check.py is not at {PLAN_CHECK} (set CALSYNC_SHARED)")
    folder = str(PLAN_CHECK.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    from plan_check import Checker  # type: ignore[import-not-found]

    checker = Checker()
    checker.check_document(plan_json([result], generated_at=generated_at))
    return list(checker.hard)
