"""A site's plan-format entry <-> the values carried in OpenADR 2.0b reports and opts (pure).

The VEN reports its home's flexibility as one report (`REPORT_NAME` below) whose data points
(`ReportPoint`) use standard OpenADR report types where one fits and `x-` names otherwise;
the EV's availability window also travels as an EiOpt schedule (`AvailabilityWindow`).
The VTN turns the points back into the site's entry of plan-format.md with `points_to_site`.
docs/openadr-mapping.md documents the table in `FIELDS`. No openleadr import here: the
openleadr objects are built at the edges (ven/agent/vtn_client.py, vtn/openadr).

r_ids are `{resource}.{field}` where resource is `site`, `pv`, `battery` or an `ev_id`.
Series (base load, PV forecast) carry one interval per slot; scalars one interval spanning
the horizon; an EV's points carry one interval from arrival to departure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flexmodel.energy_counter import SlotGrid

REPORT_NAME = "x-SITE_FLEXIBILITY"
EV_MODES = ("smart", "solar", "boost")  # x-evMode value = index


@dataclass(frozen=True, slots=True)
class Field:
    """How one plan-format field travels: report type, reading type, unit."""

    report_type: str
    reading_type: str
    unit: str


# (resource kind, plan-format field) -> how it travels.
FIELDS: dict[tuple[str, str], Field] = {
    ("site", "import_limit_kw"): Field("demand", "Contract", "kW"),
    ("site", "export_limit_kw"): Field("x-exportLimit", "Contract", "kW"),
    ("site", "month_peak_kw"): Field("demand", "Peak", "kW"),
    ("site", "min_billed_peak_kw"): Field("x-minBilledPeak", "Contract", "kW"),
    ("site", "base_load_kw"): Field("demand", "Projected", "kW"),
    ("pv", "forecast_kw"): Field("x-pvForecast", "Projected", "kW"),
    ("pv", "curtailable"): Field("x-curtailable", "x-notApplicable", "none"),
    ("battery", "soc_kwh"): Field("storedEnergy", "Direct Read", "kWh"),
    ("battery", "available_kwh"): Field("availableEnergyStorage", "Derived", "kWh"),  # capacity - soc
    ("battery", "final_soc_min_kwh"): Field("targetEnergyStorage", "Contract", "kWh"),
    ("battery", "min_soc_kwh"): Field("x-minStoredEnergy", "Contract", "kWh"),
    ("battery", "max_charge_kw"): Field("downRegulationCapacityAvailable", "Contract", "kW"),
    ("battery", "max_discharge_kw"): Field("upRegulationCapacityAvailable", "Contract", "kW"),
    ("battery", "charge_efficiency"): Field("x-chargeEfficiency", "Contract", "none"),
    ("battery", "discharge_efficiency"): Field("x-dischargeEfficiency", "Contract", "none"),
    ("ev", "energy_needed_kwh"): Field("targetEnergyStorage", "Projected", "kWh"),
    ("ev", "max_power_kw"): Field("downRegulationCapacityAvailable", "Contract", "kW"),
    ("ev", "efficiency"): Field("x-chargeEfficiency", "Contract", "none"),
    ("ev", "mode"): Field("x-evMode", "x-notApplicable", "none"),
}
SITE_SCALARS = ("import_limit_kw", "export_limit_kw", "month_peak_kw", "min_billed_peak_kw")
BATTERY_SCALARS = (
    "soc_kwh",
    "final_soc_min_kwh",
    "min_soc_kwh",
    "max_charge_kw",
    "max_discharge_kw",
    "charge_efficiency",
    "discharge_efficiency",
)
EV_SCALARS = ("energy_needed_kwh", "max_power_kw", "efficiency", "mode")


class FlexReportInvalid(ValueError):
    """Report points that cannot make a site entry; the message names the r_id and the reason."""


@dataclass(frozen=True, slots=True)
class PointInterval:
    start: datetime
    duration: timedelta
    value: float

    @property
    def end(self) -> datetime:
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class ReportPoint:
    """One data point (r_id) of the flexibility report."""

    r_id: str
    resource_id: str
    report_type: str
    reading_type: str
    unit: str
    intervals: tuple[PointInterval, ...]

    @property
    def field(self) -> str:
        # Split at the last dot: field names have none, device ids (ev_id) may.
        return self.r_id.rpartition(".")[2]


@dataclass(frozen=True, slots=True)
class AvailabilityWindow:
    """An EiOpt availability window: `resource_id` may be steered between start and end."""

    resource_id: str
    start: datetime
    end: datetime


def _point(resource: str, kind: str, name: str, intervals: tuple[PointInterval, ...]) -> ReportPoint:
    spec = FIELDS[(kind, name)]
    return ReportPoint(
        f"{resource}.{name}", resource, spec.report_type, spec.reading_type, spec.unit, intervals
    )


def _series(values: Iterable[float], start: datetime, resolution: timedelta) -> tuple[PointInterval, ...]:
    return tuple(PointInterval(start + i * resolution, resolution, float(v)) for i, v in enumerate(values))


def _scalar_value(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        return float(EV_MODES.index(value))
    return float(value)


def site_to_points(site: Mapping[str, Any], start: datetime, resolution: timedelta) -> list[ReportPoint]:
    """The points of one plan-format site entry whose series start at `start`."""
    base = site.get("base_load_kw") or []
    whole = (start, resolution * max(1, len(base)))
    span = (PointInterval(whole[0], whole[1], 0.0),)

    def scalar(resource: str, kind: str, name: str, value: Any) -> ReportPoint:
        return _point(
            resource, kind, name, (PointInterval(span[0].start, span[0].duration, _scalar_value(value)),)
        )

    points = [scalar("site", "site", n, site[n]) for n in SITE_SCALARS if site.get(n) is not None]
    points.append(_point("site", "site", "base_load_kw", _series(base, start, resolution)))
    pv = site.get("pv")
    if pv:
        points.append(_point("pv", "pv", "forecast_kw", _series(pv["forecast_kw"], start, resolution)))
        points.append(scalar("pv", "pv", "curtailable", bool(pv.get("curtailable", False))))
    battery = site.get("battery")
    if battery:
        points += [
            scalar("battery", "battery", n, battery[n]) for n in BATTERY_SCALARS if battery.get(n) is not None
        ]
        points.append(
            scalar("battery", "battery", "available_kwh", battery["capacity_kwh"] - battery["soc_kwh"])
        )
    for ev in site.get("evs") or []:
        arrival, departure = _aware(ev["arrival"]), _aware(ev["departure"])
        window = (arrival, max(timedelta(0), departure - arrival))
        for name in EV_SCALARS:
            if ev.get(name) is not None:
                points.append(
                    _point(ev["ev_id"], "ev", name, (PointInterval(*window, _scalar_value(ev[name])),))
                )
    return points


def _aware(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise FlexReportInvalid(f"time {value!r} has no UTC offset")
    return moment


def availability_windows(site: Mapping[str, Any]) -> list[AvailabilityWindow]:
    """The EVs' plug-in windows, sent as EiOpt (optIn) availability schedules."""
    return [
        AvailabilityWindow(ev["ev_id"], _aware(ev["arrival"]), _aware(ev["departure"]))
        for ev in site.get("evs") or []
    ]


