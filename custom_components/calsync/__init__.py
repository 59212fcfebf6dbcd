"""calsync inside Home Assistant: strength sessions and rest days planned around a runner's
training plan, read from a calendar entity or an ICS URL, shown as a calendar and sensors."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Event, HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.storage import Store
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import dt as dt_util

from .calsync_lib.output import plan_json
from .const import ATTR_ENTRY_ID, DOMAIN, PLATFORMS, SERVICE_PLAN, SERVICE_REBUILD
from .coordinator import STORAGE_VERSION, CalsyncCoordinator
from .source import UrlCache

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
SERVICE_SCHEMA = vol.Schema({vol.Optional(ATTR_ENTRY_ID): cv.string})


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:  # noqa: ARG001 - HA's signature
    """Register the actions (once, for every entry)."""
    hass.data.setdefault(DOMAIN, {})

    def coordinators(call: ServiceCall) -> list[CalsyncCoordinator]:
        known: dict[str, CalsyncCoordinator] = hass.data[DOMAIN]
        wanted = call.data.get(ATTR_ENTRY_ID)
        if wanted is None:
            return list(known.values())
        if wanted not in known:
            raise ServiceValidationError(f"no loaded calsync entry with id {wanted!r}")
        return [known[wanted]]

    async def rebuild(call: ServiceCall) -> None:
        for coordinator in coordinators(call):
            coordinator.url_cache = UrlCache()  # read everything again, no conditional GET
            await coordinator.async_refresh()

    async def plan(call: ServiceCall) -> ServiceResponse:
        results = [c.data.result for c in coordinators(call) if c.data is not None]
        return plan_json(results, generated_at=dt_util.now())

    hass.services.async_register(DOMAIN, SERVICE_REBUILD, rebuild, schema=SERVICE_SCHEMA)
    hass.services.async_register(
        DOMAIN, SERVICE_PLAN, plan, schema=SERVICE_SCHEMA, supports_response=SupportsResponse.ONLY
    )
    return True


async def async_setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Plan once (ConfigEntryNotReady when the source cannot be read and nothing is kept),
    then follow the source entity's state changes and the refresh interval."""
    coordinator = CalsyncCoordinator(hass, entry)
    await coordinator.async_config_entry_first_refresh()
    hass.data.setdefault(DOMAIN, {})[entry.entry_id] = coordinator
    if coordinator.source_entity:

        @callback
        def source_changed(event: Event) -> None:  # noqa: ARG001 - any change of the source
            hass.async_create_task(coordinator.async_request_refresh())

        entry.async_on_unload(
            async_track_state_change_event(hass, [coordinator.source_entity], source_changed)
        )
    entry.async_on_unload(entry.add_update_listener(_options_changed))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _options_changed(hass: HomeAssistant, entry: ConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Remove the entities; the stored last read stays for a reload."""
    unloaded: bool = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        hass.data[DOMAIN].pop(entry.entry_id, None)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Forget the stored last read of a removed entry."""
    await Store[dict[str, Any]](hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}").async_remove()
