"""A home's heat-pump parameters (C, R, COP line) fitted from its telemetry (issue 15).

    fit_thermal_model(indoor_temp_c, outdoor_temp_c, power_kw, step, cop, timestamps=None) -> ThermalFit

The model is the planner's own (docs/plan-format-extensions.md), one step of length Δ [h]:

    T[k+1] - T[k] = Δ/C·(COP_k·P_k - (T[k] - T_out[k])/R),   COP_k = a + b·T_out[k]

with T[k] the indoor temperature at sample k [°C], T_out[k] the outdoor temperature [°C] and P_k
the heat pump's mean electrical power over [k, k+1) [kW] (an interval labelled by its start, as a
plan's power_kw[t] is). Given the data it is linear in its coefficients, so ordinary least squares
on the one-step differences (numpy.linalg.lstsq) fits it.

What temperature telemetry can identify: three numbers, not four. Scaling C, a and b by any k > 0
and R by 1/k leaves every temperature path unchanged, so a/C, b/C (heat delivered per kWh of
electricity per kWh/K of building: K per kWh) and 1/(R·C) (the time constant's inverse) are all
the data hold; the heat actually delivered, hence C, is not observable without a heat meter. One
number from the heat pump's datasheet fixes the scale, and the caller chooses which:

- `CopLine(a, b)`: the datasheet's COP line (two rated points give it, `CopLine.through`).
  Fitted: 1/C and 1/(R·C), so C and R. Needs the heat pump to run at varying power (on and off).
- `CopRating(outdoor_temp_c, cop)`: one rated point, e.g. A7/W35 COP 4.2. Fitted: 1/C, b/C and
  1/(R·C), so C, R and the COP's slope b (the intercept is cop - b·outdoor_temp_c). Needs, in
  addition, the outdoor temperature to vary while the heat pump runs.

Either way C, R and the COP line come out in the scenario's names and units, so
`fit.scenario_fields()` goes straight into a site's `heat_pump` entry. A wrong datasheet COP
scales C and the COP line together and R inversely: the planner's temperature paths (what it
plans with) stay right; only the heat figures (C·kelvin in kWh) inherit the datasheet's error.

No internal or solar gains term: the scenario has none, so a constant gain is absorbed into the
fitted COP and R (the parameters that best predict the home within the planner's model). Sensor
noise (standard deviation sd [K]) on the indoor temperature biases 1/(R·C) upward by about
sd²/(Δ·var(T - T_out)) (it sits on both sides of the regression); a longer step (resample to
30-60 min) shrinks it.
Fit at the planner's resolution, or at any step much shorter than R·C (the forward step is then
the continuous model to within Δ/(2·R·C)).

Gaps: a pair (k, k+1) is used only when all of T[k], T[k+1], T_out[k] and P_k are finite and,
with timestamps, the two samples are one step apart (to within 5 %); the others straddle a gap
and are dropped. When the data cannot identify the parameters (too few pairs, the heat pump never
on or at one constant power, the outdoor temperature constant while fitting the slope, or a
non-physical answer such as a negative C or R) `ThermalFitUnidentifiable` says what is missing.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

MIN_PAIRS = 24  # usable one-step pairs: 6 h at 15 min; a day or more is what a fit deserves
ON_KW = 0.05  # [kW] above this the heat pump counts as running (standby draws less)
MIN_POWER_SPREAD_KW = 0.1  # [kW] the power must vary at least this much over the used pairs
MIN_OUTDOOR_SPAN_K = 2.0  # [K] outdoor span while running needed to fit the COP slope
MAX_CONDITION = 1e8  # regressors (scaled to unit norm) more collinear than this separate nothing
STEP_TOLERANCE = 0.05  # timestamps this close (relative) to one step apart are consecutive


class ThermalFitUnidentifiable(ValueError):
    """The telemetry cannot identify the parameters; the message names what is missing."""


@dataclass(frozen=True, slots=True)
class CopLine:
    """COP = intercept + slope_per_k·T_out, from the datasheet: the fit returns C and R."""

    intercept: float  # [-]
    slope_per_k: float  # [1/K]

    @classmethod
    def through(cls, t1_c: float, cop1: float, t2_c: float, cop2: float) -> CopLine:
        """The line through two rated points (outdoor temperature [°C], COP)."""
        if t1_c == t2_c:
            raise ValueError(f"two rated points at the same outdoor temperature {t1_c} °C")
        slope = (cop2 - cop1) / (t2_c - t1_c)
        return cls(intercept=cop1 - slope * t1_c, slope_per_k=slope)


@dataclass(frozen=True, slots=True)
class CopRating:
    """One rated point (outdoor temperature [°C], COP): the fit returns C, R and the COP's slope."""

    outdoor_temp_c: float  # [°C]
    cop: float  # [-] > 0


