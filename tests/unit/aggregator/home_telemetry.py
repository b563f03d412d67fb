"""Telemetry as the VTN stores it from our agent (docs/openadr-mapping.md), built from power
profiles: each device's `power` [W] and `energy_import` / `energy_export` counters [Wh] in
TELEMETRY_USAGE, the charger's `plugged_in` in TELEMETRY_STATUS, sampled every `step`.

A profile gives the power [kW] at each sample time; it holds until the next sample, which is
how the counters integrate it (a simulated device's counters do the same, ven/simulators/base.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from aggregator.records import ReportRegistrationRecord, ReportValueRecord

USAGE = "TELEMETRY_USAGE"
STATUS = "TELEMETRY_STATUS"


def _row(ven_id: str, report: str, r_id: str, at: datetime, value: float) -> ReportValueRecord:
    request = "rr-usage" if report == USAGE else "rr-status"
    return ReportValueRecord(ven_id, request, report, r_id, at, 0, value, at)


def device_rows(
    ven_id: str,
    device: str,
    start: datetime,
    end: datetime,
    step: timedelta,
    power_kw: Callable[[datetime], float],
    *,
    plugged: Callable[[datetime], bool] | None = None,
) -> list[ReportValueRecord]:
    """The device's samples at start, start + step, ... before end."""
    rows = []
    imported_wh = exported_wh = 0.0
    hours = step / timedelta(hours=1)
    at = start
    while at < end:
        kw = power_kw(at)
        rows.append(_row(ven_id, USAGE, f"{device}.power", at, kw * 1000.0))
        rows.append(_row(ven_id, USAGE, f"{device}.energy_import", at, imported_wh))
        rows.append(_row(ven_id, USAGE, f"{device}.energy_export", at, exported_wh))
        if plugged is not None:
            rows.append(_row(ven_id, STATUS, f"{device}.plugged_in", at, 1.0 if plugged(at) else 0.0))
        imported_wh += max(0.0, kw) * hours * 1000.0
        exported_wh += max(0.0, -kw) * hours * 1000.0
        at += step
    return rows


def registration(ven_id: str, devices: dict[str, bool], at: datetime) -> list[ReportRegistrationRecord]:
    """The VEN's METADATA: usage rIDs of each device, `plugged_in` of those marked chargers."""
    usage = tuple(
        {"r_id": f"{d}.{s}", "resource_id": d}
        for d in devices
        for s in ("power", "energy_import", "energy_export")
    )
    status = tuple({"r_id": f"{d}.plugged_in", "resource_id": d} for d, charger in devices.items() if charger)
    return [
        ReportRegistrationRecord(ven_id, "flexvpp-telemetry-usage", f"METADATA_{USAGE}", usage, at),
        ReportRegistrationRecord(ven_id, "flexvpp-telemetry-status", f"METADATA_{STATUS}", status, at),
    ]
