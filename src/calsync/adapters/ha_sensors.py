"""The sensors a Home Assistant target publishes after every pass (what a dashboard card shows).

Pure: a :class:`~calsync.core.model.PlanResult` and ``now`` in, entity ids and state payloads out
(``POST /api/states/<entity_id>`` bodies); the target adapter posts them.

* ``sensor.calsync_<plan>_next_session``: the next strength session. State: its start as an ISO
  timestamp with ``device_class: timestamp`` (HA shows "in 2 days" and automations can trigger on
  it); attributes: kind, title, start, end, duration ("45 min") and minutes, exercises, reasons.
* ``sensor.calsync_<plan>_week``: this training week. State: its phase, ``device_class: enum``
  with the phases as ``options``; attributes: run minutes, strength minutes planned and R4's
  target, rest day, the week's sessions and warnings.

Entity ids need ``[a-z0-9_]`` without ``__``: a plan id ``Anna-Marie`` gives ``calsync_anna_marie``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from calsync.core.model import Phase, PlanResult, Session, WeekPlan, first_day

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def object_id(plan_id: str) -> str:
    """The plan's part of an entity id: lower case, ``_`` for anything else, no ``__``."""
    slug = re.sub(r"[^a-z0-9]+", "_", plan_id.lower()).strip("_")
    return f"calsync_{slug}" if slug else "calsync"


def next_session_entity(plan_id: str) -> str:
    """``sensor.calsync_<plan>_next_session``."""
    return f"sensor.{object_id(plan_id)}_next_session"


def week_entity(plan_id: str) -> str:
    """``sensor.calsync_<plan>_week``."""
    return f"sensor.{object_id(plan_id)}_week"


def _end(session: Session, now: datetime) -> datetime:
    end = session.end
    return end if isinstance(end, datetime) else datetime.combine(end, time(0), now.tzinfo)


def _line(session: Session) -> str:
    """``Mon 06:00 Strength: heavy lower body`` / ``Sun Rest day``."""
    day = _DAYS[session.day.weekday()]
    if isinstance(session.start, datetime):
        return f"{day} {session.start:%H:%M} {session.title}"
    return f"{day} {session.title}"


def next_session_state(result: PlanResult, now: datetime) -> dict[str, Any]:
    """The payload of ``sensor.calsync_<plan>_next_session``."""
    attributes: dict[str, Any] = {
        "friendly_name": f"calsync {result.plan_id}: next strength session",
        "icon": "mdi:dumbbell",
        "device_class": "timestamp",
    }
    upcoming = sorted(
        (s for s in result.sessions if s.kind.is_strength and _end(s, now) > now),
        key=lambda s: (_end(s, now), s.uid),
    )
    if not upcoming:
        return {"state": "unknown", "attributes": attributes}
    session = upcoming[0]
    start = (
        session.start
        if isinstance(session.start, datetime)
        else datetime.combine(session.start, time(0), now.tzinfo)
    )
    attributes.update(
        {
            "kind": session.kind.value,
            "title": session.title,
            "start": start.isoformat(),
            "end": _end(session, now).isoformat(),
            "duration": f"{session.minutes} min",
            "minutes": session.minutes,
            "exercises": [f"{e.name}: {e.prescription}" for e in session.exercises],
            "reasons": list(session.reasons),
            "muscle_groups": list(session.muscle_groups),
            "load": session.load,
            "week": session.week,
            "uid": session.uid,
            "kept_as_you_changed_it": session.fixed,
        }
    )
    return {"state": start.isoformat(), "attributes": attributes}


def _this_week(result: PlanResult, today: date) -> tuple[WeekPlan | None, WeekPlan | None]:
    weeks = sorted(result.weeks, key=lambda w: w.start)
    for index, week in enumerate(weeks):
        if week.start <= today < date.fromordinal(week.start.toordinal() + 7):
            return week, weeks[index + 1] if index + 1 < len(weeks) else None
    later = [w for w in weeks if w.start > today]
    return (later[0], later[1] if len(later) > 1 else None) if later else (None, None)


def week_state(result: PlanResult, now: datetime) -> dict[str, Any]:
    """The payload of ``sensor.calsync_<plan>_week``."""
    attributes: dict[str, Any] = {
        "friendly_name": f"calsync {result.plan_id}: training week",
        "icon": "mdi:run-fast",
        "device_class": "enum",
        "options": [phase.value for phase in Phase],
    }
    week, following = _this_week(result, now.date())
    if week is None:
        return {"state": "unknown", "attributes": attributes}
    sessions = sorted(
        (s for s in result.sessions if s.week == week.week), key=lambda s: (first_day(s.start), s.uid)
    )
    attributes.update(
        {
            "week": week.week,
            "week_start": week.start.isoformat(),
            "run_minutes": week.run_minutes,
            "strength_minutes": week.strength_minutes,
            "strength_target_minutes": week.strength_target_minutes,
            "peak_percent": round(100 * week.peak_fraction),
            "rest_day": week.rest_day.isoformat() if week.rest_day else None,
            "rest_weekday": _DAYS[week.rest_day.weekday()] if week.rest_day else None,
            "sessions": [_line(s) for s in sessions],
            "warnings": [w.message for w in result.warnings if w.week == week.week],
            "next_week_phase": following.phase.value if following else None,
        }
    )
    return {"state": week.phase.value, "attributes": attributes}


def sensor_states(result: PlanResult, now: datetime) -> dict[str, dict[str, Any]]:
    """Both sensors of a plan: entity id -> ``{"state", "attributes"}``. ``now`` must be aware."""
    local = now.astimezone(ZoneInfo(result.timezone))
    return {
        next_session_entity(result.plan_id): next_session_state(result, local),
        week_entity(result.plan_id): week_state(result, local),
    }
