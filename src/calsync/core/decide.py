"""The pass's decisions, before and after the writes (pure): the delete guards of PRODUCT.md
section 6, the sessions a person deleted, and what the state records once the writes are done.

The service layer (``pipeline.py``) reads the calendars and the state, asks these functions, and
writes what they decide; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from calsync.core.model import Version, When, instant
from calsync.core.reconcile import Action, Delete, OwnedEvent
from calsync.core.render import session_fingerprint
from calsync.errors import TargetError


@dataclass(frozen=True)
class Written:
    """What calsync last wrote for one UID (or that a person deleted it: ``dismissed``)."""

    uid: str
    href: str
    etag: str
    hash: str
    ends: str
    """ISO end of the event: once it is past, the record is history."""
    dismissed: bool = False


def guard_deletes(
    actions: list[Action],
    owned: list[OwnedEvent],
    empty_sources: Sequence[str],
    *,
    now: datetime,
    force: bool,
    has_runs: bool = True,
    dry_run: bool = False,
    plan_id: str = "",
    target: str = "",
) -> tuple[list[Action], list[str]]:
    """Apply PRODUCT.md section 6's guards to the planned actions, before anything is written.

    An empty source deletes nothing; a pass that would delete more than half (and more than 10)
    of the future owned events stops, unless ``force``.
    """
    notes: list[str] = []
    deletes = [a for a in actions if isinstance(a, Delete) and not a.duplicate]
    if deletes and (empty_sources or not has_runs):
        why = (
            f"source(s) {', '.join(empty_sources)} came back empty"
            if empty_sources
            else "the sources hold no runs in the planning window"
        )
        notes.append(f"{why}: {len(deletes)} deletion(s) held back; nothing deleted")
        return [a for a in actions if not isinstance(a, Delete) or a.duplicate], notes
    future = [o for o in owned if not o.started(now)]
    if not force and len(deletes) > 10 and len(deletes) > len(future) / 2:
        message = (
            f"plan {plan_id}: this pass would delete {len(deletes)} of {len(future)} future sessions "
            f"in {target}; stopped to be safe. If the plan really changed that much, run "
            "`calsync rebuild --force`"
        )
        if not dry_run:
            raise TargetError(message)
        notes.append(message)
    return actions, notes


WIPED_MINIMUM = 2
"""A target that lost every one of more than this many sessions was wiped or replaced; losing one
or two is read as a person deleting them."""


def dismissed_sessions(
    known: dict[str, Written], owned: list[OwnedEvent], *, now: datetime
) -> tuple[set[str], list[str]]:
    """UIDs of future sessions calsync wrote that are gone from the target: a person deleted them.

    A target that lost every session calsync knows of (a new, emptied or replaced calendar; more
    than :data:`WIPED_MINIMUM`) is not read as the person deleting them all: they are written again.
    """
    present = {o.uid for o in owned}
    missing = {
        uid
        for uid, w in known.items()
        if not w.dismissed and uid not in present and datetime.fromisoformat(w.ends) > now
    }
    earlier = {uid for uid, w in known.items() if w.dismissed and datetime.fromisoformat(w.ends) > now}
    expected = {uid for uid, w in known.items() if not w.dismissed and datetime.fromisoformat(w.ends) > now}
    notes: list[str] = []
    wiped = len(missing) > WIPED_MINIMUM and missing == expected
    if wiped and not any(not o.started(now) for o in owned):
        notes.append(
            f"the target holds none of the {len(missing)} sessions calsync wrote: writing them again"
        )
        return earlier, notes
    if missing:
        notes.append(
            f"{len(missing)} session(s) deleted in the target: not putting them back (rebuild --force does)"
        )
    return earlier | missing, notes


def records_after(
    owned: list[OwnedEvent],
    written: Sequence[tuple[Action, Version]],
    *,
    known: dict[str, Written],
    dismissed: set[str],
    zone: ZoneInfo,
) -> tuple[list[Written], list[str]]:
    """What the state should hold once the ``written`` actions are done (each with where the
    calendar put it), and the UIDs to forget."""

    def record(uid: str, content_hash: str, end: When, version: Version) -> Written:
        return Written(uid, version[0], version[1], content_hash, instant(end, zone).isoformat())

    records = {o.uid: record(o.uid, o.written_hash or o.current_hash, o.end, (o.href, o.etag)) for o in owned}
    forget = []
    for action, version in written:
        if isinstance(action, Delete):
            if not action.duplicate:
                records.pop(action.previous.uid, None)
                forget.append(action.previous.uid)
        else:
            s = action.session
            records[s.uid] = record(s.uid, session_fingerprint(s), s.end, version)
    for uid in dismissed:
        if uid in known and uid not in records:
            records[uid] = replace(known[uid], dismissed=True)
    return list(records.values()), forget
