"""The two contracts adapters meet: a calendar calsync writes into, and a source it reads.

The service layer drives every target through :class:`CalendarTarget` and
:func:`calsync.executor.execute`, every source through :class:`SourceAdapter`; a new kind of
calendar implements one of them and is registered in :mod:`calsync.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from calsync.core.model import Version

if TYPE_CHECKING:
    from calsync.core.model import ReadResult, Session
    from calsync.core.reconcile import OwnedEvent

Stop = Callable[[], bool]
"""Asked between writes; True means: finish here (:class:`~calsync.errors.InterruptedPassError`)."""


class SyncStore(Protocol):
    """What one adapter keeps between passes, scoped to it: a sync token and objects by href
    (``(version, data)``). :class:`calsync.state.ScopedStore` keeps it in the state file,
    :class:`calsync.state.MemoryStore` in memory."""

    def token(self) -> str | None:
        """The token saved last (None: none yet)."""

    def objects(self) -> dict[str, tuple[str, bytes]]:
        """The objects saved last."""

    def save(self, token: str | None, objects: Mapping[str, tuple[str, bytes]]) -> None:
        """Replace what is kept."""


class ConflictError(Exception):
    """A write refused because the event changed or went since it was listed, or (a create) an
    event with its UID is already there. The person's change wins; nothing is overwritten."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CalendarTarget(Protocol):
    """A calendar calsync writes one plan's sessions into.

    Every write raises :class:`ConflictError` when the calendar changed under it, and
    :class:`~calsync.errors.TargetError` when the calendar cannot be reached; the loop, the
    journal and the recovery after a lost answer are :func:`calsync.executor.execute`'s.
    """

    @property
    def label(self) -> str:
        """The file or URL (never with credentials), for messages."""

    @property
    def requests(self) -> int:
        """HTTP requests made so far (0 for local files)."""

    def list_owned(self) -> list[OwnedEvent]:
        """This plan's events in the calendar, each with its version (``href`` / ``etag``)."""

    def create(self, session: Session, *, now: datetime) -> Version:
        """Write a new event; ``now`` (aware, UTC, whole seconds) is its DTSTAMP."""

    def update(self, previous: OwnedEvent, session: Session, *, sequence: int, now: datetime) -> Version:
        """Rewrite a listed event in place with the session's content (same UID)."""

    def delete(self, previous: OwnedEvent) -> bool:
        """Remove a listed event; False when it was already gone."""

    def close(self) -> None:
        """Release connections."""


@runtime_checkable
class Batched(Protocol):
    """A calendar that groups one pass's writes (optional): the executor enters :meth:`batch`
    around them. With ``deferred`` true, the writes take effect only when the batch ends
    without error (a file written once); otherwise each write is done when its call returns."""

    deferred: bool

    def batch(self) -> AbstractContextManager[None]:
        """Around every write of one :func:`~calsync.executor.execute`."""


class SourceAdapter(Protocol):
    """A calendar calsync reads runs from (never writes)."""

    name: str
    """For messages: the source's ``name`` or where it is."""

    @property
    def requests(self) -> int:
        """HTTP requests made so far (0 for local files)."""

    def read(
        self,
        window_start: datetime,
        window_end: datetime,
        zone: ZoneInfo,
        store: SyncStore | None,
        *,
        full: bool,
    ) -> ReadResult:
        """The occurrences in ``[window_start, window_end)``. Raises SourceError when the source
        cannot be read (a failed read, never an empty one). With a ``store`` (the source's own
        part of the state), a remote source resumes from what it kept there (sync token, ETag)
        unless ``full``; an adapter kept between passes (the daemon) may also keep parsed results
        in memory."""

    def close(self) -> None:
        """Release connections."""
