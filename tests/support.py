"""What many test files need: a free port, a planned session, a plan's config text.

One place, so a test reads as its scenario and a change to (say) the UID scheme or the config
layout is made once.
"""

from __future__ import annotations

import socket
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from calsync.core.identity import session_uid
from calsync.core.model import Session, SessionKind, When, iso_week

BERLIN = ZoneInfo("Europe/Berlin")
R8_REASON = "R8: 5 days before Long Run 30 km"


def free_port() -> int:
    """A TCP port nobody listens on right now (on 127.0.0.1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def session(
    day: date,
    slot: str = "s1",
    kind: SessionKind = SessionKind.HEAVY_LOWER,
    *,
    hour: int = 6,
    minutes: int = 45,
    plan_id: str = "me",
    zone: ZoneInfo = BERLIN,
    title: str | None = None,
    reasons: tuple[str, ...] | None = None,
    **more: Any,
) -> Session:
    """A planned session with the UID the planner would give it: a rest day is all-day (with no
    reasons unless given), a strength session starts at ``hour`` in ``zone`` (R8's reason unless
    given); ``more`` sets any other :class:`Session` field."""
    week = iso_week(day)
    start: When
    end: When
    if kind is SessionKind.REST:
        start, end = day, day + timedelta(days=1)
        title = title or "Rest day"
    else:
        start = datetime.combine(day, time(hour), zone)
        end = start + timedelta(minutes=minutes)
        title = title or f"Strength: {kind.value}"
        reasons = (R8_REASON,) if reasons is None else reasons
    return Session(
        session_uid(plan_id, week, slot), kind, title, start, end, week, slot, reasons=reasons or (), **more
    )


def plan_toml(
    *,
    source: str,
    target: str = "",
    extra: str = "",
    plan_id: str = "me",
    horizon_weeks: int = 12,
    timezone: str = "Europe/Berlin",
) -> str:
    """One ``[[plan]]`` as PRODUCT.md section 7 shows it; ``source`` and ``target`` are the bodies
    of its ``[[plan.source]]`` and ``[plan.target]`` tables, ``extra`` more plan keys."""
    text = (
        f'[[plan]]\nid = "{plan_id}"\ntimezone = "{timezone}"\nhorizon_weeks = {horizon_weeks}\n{extra}\n'
        f"[[plan.source]]\n{source}\n"
    )
    if target:
        text += f"\n[plan.target]\n{target}\n"
    return text


def write_config(path: Path, **plan: Any) -> Path:
    """Write :func:`plan_toml` to ``path`` (a ``.toml`` file; its folder is made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(plan_toml(**plan), encoding="utf-8")
    return path
