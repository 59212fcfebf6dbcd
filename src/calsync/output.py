"""Presenting a plan: the last step of ``calsync plan`` (PRODUCT.md section 5).

Turns the planner's :class:`~calsync.core.model.PlanResult` objects into the stable JSON object that
tools and ``plan_check.py`` read (:func:`plan_json`, :func:`dumps_plan_json`), or into a plain-text
week-by-week table a runner reads (:func:`plan_table`). Pure: no I/O, no clock reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from calsync.core.model import (
    Busy,
    PlanResult,
    PlanWarning,
    Run,
    RunKind,
    Session,
    SessionKind,
    WarningCode,
    WeekPlan,
    When,
    days_of,
    last_day,
    run_key,
)
from calsync.core.quantities import KM_PER_MILE

__all__ = ["dumps_plan_json", "plan_json", "plan_table"]

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_DIM, _RESET = "\x1b[2m", "\x1b[0m"
_DIM_MARK = "·"
"""Marks the other events of a day (other training, busy time) as secondary in plain text."""


# ---- JSON ---------------------------------------------------------------------------------------


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    """A moment in the plan's zone; a naive time is read as wall time there (floating time)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return moment.astimezone(zone)


def _iso(value: When, zone: ZoneInfo) -> str:
    """ISO 8601: a date for all-day items, else a time with the offset of the plan's zone."""
    if isinstance(value, datetime):
        return _local(value, zone).isoformat(timespec="seconds")
    return value.isoformat()


def _sort_key(value: When, zone: ZoneInfo) -> datetime:
    """The moment an item starts; an all-day item starts at midnight in the plan's zone."""
    if isinstance(value, datetime):
        return _local(value, zone)
    return datetime.combine(value, time(0), tzinfo=zone)


def _run_json(run: Run, result: PlanResult, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "uid": run.uid,
        "title": run.title,
        "kind": run.kind.value,
        "priority": run.priority if run.kind is RunKind.RACE else None,
        "start": _iso(run.start, zone),
        "end": _iso(run.end, zone),
        "all_day": run.all_day,
        "distance_km": None if run.distance_km is None else round(float(run.distance_km), 2),
        # the minutes calsync counts (training runs); a race keeps its stated minutes or null
        "minutes": result.run_minutes.get(run_key(run), run.minutes),
        "recurrence_id": run.recurrence_id,
        "unit": run.unit,
    }


def _week_json(week: WeekPlan) -> dict[str, Any]:
    return {
        "week": week.week,
        "start": week.start.isoformat(),
        "phase": week.phase.value,
        "run_minutes": week.run_minutes,
        "rest_day": week.rest_day.isoformat() if week.rest_day else None,
        "strength_minutes": week.strength_minutes,
        "strength_target_minutes": week.strength_target_minutes,
        "peak_fraction": round(week.peak_fraction, 3),
        "cutback": week.cutback,
        "load": week.load,
    }


def _session_json(session: Session, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "uid": session.uid,
        "kind": session.kind.value,
        "title": session.title,
        "start": _iso(session.start, zone),
        "end": _iso(session.end, zone),
        "all_day": session.all_day,
        "week": session.week,
        "muscle_groups": list(session.muscle_groups),
        "reasons": list(session.reasons),
        "slot": session.slot,
        "minutes": session.minutes,
        "load": session.load,
        "fixed": session.fixed,
        "exercises": [{"name": e.name, "prescription": e.prescription} for e in session.exercises],
        "rules": list(session.rules),
        "effort": session.effort,
        "warmup": session.warmup,
        "alternative": session.alternative,
    }


def _warning_json(warning: PlanWarning) -> dict[str, Any]:
    return {"code": warning.code, "week": warning.week, "message": warning.message}


def _plan_json(result: PlanResult) -> dict[str, Any]:
    zone = ZoneInfo(result.timezone)
    runs = sorted(result.runs, key=lambda r: (_sort_key(r.start, zone), r.uid, r.recurrence_id or ""))
    sessions = sorted(result.sessions, key=lambda s: (_sort_key(s.start, zone), s.uid))
    return {
        "id": result.plan_id,
        "timezone": result.timezone,
        "runs": [_run_json(r, result, zone) for r in runs],
        "weeks": [_week_json(w) for w in sorted(result.weeks, key=lambda w: w.start)],
        "sessions": [_session_json(s, zone) for s in sessions],
        "warnings": [_warning_json(w) for w in result.warnings],
        "unit": result.unit,
    }


