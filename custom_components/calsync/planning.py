"""From an entry's settings and its source events to a plan: calsync's classify and plan steps
as ``calsync plan`` runs them (``calsync.pipeline``), without its config file reader. No Home
Assistant imports, no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .calsync_lib.core.catalogue import Catalogue
from .calsync_lib.core.classify import classify_events
from .calsync_lib.core.identity import is_session_uid
from .calsync_lib.core.model import (
    Exercise,
    PlanResult,
    PlanWarning,
    Session,
    SessionKind,
    SourceEvent,
    WarningCode,
)
from .calsync_lib.core.planner import PlanInput, plan
from .calsync_lib.core.settings import Classification, Rules, TimeWindow
from .calsync_lib.core.window import Window, planning_window
from .const import (
    CONF_A_RACE,
    CONF_HORIZON_WEEKS,
    CONF_NAME,
    CONF_REST_DAY,
    CONF_SAME_DAY_ORDER,
    CONF_SESSIONS_PER_WEEK,
    CONF_TIME_ZONE,
    CONF_WINDOWS,
    DEFAULT_HORIZON_WEEKS,
    NO_REST_DAY,
)


def plan_id(name: str) -> str:
    """The plan id (part of every session UID) from the name the user gave the entry."""
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.strip().lower()).strip("-")
    return (slug or "plan")[:64]


def parse_windows(text: str) -> tuple[TimeWindow, ...]:
    """``06:00-08:00, 18:00-19:30`` -> windows (ValueError naming the bad one)."""
    windows = tuple(TimeWindow.parse(part) for part in text.split(",") if part.strip())
    if not windows:
        raise ValueError("give at least one window like 06:00-08:00")
    return windows


@dataclass(frozen=True)
class EntrySettings:
    """What an entry's data and options say about its plan."""

    plan_id: str
    zone: ZoneInfo
    horizon_weeks: int
    a_race: date | None
    rules: Rules

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EntrySettings:
        """Read the merged data and options of an entry (defaults: calsync's)."""
        rules = Rules()
        changes: dict[str, Any] = {}
        if CONF_SESSIONS_PER_WEEK in config:
            changes["strength_sessions_per_week"] = int(config[CONF_SESSIONS_PER_WEEK])
        if config.get(CONF_WINDOWS):
            changes["strength_windows"] = parse_windows(str(config[CONF_WINDOWS]))
        rest = config.get(CONF_REST_DAY)
        if rest:
            changes["rest_day"] = None if rest == NO_REST_DAY else rest
        if config.get(CONF_SAME_DAY_ORDER):
            changes["same_day_order"] = config[CONF_SAME_DAY_ORDER]
        race = config.get(CONF_A_RACE)
        return cls(
            plan_id=plan_id(str(config[CONF_NAME])),
            zone=ZoneInfo(str(config[CONF_TIME_ZONE])),
            horizon_weeks=int(config.get(CONF_HORIZON_WEEKS, DEFAULT_HORIZON_WEEKS)),
            a_race=date.fromisoformat(race) if race else None,
            rules=replace(rules, **changes) if changes else rules,
        )


def window_for(settings: EntrySettings, now: datetime) -> Window:
    """The planning window at ``now`` (the same as every calsync pass's)."""
    return planning_window(settings.zone, settings.horizon_weeks, now)


