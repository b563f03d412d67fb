"""The safety clip curtails PV when the site's export would pass its limit (and only then)."""

from __future__ import annotations

from typing import Any

import pytest

from ven.agent.policy import SiteLimits
from ven.agent.registry import DeviceView, HomeSnapshot
from ven.agent.safety import enforce
from ven.messages import DeviceConfig, DeviceState, Measurement

NOW = 1_750_000_000.0


def view(
    device_id: str, device_type: str, power_w: float, state: dict[str, Any] | None = None, **cfg: Any
) -> DeviceView:
    config = DeviceConfig.model_validate({"device_id": device_id, "device_type": device_type, **cfg})
    return DeviceView(
        config,
        DeviceState.model_validate({"ts": NOW, **(state or {})}),
        {"power": Measurement("power", "W", power_w, NOW)},
    )


def home(meter_w: float, pv_w: float, pv_state: dict[str, Any] | None = None) -> HomeSnapshot:
    pv = view(
        "pv-1",
        "pv_inverter",
        pv_w,
        pv_state,
        controls=[{"name": "curtail_percent", "min": 0, "max": 100}],
        params={"nominal_kw": 12.0},
    )
    return HomeSnapshot(NOW, {"meter-1": view("meter-1", "meter", meter_w), "pv-1": pv})


LIMITS = SiteLimits(import_limit_kw=9.2, export_limit_kw=5.0)


def test_export_above_the_limit_caps_the_inverter() -> None:
    # 3 kW of house load, 11 kW of PV: 8 kW export against a 5 kW limit -> PV at 8 kW = 66.7 %
    result = enforce({}, home(-8000.0, -11000.0), LIMITS, 60.0)
    assert result.setpoints == {"pv-1": pytest.approx(66.7)}
    assert result.predicted_import_kw == pytest.approx(-5.0)
    assert any("export limit 5 kW" in note for note in result.notes)


def test_export_under_the_limit_leaves_the_inverter_alone() -> None:
    assert enforce({}, home(-4000.0, -7000.0), LIMITS, 60.0).setpoints == {}


def test_a_capped_inverter_keeps_a_cap_that_follows_the_room_left() -> None:
    capped = {"curtail_percent": 66.7, "mode": "auto"}
    # capped at 8 kW and exporting exactly the limit: the cap holds
    assert enforce({}, home(-5000.0, -8000.0, capped), LIMITS, 60.0).setpoints == {
        "pv-1": pytest.approx(66.7)
    }
    # the house now draws 6 kW more: 6 kW of room, the cap rises to 14 kW > nominal: lifted
    assert enforce({}, home(1000.0, -8000.0, capped), LIMITS, 60.0).setpoints == {}


def test_an_offline_or_overridden_inverter_is_not_commanded() -> None:
    snapshot = home(-8000.0, -11000.0, {"online": False})
    assert enforce({}, snapshot, LIMITS, 60.0).setpoints == {}
    snapshot = home(-8000.0, -11000.0, {"mode": "manual"})
    assert enforce({}, snapshot, LIMITS, 60.0).setpoints == {}