def plan_json(results: Sequence[PlanResult], *, generated_at: datetime) -> dict[str, Any]:
    """The JSON object of ``calsync plan --format json`` (PRODUCT.md section 5).

    Runs and sessions are ordered by start, weeks by date, warnings as the planner gave them.
    ``generated_at`` must be timezone-aware (it is printed with its own offset).
    """
    if generated_at.tzinfo is None:
        raise ValueError("generated_at must be timezone-aware")
    return {
        "plans": [_plan_json(result) for result in results],
        "generated_at": generated_at.isoformat(timespec="seconds"),
    }


def dumps_plan_json(
    results: Sequence[PlanResult], *, generated_at: datetime, indent: int | None = None
) -> str:
    """:func:`plan_json` as text, UTF-8 characters kept as they are.

    Compact by default (the C encoder: several times faster on a year's plan); ``indent`` for people.
    """
    return json.dumps(plan_json(results, generated_at=generated_at), indent=indent, ensure_ascii=False)


# ---- the table ----------------------------------------------------------------------------------


def _day_label(day: date) -> str:
    """``Mon 30 Nov``; English names whatever the locale."""
    return f"{_DAY_NAMES[day.weekday()]} {day.day:2d} {_MONTH_NAMES[day.month - 1]}"


def _short_day(day: date) -> str:
    """``Mon 30 Nov`` without padding (for headers)."""
    return f"{_DAY_NAMES[day.weekday()]} {day.day} {_MONTH_NAMES[day.month - 1]}"


def _hours(minutes: int) -> str:
    """``420`` -> ``7h00``."""
    return f"{minutes // 60}h{minutes % 60:02d}"


def _duration(minutes: int) -> str:
    """``45 min`` below two hours, else ``2h30``."""
    return f"{minutes} min" if minutes < 120 else _hours(minutes)


def _distance(km: float, unit: str) -> str:
    """A distance in the plan's unit, rounded for a runner: ``18 mi``, ``30 km``, ``21.1 km``."""
    unit = "mi" if unit == "mi" else "km"
    value = km / KM_PER_MILE if unit == "mi" else km
    shown = round(value, 1) if value >= 1 else round(value, 2)
    text = f"{shown:.0f}" if shown == round(shown) else f"{shown:g}"
    return f"{text} {unit}"


def _time_range(start: When, end: When, zone: ZoneInfo) -> str:
    """``06:00–06:45`` in the plan's zone, or ``all day``."""
    if isinstance(start, datetime) and isinstance(end, datetime):
        return f"{_local(start, zone):%H:%M}–{_local(end, zone):%H:%M}"
    return "all day"


def _local_day(value: When, zone: ZoneInfo) -> date:
    return _local(value, zone).date() if isinstance(value, datetime) else value


def _local_last_day(start: When, end: When, zone: ZoneInfo) -> date:
    if isinstance(start, datetime) and isinstance(end, datetime):
        return last_day(_local(start, zone), _local(end, zone))
    return last_day(start, end)


def _run_detail(run: Run, result: PlanResult, zone: ZoneInfo) -> str:
    """``long  18 mi  3h00``: kind, distance in the plan's unit, the minutes calsync counts
    (a race: only minutes its text states), and the last day of a multi-day run."""
    kind = f"race {run.priority}" if run.kind is RunKind.RACE and run.priority else run.kind.value
    parts = [kind]
    if run.distance_km is not None:
        parts.append(_distance(run.distance_km, result.unit))
    counted = result.run_minutes if run.kind is not RunKind.RACE else {}
    minutes = counted.get(run_key(run), run.minutes)
    if minutes:
        parts.append(_duration(minutes))
    end_day = _local_last_day(run.start, run.end, zone)
    if end_day != _local_day(run.start, zone):
        parts.append(f"until {_short_day(end_day)}")
    return "  ".join(parts)


