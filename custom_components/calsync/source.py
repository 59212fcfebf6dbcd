"""Reading an entry's source: a Home Assistant calendar entity (in process, through the calendar
component's entity) or an ICS URL (Home Assistant's shared aiohttp session, conditional GET)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from homeassistant.components.calendar import DOMAIN as CALENDAR_DOMAIN
from homeassistant.components.calendar import CalendarEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.entity_component import EntityComponent

from .calsync_lib.adapters.ics_read import parse_ics
from .calsync_lib.core.model import SourceEvent
from .calsync_lib.errors import SourceError
from .planning import derived_uid

FETCH_TIMEOUT = aiohttp.ClientTimeout(total=30)
MAX_BYTES = 20 * 1024 * 1024


@dataclass
class SourceRead:
    """What one read gave."""

    events: list[SourceEvent]
    problems: list[str] = field(default_factory=list)
    fetched: bool = True
    """False when an ICS URL answered 304 Not Modified (the last body was parsed again)."""


def _when(value: date | datetime, zone: ZoneInfo) -> date | datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=zone) if value.tzinfo is None else value
    return value


async def read_entity(
    hass: HomeAssistant, entity_id: str, zone: ZoneInfo, start: datetime, end: datetime
) -> SourceRead:
    """The events of a calendar entity in ``[start, end)``; SourceError when it is not there."""
    component: EntityComponent[CalendarEntity] | None = hass.data.get(CALENDAR_DOMAIN)
    entity = component.get_entity(entity_id) if component is not None else None
    if entity is None:
        raise SourceError(f"{entity_id}: no such calendar entity")
    try:
        found = await entity.async_get_events(hass, start, end)
    except Exception as err:
        raise SourceError(f"{entity_id}: {err or type(err).__name__}") from err
    events = []
    for item in found:
        events.append(
            SourceEvent(
                uid=item.uid or derived_uid(item.summary, item.start),
                summary=item.summary or "",
                start=_when(item.start, zone),
                end=_when(item.end, zone),
                recurrence_id=item.recurrence_id,
                description=item.description or "",
                location=item.location or "",
                source=entity_id,
            )
        )
    return SourceRead(events)


@dataclass
class UrlCache:
    """The last answer of an ICS URL, for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None
    body: bytes | None = None


async def fetch_url(hass: HomeAssistant, url: str, cache: UrlCache | None = None) -> tuple[bytes, bool]:
    """The body of an ICS URL and whether it was fetched (False: 304, the cached body).
    SourceError with a one-line reason on any failure."""
    headers = {"Accept": "text/calendar, */*;q=0.5"}
    if cache is not None and cache.body is not None:
        if cache.etag:
            headers["If-None-Match"] = cache.etag
        if cache.last_modified:
            headers["If-Modified-Since"] = cache.last_modified
    session = async_get_clientsession(hass)
    fetch_from = url.replace("webcal://", "https://", 1) if url.startswith("webcal://") else url
    try:
        async with session.get(fetch_from, headers=headers, timeout=FETCH_TIMEOUT) as answer:
            if answer.status == 304 and cache is not None and cache.body is not None:
                return cache.body, False
            if answer.status != 200:
                raise SourceError(f"the calendar URL answered HTTP {answer.status}")
            body = await answer.content.read(MAX_BYTES + 1)
            if len(body) > MAX_BYTES:
                raise SourceError(f"the calendar is larger than {MAX_BYTES // 1024 // 1024} MB")
            if cache is not None:
                cache.etag = answer.headers.get("ETag")
                cache.last_modified = answer.headers.get("Last-Modified")
                cache.body = body
            return body, True
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        reason = (str(err) or type(err).__name__).replace(fetch_from, "<the URL>").replace(url, "<the URL>")
        raise SourceError(f"the calendar URL could not be fetched: {reason}") from None


def parse_body(body: bytes, zone: ZoneInfo, start: datetime, end: datetime) -> SourceRead:
    """Parse an ICS body (SourceError when it is not a calendar)."""
    result = parse_ics(body, name="calendar URL", zone=zone, window_start=start, window_end=end)
    return SourceRead(list(result.events), list(result.problems))


async def read_url(
    hass: HomeAssistant, url: str, zone: ZoneInfo, start: datetime, end: datetime, *, cache: UrlCache
) -> SourceRead:
    """Fetch (conditionally) and parse an ICS URL; the parse runs in the executor."""
    body, fetched = await fetch_url(hass, url, cache)
    read: SourceRead = await hass.async_add_executor_job(parse_body, body, zone, start, end)
    read.fetched = fetched
    return read


def describe(error: Any) -> str:
    """One line for a form, a sensor attribute or a log."""
    return str(error).splitlines()[0] if str(error) else type(error).__name__
