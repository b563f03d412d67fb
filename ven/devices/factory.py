"""The agent's device bus from its configured device sources (one adapter per entry).

A protocol library is imported only when an entry of its kind is configured.
"""

from __future__ import annotations

from collections.abc import Sequence

from ven.clock import Clock
from ven.device_bus import BrokerAddress, DeviceBus, MqttBus, Will
from ven.devices.bus import DeviceAdapter, DeviceRouter
from ven.devices.config import (
    DeviceEntry,
    DeviceSetupError,
    MqttDevices,
    OcppChargers,
    S2ResourceManagers,
    SunspecDevice,
)

__all__ = ["DeviceSetupError", "build_router"]


def build_router(site_id: str, entries: Sequence[DeviceEntry], clock: Clock, will: Will) -> DeviceRouter:
    mqtt_bus: DeviceBus | None = None
    adapters: list[DeviceAdapter] = []
    ids: set[str] = set()
    for entry in entries:
        if isinstance(entry, MqttDevices):
            if mqtt_bus is not None:
                raise DeviceSetupError("only one mqtt device entry (one broker) is supported")
            mqtt_bus = MqttBus(BrokerAddress.parse(entry.broker_url), client_id=f"agent-{site_id}", will=will)
        elif isinstance(entry, OcppChargers):
            from ven.devices.ocpp_central import OcppCentralSystem

            adapters.append(OcppCentralSystem(entry, clock))
        elif isinstance(entry, SunspecDevice):
            if entry.id in ids:
                raise DeviceSetupError(f"two sunspec devices are called {entry.id!r}: give each a device_id")
            ids.add(entry.id)
            from ven.devices.sunspec import SunspecAdapter

            adapters.append(SunspecAdapter(entry, clock))
        elif isinstance(entry, S2ResourceManagers):
            from ven.devices.s2_cem import S2Cem

            adapters.append(S2Cem(entry, clock))
    return DeviceRouter(site_id, mqtt_bus, adapters)
