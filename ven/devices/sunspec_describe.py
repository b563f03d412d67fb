"""What a SunSpec device is, as the agent's `config`, from the models it read once (pure).

PV inverter: nominal power = WMax (121), else WRtg (120), else the configured `nominal_kw`;
`curtail_percent` when it has model 123. Battery: capacity = WHRtg (120, else 802, else the
configured `capacity_kwh`), minimum SoC = MinRsvPct (124, else SoCRsvMin of 802) of it, charge
maximum = WChaMax (124), discharge maximum = MaxDisChaRte (120), else WChaMax; `power_kw`
between them when model 124 can be written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ven.devices.sunspec_models import ModelValues
from ven.messages import ControlName, ControlSpec, DeviceConfig, DeviceType, SensorSpec


@dataclass(frozen=True, slots=True)
class Description:
    config: DeviceConfig
    discharge_ref_w: float = 0.0  # what OutWRte is a percentage of
    capacity_wh: float = 0.0
    missing: tuple[str, ...] = ()  # what the device did not tell and the configuration lacks


def first_positive(*candidates: Any) -> float | None:
    """The first candidate that is a positive number."""
    return next((float(c) for c in candidates if _number(c) and c > 0), None)


def first_number(*candidates: Any) -> float | None:
    """The first candidate that is a number (0 included)."""
    return next((float(c) for c in candidates if _number(c)), None)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _get(values: ModelValues | None, name: str) -> float | None:
    return None if values is None else values.number(name)


def identity(common: ModelValues | None) -> dict[str, Any]:
    text = {} if common is None else common.values
    return {
        "protocol": "sunspec",
        "vendor": str(text.get("Mn", "")),
        "model": str(text.get("Md", "")),
        "serial": str(text.get("SN", "")),
    }


def describe_pv(
    device_id: str,
    common: ModelValues | None,
    settings: ModelValues | None,
    nameplate: ModelValues | None,
    curtailable: bool,
    nominal_kw: float | None,
) -> Description:
    nominal_w = first_positive(_get(settings, "WMax"), _get(nameplate, "WRtg"), (nominal_kw or 0.0) * 1000.0)
    config = DeviceConfig(
        device_id=device_id,
        device_type=DeviceType.PV_INVERTER,
        sensors=[SensorSpec(name="power", unit="W"), SensorSpec(name="energy_export", unit="Wh")],
        controls=[ControlSpec(name=ControlName.CURTAIL_PERCENT, min=0.0, max=100.0)] if curtailable else [],
        params={
            **identity(common),
            "nominal_kw": round((nominal_w or 0.0) / 1000.0, 3),
            "curtailable": curtailable,
        },
    )
    missing = () if nominal_w else ("nominal power unknown (no WMax/WRtg): set nominal_kw",)
    return Description(config, missing=missing)


def describe_battery(
    device_id: str,
    common: ModelValues | None,
    storage: ModelValues | None,
    nameplate: ModelValues | None,
    base: ModelValues | None,
    has_inverter: bool,
    capacity_kwh: float | None,
) -> Description:
    charge_w = _get(storage, "WChaMax") or 0.0
    discharge_w = first_positive(_get(nameplate, "MaxDisChaRte"), charge_w) or 0.0
    capacity_wh = (
        first_positive(_get(nameplate, "WHRtg"), _get(base, "WHRtg"), (capacity_kwh or 0.0) * 1000.0) or 0.0
    )
    reserve_pct = first_number(_get(storage, "MinRsvPct"), _get(base, "SoCRsvMin")) or 0.0
    controllable = storage is not None and charge_w > 0 and discharge_w > 0
    sensors = [SensorSpec(name="soc", unit="%"), SensorSpec(name="stored_energy", unit="Wh")]
    if has_inverter:  # the battery's power is its inverter's
        sensors = [SensorSpec(name="power", unit="W"), SensorSpec(name="energy_export", unit="Wh"), *sensors]
    control = ControlSpec(
        name=ControlName.POWER_KW, min=-round(discharge_w / 1000.0, 3), max=round(charge_w / 1000.0, 3)
    )
    config = DeviceConfig(
        device_id=device_id,
        device_type=DeviceType.BATTERY,
        sensors=sensors,
        controls=[control] if controllable else [],
        params={
            **identity(common),
            "capacity_kwh": round(capacity_wh / 1000.0, 3),
            "min_soc_kwh": round(capacity_wh * reserve_pct / 100.0 / 1000.0, 3),
            "max_charge_kw": round(charge_w / 1000.0, 3),
            "max_discharge_kw": round(discharge_w / 1000.0, 3),
            "charge_efficiency": 1.0,
            "discharge_efficiency": 1.0,
        },
    )
    missing = () if capacity_wh else ("battery capacity unknown (no WHRtg): set capacity_kwh",)
    return Description(config, discharge_w, capacity_wh, missing)
