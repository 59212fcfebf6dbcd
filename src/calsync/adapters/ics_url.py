# ruff: noqa: ARG002 - a skeleton with the final signatures, filled in by its issue
"""``ics_url`` source: an iCalendar feed over HTTP(S) / webcal (being built: issue 4)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from calsync.adapters.ics_read import ReadResult
from calsync.config import IcsUrlSource
from calsync.errors import SourceError
from calsync.state import State


class IcsUrlReader:
    """Reads an ``.ics`` feed with a conditional GET."""

    def __init__(self, source: IcsUrlSource, *, name: str, where: str) -> None:
        self.source = source
        self.name = name
        self.where = where
        self._requests = 0

    @property
    def requests(self) -> int:
        """HTTP requests made so far."""
        return self._requests

    def read(
        self, window_start: datetime, window_end: datetime, zone: ZoneInfo, state: State | None, *, full: bool
    ) -> ReadResult:
        """The feed's occurrences in the window."""
        raise SourceError(f"{self.name}: ics_url sources are not available yet")

    def close(self) -> None:
        """Release the HTTP session."""
