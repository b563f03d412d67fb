"""What a SunSpec device is, from the models it has."""

from __future__ import annotations

from ven.devices.sunspec_describe import describe_battery, describe_pv
from ven.devices.sunspec_models import ModelValues


def values(model: int, **points: float) -> ModelValues:
    return ModelValues(model, dict(points), ())


def test_pv_nominal_power_from_wmax_then_wrtg_then_the_configuration() -> None:
    both = describe_pv("pv", None, values(121, WMax=9000.0), values(120, WRtg=8000.0), True, 5.0)
    assert both.config.params["nominal_kw"] == 9.0 and both.config.control("curtail_percent") is not None
    assert (
        describe_pv("pv", None, None, values(120, WRtg=8000.0), True, 5.0).config.params["nominal_kw"] == 8.0
    )
    configured = describe_pv("pv", None, None, None, False, 5.0)
    assert configured.config.params["nominal_kw"] == 5.0 and configured.config.controls == []
    unknown = describe_pv("pv", None, None, None, True, None)
    assert unknown.config.params["nominal_kw"] == 0.0 and "set nominal_kw" in unknown.missing[0]


def test_battery_limits_capacity_and_reserve() -> None:
    described = describe_battery(
        "bat",
        None,
        values(124, WChaMax=5000.0, MinRsvPct=10.0),
        values(120, WHRtg=10000.0, MaxDisChaRte=4000.0),
        None,
        True,
        None,
    )
    control = described.config.control("power_kw")
    assert control is not None and (control.min, control.max) == (-4.0, 5.0)
    assert described.discharge_ref_w == 4000.0 and described.capacity_wh == 10000.0
    assert described.config.params["min_soc_kwh"] == 1.0 and described.missing == ()
    assert [s.name for s in described.config.sensors] == ["power", "energy_export", "soc", "stored_energy"]


def test_a_battery_base_model_alone_is_read_but_not_controlled() -> None:
    described = describe_battery(
        "bat", None, None, None, values(802, WHRtg=7000.0, SoCRsvMin=20.0), False, None
    )
    assert described.config.controls == [] and described.config.params["capacity_kwh"] == 7.0
    assert described.config.params["min_soc_kwh"] == 1.4
    assert [s.name for s in described.config.sensors] == ["soc", "stored_energy"]
    assert describe_battery("b", None, None, None, None, False, None).missing  # no capacity anywhere