@dataclass(frozen=True, slots=True)
class ThermalFit:
    """Fitted parameters in the scenario's names and units, and how well they predict."""

    thermal_capacity_kwh_per_k: float  # C [kWh/K]
    thermal_resistance_k_per_kw: float  # R [K/kW]
    cop_intercept: float  # a [-]
    cop_slope_per_k: float  # b [1/K]
    rmse_k: float  # [K] RMSE of the one-step prediction of T[k+1] on the used pairs
    samples_used: int  # one-step pairs in the fit
    samples_dropped: int  # pairs dropped because they straddle a gap (missing value or time jump)

    @property
    def time_constant_h(self) -> float:
        """R·C [h]: how fast the home cools towards the outdoor temperature."""
        return self.thermal_resistance_k_per_kw * self.thermal_capacity_kwh_per_k

    def scenario_fields(self) -> dict[str, float]:
        """The fields of a scenario's `sites[i].heat_pump` entry that the fit gives."""
        return {
            "thermal_capacity_kwh_per_k": self.thermal_capacity_kwh_per_k,
            "thermal_resistance_k_per_kw": self.thermal_resistance_k_per_kw,
            "cop_intercept": self.cop_intercept,
            "cop_slope_per_k": self.cop_slope_per_k,
        }


@dataclass(frozen=True, slots=True)
class _Pairs:
    """The usable one-step pairs: T[k], T[k+1], T_out[k], P_k."""

    indoor_c: np.ndarray
    next_indoor_c: np.ndarray
    outdoor_c: np.ndarray
    power_kw: np.ndarray
    dropped: int


def fit_thermal_model(
    indoor_temp_c: Sequence[float],
    outdoor_temp_c: Sequence[float],
    power_kw: Sequence[float],
    step: timedelta,
    cop: CopLine | CopRating,
    timestamps: Sequence[datetime] | None = None,
) -> ThermalFit:
    """Fit C, R (and with a `CopRating`, the COP's slope) by least squares on one-step differences.

    indoor_temp_c [°C], outdoor_temp_c [°C] and power_kw [kW] are equal-length series sampled every
    `step` (NaN for a missing value), or at `timestamps` (one per sample, increasing; pairs not one
    step apart are dropped). Raises ThermalFitUnidentifiable (a ValueError) when the data cannot
    identify the parameters, ValueError when the series do not line up."""
    if step <= timedelta(0):
        raise ValueError(f"step: {step} is not positive")
    if isinstance(cop, CopRating) and cop.cop <= 0.0:
        raise ValueError(f"cop: the rated COP {cop.cop} is not positive")
    pairs = _usable_pairs(indoor_temp_c, outdoor_temp_c, power_kw, step, timestamps)
    _check_excitation(pairs, cop)
    design, names = _design(pairs, cop, step / timedelta(hours=1))
    _check_separable(design, names)
    delta_k = pairs.next_indoor_c - pairs.indoor_c
    coef, *_ = np.linalg.lstsq(design, delta_k, rcond=None)
    inv_c, inv_rc = float(coef[0]), float(coef[-1])  # 1/C [K/kWh], 1/(R·C) [1/h]
    _check_positive(inv_c, inv_rc)
    slope_per_k = cop.slope_per_k if isinstance(cop, CopLine) else float(coef[1]) / inv_c
    intercept = cop.intercept if isinstance(cop, CopLine) else cop.cop - slope_per_k * cop.outdoor_temp_c
    _check_cop_positive(intercept, slope_per_k, pairs)
    return ThermalFit(
        thermal_capacity_kwh_per_k=1.0 / inv_c,
        thermal_resistance_k_per_kw=inv_c / inv_rc,
        cop_intercept=intercept,
        cop_slope_per_k=slope_per_k,
        rmse_k=float(np.sqrt(np.mean((design @ coef - delta_k) ** 2))),
        samples_used=len(delta_k),
        samples_dropped=pairs.dropped,
    )


def _design(pairs: _Pairs, cop: CopLine | CopRating, dt_h: float) -> tuple[np.ndarray, list[str]]:
    """Regressors of T[k+1] - T[k] [K], each named for messages; the first's coefficient is 1/C,
    the last's 1/(R·C) and, with a CopRating, the middle one's b/C."""
    loss = -dt_h * (pairs.indoor_c - pairs.outdoor_c)
    if isinstance(cop, CopLine):
        heat = dt_h * (cop.intercept + cop.slope_per_k * pairs.outdoor_c) * pairs.power_kw
        return np.column_stack([heat, loss]), ["heating", "losses"]
    rated = dt_h * cop.cop * pairs.power_kw
    slope = dt_h * (pairs.outdoor_c - cop.outdoor_temp_c) * pairs.power_kw
    names = ["heating", "the COP's change with outdoor temperature", "losses"]
    return np.column_stack([rated, slope, loss]), names