def make_plan(
    settings: EntrySettings,
    now: datetime,
    events: Sequence[SourceEvent],
    problems: Sequence[str] = (),
    previous: Sequence[Session] = (),
) -> PlanResult:
    """Classify the source events and plan, as ``calsync plan`` does for a plan without a target.
    ``previous``: the sessions of the last plan, which stay on their day while still valid."""
    window = window_for(settings, now)
    runs_and_busy = [e for e in events if not is_session_uid(e.uid)]
    classified = classify_events(
        runs_and_busy,
        Classification(),
        zone=settings.zone,
        a_race=settings.a_race,
        horizon_end=window.race_horizon,
        pace_min_per_km=settings.rules.default_pace_min_per_km,
    )
    result = plan(
        PlanInput(
            plan_id=settings.plan_id,
            zone=settings.zone,
            runs=classified.runs,
            busy=classified.busy,
            rules=settings.rules,
            now=now,
            horizon_weeks=settings.horizon_weeks,
            catalogue=Catalogue(),
            a_race=settings.a_race,
            previous=[s for s in previous if _starts_after(s, now)],
        )
    )
    if problems:
        warnings = tuple(PlanWarning(WarningCode.SKIPPED_EVENT, p) for p in problems)
        result = replace(result, warnings=(*warnings, *result.warnings))
    return result


def _starts_after(session: Session, now: datetime) -> bool:
    start = session.start
    if isinstance(start, datetime):
        return start > now
    return start > now.date()


def derived_uid(summary: str, start: object) -> str:
    """A stable UID for a source event that has none (some calendar entities give none)."""
    digest = hashlib.sha256(f"{summary}\x00{start}".encode()).hexdigest()[:24]
    return f"{digest}@ha.calsync"


def event_to_json(event: SourceEvent) -> dict[str, Any]:
    """A source event as JSON (the last good read is kept in Home Assistant's storage)."""
    return {
        "uid": event.uid,
        "summary": event.summary,
        "start": event.start.isoformat(),
        "end": event.end.isoformat(),
        "all_day": event.all_day,
        "recurrence_id": event.recurrence_id,
        "description": event.description,
        "categories": list(event.categories),
        "location": event.location,
        "busy": event.busy,
        "source": event.source,
    }


def event_from_json(data: Mapping[str, Any]) -> SourceEvent:
    """:func:`event_to_json` read back."""
    parse = date.fromisoformat if data["all_day"] else datetime.fromisoformat
    return SourceEvent(
        uid=data["uid"],
        summary=data["summary"],
        start=parse(data["start"]),
        end=parse(data["end"]),
        recurrence_id=data["recurrence_id"],
        description=data["description"],
        categories=tuple(data["categories"]),
        location=data["location"],
        busy=data["busy"],
        source=data["source"],
    )


def _when_json(value: date | datetime) -> dict[str, str]:
    return {"datetime": value.isoformat()} if isinstance(value, datetime) else {"date": value.isoformat()}


def _when_from(data: Mapping[str, str]) -> date | datetime:
    return (
        datetime.fromisoformat(data["datetime"]) if "datetime" in data else date.fromisoformat(data["date"])
    )


def session_to_json(session: Session) -> dict[str, Any]:
    """A planned session as JSON (the last plan is kept in storage: Stability across restarts)."""
    return {
        "uid": session.uid,
        "kind": session.kind.value,
        "title": session.title,
        "start": _when_json(session.start),
        "end": _when_json(session.end),
        "week": session.week,
        "slot": session.slot,
        "muscle_groups": list(session.muscle_groups),
        "reasons": list(session.reasons),
        "exercises": [[e.name, e.prescription] for e in session.exercises],
        "load": session.load,
        "fixed": session.fixed,
        "rules": list(session.rules),
        "effort": session.effort,
        "warmup": session.warmup,
        "alternative": session.alternative,
    }


def session_from_json(data: Mapping[str, Any]) -> Session:
    """:func:`session_to_json` read back."""
    return Session(
        uid=data["uid"],
        kind=SessionKind(data["kind"]),
        title=data["title"],
        start=_when_from(data["start"]),
        end=_when_from(data["end"]),
        week=data["week"],
        slot=data["slot"],
        muscle_groups=tuple(data["muscle_groups"]),
        reasons=tuple(data["reasons"]),
        exercises=tuple(Exercise(name, prescription) for name, prescription in data["exercises"]),
        load=data["load"],
        fixed=data["fixed"],
        rules=tuple(data["rules"]),
        effort=data["effort"],
        warmup=data["warmup"],
        alternative=data["alternative"],
    )
