"""Apply reconcile's actions to any calendar: the one write loop of calsync.

:func:`execute` is what every target kind shares (vdirsyncer's split of storage and sync): the
loop, the stop-between-writes check, conflicts (never overwritten), the journal that records each
confirmed write (the crash ordering lives here and nowhere else), and the recovery after a lost
answer. A target only knows how to list, create, update and delete (:class:`CalendarTarget`).

Crash ordering: the journal hears of every delete *before* the first write (so a crash between
a delete and the record can never make the next pass read it as a person's deletion), and of each
create / update once the calendar confirmed it; :meth:`Journal.flush` runs last, also when the
pass fails. A write whose answer was lost (the server may have acted) is settled by listing once
more: a create that is there, an update whose new content is there, counts as done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Protocol

from calsync.core.model import NO_VERSION, Version
from calsync.core.reconcile import Action, ApplyResult, Create, Delete, OwnedEvent, Refused, Update
from calsync.core.render import session_fingerprint
from calsync.errors import CalsyncError, InterruptedPassError
from calsync.ports import Batched, CalendarTarget, ConflictError, Stop

log = logging.getLogger(__name__)


class Journal(Protocol):
    """Where a pass records what it wrote (the state), as the writes happen."""

    def intend(self, actions: Sequence[Action]) -> None:
        """Before the first write: forget what is about to be deleted."""

    def written(self, action: Action, version: Version) -> None:
        """A write the calendar confirmed (also a delete of an event found already gone)."""

    def flush(self) -> None:
        """The last call of every :func:`execute` (also when it failed)."""


def _uid(action: Action) -> str:
    return action.previous.uid if isinstance(action, Delete) else action.session.uid


_VERB = {Create: "create", Update: "update", Delete: "delete"}


def _write(calendar: CalendarTarget, action: Action, now: datetime) -> Version | None:
    """One action; None when there was nothing to do (a delete of an event already gone)."""
    if isinstance(action, Create):
        return calendar.create(action.session, now=now)
    if isinstance(action, Update):
        return calendar.update(action.previous, action.session, sequence=action.sequence, now=now)
    return NO_VERSION if calendar.delete(action.previous) else None


def _record(result: ApplyResult, action: Action) -> None:
    if isinstance(action, Create):
        result.created.append(action.session.uid)
    elif isinstance(action, Update):
        result.updated.append(action.session.uid)
    else:
        result.deleted.append(action.previous.uid)


def execute(
    actions: Sequence[Action],
    calendar: CalendarTarget,
    *,
    now: datetime,
    stop: Stop | None = None,
    journal: Journal | None = None,
) -> ApplyResult:
    """Apply the actions in order; what changed meanwhile is a :class:`~calsync.core.reconcile.Refused`
    entry of the result, never overwritten. ``now`` (aware) becomes DTSTAMP / LAST-MODIFIED.

    ``stop`` is asked before each write (not inside a deferred batch: one atomic write); when it
    says so, the pass ends with InterruptedPassError and what is done stays journaled. A
    :class:`~calsync.errors.CalsyncError` during the writes is raised after the settling
    listing; no actions: no request.
    """
    if now.tzinfo is None:
        raise ValueError("execute needs an aware 'now'")
    now = now.astimezone(UTC).replace(microsecond=0)
    result = ApplyResult()
    if not actions:
        return result
    deferred = isinstance(calendar, Batched) and calendar.deferred
    staged: list[tuple[Action, Version | None]] = []

    def confirm(action: Action, version: Version | None) -> None:
        """A write done (``None``: a delete of an event already gone, journaled, not counted)."""
        if version is not None:
            _record(result, action)
        if journal is not None:
            journal.written(action, version or NO_VERSION)

    if journal is not None:
        journal.intend(actions)
    try:
        try:
            with ExitStack() as stack:
                if isinstance(calendar, Batched):
                    stack.enter_context(calendar.batch())
                for action in actions:
                    if stop is not None and not deferred and stop():
                        raise InterruptedPassError(
                            f"{calendar.label}: stopped after {result.written} writes; "
                            "the next pass does the rest"
                        )
                    try:
                        version = _write(calendar, action, now)
                    except ConflictError as refused:
                        log.warning(
                            "%s: not applying the %s of %s: %s",
                            calendar.label,
                            _VERB[type(action)],
                            _uid(action),
                            refused.reason,
                        )
                        result.conflicts.append(Refused(_uid(action), _VERB[type(action)], refused.reason))
                        continue
                    if version is None:
                        log.info("%s: %s was already gone", calendar.label, _uid(action))
                    if deferred:
                        staged.append((action, version))
                    else:
                        confirm(action, version)
            for action, version in staged:
                confirm(action, version)
        except InterruptedPassError:
            raise
        except CalsyncError:
            _settle(calendar, actions, result, confirm)
            raise
    finally:
        if journal is not None:
            journal.flush()
    log.debug(
        "%s: %d created, %d updated, %d deleted, %d conflicts",
        calendar.label,
        len(result.created),
        len(result.updated),
        len(result.deleted),
        len(result.conflicts),
    )
    return result


def _settle(
    calendar: CalendarTarget,
    actions: Sequence[Action],
    result: ApplyResult,
    confirm: Callable[[Action, Version], None],
) -> None:
    """After a failed write whose answer may have been lost (the calendar may have acted): list
    once and count as done every create that is there and every update whose content is, so
    the journal records it and a person deleting it before the next pass is not overridden.
    Best effort: a listing that fails too leaves the pass as it was."""
    done = {*result.created, *result.updated}
    pending = [a for a in actions if isinstance(a, Create | Update) and a.session.uid not in done]
    if not pending:
        return
    try:
        there: dict[str, OwnedEvent] = {event.uid: event for event in calendar.list_owned()}
    except CalsyncError:
        log.info("%s: could not list again after the failed write", calendar.label)
        return
    for action in pending:
        found = there.get(action.session.uid)
        if found is None:
            continue
        if isinstance(action, Update) and not (
            found.written_hash == session_fingerprint(action.session)
            and found.sequence > action.previous.sequence
        ):
            continue
        log.info("%s: %s was written though its answer was lost", calendar.label, action.session.uid)
        confirm(action, (found.href, found.etag))


__all__ = ["Journal", "execute"]
