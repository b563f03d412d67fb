"""What the household's app shows of its site: the site with its devices, and its schedule.

Both are read-only views of what the VTN already stores: the devices' newest status and power
from the VEN's telemetry reports, the schedule from the latest planning run that planned the
site (its plan and the scenario it was planned from, with the prices).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aggregator.errors import Conflict
from aggregator.ports import RecentPolls
from aggregator.records import ReportValueRecord
from aggregator.site import STATUS_REPORT_NAME, STATUS_WINDOW, DeviceStatus, device_statuses
from aggregator.site_history import METER_PREFIX
from aggregator.sites import site_ven
from aggregator.uow import UnitOfWork

USAGE_REPORT_NAME = "TELEMETRY_USAGE"


class DeviceKind(enum.StrEnum):
    """What a device is, as its status values show it (the agent reports no type of its own)."""

    EV_CHARGER = "ev_charger"  # it reports plugged_in
    BATTERY = "battery"  # it reports a state of charge, no plug
    METER = "meter"  # the grid connection point: its id starts with METER_PREFIX
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class DeviceView:
    device_id: str
    kind: DeviceKind
    online: bool | None
    power_kw: float | None  # the newest measured power (positive = consumption / import)
    soc_percent: float | None
    plugged_in: bool | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SiteView:
    site_id: str
    ven_id: str
    ven_name: str
    registered: bool
    last_seen_at: datetime | None  # the VEN's last poll
    devices: tuple[DeviceView, ...]


def _kind(device_id: str, status: DeviceStatus) -> DeviceKind:
    if status.plugged_in is not None:
        return DeviceKind.EV_CHARGER
    if status.soc_percent is not None:
        return DeviceKind.BATTERY
    return DeviceKind.METER if device_id.startswith(METER_PREFIX) else DeviceKind.OTHER


def _devices(
    status: Sequence[ReportValueRecord], usage: Sequence[ReportValueRecord]
) -> tuple[DeviceView, ...]:
    """Each device's status (aggregator.site's reading of TELEMETRY_STATUS) with its newest power."""
    statuses = {d.device_id: d for d in device_statuses(list(status))}
    power_w: dict[str, tuple[datetime, float]] = {}
    for row in usage:  # the newest value of each rID
        device, _, name = row.r_id.rpartition(".")
        if device and name == "power":
            power_w[device] = (row.dtstart, row.value)
    out = []
    for device_id in sorted(statuses.keys() | power_w.keys()):
        found = statuses.get(device_id) or DeviceStatus(device_id, power_w[device_id][0])
        power = power_w.get(device_id)
        out.append(
            DeviceView(
                device_id=device_id,
                kind=_kind(device_id, found),
                online=found.online,
                power_kw=None if power is None else round(power[1] / 1000.0, 3),  # W on the wire
                soc_percent=found.soc_percent,
                plugged_in=found.plugged_in,
                updated_at=found.updated_at if power is None else max(found.updated_at, power[0]),
            )
        )
    return tuple(out)


async def site_view(uow: UnitOfWork, site_id: str, own_site: str | None, polls: RecentPolls) -> SiteView:
    """The site, its VEN and its devices' newest values; NotFound as aggregator.sites says."""
    async with uow:
        ven = await site_ven(uow, site_id, own_site)
        status = await uow.reports.latest_values(ven.ven_id, STATUS_REPORT_NAME, STATUS_WINDOW)
        usage = await uow.reports.latest_values(ven.ven_id, USAGE_REPORT_NAME, STATUS_WINDOW)
    polled = polls.last_poll(ven.ven_id)
    seen = [t for t in (polled, ven.last_poll_at) if t is not None]
    return SiteView(
        site_id=site_id,
        ven_id=ven.ven_id,
        ven_name=ven.ven_name,
        registered=ven.registration_id is not None,
        last_seen_at=max(seen) if seen else None,
        devices=_devices(status, usage),
    )


# ---- the schedule -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduleSlot:
    start: datetime
    grid_kw: float  # net import (negative = export)
    ev_kw: float
    battery_kw: float  # positive = charging
    pv_kw: float  # PV used
    import_eur_per_kwh: float


@dataclass(frozen=True, slots=True)
class SiteSchedule:
    site_id: str
    run_id: str
    planned_at: datetime
    status: str  # the site's plan status: optimal | feasible | best_effort
    slots: tuple[ScheduleSlot, ...]
    expected_cost_eur: float  # energy bought minus sold over the slots shown
    ev_energy_at_departure_kwh: float | None  # what the plan delivers to the cars (None: no car)


class NotPlannedYet(Conflict):
    """No planning run has planned the site yet."""


def _site_schedule(
    site_id: str,
    run_id: str,
    planned_at: datetime,
    inputs: dict[str, Any],
    plan: dict[str, Any],
    now: datetime,
) -> SiteSchedule | None:
    scenario = inputs.get("scenario") or {}
    sites = [s for s in plan.get("sites", []) if s.get("site_id") == site_id]
    if not sites or not scenario:
        return None
    site = sites[0]
    start = datetime.fromisoformat(scenario["start"])
    resolution = timedelta(minutes=int(scenario["resolution_minutes"]))
    tariff = scenario["tariff"]
    ev_by_slot = [sum(kw) for kw in zip(*(site.get("ev_kw") or {}).values(), strict=True)]
    slots, cost = [], 0.0
    hours = resolution.total_seconds() / 3600.0
    for t, (imported, exported) in enumerate(
        zip(site["grid_import_kw"], site["grid_export_kw"], strict=True)
    ):
        slot_start = start + t * resolution
        if slot_start + resolution <= now:
            continue  # over: the schedule shows what is ahead (and the slot under way)
        price_in, price_out = tariff["import_eur_per_kwh"][t], tariff["export_eur_per_kwh"][t]
        cost += (imported * price_in - exported * price_out) * hours
        slots.append(
            ScheduleSlot(
                start=slot_start,
                grid_kw=round(imported - exported, 3),
                ev_kw=round(ev_by_slot[t], 3) if ev_by_slot else 0.0,
                battery_kw=round(site["battery_kw"][t], 3) if site.get("battery_kw") else 0.0,
                pv_kw=round(site["pv_used_kw"][t], 3) if site.get("pv_used_kw") else 0.0,
                import_eur_per_kwh=price_in,
            )
        )
    energy = site.get("ev_energy_kwh") or {}
    return SiteSchedule(
        site_id=site_id,
        run_id=run_id,
        planned_at=planned_at,
        status=str(site.get("status", plan.get("status"))),
        slots=tuple(slots),
        expected_cost_eur=round(cost, 4),
        ev_energy_at_departure_kwh=round(sum(energy.values()), 3) if energy else None,
    )


async def site_schedule(uow: UnitOfWork, site_id: str, own_site: str | None, now: datetime) -> SiteSchedule:
    """The latest plan's slots for the site from the one under way on; NotFound as
    aggregator.sites says; NotPlannedYet (409) when no run that planned the site is stored."""
    async with uow:
        await site_ven(uow, site_id, own_site)
        run = await uow.runs.latest_planned()
    if run is not None and run.plan is not None:
        found = _site_schedule(site_id, run.run_id, run.started_at, run.inputs, run.plan, now)
        if found is not None:
            return found
    raise NotPlannedYet(f"site {site_id!r} has not been planned yet")