def _session_detail(session: Session) -> str:
    parts = [session.kind.value]
    if session.load and session.kind.is_lower:
        parts.append(session.load)
    if session.minutes:
        parts.append(f"{session.minutes} min")
    if session.fixed:
        parts.append("kept as it is")
    return "  ".join(parts)


def _busy_detail(busy: Busy) -> str:
    """What another event is to the runner: training (never a rest day), busy time or free time."""
    if busy.training:
        return "other training"
    return "free" if busy.transparent else "busy"


def _busy_segments(busy: Busy, zone: ZoneInfo) -> list[tuple[date, datetime, str]]:
    """The days a busy event covers in the plan's zone: (day, start on it, ``07:00–10:30`` or
    ``all day``). A multi-day event reads ``20:00–24:00``, ``all day``..., ``00:00–10:00``."""
    start, end = _local(busy.start, zone), _local(busy.end, zone)
    out = []
    for day in days_of(start, max(start, end)):
        midnight = datetime.combine(day, time(0), tzinfo=zone)
        next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        seg_start, seg_end = max(start, midnight), min(max(start, end), next_midnight)
        if seg_start == midnight and seg_end == next_midnight:
            when = "all day"
        else:
            until = "24:00" if seg_end == next_midnight else f"{seg_end:%H:%M}"
            when = f"{seg_start:%H:%M}–{until}"
        out.append((day, seg_start, when))
    return out


def _strength_summary(sessions: Sequence[Session]) -> str:
    """``strength 2 × 50 min``, ``strength 2: 45 + 20 min`` or ``no strength``."""
    strength = [s for s in sessions if s.kind.is_strength]
    if not strength:
        return "no strength"
    lengths = [s.minutes for s in strength]
    if len(set(lengths)) == 1:
        return f"strength {len(lengths)} × {lengths[0]} min"
    return f"strength {len(lengths)}: " + " + ".join(str(n) for n in lengths) + " min"


def _a_race(runs: Sequence[Run], today: date, zone: ZoneInfo) -> str:
    races = sorted(
        (r for r in runs if r.kind is RunKind.RACE and r.priority == "A"),
        key=lambda r: _sort_key(r.start, zone),
    )
    if not races:
        return "A race: none in the plan"
    upcoming = [r for r in races if _local_day(r.start, zone) >= today]
    race = upcoming[0] if upcoming else races[-1]
    day = _local_day(race.start, zone)
    days = (day - today).days
    if days > 1:
        when = f"{days} days to go"
    elif days == 1:
        when = "tomorrow"
    elif days == 0:
        when = "today"
    else:
        when = f"{-days} days ago"
    return f"A race: {race.title}  {_short_day(day)} {day.year}  ({when})"


class _Row:
    """One item of a day line: time, title, detail; ``dim`` for the day's other events."""

    def __init__(self, order: datetime, when: str, title: str, detail: str, *, dim: bool = False) -> None:
        self.order = order
        self.when = when
        self.title = title
        self.detail = detail
        self.dim = dim


def _week_head(week: WeekPlan, sessions: Sequence[Session], peak_known: bool) -> str:
    """``2026-W49  Mon 30 Nov – Sun 6 Dec  build (cutback)  5h03 run  (62% of peak)  heavy load
    strength 2: 50 + 30 min`` (run time without races, as the planner counts it)."""
    end = week.start + timedelta(days=6)
    phase = f"{week.phase.value} (cutback)" if week.cutback else week.phase.value
    head = [
        week.week,
        f"{_short_day(week.start)} – {_short_day(end)}",
        phase,
        f"{_hours(week.run_minutes)} run",
        f"({round(week.peak_fraction * 100)}% of peak)" if peak_known else "(peak unknown)",
    ]
    if week.load:
        head.append(f"{week.load} load")
    head.append(_strength_summary(sessions))
    return "  ".join(head)


