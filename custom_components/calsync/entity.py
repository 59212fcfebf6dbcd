"""The base of calsync's entities: one device per entry, unique ids from the entry id."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import CalsyncCoordinator


class CalsyncEntity(CoordinatorEntity[CalsyncCoordinator]):
    """Stays available with the last plan while the source cannot be read."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: CalsyncCoordinator, key: str) -> None:
        super().__init__(coordinator)
        entry = coordinator.entry
        self._attr_unique_id = f"{entry.entry_id}_{key}"
        self._attr_translation_key = key
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            name=entry.title,
            manufacturer="calsync",
            model="Strength and rest planner",
            entry_type=DeviceEntryType.SERVICE,
        )

    @property
    def available(self) -> bool:
        """The plan is there (the source may be failing: the problem sensor says so)."""
        return self.coordinator.data is not None
