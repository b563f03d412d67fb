"""flexmodel/solar.py against cases one can check by hand: a clear June noon in Brussels, night,
the array's size and orientation, and the spreading of hourly forecasts over quarter hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flexmodel.solar import (
    SLOT,
    IrradianceForecast,
    PvArray,
    SolarInputError,
    distance_km,
    plane_power_kw,
    pv_power_kw,
)

BRUSSELS = (50.85, 4.35)
SOUTH_5KWP = PvArray(*BRUSSELS, peak_power_kw=5.0, tilt_deg=35.0, azimuth_deg=180.0)
# Solar noon in Brussels is about 11:43 UTC around the June solstice.
NOON_SLOT = datetime(2025, 6, 21, 11, 30, tzinfo=UTC)
MIDNIGHT_SLOT = datetime(2025, 6, 21, 0, 0, tzinfo=UTC)
# A cloudless midsummer noon's GHI at 50.85° N: the sun 62.6° high, ~1000 W/m² at sea level
# would be a bright day; 850 W/m² is a typical clear one.
CLEAR_NOON_GHI = 850.0


def test_a_clear_noon_gives_a_5kwp_south_array_a_plausible_power() -> None:
    (noon_kw,) = plane_power_kw(SOUTH_5KWP, NOON_SLOT, [CLEAR_NOON_GHI])
    # On the plane ~950 W/m² (tilted towards the sun): 5 kWp x 0.95 x (1 - 14 % losses) x 0.96
    # inverter ≈ 3.9 kW; the range allows for the diffuse model's part.
    assert 3.3 < noon_kw < 4.6


def test_no_sun_no_power() -> None:
    # GHI at midnight is a forecast's artefact: the sun is below the horizon.
    assert plane_power_kw(SOUTH_5KWP, MIDNIGHT_SLOT, [0.0, 0.0, 50.0]) == (0.0, 0.0, 0.0)
    assert plane_power_kw(SOUTH_5KWP, NOON_SLOT, [0.0]) == (0.0,)


def test_power_scales_with_the_arrays_peak_power() -> None:
    ghi = [200.0, 500.0, CLEAR_NOON_GHI]
    small = plane_power_kw(SOUTH_5KWP, NOON_SLOT, ghi)
    large = plane_power_kw(PvArray(*BRUSSELS, 10.0, 35.0, 180.0), NOON_SLOT, ghi)
    assert large == pytest.approx([2 * p for p in small], abs=1e-3)


def test_south_beats_north_at_noon_and_heat_costs_power() -> None:
    (south,) = plane_power_kw(SOUTH_5KWP, NOON_SLOT, [CLEAR_NOON_GHI])
    (north,) = plane_power_kw(PvArray(*BRUSSELS, 5.0, 35.0, 0.0), NOON_SLOT, [CLEAR_NOON_GHI])
    assert north < 0.8 * south
    (cool,) = plane_power_kw(SOUTH_5KWP, NOON_SLOT, [CLEAR_NOON_GHI], [5.0])
    (hot,) = plane_power_kw(SOUTH_5KWP, NOON_SLOT, [CLEAR_NOON_GHI], [35.0])
    # 30 °C more air heats the cells about as much: -0.37 %/°C, about 11 % less.
    assert 0.85 * cool < hot < 0.93 * cool


def test_an_hourly_forecast_is_spread_over_its_quarters_without_light_before_sunrise() -> None:
    # Sunrise in Brussels on 21 June is about 03:30 UTC; clear-sky hourly means from 03:00 UTC
    # (pvlib's Ineichen model gives 1, 45 and 173 W/m²). The 03:00-04:00 hour's GHI falls on its
    # last quarter only, and an east-facing array gets more each quarter as the sun rises.
    start = datetime(2025, 6, 21, 3, tzinfo=UTC)
    forecast = IrradianceForecast(start, timedelta(hours=1), (8.0, 70.0, 200.0))
    east = PvArray(*BRUSSELS, peak_power_kw=5.0, tilt_deg=35.0, azimuth_deg=90.0)
    power = pv_power_kw(east, forecast, start, 12)
    assert power[:3] == (0.0, 0.0, 0.0)
    assert power[3] > 0.0
    assert list(power[3:]) == sorted(power[3:])
    # Held flat instead, the hour's mean would give its first quarter, the sun barely up, far more.
    (flat,) = plane_power_kw(east, start + 4 * SLOT, [70.0])
    assert 2 * power[4] < flat


def test_finer_intervals_are_averaged_into_quarters() -> None:
    five_minutes = IrradianceForecast(NOON_SLOT, timedelta(minutes=5), (800.0, 850.0, 900.0))
    assert pv_power_kw(SOUTH_5KWP, five_minutes, NOON_SLOT, 1) == plane_power_kw(
        SOUTH_5KWP, NOON_SLOT, [850.0]
    )


def test_slots_outside_the_forecast_are_refused() -> None:
    forecast = IrradianceForecast(NOON_SLOT, timedelta(hours=1), (800.0,))
    with pytest.raises(SolarInputError, match="does not hold 5 quarter-hour slots"):
        pv_power_kw(SOUTH_5KWP, forecast, NOON_SLOT, 5)
    with pytest.raises(SolarInputError):
        pv_power_kw(SOUTH_5KWP, forecast, NOON_SLOT - SLOT, 1)


def test_distance_between_brussels_and_antwerp() -> None:
    assert distance_km(*BRUSSELS, 51.22, 4.40) == pytest.approx(41.3, abs=1.0)
    assert distance_km(*BRUSSELS, *BRUSSELS) == 0.0