def _week_block(
    week: WeekPlan,
    rows: dict[date, list[_Row]],
    sessions: Sequence[Session],
    warnings: Sequence[PlanWarning],
    title_width: int,
    *,
    peak_known: bool,
    color: bool,
) -> list[str]:
    lines = [_week_head(week, sessions, peak_known)]
    for offset in range(7):
        day = week.start + timedelta(days=offset)
        label = _day_label(day)
        day_rows = sorted(rows.get(day, []), key=lambda r: (r.order, r.dim))
        texts = [(r.dim, f"{r.when:<11}  {r.title:<{title_width}}  {r.detail}".rstrip()) for r in day_rows]
        if day == week.rest_day:
            texts.insert(0, (False, "REST"))
        if not texts:
            texts = [(False, "–")]
        for i, (dim, text) in enumerate(texts):
            lead = f"  {label if i == 0 else '':<10} "
            if not dim:
                lines.append(f"{lead}  {text}")
            elif color:
                lines.append(f"{lead}{_DIM}{_DIM_MARK} {text}{_RESET}")
            else:
                lines.append(f"{lead}{_DIM_MARK} {text}")
    lines.extend(f"  ! {w.code}: {w.message}" for w in warnings)
    return lines


def _plan_table(result: PlanResult, now: datetime, color: bool) -> list[str]:
    zone = ZoneInfo(result.timezone)
    today = _local(now, zone).date()
    lines = [f"Plan {result.plan_id}  ({result.timezone})", _a_race(result.runs, today, zone)]
    weeks = sorted(result.weeks, key=lambda w: w.start)
    if not weeks:
        lines.append("No weeks planned: no runs in the horizon.")

    rows: dict[date, list[_Row]] = {}
    for run in result.runs:
        rows.setdefault(_local_day(run.start, zone), []).append(
            _Row(
                _sort_key(run.start, zone),
                _time_range(run.start, run.end, zone),
                run.title,
                _run_detail(run, result, zone),
            )
        )
    rest_days = {w.rest_day for w in weeks if w.rest_day}
    for session in result.sessions:
        day = _local_day(session.start, zone)
        if session.kind is SessionKind.REST and day in rest_days:
            continue  # shown as REST
        rows.setdefault(day, []).append(
            _Row(
                _sort_key(session.start, zone),
                "REST" if session.kind is SessionKind.REST else _time_range(session.start, session.end, zone),
                session.title,
                _session_detail(session),
            )
        )
    shown = {w.start + timedelta(days=k) for w in weeks for k in range(7)}
    for busy in result.busy:
        for day, order, when in _busy_segments(busy, zone):
            rows.setdefault(day, []).append(
                _Row(order, when, busy.title or "(no title)", _busy_detail(busy), dim=True)
            )
    titles = [r.title for day, day_rows in rows.items() if day in shown for r in day_rows]
    title_width = min(max((len(t) for t in titles), default=0), 44)

    sessions_by_week: dict[str, list[Session]] = {}
    for session in result.sessions:
        sessions_by_week.setdefault(session.week, []).append(session)
    peak_known = not any(w.code is WarningCode.PEAK_UNKNOWN for w in result.warnings)
    for week in weeks:
        lines.append("")
        week_warnings = [w for w in result.warnings if w.week == week.week]
        lines += _week_block(
            week,
            rows,
            sessions_by_week.get(week.week, []),
            week_warnings,
            title_width,
            peak_known=peak_known,
            color=color,
        )

    hidden = sum(1 for run in result.runs if _local_day(run.start, zone) not in shown)
    if hidden and weeks:
        noun = "run" if hidden == 1 else "runs"
        lines += ["", f"({hidden} {noun} outside the planned weeks not shown)"]
    week_ids = {w.week for w in weeks}
    general = [w for w in result.warnings if w.week is None or w.week not in week_ids]
    if general:
        lines += ["", "Warnings:"]
        lines.extend(f"  ! {w.code}{f' ({w.week})' if w.week else ''}: {w.message}" for w in general)
    return lines


def plan_table(results: Sequence[PlanResult], *, now: datetime, color: bool = False) -> str:
    """The human view of ``calsync plan``: per plan, one block per week, one line per item of a day.

    ``now`` (read in each plan's zone; a naive time as wall time there) gives the days to the
    A race. Distances are in the plan's unit. A day's other events (other training, busy time)
    are secondary: marked with ``·``, and also ANSI-dimmed when ``color`` (a terminal). Ends
    with a newline.
    """
    blocks = ["\n".join(_plan_table(result, now, color)) for result in results]
    if not blocks:
        return "No plans.\n"
    return "\n\n\n".join(blocks) + "\n"
