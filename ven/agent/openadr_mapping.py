"""openleadr's parsed dicts <-> the agent's values (events in; report points and opts out).

Kept apart from the client so the conversions are tested without a VTN.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flexmodel.flexreport import PointInterval, ReportPoint, site_to_points
from ven.agent.events import DrEvent, EventInterval
from ven.agent.registry import HomeSnapshot
from ven.messages import AGENT_DEVICE_ID, DeviceType

log = logging.getLogger(__name__)

USAGE_SPECIFIER = "flexvpp-telemetry-usage"
STATUS_SPECIFIER = "flexvpp-telemetry-status"
FLEX_SPECIFIER = "flexvpp-site-flexibility"
USAGE_SENSORS = {
    "power": ("demand", "REAL_POWER"),
    "energy_import": ("usage", "ENERGY_REAL"),
    "energy_export": ("usage", "ENERGY_REAL"),
}


class EventUnreadable(ValueError):
    """An event the agent cannot follow; the message says why (the agent opts out)."""


def _seconds(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _epoch(value: Any) -> float:
    if not isinstance(value, datetime):
        raise EventUnreadable(f"dtstart {value!r} is not a date-time")
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _start_after_s(active: dict[str, Any]) -> float:
    tolerance = active.get("tolerance") or {}
    tolerate = tolerance.get("tolerate") if isinstance(tolerance, dict) else None
    if isinstance(tolerate, dict):
        return _seconds(tolerate.get("startafter"))
    return 0.0


def _intervals(signal: dict[str, Any], start_s: float) -> tuple[EventInterval, ...]:
    out = []
    cursor = start_s
    for interval in sorted(signal.get("intervals") or [], key=lambda i: i.get("uid", 0)):
        begin = _epoch(interval["dtstart"]) if interval.get("dtstart") is not None else cursor
        duration = _seconds(interval.get("duration"))
        payload = interval.get("signal_payload")
        if not isinstance(payload, int | float):
            raise EventUnreadable(f"signal {signal.get('signal_name')}: payload {payload!r} is not a number")
        out.append(EventInterval(begin, duration, float(payload)))
        cursor = begin + duration
    return tuple(out)


def event_from_openleadr(event: dict[str, Any]) -> list[DrEvent]:
    """One openleadr event dict -> one DrEvent per signal."""
    descriptor = event.get("event_descriptor") or {}
    active = event.get("active_period") or {}
    event_id = descriptor.get("event_id")
    if not event_id:
        raise EventUnreadable("event without an event_id")
    start_s = _epoch(active.get("dtstart"))
    targets = event.get("targets_by_type") or {}
    resources = tuple(str(r) for r in targets.get("resource_id", []) or [])
    cancelled = descriptor.get("event_status") == "cancelled"
    signals = event.get("event_signals") or []
    if not signals:
        raise EventUnreadable(f"event {event_id} has no signal")
    return [
        DrEvent(
            event_id=str(event_id),
            modification_number=int(descriptor.get("modification_number") or 0),
            signal_name=str(signal.get("signal_name")),
            signal_type=str(signal.get("signal_type")),
            intervals=_intervals(signal, start_s),
            resource_ids=resources,
            ramp_up_s=_seconds(active.get("ramp_up") or active.get("ramp_up_period")),
            start_after_s=_start_after_s(active),
            priority=int(descriptor.get("priority") or 0),
            cancelled=cancelled,
        )
        for signal in signals
    ]


def usage_points(snapshot: HomeSnapshot) -> list[tuple[str, str, str, str]]:
    """(r_id, resource_id, report_type, measurement) of TELEMETRY_USAGE: meter + each device."""
    out = []
    for view in sorted(snapshot.devices.values(), key=lambda v: v.device_id):
        sensors = {s.name for s in view.config.sensors} | set(view.readings)
        for sensor, (report_type, measurement) in USAGE_SENSORS.items():
            if sensor in sensors:
                out.append((f"{view.device_id}.{sensor}", view.device_id, report_type, measurement))
    return out


def status_values(
    snapshot: HomeSnapshot, agent: Mapping[str, float] | None = None
) -> dict[str, tuple[str, float]]:
    """TELEMETRY_STATUS r_id -> (resource_id, value): online, manual override, SoC, plugged in;
    and the agent's own values (`agent.peak_guard`, `agent.month_peak_kw`) as resource `agent`."""
    out: dict[str, tuple[str, float]] = {
        f"{AGENT_DEVICE_ID}.{name}": (AGENT_DEVICE_ID, value) for name, value in (agent or {}).items()
    }
    for view in sorted(snapshot.devices.values(), key=lambda v: v.device_id):
        d = view.device_id
        out[f"{d}.online"] = (d, 1.0 if view.online else 0.0)
        if view.config.controls:
            out[f"{d}.manual_override"] = (d, 1.0 if view.overridden else 0.0)
        if view.device_type in (DeviceType.BATTERY, DeviceType.EV_CHARGER):
            soc = view.reading("soc")
            out[f"{d}.soc"] = (d, -1.0 if soc is None else soc)  # -1: unknown (no car)
        if view.device_type == DeviceType.EV_CHARGER:
            plugged = view.state is not None and bool(view.state.plugged_in)
            out[f"{d}.plugged_in"] = (d, 1.0 if plugged else 0.0)
    return out


def flex_points(entry: dict[str, Any], start: datetime, resolution: timedelta) -> list[ReportPoint]:
    return site_to_points(entry, start, resolution)


def flex_point_templates(snapshot: HomeSnapshot) -> list[ReportPoint]:
    """Every point the flexibility report may carry for this home (for METADATA)."""
    ev_ids = [v.device_id for v in snapshot.of_type(DeviceType.EV_CHARGER)]
    now = datetime.fromtimestamp(snapshot.now_s, UTC)
    step = timedelta(minutes=15)
    entry: dict[str, Any] = {
        "import_limit_kw": 0.0,
        "export_limit_kw": 0.0,
        "month_peak_kw": 0.0,
        "min_billed_peak_kw": 0.0,
        "base_load_kw": [0.0],
        "pv": {"forecast_kw": [0.0], "curtailable": False}
        if snapshot.of_type(DeviceType.PV_INVERTER)
        else None,
        "battery": (
            {
                "capacity_kwh": 0.0,
                "soc_kwh": 0.0,
                "min_soc_kwh": 0.0,
                "max_charge_kw": 0.0,
                "max_discharge_kw": 0.0,
                "charge_efficiency": 1.0,
                "discharge_efficiency": 1.0,
                "final_soc_min_kwh": 0.0,
            }
            if snapshot.of_type(DeviceType.BATTERY)
            else None
        ),
        "evs": [
            {
                "ev_id": e,
                "arrival": now.isoformat(),
                "departure": now.isoformat(),
                "energy_needed_kwh": 0.0,
                "max_power_kw": 0.0,
                "efficiency": 1.0,
                "mode": "smart",
            }
            for e in ev_ids
        ],
    }
    return site_to_points(entry, now, step)


def point_payloads(point: ReportPoint) -> list[PointInterval]:
    return list(point.intervals)
