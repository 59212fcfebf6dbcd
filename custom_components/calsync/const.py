"""Names shared by the calsync integration's modules."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

DOMAIN: Final = "calsync"
PLATFORMS: Final = ("calendar", "sensor", "binary_sensor")

CONF_NAME: Final = "name"
CONF_SOURCE_ENTITY: Final = "source_entity"
CONF_ICS_URL: Final = "ics_url"
CONF_TIME_ZONE: Final = "time_zone"
CONF_A_RACE: Final = "a_race"
CONF_HORIZON_WEEKS: Final = "horizon_weeks"
CONF_SESSIONS_PER_WEEK: Final = "strength_sessions_per_week"
CONF_WINDOWS: Final = "strength_windows"
CONF_REST_DAY: Final = "rest_day"
CONF_SAME_DAY_ORDER: Final = "same_day_order"
CONF_REFRESH_MINUTES: Final = "refresh_minutes"

DEFAULT_HORIZON_WEEKS: Final = 16
DEFAULT_REFRESH = timedelta(minutes=15)
NO_REST_DAY: Final = "none"
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

SERVICE_REBUILD: Final = "rebuild"
SERVICE_PLAN: Final = "plan"
ATTR_ENTRY_ID: Final = "entry_id"