def resample(point: ReportPoint, start: datetime, resolution: timedelta, slots: int) -> list[float]:
    """Slot values of a series point: the interval holding each slot's start (0 outside any)."""
    out = []
    for t in range(slots):
        moment = start + t * resolution
        found = next((i.value for i in point.intervals if i.start <= moment < i.end), None)
        out.append(0.0 if found is None else found)
    return out


def _scalar(point: ReportPoint) -> float:
    if not point.intervals:
        raise FlexReportInvalid(f"{point.r_id}: no value")
    value = point.intervals[-1].value
    if not math.isfinite(value):
        raise FlexReportInvalid(f"{point.r_id}: value {value} is not finite")
    return value


def points_to_site(
    site_id: str, points: Iterable[ReportPoint], start: datetime, resolution: timedelta, slots: int
) -> dict[str, Any]:
    """The plan-format site entry for the grid (start, resolution, slots) from report points."""
    by_resource: dict[str, dict[str, ReportPoint]] = {}
    for point in points:
        if "." not in point.r_id:
            raise FlexReportInvalid(f"{point.r_id}: r_id must be <resource>.<field>")
        by_resource.setdefault(point.resource_id, {})[point.field] = point
    site_points = by_resource.pop("site", {})
    missing = [n for n in ("import_limit_kw", "export_limit_kw", "base_load_kw") if n not in site_points]
    if missing:
        raise FlexReportInvalid(f"site {site_id}: missing {', '.join('site.' + m for m in missing)}")
    site: dict[str, Any] = {"site_id": site_id}
    site.update({n: _scalar(site_points[n]) for n in SITE_SCALARS if n in site_points})
    site["base_load_kw"] = resample(site_points["base_load_kw"], start, resolution, slots)
    pv = by_resource.pop("pv", None)
    if pv and "forecast_kw" in pv:
        site["pv"] = {
            "forecast_kw": resample(pv["forecast_kw"], start, resolution, slots),
            "curtailable": bool(_scalar(pv["curtailable"])) if "curtailable" in pv else False,
        }
    battery = by_resource.pop("battery", None)
    if battery:
        site["battery"] = _battery(battery)
    evs = [_ev(ev_id, fields) for ev_id, fields in sorted(by_resource.items())]
    if evs:
        site["evs"] = evs
    return site


