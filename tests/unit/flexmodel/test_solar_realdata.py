"""flexmodel/solar.py against measured PV: Elia's upscaled output of all Belgian PV (ods032,
../shared/data/be_solar_pv_elia_15min), on cloudless days.

The days: of 2025's, those whose measured curve is the smoothest (least sum of absolute second
differences over the peak), i.e. no cloud over the country all day; one per season with sun.
The model: a 1 kWp array at the middle of Belgium, south-facing at 35° (the typical roof), under
pvlib's clear-sky GHI (Ineichen) given as an hourly forecast, as the market integration sends it.
The fair check: the country's fleet faces every way and its measured output is an upscaled
estimate, so the shapes, not the levels, must agree: the peak within an hour, the half-peak
morning and evening times within an hour, a correlation of the 96 quarter-hours above 0.98,
and a day's energy per kWp between 70 % and 105 % of the model's clear-sky south-facing one
(a real fleet loses more: orientation, shade, soiling)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import pytest

from flexmodel.solar import SLOT, IrradianceForecast, PvArray, pv_power_kw

CENTRE_OF_BELGIUM = (50.64, 4.67)
CLEAR_DAYS = ("2025-04-27", "2025-06-21", "2025-09-07")


def _measured_load_factor(shared_data: Path, day: str) -> np.ndarray:
    path = shared_data / "be_solar_pv_elia_15min" / "elia_ods032_solar_belgium_2025_15min.csv"
    with path.open() as f:
        rows = [r for r in csv.DictReader(f) if r["datetime_utc"].startswith(day)]
    assert len(rows) == 96
    return np.array([float(r["loadfactor_pct"]) / 100 for r in rows])  # [kW per kWp]


def _modelled_clear_day(day: str) -> np.ndarray:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    midpoints = pd.date_range(start + SLOT / 2, periods=96, freq=pd.Timedelta(SLOT))
    clear = pvlib.location.Location(*CENTRE_OF_BELGIUM).get_clearsky(midpoints)["ghi"].to_numpy()
    hourly = IrradianceForecast(start, timedelta(hours=1), tuple(clear.reshape(24, 4).mean(axis=1)))
    array = PvArray(*CENTRE_OF_BELGIUM, peak_power_kw=1.0, tilt_deg=35.0, azimuth_deg=180.0)
    return np.array(pv_power_kw(array, hourly, start, 96))


def _half_peak_hours(power: np.ndarray) -> tuple[float, float]:
    above = np.nonzero(power >= power.max() / 2)[0]
    return above[0] / 4, above[-1] / 4


@pytest.mark.parametrize("day", CLEAR_DAYS)
def test_a_clear_days_shape_matches_belgiums_measured_pv(shared_data: Path, day: str) -> None:
    measured = _measured_load_factor(shared_data, day)
    model = _modelled_clear_day(day)
    assert abs(model.argmax() - measured.argmax()) / 4 <= 1.0
    for model_hour, measured_hour in zip(_half_peak_hours(model), _half_peak_hours(measured), strict=True):
        assert abs(model_hour - measured_hour) <= 1.0
    assert np.corrcoef(model, measured)[0, 1] > 0.98
    assert 0.70 <= measured.sum() / model.sum() <= 1.05
