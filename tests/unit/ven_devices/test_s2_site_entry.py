"""What an S2 RM's flexibility becomes in the site entry the agent reports to the VTN: an FRBC
battery (fill level in kWh) is the site's battery; an FRBC heat pump's power that holds its
buffer is load the plan carries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from s2python.common import (
    Commodity,
    CommodityQuantity,
    ControlType,
    Duration,
    NumberRange,
    PowerRange,
    ResourceManagerDetails,
    Role,
    RoleType,
)
from s2python.frbc import (
    FRBCActuatorDescription,
    FRBCOperationMode,
    FRBCOperationModeElement,
    FRBCStorageDescription,
    FRBCStorageStatus,
    FRBCSystemDescription,
)

from ven.agent.policy import SiteLimits
from ven.agent.registry import DeviceRegistry, DeviceView, HomeSnapshot
from ven.agent.site_entry import Grid, SlotProfile, build_site_entry
from ven.clock import WallClock
from ven.devices.bus import DeviceRouter
from ven.devices.s2_device import S2Device
from ven.messages import DeviceConfig, DeviceState, DeviceType, Measurement

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
LIMITS = SiteLimits(import_limit_kw=9.2, export_limit_kw=5.0)


def battery_system() -> FRBCSystemDescription:
    span = NumberRange(start_of_range=1.0, end_of_range=10.0)  # kWh
    both_ways = FRBCOperationMode(
        id=uuid.uuid4(),
        diagnostic_label="charge or discharge",
        abnormal_condition_only=False,
        elements=[
            FRBCOperationModeElement(
                fill_level_range=span,
                fill_rate=NumberRange(start_of_range=-3 / 3600, end_of_range=3 / 3600),
                power_ranges=[
                    PowerRange(
                        start_of_range=-3000,
                        end_of_range=3000,
                        commodity_quantity=CommodityQuantity.ELECTRIC_POWER_3_PHASE_SYMMETRIC,
                    )
                ],
            )
        ],
    )
    return FRBCSystemDescription(
        message_id=uuid.uuid4(),
        valid_from=NOW,
        actuators=[
            FRBCActuatorDescription(
                id=uuid.uuid4(),
                supported_commodities=[Commodity.ELECTRICITY],
                operation_modes=[both_ways],
                transitions=[],
                timers=[],
            )
        ],
        storage=FRBCStorageDescription(
            fill_level_label="kWh",
            fill_level_range=span,
            provides_leakage_behaviour=False,
            provides_fill_level_target_profile=False,
            provides_usage_forecast=False,
        ),
    )


def test_an_frbc_battery_is_the_sites_battery() -> None:
    router = DeviceRouter("home", None, [])
    registry = DeviceRegistry("home")
    router.subscribe("flexvpp/home/+/+", registry.handle)
    rm_id = uuid.uuid4()
    device = S2Device(str(rm_id), router.link, WallClock(), lambda: None)
    details = ResourceManagerDetails(  # type: ignore[call-arg]  # optional fields: defaults mypy misses
        message_id=uuid.uuid4(),
        resource_id=rm_id,
        roles=[Role(role=RoleType.ENERGY_STORAGE, commodity=Commodity.ELECTRICITY)],
        instruction_processing_delay=Duration.from_milliseconds(100),
        available_control_types=[ControlType.FILL_RATE_BASED_CONTROL],
        provides_forecast=False,
        provides_power_measurement_types=[CommodityQuantity.ELECTRIC_POWER_3_PHASE_SYMMETRIC],
    )
    session: Any = SimpleNamespace(control_type=ControlType.FILL_RATE_BASED_CONTROL)
    device.attach(session, details)
    for message in (battery_system(), FRBCStorageStatus(message_id=uuid.uuid4(), present_fill_level=4.0)):
        device.frbc.update(message)
        device.publish_config()
        device._frbc_telemetry()

    snapshot = registry.snapshot(NOW.timestamp())
    view = snapshot.devices[str(rm_id)]
    assert view.device_type == DeviceType.BATTERY
    assert view.reading("stored_energy") == 4000.0 and view.reading("soc") == 40.0
    entry = build_site_entry("home", snapshot, LIMITS, Grid.at(NOW.timestamp()), SlotProfile(), SlotProfile())
    assert entry["battery"] == {
        "capacity_kwh": 10.0,
        "soc_kwh": 4.0,
        "min_soc_kwh": 1.0,
        "max_charge_kw": 3.0,
        "max_discharge_kw": 3.0,
        "charge_efficiency": 1.0,
        "discharge_efficiency": 1.0,
    }


def test_the_power_that_holds_a_heat_pumps_buffer_is_base_load() -> None:
    def heat_pump(hold_w: float | None, online: bool = True) -> DeviceView:
        config = DeviceConfig.model_validate(
            {
                "device_id": "hp",
                "device_type": "heat_pump",
                "controls": [{"name": "power_kw", "min": 0, "max": 2}],
            }
        )
        readings = (
            {} if hold_w is None else {"hold_power": Measurement("hold_power", "W", hold_w, NOW.timestamp())}
        )
        return DeviceView(config, DeviceState(ts=NOW.timestamp(), online=online), readings)

    base = SlotProfile()
    base.add(NOW.timestamp(), 0.5)
    grid = Grid.at(NOW.timestamp(), slots=4)

    def base_load(view: DeviceView) -> list[float]:
        snapshot = HomeSnapshot(NOW.timestamp(), {"hp": view})
        return build_site_entry("home", snapshot, LIMITS, grid, base, SlotProfile())["base_load_kw"]  # type: ignore[no-any-return]

    assert base_load(heat_pump(800.0)) == pytest.approx([1.3] * 4)
    assert base_load(heat_pump(None)) == pytest.approx([0.5] * 4)  # a thermostat heat pump (MQTT)
    assert base_load(heat_pump(800.0, online=False)) == pytest.approx([0.5] * 4)
