"""OCPP 1.6 meter values and charging limits <-> the agent's units."""

from __future__ import annotations

import pytest

from ven.devices.ocpp_values import RateUnit, limit_kw, parse_samples, rate_unit, schedule_limit


def sample(
    measurand: str, value: str, unit: str | None = None, phase: str | None = None, **kw: str
) -> dict[str, str]:
    out = {"measurand": measurand, "value": value, **kw}
    if unit is not None:
        out["unit"] = unit
    if phase is not None:
        out["phase"] = phase
    return out


def test_totals_in_kilo_units_are_converted() -> None:
    reading = parse_samples(
        [
            sample("Power.Active.Import", "7.36", "kW"),
            sample("Energy.Active.Import.Register", "1234.5", "kWh"),
            sample("SoC", "41", "Percent", location="EV"),
            sample("Temperature", "31", "Celsius"),
        ],
        230.0,
    )
    assert reading.power_w == pytest.approx(7360.0)
    assert reading.energy_import_wh == pytest.approx(1_234_500.0)
    assert reading.soc_pct == 41.0 and reading.problems == ()


def test_the_default_measurand_is_the_energy_register() -> None:
    assert parse_samples([{"value": "100"}], 230.0).energy_import_wh == 100.0


def test_per_phase_power_is_summed_and_the_highest_current_kept() -> None:
    reading = parse_samples(
        [
            *(sample("Power.Active.Import", "2300", "W", p) for p in ("L1", "L2", "L3")),
            sample("Current.Import", "10", "A", "L1"),
            sample("Current.Import", "9.5", "A", "L2-N"),
        ],
        230.0,
    )
    assert reading.power_w == 6900.0 and reading.current_a == 10.0


def test_power_from_phase_currents_when_not_sent() -> None:
    reading = parse_samples([sample("Current.Import", "16", "A", p) for p in ("L1", "L2", "L3")], 230.0)
    assert reading.power_w == pytest.approx(11040.0)


def test_bad_samples_are_skipped_and_named() -> None:
    reading = parse_samples(
        [
            sample("Power.Active.Import", "lots", "W"),
            sample("Energy.Active.Import.Register", "12", "varh"),
            sample("Energy.Active.Import.Register", "abc", format="SignedData"),
            sample("SoC", "nan", "Percent"),
        ],
        230.0,
    )
    assert reading.power_w is None and reading.energy_import_wh is None and reading.soc_pct is None
    assert reading.problems == (
        "Power.Active.Import: 'lots' is not a number",
        "Energy.Active.Import.Register: '12' varh not understood",
        "Energy.Active.Import.Register: signed data is not read",
        "SoC: 'nan' Percent not understood",
    )


@pytest.mark.parametrize(
    ("allowed", "unit"),
    [
        ("Current", RateUnit.AMPS),
        ("Power", RateUnit.WATTS),
        ("Current,Power", RateUnit.WATTS),
        (None, RateUnit.AMPS),
    ],
)
def test_the_declared_rate_unit(allowed: str | None, unit: RateUnit) -> None:
    assert rate_unit(allowed) == unit


def test_limits_in_amps_round_down_and_pause_below_the_minimum() -> None:
    assert schedule_limit(6.9, RateUnit.AMPS, 230.0, 3, 6.0) == 10.0
    assert schedule_limit(7.0, RateUnit.AMPS, 230.0, 3, 6.0) == 10.1  # 10.14 A rounded down
    assert schedule_limit(3.7, RateUnit.AMPS, 230.0, 1, 6.0) == 16.0
    assert schedule_limit(4.0, RateUnit.AMPS, 230.0, 3, 6.0) == 0.0  # 5.8 A: a car cannot charge
    assert schedule_limit(-1.0, RateUnit.AMPS, 230.0, 3, 6.0) == 0.0
    assert limit_kw(10.0, RateUnit.AMPS, 230.0, 3) == pytest.approx(6.9)


def test_limits_in_watts() -> None:
    assert schedule_limit(4.6, RateUnit.WATTS, 230.0, 3, 6.0) == 4600.0
    assert limit_kw(4600.0, RateUnit.WATTS, 230.0, 3) == pytest.approx(4.6)
