"""A SIMPLE shed event lowers a heat pump steered by its power (an S2 FRBC RM) by power, and
one steered by its thermostat by its setpoint."""

from __future__ import annotations

from ven.agent.policy import simple_setpoints
from ven.agent.registry import DeviceView, HomeSnapshot
from ven.messages import DeviceConfig, DeviceState

NOW = 1_750_000_000.0


def heat_pump(device_id: str, control: dict[str, object], **params: object) -> DeviceView:
    config = DeviceConfig.model_validate(
        {"device_id": device_id, "device_type": "heat_pump", "controls": [control], "params": params}
    )
    return DeviceView(config, DeviceState(ts=NOW))


def test_a_shed_lowers_the_power_of_an_s2_heat_pump_and_the_setpoint_of_a_thermostat() -> None:
    s2 = heat_pump("hp-s2", {"name": "power_kw", "min": 0.0, "max": 2.0}, protocol="s2")
    mqtt = heat_pump("hp-mqtt", {"name": "setpoint_c", "min": 15.0, "max": 25.0}, comfort_setpoint_c=21.0)
    home = HomeSnapshot(NOW, {"hp-s2": s2, "hp-mqtt": mqtt})
    assert simple_setpoints(1, home, {}, 1.0) == {"hp-s2": 1.0, "hp-mqtt": 20.0}
    assert simple_setpoints(2, home, {}, 1.0) == {"hp-s2": 0.0, "hp-mqtt": 19.0}
    assert simple_setpoints(3, home, {}, 1.0) == {"hp-s2": 0.0, "hp-mqtt": 15.0}
