"""The entry's sensors: the next session (a timestamp) and this week (its phase)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.util import dt as dt_util

from .calsync_lib.core.model import Phase, Session, WeekPlan, week_start
from .const import DOMAIN
from .coordinator import CalsyncCoordinator
from .entity import CalsyncEntity


async def async_setup_entry(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Next session and this week."""
    coordinator: CalsyncCoordinator = hass.data[DOMAIN][entry.entry_id]
    async_add_entities([NextSessionSensor(coordinator), ThisWeekSensor(coordinator)])


def _start(session: Session) -> datetime:
    if isinstance(session.start, datetime):
        return session.start
    return dt_util.start_of_local_day(session.start)


class NextSessionSensor(CalsyncEntity, SensorEntity):
    """When the next strength session starts, and what it is (rest days are on the calendar and
    in the week sensor: an automation "15 minutes before the session" wants only sessions)."""

    _attr_device_class = SensorDeviceClass.TIMESTAMP

    def __init__(self, coordinator: CalsyncCoordinator) -> None:
        super().__init__(coordinator, "next_session")

    def _next(self) -> Session | None:
        data = self.coordinator.data
        if data is None:
            return None
        now = dt_util.now()
        upcoming = [s for s in data.result.sessions if s.kind.is_strength and _start(s) >= now]
        return min(upcoming, key=lambda s: (_start(s), s.uid)) if upcoming else None

    @property
    def native_value(self) -> datetime | None:
        """The next strength session's start."""
        session = self._next()
        return _start(session) if session else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Title, kind, minutes, exercises and reasons of the next session."""
        session = self._next()
        if session is None:
            return {}
        return {
            "title": session.title,
            "kind": session.kind.value,
            "minutes": session.minutes,
            "all_day": session.all_day,
            "exercises": [f"{e.name}: {e.prescription}" for e in session.exercises],
            "reasons": list(session.reasons),
            "uid": session.uid,
        }


class ThisWeekSensor(CalsyncEntity, SensorEntity):
    """This week's phase, with its minutes, rest day and warnings (late in a week the planner may
    start with the next one: then that one, its ``week`` attribute says which)."""

    _attr_device_class = SensorDeviceClass.ENUM

    def __init__(self, coordinator: CalsyncCoordinator) -> None:
        super().__init__(coordinator, "this_week")
        self._attr_options = [phase.value for phase in Phase]

    def _week(self) -> WeekPlan | None:
        data = self.coordinator.data
        if data is None:
            return None
        today = dt_util.now().astimezone(self.coordinator.settings.zone).date()
        monday: date = week_start(today)
        weeks = sorted((w for w in data.result.weeks if w.start >= monday), key=lambda w: w.start)
        return weeks[0] if weeks else None

    @property
    def native_value(self) -> str | None:
        """The phase of this week (or the first planned week after it)."""
        week = self._week()
        return week.phase.value if week else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Run and strength minutes, the rest day and this week's warnings."""
        week = self._week()
        data = self.coordinator.data
        if week is None or data is None:
            return {}
        return {
            "week": week.week,
            "run_minutes": week.run_minutes,
            "strength_minutes": week.strength_minutes,
            "strength_target_minutes": week.strength_target_minutes,
            "rest_day": week.rest_day.isoformat() if week.rest_day else None,
            "cutback": week.cutback,
            "warnings": [
                f"{w.code.value}: {w.message}" for w in data.result.warnings if w.week in (None, week.week)
            ],
        }
