"""One entry's plan, kept up to date: read the source, plan, keep the last good read when the
source fails (the old plan stays, as everywhere in calsync)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .calsync_lib.core.model import PlanResult, Session, SourceEvent
from .calsync_lib.errors import SourceError
from .const import CONF_ICS_URL, CONF_REFRESH_MINUTES, CONF_SOURCE_ENTITY, DEFAULT_REFRESH, DOMAIN
from .planning import (
    EntrySettings,
    event_from_json,
    event_to_json,
    make_plan,
    session_from_json,
    session_to_json,
    window_for,
)
from .source import SourceRead, UrlCache, describe, read_entity, read_url

_LOGGER = logging.getLogger(__name__)
STORAGE_VERSION = 1


@dataclass(frozen=True)
class Snapshot:
    """The plan the entities show."""

    result: PlanResult
    generated_at: datetime
    problem: str | None
    """Why the last read of the source failed (the plan then comes from the last good read)."""
    events_read: int
    last_success: datetime | None


def entry_config(entry: ConfigEntry) -> dict[str, Any]:
    """An entry's data with its options over it (the options flow can change everything)."""
    return {**entry.data, **entry.options}


class CalsyncCoordinator(DataUpdateCoordinator[Snapshot]):
    """Reads an entry's source and plans, on start, on the refresh interval, when the source
    entity changes and on ``calsync.rebuild``."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        config = entry_config(entry)
        minutes = config.get(CONF_REFRESH_MINUTES)
        super().__init__(
            hass,
            _LOGGER,
            name=f"calsync {entry.title}",
            update_interval=timedelta(minutes=float(minutes)) if minutes else DEFAULT_REFRESH,
        )
        self.entry = entry
        self.settings = EntrySettings.from_config(config)
        self.source_entity: str | None = config.get(CONF_SOURCE_ENTITY) or None
        self.ics_url: str | None = config.get(CONF_ICS_URL) or None
        self.url_cache = UrlCache()
        self.store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}")
        self.events: list[SourceEvent] | None = None
        """The last good read of the source (also kept in storage)."""
        self.problems: list[str] = []
        self.last_success: datetime | None = None
        self.previous: tuple[Session, ...] = ()
        """The last plan's sessions: they stay on their day while still valid (Stability)."""
        self._loaded = False
        self.fetches = 0
        """Full answers (200) from an ICS URL: a 304 does not count."""

    async def _read(self, start: datetime, end: datetime) -> SourceRead:
        zone = self.settings.zone
        if self.source_entity:
            return await read_entity(self.hass, self.source_entity, zone, start, end)
        if self.ics_url:
            read = await read_url(self.hass, self.ics_url, zone, start, end, cache=self.url_cache)
            self.fetches += int(read.fetched)
            return read
        raise SourceError("the entry names no source")

    async def _load(self) -> None:
        """What the last run of Home Assistant kept: the last good read and the last plan."""
        if self._loaded:
            return
        self._loaded = True
        stored = await self.store.async_load()
        if stored:
            self.events = [event_from_json(e) for e in stored["events"]]
            self.problems = list(stored.get("problems", []))
            last = stored.get("last_success")
            self.last_success = datetime.fromisoformat(last) if last else None
            self.previous = tuple(session_from_json(s) for s in stored.get("sessions", []))

    async def _save(self) -> None:
        await self.store.async_save(
            {
                "events": [event_to_json(e) for e in self.events or []],
                "problems": self.problems,
                "last_success": self.last_success.isoformat() if self.last_success else None,
                "sessions": [session_to_json(s) for s in self.previous],
            }
        )

    async def _async_update_data(self) -> Snapshot:
        await self._load()
        now = dt_util.now()
        window = window_for(self.settings, now)
        problem: str | None = None
        changed = False
        try:
            read = await self._read(window.read_start, window.read_end)
        except SourceError as err:
            problem = describe(err)
            _LOGGER.warning("%s: the source could not be read, the last plan stays: %s", self.name, problem)
            self._raise_issue(problem)
            if self.events is None:
                raise UpdateFailed(problem) from err
        else:
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
            changed = (read.events, read.problems) != (self.events, self.problems)
            self.events, self.problems, self.last_success = read.events, read.problems, now
        events = self.events or []
        result = await self.hass.async_add_executor_job(
            make_plan, self.settings, now, events, self.problems, self.previous
        )
        if changed or result.sessions != self.previous:  # no disk write for an idle refresh
            self.previous = result.sessions
            await self._save()
        return Snapshot(result, now, problem, len(events), self.last_success)

    @property
    def issue_id(self) -> str:
        """The repair issue shown while the source cannot be read."""
        return f"source_failed_{self.entry.entry_id}"

    def _raise_issue(self, problem: str) -> None:
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self.issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="source_failed",
            translation_placeholders={"name": self.entry.title, "error": problem},
        )
