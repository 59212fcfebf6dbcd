"""Set-up in the UI: the source (a calendar entity or an ICS URL, checked), the time zone and
the A race; options: the main rules and the refresh interval (and every set-up field, so an
entry is re-configured without being removed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import voluptuous as vol
from homeassistant.components.calendar import DOMAIN as CALENDAR_DOMAIN
from homeassistant.config_entries import ConfigEntry, ConfigFlow, OptionsFlow
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResult
from homeassistant.helpers import selector
from homeassistant.util import dt as dt_util

from .calsync_lib.errors import SourceError
from .const import (
    CONF_A_RACE,
    CONF_HORIZON_WEEKS,
    CONF_ICS_URL,
    CONF_NAME,
    CONF_REFRESH_MINUTES,
    CONF_REST_DAY,
    CONF_SAME_DAY_ORDER,
    CONF_SESSIONS_PER_WEEK,
    CONF_SOURCE_ENTITY,
    CONF_TIME_ZONE,
    CONF_WINDOWS,
    DEFAULT_HORIZON_WEEKS,
    DEFAULT_REFRESH,
    DOMAIN,
    NO_REST_DAY,
    WEEKDAYS,
)
from .coordinator import entry_config
from .planning import parse_windows, plan_id
from .source import fetch_url, parse_body


async def _source_errors(hass: HomeAssistant, data: dict[str, Any]) -> dict[str, str]:
    """Form errors for the source fields: exactly one source, and it must be readable."""
    entity, url = data.get(CONF_SOURCE_ENTITY), (data.get(CONF_ICS_URL) or "").strip()
    if bool(entity) == bool(url):
        return {"base": "one_source"}
    if entity:
        component = hass.data.get(CALENDAR_DOMAIN)
        if component is None or component.get_entity(entity) is None:
            return {CONF_SOURCE_ENTITY: "unknown_entity"}
        return {}
    if not url.lower().startswith(("http://", "https://", "webcal://")):
        return {CONF_ICS_URL: "bad_url"}
    try:
        body, _ = await fetch_url(hass, url)
    except SourceError:
        return {CONF_ICS_URL: "cannot_fetch"}
    now = dt_util.now()
    try:
        await hass.async_add_executor_job(parse_body, body, ZoneInfo("UTC"), now - timedelta(weeks=1), now)
    except SourceError:
        return {CONF_ICS_URL: "not_a_calendar"}
    return {}


def _setting_errors(data: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    try:
        ZoneInfo(str(data.get(CONF_TIME_ZONE, "")))
    except (ZoneInfoNotFoundError, ValueError):
        errors[CONF_TIME_ZONE] = "unknown_time_zone"
    if data.get(CONF_WINDOWS):
        try:
            parse_windows(str(data[CONF_WINDOWS]))
        except ValueError:
            errors[CONF_WINDOWS] = "bad_windows"
    return errors


def _source_schema(defaults: dict[str, Any]) -> dict[Any, Any]:
    def key(name: str, kind: type[vol.Optional] = vol.Optional) -> Any:
        value = defaults.get(name)
        return kind(name, description={"suggested_value": value}) if value else kind(name)

    return {
        key(CONF_SOURCE_ENTITY): selector.EntitySelector(
            selector.EntitySelectorConfig(domain=CALENDAR_DOMAIN)
        ),
        key(CONF_ICS_URL): selector.TextSelector(
            selector.TextSelectorConfig(type=selector.TextSelectorType.URL)
        ),
        vol.Required(CONF_TIME_ZONE, default=defaults[CONF_TIME_ZONE]): selector.TextSelector(),
        key(CONF_A_RACE): selector.DateSelector(),
        vol.Required(
            CONF_HORIZON_WEEKS, default=defaults.get(CONF_HORIZON_WEEKS, DEFAULT_HORIZON_WEEKS)
        ): vol.All(vol.Coerce(int), vol.Range(min=1, max=104)),
    }


class CalsyncConfigFlow(ConfigFlow, domain=DOMAIN):
    """One entry per athlete (per plan name)."""

    VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        """The only step: name, source, zone, A race."""
        errors: dict[str, str] = {}
        defaults: dict[str, Any] = {CONF_TIME_ZONE: self.hass.config.time_zone}
        if user_input is not None:
            defaults = user_input
            await self.async_set_unique_id(plan_id(user_input[CONF_NAME]))
            self._abort_if_unique_id_configured()
            errors = _setting_errors(user_input) or await _source_errors(self.hass, user_input)
            if not errors:
                data = {k: v for k, v in user_input.items() if v not in (None, "")}
                return self.async_create_entry(title=user_input[CONF_NAME], data=data)
        schema = {
            vol.Required(CONF_NAME, default=defaults.get(CONF_NAME, "")): str,
            **_source_schema(defaults),
        }
        return self.async_show_form(step_id="user", data_schema=vol.Schema(schema), errors=errors)

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """The rules, the refresh interval and the source."""
        return CalsyncOptionsFlow(config_entry)


class CalsyncOptionsFlow(OptionsFlow):
    """Change an entry without removing it."""

    def __init__(self, config_entry: ConfigEntry) -> None:
        self.entry = config_entry

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> FlowResult:
        """One form with everything but the name."""
        current = entry_config(self.entry)
        errors: dict[str, str] = {}
        if user_input is not None:
            merged = {CONF_NAME: current[CONF_NAME], **user_input}
            errors = _setting_errors(merged) or await _source_errors(self.hass, merged)
            if not errors:
                options = {k: v for k, v in user_input.items() if v not in (None, "")}
                for cleared in (CONF_SOURCE_ENTITY, CONF_ICS_URL, CONF_A_RACE):
                    options.setdefault(cleared, "")  # an option left empty overrides the data
                return self.async_create_entry(title="", data=options)
            current = {**current, **user_input}
        schema = {
            **_source_schema(current),
            vol.Required(
                CONF_SESSIONS_PER_WEEK, default=int(current.get(CONF_SESSIONS_PER_WEEK, 2))
            ): vol.All(vol.Coerce(int), vol.Range(min=0, max=5)),
            vol.Required(CONF_WINDOWS, default=current.get(CONF_WINDOWS, "06:00-08:00")): str,
            vol.Required(
                CONF_REST_DAY, default=current.get(CONF_REST_DAY, NO_REST_DAY)
            ): selector.SelectSelector(
                selector.SelectSelectorConfig(options=[NO_REST_DAY, *WEEKDAYS], translation_key=CONF_REST_DAY)
            ),
            vol.Required(
                CONF_SAME_DAY_ORDER, default=current.get(CONF_SAME_DAY_ORDER, "lift_first")
            ): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=["lift_first", "run_first"], translation_key=CONF_SAME_DAY_ORDER
                )
            ),
            vol.Required(
                CONF_REFRESH_MINUTES,
                default=current.get(CONF_REFRESH_MINUTES, DEFAULT_REFRESH.total_seconds() / 60),
            ): vol.All(vol.Coerce(float), vol.Range(min=1, max=1440)),
        }
        return self.async_show_form(step_id="init", data_schema=vol.Schema(schema), errors=errors)
