"""What the service layer needs of a target adapter (every kind of target implements this).

The pure core never sees these; ``pipeline.py`` drives any target through this one interface,
so a new kind of target (a file, CalDAV, Home Assistant, a served feed) needs no change there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from calsync.adapters.ics_read import ReadResult
from calsync.errors import InterruptedPassError
from calsync.model import PlanResult
from calsync.reconcile import Action, ApplyResult, OwnedEvent

if TYPE_CHECKING:
    from calsync.state import State

Stop = Callable[[], bool]
"""Asked between writes; True means: finish here (raise :class:`~calsync.errors.InterruptedPassError`)."""


def halt_if_asked(stop: Stop | None, done: ApplyResult, where: str) -> None:
    """Between two writes: end the pass with InterruptedPassError when ``stop`` says so (the
    daemon shutting down); what is ``done`` stays recorded, the next pass does the rest."""
    if stop is not None and stop():
        raise InterruptedPassError(
            f"{where}: stopped after {done.written} writes; the next pass does the rest"
        )


SyncState = tuple[str, str | None, dict[str, tuple[str, bytes]]]
"""What a remote target keeps between passes: state key, sync token, listing (href -> etag, data)."""


class TargetAdapter(Protocol):
    """A calendar that calsync writes one plan's sessions into."""

    progress: ApplyResult
    """The writes of the last :meth:`apply` that are done, also when it failed part-way."""

    @property
    def label(self) -> str:
        """The file or URL (never with credentials), for messages."""

    @property
    def requests(self) -> int:
        """HTTP requests made so far (0 for local files)."""

    def read_owned(self) -> list[OwnedEvent]:
        """This plan's events in the calendar."""

    def apply(self, actions: Sequence[Action], *, now: datetime, stop: Stop | None = None) -> ApplyResult:
        """Write the actions; what changed meanwhile is a conflict, never overwritten."""

    def location(self, uid: str) -> tuple[str, str] | None:
        """Where an owned event is and its version (href, ETag), when the target has such things."""

    def sync_state(self) -> SyncState | None:
        """A token and listing to keep for the next pass, if the target reads incrementally."""

    def publish(self, result: PlanResult, now: datetime) -> None:
        """Anything else the target shows besides events (Home Assistant's sensors); else nothing."""

    def close(self) -> None:
        """Release connections."""


class SourceAdapter(Protocol):
    """A calendar calsync reads runs from (never writes)."""

    name: str
    """For messages: the source's ``name`` or where it is."""

    @property
    def requests(self) -> int:
        """HTTP requests made so far (0 for local files)."""

    def read(
        self, window_start: datetime, window_end: datetime, zone: ZoneInfo, state: State | None, *, full: bool
    ) -> ReadResult:
        """The occurrences in ``[window_start, window_end)``. Raises SourceError when the source
        cannot be read (a failed read, never an empty one). With a ``state``, a remote source
        resumes from what it kept there (sync token, ETag) unless ``full``; an adapter kept
        between passes (the daemon) may also keep parsed results in memory."""

    def close(self) -> None:
        """Release connections."""
