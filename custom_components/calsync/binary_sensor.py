"""On while the entry's source cannot be read (the last plan stays meanwhile)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import EntityCategory
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import DOMAIN
from .coordinator import CalsyncCoordinator
from .entity import CalsyncEntity


async def async_setup_entry(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """The problem sensor."""
    async_add_entities([SourceProblem(hass.data[DOMAIN][entry.entry_id])])


class SourceProblem(CalsyncEntity, BinarySensorEntity):
    """The source's last read failed."""

    _attr_device_class = BinarySensorDeviceClass.PROBLEM
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, coordinator: CalsyncCoordinator) -> None:
        super().__init__(coordinator, "source_problem")

    @property
    def available(self) -> bool:
        """Always: a failing first read is a problem too."""
        return True

    @property
    def is_on(self) -> bool:
        """Whether the last read failed."""
        data = self.coordinator.data
        return not self.coordinator.last_update_success or (data is not None and data.problem is not None)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The reason and when the source was last read."""
        data = self.coordinator.data
        last = self.coordinator.last_success
        return {
            "error": data.problem if data is not None else str(self.coordinator.last_exception or ""),
            "last_success": last.isoformat() if last else None,
        }
