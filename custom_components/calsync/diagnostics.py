"""The diagnostics download: the entry (its ICS URL redacted: such links carry secrets), the
last read and the plan's summary."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .const import CONF_ICS_URL, DOMAIN
from .coordinator import CalsyncCoordinator

TO_REDACT = {CONF_ICS_URL}


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: ConfigEntry) -> dict[str, Any]:
    """What a bug report needs, without secrets."""
    coordinator: CalsyncCoordinator | None = hass.data.get(DOMAIN, {}).get(entry.entry_id)
    found: dict[str, Any] = {
        "data": async_redact_data(dict(entry.data), TO_REDACT),
        "options": async_redact_data(dict(entry.options), TO_REDACT),
    }
    if coordinator is None or coordinator.data is None:
        return found
    data = coordinator.data
    found["plan"] = {
        "plan_id": data.result.plan_id,
        "timezone": data.result.timezone,
        "generated_at": data.generated_at.isoformat(),
        "problem": data.problem,
        "events_read": data.events_read,
        "runs": len(data.result.runs),
        "sessions": len(data.result.sessions),
        "warnings": [f"{w.code.value}: {w.message}" for w in data.result.warnings],
        "url_fetches": coordinator.fetches,
    }
    return found
