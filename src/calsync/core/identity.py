"""Who an event is: the UIDs calsync writes, made and read in one place.

A session's UID is ``calsync-<plan>-<YYYY>W<WW>-<slot>``: the same plan, ISO week and slot always
give the same UID, so a pass that plans the same week again finds the session it wrote before,
on every target. The runs copied into a served feed get ``calsync-run-<plan>-<digest>`` UIDs,
which this scheme does not match (they are information, not sessions calsync owns).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_SESSION_UID = re.compile(r"^calsync-(?P<plan>.+)-(?P<year>\d{4})W(?P<week>\d{2})-(?P<slot>[^-]+)$")


@dataclass(frozen=True)
class SessionId:
    """What a session's UID says: its plan, ISO week (``2026-W49``) and slot (``s1``, ``rest``)."""

    plan_id: str
    week: str
    slot: str


def session_uid(plan_id: str, week: str, slot: str) -> str:
    """The deterministic UID of a session: same plan, week and slot give the same UID."""
    return f"calsync-{plan_id}-{week.replace('-', '')}-{slot}"


def week_prefix(plan_id: str, week: str) -> str:
    """The start every UID of this plan's week shares (the slot follows it)."""
    return session_uid(plan_id, week, "")


def parse_session_uid(uid: str) -> SessionId | None:
    """The plan, week and slot a session UID names; None when it is not one calsync makes."""
    match = _SESSION_UID.match(uid)
    if match is None:
        return None
    return SessionId(match["plan"], f"{match['year']}-W{match['week']}", match["slot"])


def is_session_uid(uid: str, plan_id: str | None = None) -> bool:
    """Whether a UID follows the session scheme (of this plan, when one is given)."""
    found = parse_session_uid(uid)
    return found is not None and (plan_id is None or found.plan_id == plan_id)


def run_copy_uid(plan_id: str, run_uid: str, recurrence_id: str | None) -> str:
    """The UID of a run copied into a served feed: stable for the same run and occurrence."""
    key = f"{plan_id}\x00{run_uid}\x00{recurrence_id or ''}"
    return f"calsync-run-{plan_id}-{hashlib.sha256(key.encode()).hexdigest()[:24]}"