def _usable_pairs(
    indoor: Sequence[float],
    outdoor: Sequence[float],
    power: Sequence[float],
    step: timedelta,
    timestamps: Sequence[datetime] | None,
) -> _Pairs:
    lengths = {len(indoor), len(outdoor), len(power)} | (
        {len(timestamps)} if timestamps is not None else set()
    )
    if len(lengths) != 1:
        raise ValueError(
            f"the series differ in length: indoor_temp_c {len(indoor)}, outdoor_temp_c {len(outdoor)}, "
            f"power_kw {len(power)}" + (f", timestamps {len(timestamps)}" if timestamps is not None else "")
        )
    t_in, t_out, p_kw = (np.asarray(x, dtype=float) for x in (indoor, outdoor, power))
    if len(t_in) < 2:
        raise ThermalFitUnidentifiable(f"too few samples: {len(t_in)}, need at least {MIN_PAIRS + 1}")
    ok = np.isfinite(t_in[:-1]) & np.isfinite(t_in[1:]) & np.isfinite(t_out[:-1]) & np.isfinite(p_kw[:-1])
    if timestamps is not None:
        gaps_s = np.array([(b - a).total_seconds() for a, b in itertools.pairwise(timestamps)])
        if np.any(gaps_s <= 0):
            raise ValueError(f"timestamps: not increasing at index {int(np.argmax(gaps_s <= 0)) + 1}")
        ok &= np.abs(gaps_s / step.total_seconds() - 1.0) <= STEP_TOLERANCE
    if np.any(p_kw[:-1][ok] < -ON_KW):
        raise ValueError("power_kw: negative values; give the heat pump's electrical consumption [kW]")
    return _Pairs(t_in[:-1][ok], t_in[1:][ok], t_out[:-1][ok], p_kw[:-1][ok], dropped=int(np.sum(~ok)))


def _check_excitation(pairs: _Pairs, cop: CopLine | CopRating) -> None:
    """The data must move what the fit needs to see, else a message naming what is missing."""
    used = len(pairs.power_kw)
    if used < MIN_PAIRS:
        raise ThermalFitUnidentifiable(
            f"too few samples: {used} usable one-step pairs ({pairs.dropped} straddle a gap), "
            f"need at least {MIN_PAIRS}"
        )
    running = pairs.power_kw > ON_KW
    if not np.any(running):
        raise ThermalFitUnidentifiable(
            f"the heat pump is never on (power_kw <= {ON_KW} kW in all {used} pairs): "
            "the heat it delivers per kWh (hence C) needs periods with it running"
        )
    spread = float(np.ptp(pairs.power_kw))
    if spread < MIN_POWER_SPREAD_KW:
        raise ThermalFitUnidentifiable(
            f"the heat-pump power never varies (spread {spread:.3g} kW, need {MIN_POWER_SPREAD_KW} kW): "
            "separating its heat from the losses (C from R) needs it off or at other powers for a while"
        )
    if isinstance(cop, CopRating):
        span = float(np.ptp(pairs.outdoor_c[running]))
        if span < MIN_OUTDOOR_SPAN_K:
            raise ThermalFitUnidentifiable(
                f"the outdoor temperature is (nearly) constant while the heat pump runs (span {span:.3g} K, "
                f"need {MIN_OUTDOOR_SPAN_K} K): the COP's slope needs it to vary; or give the datasheet's "
                "COP line (CopLine) and fit C and R only"
            )


def _check_separable(design: np.ndarray, names: list[str]) -> None:
    """Collinear regressors (e.g. indoor always equal to outdoor) leave a coefficient undetermined."""
    norms = np.linalg.norm(design, axis=0)
    for name, norm in zip(names, norms, strict=True):
        if norm == 0.0:
            raise ThermalFitUnidentifiable(f"the telemetry shows no {name}: its coefficient is undetermined")
    singular = np.linalg.svd(design / norms, compute_uv=False)
    if singular[-1] == 0.0 or singular[0] / singular[-1] > MAX_CONDITION:
        raise ThermalFitUnidentifiable(
            f"the telemetry cannot tell {', '.join(names)} apart (they move together): "
            "it needs the heat pump on and off at varying indoor-outdoor differences"
        )


def _check_positive(inv_c: float, inv_rc: float) -> None:
    if inv_c <= 0.0:
        c = f"{1.0 / inv_c:.4g}" if inv_c else "infinite"
        raise ThermalFitUnidentifiable(
            f"non-physical fit: C = {c} kWh/K (running the heat pump does not warm the home in "
            "these data): check that the power and temperature series line up"
        )
    if inv_rc <= 0.0:
        r = f"{inv_c / inv_rc:.4g}" if inv_rc else "infinite"
        raise ThermalFitUnidentifiable(
            f"non-physical fit: R = {r} K/kW (the home does not cool towards the outdoor "
            "temperature in these data): needs periods with the heat pump off"
        )


def _check_cop_positive(intercept: float, slope_per_k: float, pairs: _Pairs) -> None:
    running = pairs.outdoor_c[pairs.power_kw > ON_KW]
    for t_out in (float(np.min(running)), float(np.max(running))):
        cop = intercept + slope_per_k * t_out
        if cop <= 0.0:
            raise ThermalFitUnidentifiable(
                f"non-physical fit: the COP at the outdoor temperature {t_out:.3g} °C is {cop:.3g}, not "
                "positive: the COP's slope is not identified by these data; give the datasheet's COP line"
            )
