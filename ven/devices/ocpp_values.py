"""OCPP 1.6 values <-> the agent's units (pure: no protocol library, no I/O).

Reading: a MeterValues sample list (snake_case keys, as the `ocpp` library hands them over)
becomes power [W, consumption-positive: a charger only draws], the energy register [Wh], the
highest phase current [A] and the car's SoC [%]. Units kW and kWh are converted; a sample that
is not a number, is signed data, or has an unknown unit is skipped and named in `problems`.

Writing: a power setpoint [kW] becomes a charging schedule limit in the charger's unit: W as
is, or A per phase = P / (V x phases), rounded down to 0.1 A, and 0 A (a pause) below the
current a car needs to charge at all (6 A by IEC 61851).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

POWER = "Power.Active.Import"
ENERGY = "Energy.Active.Import.Register"
CURRENT = "Current.Import"
SOC = "SoC"
PHASES = ("L1", "L2", "L3")


class RateUnit(enum.StrEnum):
    """ChargingRateUnitType."""

    AMPS = "A"
    WATTS = "W"


def rate_unit(allowed: str | None) -> RateUnit:
    """From ChargingScheduleAllowedChargingRateUnit ("Current", "Power" or both, comma-separated).

    W when the charger takes power (no voltage assumption on our side), else A (the default
    every charger supports)."""
    tokens = {t.strip().lower() for t in (allowed or "").split(",")}
    return RateUnit.WATTS if "power" in tokens else RateUnit.AMPS


@dataclass(frozen=True, slots=True)
class MeterReading:
    power_w: float | None = None
    energy_import_wh: float | None = None
    current_a: float | None = None  # the highest phase current
    soc_pct: float | None = None
    problems: tuple[str, ...] = ()


_SCALE = {
    POWER: {None: 1.0, "W": 1.0, "kW": 1000.0},
    ENERGY: {None: 1.0, "Wh": 1.0, "kWh": 1000.0},
    CURRENT: {None: 1.0, "A": 1.0},
    SOC: {None: 1.0, "Percent": 1.0},
}


def _phase(sample: dict[str, Any]) -> str | None:
    """L1, L2, L3 (also from L1-N), or None for a total."""
    phase = sample.get("phase")
    return None if phase is None else str(phase)[:2]


def parse_samples(samples: list[dict[str, Any]], voltage_v: float) -> MeterReading:
    """One MeterValue's sampled values; power from the phase currents when not sent itself."""
    totals: dict[str, float] = {}
    per_phase: dict[str, dict[str, float]] = {}
    problems: list[str] = []
    for sample in samples:
        measurand = sample.get("measurand") or ENERGY
        if measurand not in _SCALE:
            continue  # voltage, temperature, ...: nothing the agent uses
        if sample.get("format") == "SignedData":
            problems.append(f"{measurand}: signed data is not read")
            continue
        unit = sample.get("unit")
        scale = _SCALE[measurand].get(unit)
        try:
            value = float(sample.get("value", ""))
        except (TypeError, ValueError):
            problems.append(f"{measurand}: {sample.get('value')!r} is not a number")
            continue
        if scale is None or not math.isfinite(value):
            problems.append(f"{measurand}: {sample.get('value')!r} {unit} not understood")
            continue
        phase = _phase(sample)
        if phase in PHASES:
            per_phase.setdefault(measurand, {})[phase] = value * scale
        elif phase is None:
            totals[measurand] = value * scale
    power = totals.get(POWER)
    if power is None and POWER in per_phase:
        power = sum(per_phase[POWER].values())
    current = max(per_phase[CURRENT].values()) if CURRENT in per_phase else totals.get(CURRENT)
    if power is None and CURRENT in per_phase:
        power = sum(per_phase[CURRENT].values()) * voltage_v
    return MeterReading(
        power_w=None if power is None else max(0.0, power),
        energy_import_wh=totals.get(ENERGY),
        current_a=current,
        soc_pct=totals.get(SOC),
        problems=tuple(problems),
    )


def schedule_limit(
    power_kw: float, unit: RateUnit, voltage_v: float, phases: int, min_current_a: float
) -> float:
    """The ChargingSchedulePeriod limit for `power_kw` [kW] in `unit` (W, or A per phase)."""
    watts = max(0.0, power_kw) * 1000.0
    if unit == RateUnit.WATTS:
        return round(watts, 1)
    amps = math.floor(watts / (voltage_v * phases) * 10.0 + 1e-9) / 10.0
    return 0.0 if amps < min_current_a else amps


def limit_kw(limit: float, unit: RateUnit, voltage_v: float, phases: int) -> float:
    """The power [kW] a schedule limit allows."""
    return limit / 1000.0 if unit == RateUnit.WATTS else limit * voltage_v * phases / 1000.0
