"""The heat-pump parameter fit (flexmodel/thermal_fit.py): telemetry simulated with the scenario's
own model (docs/plan-format-extensions.md) gives back the parameters it was made with; data that
cannot identify them are refused with a message naming what is missing; and a plan made with the
fitted parameters holds the comfort band in the true home."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from flexmodel.planner import plan_scenario
from flexmodel.scenario import parse_scenario
from flexmodel.solve import SolverOptions
from flexmodel.thermal_fit import (
    CopLine,
    CopRating,
    ThermalFitUnidentifiable,
    fit_thermal_model,
)

STEP = timedelta(minutes=15)
TRUE = {
    "thermal_capacity_kwh_per_k": 8.0,
    "thermal_resistance_k_per_kw": 5.0,
    "cop_intercept": 3.0,
    "cop_slope_per_k": 0.08,
}
DATASHEET_LINE = CopLine(intercept=3.0, slope_per_k=0.08)
DATASHEET_A7 = CopRating(outdoor_temp_c=7.0, cop=3.0 + 0.08 * 7.0)  # the line's value at A7


@dataclass(frozen=True)
class Telemetry:
    indoor_c: np.ndarray
    outdoor_c: np.ndarray
    power_kw: np.ndarray


def simulate(
    days: float = 4.0,
    process_noise_k: float = 0.0,
    sensor_noise_k: float = 0.0,
    seed: int = 1,
    params: dict[str, float] = TRUE,
    outdoor_c: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Telemetry:
    """A thermostat (day 20.5 °C, night 18 °C, ±0.5 K) driving a modulating heat pump in the
    scenario's model T[k+1] = T[k] + Δ/C·(COP_k·P_k - (T[k] - T_out[k])/R), COP_k = a + b·T_out[k];
    process noise disturbs the home, sensor noise the indoor reading."""
    rng = np.random.default_rng(seed)
    dt_h = STEP / timedelta(hours=1)
    c, r = params["thermal_capacity_kwh_per_k"], params["thermal_resistance_k_per_kw"]
    a, b = params["cop_intercept"], params["cop_slope_per_k"]
    n = int(days * 24 / dt_h)
    hours = np.arange(n) * dt_h
    if outdoor_c is None:
        out = 3.5 + 4.0 * np.sin(2 * np.pi * (hours - 9) / 24) + 2.0 * np.sin(2 * np.pi * hours / (24 * days))
    else:
        out = outdoor_c(hours)
    temps, power, on = np.empty(n), np.zeros(n), False
    temp = 19.5
    for k in range(n):
        temps[k] = temp
        setpoint = 20.5 if 7 <= hours[k] % 24 < 22 else 18.0
        on = temp < setpoint - 0.5 or (on and temp <= setpoint + 0.5)
        if on:
            power[k] = np.clip(1.0 + 0.8 * (setpoint + 0.5 - temp) + 0.3 * rng.standard_normal(), 0.4, 3.0)
        heat = (a + b * out[k]) * power[k] - (temp - out[k]) / r
        temp += dt_h / c * heat + process_noise_k * rng.standard_normal()
    return Telemetry(temps + sensor_noise_k * rng.standard_normal(n), out, power)


def fit(tm: Telemetry, cop: CopLine | CopRating = DATASHEET_LINE, **kw: Any) -> Any:
    return fit_thermal_model(list(tm.indoor_c), list(tm.outdoor_c), list(tm.power_kw), STEP, cop, **kw)


@pytest.mark.parametrize("cop", [DATASHEET_LINE, DATASHEET_A7], ids=["cop-line", "cop-rating"])
def test_noise_free_telemetry_gives_the_parameters_back_exactly(cop: CopLine | CopRating) -> None:
    result = fit(simulate(), cop)
    assert result.scenario_fields() == pytest.approx(TRUE, rel=1e-9)
    assert result.rmse_k < 1e-9
    assert (result.samples_used, result.samples_dropped) == (383, 0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noisy_telemetry_gives_the_parameters_within_tolerance(seed: int) -> None:
    """Process noise 0.01 K and a sensor noise 0.02 K per 15 min: C and R within 5 %, the fitted
    COP slope within 0.01 /K (so the COP within 0.1 over -5..15 °C)."""
    tm = simulate(process_noise_k=0.01, sensor_noise_k=0.02, seed=seed)
    line, rating = fit(tm, DATASHEET_LINE), fit(tm, DATASHEET_A7)
    for result in (line, rating):
        assert result.thermal_capacity_kwh_per_k == pytest.approx(8.0, rel=0.05)
        assert result.thermal_resistance_k_per_kw == pytest.approx(5.0, rel=0.05)
        assert result.time_constant_h == pytest.approx(40.0, rel=0.05)
        assert 0.02 < result.rmse_k < 0.05  # the noise's own size: nothing left unexplained
    assert rating.cop_slope_per_k == pytest.approx(0.08, abs=0.01)
    assert rating.cop_intercept + rating.cop_slope_per_k * 7.0 == pytest.approx(DATASHEET_A7.cop)
    assert (line.cop_intercept, line.cop_slope_per_k) == (3.0, 0.08)  # given, not fitted


def test_gaps_drop_only_the_pairs_that_straddle_them() -> None:
    tm = simulate()
    indoor = tm.indoor_c.copy()
    indoor[50] = math.nan  # a missing reading: pairs (49, 50) and (50, 51) go
    power = tm.power_kw.copy()
    power[100] = math.nan  # pair (100, 101) goes
    gapped = fit(Telemetry(indoor, tm.outdoor_c, power))
    assert gapped.scenario_fields() == pytest.approx(TRUE, rel=1e-9)
    assert (gapped.samples_used, gapped.samples_dropped) == (380, 3)

    keep = [k for k in range(len(tm.indoor_c)) if not 200 <= k < 204]  # an hour never sent
    t0 = datetime.fromisoformat("2025-01-15T00:00:00+00:00")
    stamps = [t0 + k * STEP + timedelta(seconds=7 * (k % 3)) for k in keep]  # a few seconds' jitter
    timed = fit_thermal_model(
        tm.indoor_c[keep], tm.outdoor_c[keep], tm.power_kw[keep], STEP, DATASHEET_LINE, timestamps=stamps
    )
    assert timed.scenario_fields() == pytest.approx(TRUE, rel=1e-9)
    assert (timed.samples_used, timed.samples_dropped) == (378, 1)


def _refused(tm: Telemetry, cop: CopLine | CopRating = DATASHEET_LINE) -> str:
    with pytest.raises(ThermalFitUnidentifiable) as caught:
        fit(tm, cop)
    assert isinstance(caught.value, ValueError)
    return str(caught.value)


def test_too_few_samples_are_refused() -> None:
    tm = simulate(days=0.25)  # 24 samples, 23 pairs
    assert "too few samples: 23 usable one-step pairs" in _refused(tm)


def test_a_heat_pump_never_on_is_refused() -> None:
    tm = simulate()
    assert "the heat pump is never on" in _refused(
        Telemetry(tm.indoor_c, tm.outdoor_c, np.zeros_like(tm.power_kw))
    )


def test_a_heat_pump_at_one_constant_power_is_refused() -> None:
    tm = simulate()
    assert "the heat-pump power never varies" in _refused(
        Telemetry(tm.indoor_c, tm.outdoor_c, np.full_like(tm.power_kw, 2.0))
    )


def test_a_constant_outdoor_temperature_cannot_give_the_cop_slope() -> None:
    tm = simulate(outdoor_c=lambda hours: np.full_like(hours, 4.0))
    message = _refused(tm, DATASHEET_A7)
    assert "the outdoor temperature is (nearly) constant while the heat pump runs" in message
    assert "CopLine" in message
    assert fit(tm, DATASHEET_LINE).scenario_fields() == pytest.approx(TRUE, rel=1e-9)  # C and R still are


def test_indoor_always_at_outdoor_shows_no_losses() -> None:
    tm = simulate()
    assert "shows no losses" in _refused(Telemetry(tm.outdoor_c, tm.outdoor_c, tm.power_kw))


def test_non_physical_results_are_refused() -> None:
    cooling = simulate(params={**TRUE, "cop_intercept": -3.0, "cop_slope_per_k": 0.0})  # running cools
    assert "non-physical fit: C = -" in _refused(cooling)
    tm = simulate()  # an outdoor reading 40 K too warm: the home seems to cool away from outside
    assert "non-physical fit: R = -" in _refused(Telemetry(tm.indoor_c, tm.outdoor_c + 40.0, tm.power_kw))


def test_series_that_do_not_line_up_are_a_plain_value_error() -> None:
    with pytest.raises(ValueError, match="differ in length: indoor_temp_c 3, outdoor_temp_c 2"):
        fit_thermal_model([20.0, 20.1, 20.2], [5.0, 5.0], [1.0, 0.0, 1.0], STEP, DATASHEET_LINE)


def test_a_cop_line_through_two_rated_points() -> None:
    line = CopLine.through(-7.0, 2.7, 7.0, 4.1)  # A-7/W35 and A7/W35
    assert (line.intercept, line.slope_per_k) == pytest.approx((3.4, 0.1))


def test_a_plan_with_the_fitted_parameters_holds_the_band_in_the_true_home(
    scenario: Callable[..., dict[str, Any]],
) -> None:
    """Fit from noisy telemetry, plan a day with the fit (its fields go into the scenario as they
    are), then run the planned power through the true home: the band holds to within 0.05 K."""
    fitted = fit(simulate(process_noise_k=0.01, sensor_noise_k=0.02), DATASHEET_A7)
    n, dt_h = 96, 0.25
    outdoor = [round(2.0 + 3.0 * math.sin(2 * math.pi * (t * dt_h - 9.0) / 24.0), 4) for t in range(n)]
    band_min = [19.0 if 7 <= t * dt_h < 23 else 17.5 for t in range(n)]
    doc = scenario(n)
    doc["tariff"]["import_eur_per_kwh"] = [
        round(0.22 + 0.14 * math.sin(2 * math.pi * (t * dt_h - 12) / 24), 6) for t in range(n)
    ]
    doc["sites"][0]["heat_pump"] = {
        "max_power_kw": 3.0,
        "initial_temp_c": 19.5,
        "outdoor_temp_c": outdoor,
        "comfort_min_c": band_min,
        "comfort_max_c": [22.5] * n,
        **fitted.scenario_fields(),
    }
    plan = json.loads(plan_scenario(parse_scenario(doc), SolverOptions(solver="highs")).plan.to_json())
    power = plan["sites"][0]["heat_pump"]["power_kw"]
    assert sum(power) * dt_h > 5.0  # it heats
    temp, c, r = 19.5, TRUE["thermal_capacity_kwh_per_k"], TRUE["thermal_resistance_k_per_kw"]
    for t in range(n):
        cop = TRUE["cop_intercept"] + TRUE["cop_slope_per_k"] * outdoor[t]
        temp += dt_h / c * (cop * power[t] - (temp - outdoor[t]) / r)
        assert band_min[t] - 0.05 <= temp <= 22.5 + 0.05, f"slot {t}: {temp:.3f} °C in the true home"
