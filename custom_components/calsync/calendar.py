"""The entry's calendar: the planned strength sessions and rest days, read-only, with the UIDs,
titles and descriptions calsync writes everywhere (``calsync.core.render``)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from homeassistant.components.calendar import CalendarEntity, CalendarEvent
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.util import dt as dt_util

from .calsync_lib.core.model import Session
from .calsync_lib.core.render import describe
from .const import DOMAIN
from .coordinator import CalsyncCoordinator
from .entity import CalsyncEntity


async def async_setup_entry(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """One calendar per entry."""
    async_add_entities([CalsyncCalendar(hass.data[DOMAIN][entry.entry_id])])


def session_event(session: Session) -> CalendarEvent:
    """A session as Home Assistant's calendar event."""
    return CalendarEvent(
        start=session.start,
        end=session.end,
        summary=session.title,
        description=describe(session),
        uid=session.uid,
    )


def _moment(value: date | datetime, zone: ZoneInfo) -> datetime:
    """When a session starts or ends; an all-day one at midnight in the plan's zone."""
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0), zone)


class CalsyncCalendar(CalsyncEntity, CalendarEntity):
    """Strength sessions and rest days."""

    _attr_name = None  # the device's name: "<entry> " is the calendar

    def __init__(self, coordinator: CalsyncCoordinator) -> None:
        super().__init__(coordinator, "calendar")

    def _sessions(self) -> list[Session]:
        data = self.coordinator.data
        return list(data.result.sessions) if data is not None else []

    @property
    def event(self) -> CalendarEvent | None:
        """The session going on, else the next one."""
        now, zone = dt_util.now(), self.coordinator.settings.zone
        upcoming = [s for s in self._sessions() if _moment(s.end, zone) > now]
        if not upcoming:
            return None
        return session_event(min(upcoming, key=lambda s: (_moment(s.start, zone), s.uid)))

    async def async_get_events(
        self,
        hass: HomeAssistant,  # noqa: ARG002 - HA's signature
        start_date: datetime,
        end_date: datetime,
    ) -> list[CalendarEvent]:
        """The sessions overlapping the window, by start."""
        zone = self.coordinator.settings.zone
        found = [
            s
            for s in self._sessions()
            if _moment(s.start, zone) < end_date and _moment(s.end, zone) > start_date
        ]
        found.sort(key=lambda s: (_moment(s.start, zone), s.uid))
        return [session_event(s) for s in found]
