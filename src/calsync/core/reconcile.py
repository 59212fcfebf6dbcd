"""Reconcile: compare the planned sessions with what calsync already wrote, and list the actions.

The *reconcile* step of the pipeline (PRODUCT.md sections 1, 4 and 6). Pure: no I/O, no clock reads
(``now`` is an argument). The actions are applied by a target adapter, printed by ``--dry-run``, and
checked by guards (mass delete) before anything is written.

The rules:

* a planned session with no owned event of its UID is created;
* a planned session whose owned event still holds what calsync would write now needs nothing;
  otherwise the event is updated in place (same UID, ``SEQUENCE`` + 1), never deleted and re-created;
* an owned event that has started (or ended) or that a person edited is never touched: it is kept
  as it is, and :func:`fixed_sessions` hands it back to the planner to plan around;
* an owned future event no longer planned is deleted when it starts inside the reconciled window,
  and left alone outside it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

from calsync.core.model import Session, SessionKind, When, first_day, instant
from calsync.core.render import session_fingerprint

log = logging.getLogger(__name__)

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _zone(now: datetime) -> tzinfo:
    """The zone of an aware ``now``: all-day items begin at midnight in it."""
    if now.tzinfo is None:
        raise ValueError("reconcile needs an aware 'now'")
    return now.tzinfo


def _sort_key(start: When, uid: str, zone: tzinfo) -> tuple[datetime, str]:
    return (instant(start, zone).astimezone(UTC), uid)


@dataclass(frozen=True)
class OwnedEvent:
    """An event in a target that calsync wrote (its ``X-CALSYNC-PLAN`` is the plan's id)."""

    uid: str
    plan_id: str
    kind: SessionKind
    week: str
    """ISO week label, e.g. ``2026-W49``."""
    slot: str
    title: str
    start: When
    end: When
    sequence: int
    written_hash: str | None
    """``X-CALSYNC-HASH``: the fingerprint of what calsync last wrote (None when missing)."""
    current_hash: str
    """The fingerprint of the event as it is now (same function as ``written_hash``)."""
    href: str = field(default="", compare=False)
    """Where the calendar keeps it (a CalDAV href, Home Assistant's uid; empty for a file)."""
    etag: str = field(default="", compare=False)
    """Its version there, when the calendar has versions (CalDAV's ETag)."""
    copies: tuple[OwnedEvent, ...] = field(default=(), compare=False)
    """Unedited extra copies of this event the calendar holds (two instances raced to create
    it, where the calendar cannot refuse a second copy: Home Assistant); reconcile deletes them."""

    @property
    def edited(self) -> bool:
        """A person changed what calsync controls since calsync wrote the event."""
        return self.written_hash is not None and self.current_hash != self.written_hash

    def started(self, now: datetime) -> bool:
        """The event has begun (all-day events begin at midnight in ``now``'s zone)."""
        return instant(self.start, _zone(now)) <= now

    def ended(self, now: datetime) -> bool:
        """The event is over (history: never rewritten)."""
        return instant(self.end, _zone(now)) <= now

    def kept(self, now: datetime) -> bool:
        """calsync must leave this event exactly as it is: edited by a person, over, or a timed
        session under way. Today's rest day has begun but can still move (a run may land on it)."""
        timed = isinstance(self.start, datetime)
        return self.edited or self.ended(now) or (timed and self.started(now))


@dataclass(frozen=True)
class Create:
    """Write a new event for a session."""

    session: Session


@dataclass(frozen=True)
class Update:
    """Rewrite an owned event in place with a session's new content (same UID)."""

    session: Session
    previous: OwnedEvent
    sequence: int
    """``previous.sequence + 1``."""


@dataclass(frozen=True)
class Delete:
    """Remove an owned event that is no longer planned (or an extra copy of one)."""

    previous: OwnedEvent
    duplicate: bool = False
    """An extra copy of an event that stays: the session itself is not deleted."""


Action = Create | Update | Delete


@dataclass(frozen=True)
class Refused:
    """An action not applied because the event changed in the target since it was read."""

    uid: str
    action: str
    """``create``, ``update`` or ``delete``."""
    reason: str


@dataclass
class ApplyResult:
    """What :func:`calsync.executor.execute` did."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    conflicts: list[Refused] = field(default_factory=list)
    """Actions left undone because someone else changed the event: re-read and re-plan."""

    @property
    def written(self) -> int:
        """How many events were written (created, updated or deleted)."""
        return len(self.created) + len(self.updated) + len(self.deleted)


def _kept_reason(event: OwnedEvent, now: datetime) -> str:
    if event.edited:
        return "Kept where you put it: you changed it, so calsync leaves it as it is."
    if event.ended(now):
        return "Kept: already done."
    return "Kept: already started."


def _as_session(event: OwnedEvent, *, reasons: tuple[str, ...] = (), fixed: bool = False) -> Session:
    """An owned event as the planner sees it: same UID, kind, week, slot and times."""
    return Session(
        uid=event.uid,
        kind=event.kind,
        title=event.title,
        start=event.start,
        end=event.end,
        week=event.week,
        slot=event.slot,
        reasons=reasons,
        fixed=fixed,
    )


def fixed_sessions(owned: Sequence[OwnedEvent], *, now: datetime) -> list[Session]:
    """The owned events the planner must keep as they are and plan around.

    Those that have started or ended, and those a person edited; returned as fixed sessions with
    the same UID, week and slot, ordered by start.
    """
    kept = [event for event in owned if event.kept(now)]
    kept.sort(key=lambda e: _sort_key(e.start, e.uid, _zone(now)))
    return [_as_session(event, reasons=(_kept_reason(event, now),), fixed=True) for event in kept]


def previous_sessions(owned: Sequence[OwnedEvent], *, now: datetime) -> list[Session]:
    """The owned events calsync placed and nobody changed, still ahead: the planner keeps each on
    its day while it stays valid (PRODUCT.md section 2, "Stability")."""
    return [_as_session(event) for event in owned if not event.kept(now) and event.written_hash is not None]


def _by_uid(owned: Sequence[OwnedEvent]) -> dict[str, OwnedEvent]:
    """Owned events by UID; of duplicates (there should be none) the highest SEQUENCE wins."""
    index: dict[str, OwnedEvent] = {}
    for event in owned:
        other = index.get(event.uid)
        if other is not None:
            log.warning("two owned events share the UID %s; reconciling the newer one", event.uid)
            if other.sequence >= event.sequence:
                continue
        index[event.uid] = event
    return index


def reconcile(
    planned: Sequence[Session],
    owned: Sequence[OwnedEvent],
    *,
    now: datetime,
    window_start: date,
    window_end: date,
) -> list[Action]:
    """The actions that make the owned events match the plan.

    ``window_start`` / ``window_end`` (exclusive) bound the days this pass is responsible for:
    an owned event no longer planned is deleted only when it starts inside them. ``now`` must be
    aware; all-day items begin at midnight in its zone. Actions come ordered by start, then UID.
    """
    if now.tzinfo is None:
        raise ValueError("reconcile needs an aware 'now'")
    owned_by_uid = _by_uid(owned)
    planned_uids = {session.uid for session in planned}
    keyed: list[tuple[tuple[datetime, str], Action]] = []

    for session in planned:
        if session.fixed:
            continue
        previous = owned_by_uid.get(session.uid)
        if previous is None:
            if instant(session.end, _zone(now)) <= now:
                log.debug("not creating %s: it would already be over", session.uid)
                continue
            keyed.append((_sort_key(session.start, session.uid, _zone(now)), Create(session)))
            continue
        if previous.kept(now):
            continue
        written = previous.written_hash if previous.written_hash is not None else previous.current_hash
        if written == session_fingerprint(session):
            continue
        action = Update(session=session, previous=previous, sequence=previous.sequence + 1)
        keyed.append((_sort_key(session.start, session.uid, _zone(now)), action))

    for event in owned_by_uid.values():
        for copy in event.copies:
            log.info("deleting a duplicate copy of %s (at %s)", event.uid, copy.href)
            keyed.append((_sort_key(copy.start, copy.uid, _zone(now)), Delete(copy, duplicate=True)))
        if event.uid in planned_uids or event.kept(now):
            continue
        if window_start <= first_day(event.start) < window_end:
            keyed.append((_sort_key(event.start, event.uid, _zone(now)), Delete(event)))

    keyed.sort(key=lambda pair: pair[0])
    return [action for _, action in keyed]


def _span(start: When, end: When) -> str:
    """``Mon 2026-11-30 06:00-07:00`` or ``Sun 2026-12-06 all day``."""
    day = first_day(start)
    label = f"{_DAY_NAMES[day.weekday()]} {day.isoformat()}"
    if isinstance(start, datetime) and isinstance(end, datetime):
        if end.date() == start.date():
            return f"{label} {start:%H:%M}-{end:%H:%M}"
        last = end.date()
        return f"{label} {start:%H:%M} - {_DAY_NAMES[last.weekday()]} {last.isoformat()} {end:%H:%M}"
    if isinstance(end, date) and not isinstance(end, datetime) and (end - day).days > 1:
        return f"{label} all day ({(end - day).days} days)"
    return f"{label} all day"


def _headline(title: str, reasons: tuple[str, ...]) -> str:
    return f"{title} — {reasons[0]}" if reasons else title


def describe_action(action: Action) -> str:
    """One line for ``--dry-run``, e.g. ``create  heavy_lower  Mon 2026-11-30 06:00-07:00  ...``."""
    if isinstance(action, Create):
        s = action.session
        return f"create  {s.kind.value:<11}  {_span(s.start, s.end)}  {_headline(s.title, s.reasons)}"
    if isinstance(action, Update):
        s, old = action.session, action.previous
        before, after = _span(old.start, old.end), _span(s.start, s.end)
        when = after if before == after else f"{before} -> {after}"
        kind = s.kind.value if s.kind is old.kind else f"{old.kind.value} -> {s.kind.value}"
        return f"update  {kind:<11}  {when}  {_headline(s.title, s.reasons)}"
    old = action.previous
    copy = " (a duplicate copy)" if action.duplicate else ""
    return f"delete  {old.kind.value:<11}  {_span(old.start, old.end)}  {old.title}{copy}"
