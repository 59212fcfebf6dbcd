# ruff: noqa: ARG002 - a skeleton with the final signatures, filled in by its issue
"""Home Assistant source and target (being built: issue 5)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from calsync.adapters.ics_read import ReadResult
from calsync.config import HomeAssistantSource, HomeAssistantTarget
from calsync.errors import SourceError, TargetError
from calsync.model import PlanResult
from calsync.ports import Stop, SyncState
from calsync.reconcile import Action, ApplyResult, OwnedEvent
from calsync.state import State


class HaCalendarSource:
    """Runs from a Home Assistant calendar entity."""

    def __init__(self, source: HomeAssistantSource, *, name: str, where: str) -> None:
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
        """The entity's events in the window."""
        raise SourceError(f"{self.name}: homeassistant sources are not available yet")

    def close(self) -> None:
        """Release connections."""


class HaCalendarTarget:
    """Sessions in a Home Assistant Local Calendar entity, plus sensors."""

    def __init__(self, target: HomeAssistantTarget, plan_id: str, zone: ZoneInfo, *, where: str) -> None:
        self.target = target
        self.plan_id = plan_id
        self.zone = zone
        self.where = where
        self.progress = ApplyResult()

    @property
    def label(self) -> str:
        """The instance and entity."""
        return f"{self.target.url} {self.target.entity_id}"

    @property
    def requests(self) -> int:
        """HTTP and websocket requests made so far."""
        return 0

    def read_owned(self) -> list[OwnedEvent]:
        """This plan's events in the entity."""
        raise TargetError(f"plan {self.plan_id}: homeassistant targets are not available yet")

    def apply(self, actions: Sequence[Action], *, now: datetime, stop: Stop | None = None) -> ApplyResult:
        """Write the actions."""
        raise TargetError(f"plan {self.plan_id}: homeassistant targets are not available yet")

    def location(self, uid: str) -> tuple[str, str] | None:
        """No hrefs in Home Assistant."""
        return None

    def sync_state(self) -> SyncState | None:
        """Nothing kept between passes."""
        return None

    def publish(self, result: PlanResult, now: datetime) -> None:
        """Sensors."""

    def close(self) -> None:
        """Release connections."""