def _battery(fields: Mapping[str, ReportPoint]) -> dict[str, Any]:
    for needed in ("soc_kwh", "available_kwh", "max_charge_kw", "max_discharge_kw"):
        if needed not in fields:
            raise FlexReportInvalid(f"battery: missing battery.{needed}")
    out: dict[str, Any] = {n: _scalar(fields[n]) for n in BATTERY_SCALARS if n in fields}
    out["capacity_kwh"] = out["soc_kwh"] + _scalar(fields["available_kwh"])
    return out


def _ev(ev_id: str, fields: Mapping[str, ReportPoint]) -> dict[str, Any]:
    if "energy_needed_kwh" not in fields or "max_power_kw" not in fields:
        raise FlexReportInvalid(f"{ev_id}: an EV needs {ev_id}.energy_needed_kwh and {ev_id}.max_power_kw")
    window = fields["energy_needed_kwh"].intervals[-1]
    out: dict[str, Any] = {
        "ev_id": ev_id,
        "arrival": window.start.isoformat(),
        "departure": window.end.isoformat(),
    }
    for name in EV_SCALARS:
        if name in fields:
            value = _scalar(fields[name])
            if name == "mode":
                index = int(value)
                if not 0 <= index < len(EV_MODES):
                    raise FlexReportInvalid(f"{ev_id}.mode: {value} is not one of 0..{len(EV_MODES) - 1}")
                out[name] = EV_MODES[index]
            else:
                out[name] = value
    return out


# --------------------------------------------------------------- the VTN's side: stored values back


# The slot grid a flexibility snapshot's series were sent on (from `site.base_load_kw`).
SeriesGrid = SlotGrid


def _kind(resource: str) -> str:
    return resource if resource in ("site", "pv", "battery") else "ev"


def points_from_values(values: Iterable[tuple[str, datetime, timedelta, float]]) -> list[ReportPoint]:
    """Report points from received (r_id, dtstart, duration, value) samples, ordered by r_id.

    The inverse of taking `point.intervals` apart for an oadrUpdateReport; report and reading
    types come from `FIELDS`. FlexReportInvalid names an r_id that is not a field of the report.
    """
    grouped: dict[str, list[PointInterval]] = {}
    for r_id, start, duration, value in values:
        grouped.setdefault(r_id, []).append(PointInterval(start, duration, value))
    points = []
    for r_id in sorted(grouped):
        resource, dot, name = r_id.rpartition(".")
        spec = FIELDS.get((_kind(resource), name)) if dot else None
        if spec is None:
            raise FlexReportInvalid(f"{r_id}: not a field of {REPORT_NAME}")
        intervals = tuple(sorted(grouped[r_id], key=lambda i: i.start))
        points.append(ReportPoint(r_id, resource, spec.report_type, spec.reading_type, spec.unit, intervals))
    return points


def series_grid(points: Iterable[ReportPoint]) -> SeriesGrid:
    """The grid of the snapshot: `site.base_load_kw` carries one interval per slot, back to back."""
    base = next((p for p in points if p.r_id == "site.base_load_kw"), None)
    if base is None or not base.intervals:
        raise FlexReportInvalid("site.base_load_kw: missing, so the snapshot has no slot grid")
    resolution = base.intervals[0].duration
    if resolution <= timedelta(0):
        raise FlexReportInvalid(f"site.base_load_kw: slot duration {resolution} is not positive")
    for before, after in zip(base.intervals, base.intervals[1:], strict=False):
        if after.start != before.end or after.duration != resolution:
            raise FlexReportInvalid(
                f"site.base_load_kw: slots are not back to back at {after.start.isoformat()}"
            )
    return SeriesGrid(base.intervals[0].start, resolution, len(base.intervals))
