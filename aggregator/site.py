"""A VEN's site as the aggregator plans it: its plan-format entry, and its devices' status.

The agent sends its home's flexibility as the x-SITE_FLEXIBILITY report, a complete snapshot
each time (docs/openadr-mapping.md); the VTN keeps only the latest one (aggregator/reports.py)
and turns it back into the site's entry of plan-format.md with flexmodel.flexreport, checked
with flexmodel.scenario's `Site` model. TELEMETRY_STATUS values stay in the time series; the
status is the newest value of each rID of our agent's float form, and the newest standard
oadrPayloadResourceStatus of each rID (aggregator/resource_status.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from aggregator.errors import Conflict, NotFound
from aggregator.records import ReportRegistrationRecord, ReportValueRecord, VenRecord
from aggregator.resource_status import LoadControlState, newest_states
from aggregator.uow import UnitOfWork
from flexmodel.flexreport import REPORT_NAME as FLEX_REPORT_NAME
from flexmodel.flexreport import (
    FlexReportInvalid,
    SeriesGrid,
    points_from_values,
    points_to_site,
    series_grid,
)
from flexmodel.scenario import Site

STATUS_REPORT_NAME = "TELEMETRY_STATUS"
# TELEMETRY_STATUS rIDs are `{device}.{field}` (docs/openadr-mapping.md).
STATUS_FIELDS = ("online", "manual_override", "soc", "plugged_in")
# A device whose last status is this much older than the VEN's newest one is gone from the status.
STATUS_WINDOW = timedelta(days=1)


class NoFlexibilityYet(Conflict):
    """The VEN exists but has sent no (usable) flexibility report: nothing to plan with yet."""


@dataclass(frozen=True, slots=True)
class SiteFlexibility:
    """The site's current plan-format entry on the grid it is valid for."""

    ven_id: str
    site_id: str
    received_at: datetime
    start: datetime
    resolution_minutes: int
    horizon_slots: int
    site: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """The newest TELEMETRY_STATUS values of one device (None: not reported for it)."""

    device_id: str
    updated_at: datetime
    online: bool | None = None
    manual_override: bool | None = None
    soc_percent: float | None = None  # None also when the device reports -1 (no car)
    plugged_in: bool | None = None


@dataclass(frozen=True, slots=True)
class ResourceStatus:
    """The newest oadrPayloadResourceStatus of one rID (the standard 2.0b form)."""

    r_id: str
    resource_id: str | None  # the rID's reportDataSource in the VEN's METADATA, if it named one
    updated_at: datetime  # the dtstart of the interval the payload was sent for
    online: bool
    manual_override: bool
    load_control_state: LoadControlState | None = None


@dataclass(frozen=True, slots=True)
class SiteStatus:
    ven_id: str
    site_id: str
    updated_at: datetime
    devices: tuple[DeviceStatus, ...]  # our agent's float form
    resources: tuple[ResourceStatus, ...] = ()  # the standard form


async def _ven(uow: UnitOfWork, ven_id: str, site_id: str | None) -> VenRecord:
    """The VEN; NotFound also when a customer's `site_id` is not the VEN's (hides its existence)."""
    ven = await uow.vens.get(ven_id)
    if ven is None or (site_id is not None and ven.site_id != site_id):
        raise NotFound("VEN", ven_id)
    return ven


def _current_grid(grid: SeriesGrid, now: datetime) -> SeriesGrid:
    """The snapshot's slots from the one holding `now` to its end (all of them before it starts)."""
    if now >= grid.end:
        raise NoFlexibilityYet(
            f"the latest flexibility report covers until {grid.end.isoformat()}, which is past"
        )
    skipped = max(0, int((now - grid.start) / grid.resolution))
    return SeriesGrid(grid.start + skipped * grid.resolution, grid.resolution, grid.slots - skipped)


def rebuild_site(
    site_id: str, rows: list[ReportValueRecord], now: datetime
) -> tuple[SeriesGrid, dict[str, Any]]:
    """The validated plan-format entry from the stored snapshot; NoFlexibilityYet if unusable."""
    samples = [(row.r_id, row.dtstart, timedelta(seconds=row.duration_seconds), row.value) for row in rows]
    try:
        points = points_from_values(samples)
        grid = _current_grid(series_grid(points), now)
        entry = points_to_site(site_id, points, grid.start, grid.resolution, grid.slots)
        Site.model_validate(entry)
    except FlexReportInvalid as exc:
        raise NoFlexibilityYet(f"the latest flexibility report is unusable: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise NoFlexibilityYet(
            f"the latest flexibility report is not a valid site entry: {problems}"
        ) from exc
    return grid, entry


async def site_flexibility(
    uow: UnitOfWork, ven_id: str, now: datetime, site_id: str | None = None
) -> SiteFlexibility:
    """NotFound (unknown VEN, or not `site_id`'s); NoFlexibilityYet (409) before a usable report."""
    async with uow:
        ven = await _ven(uow, ven_id, site_id)
        rows = list(await uow.reports.values_of(ven_id, FLEX_REPORT_NAME))
    if not rows:
        raise NoFlexibilityYet(f"VEN {ven_id!r} has sent no {FLEX_REPORT_NAME} report yet")
    grid, entry = rebuild_site(ven.site_id, rows, now)
    received_at = max(r.received_at for r in rows)
    return SiteFlexibility(
        ven_id=ven_id,
        site_id=ven.site_id,
        received_at=received_at,
        start=grid.start,
        resolution_minutes=int(grid.resolution.total_seconds() // 60),
        horizon_slots=grid.slots,
        site=entry,
    )


async def get_site_entry(uow: UnitOfWork, ven_id: str, now: datetime) -> dict[str, Any]:
    """The site's current plan-format entry (a `sites[]` element). NotFound, NoFlexibilityYet."""
    return (await site_flexibility(uow, ven_id, now)).site


def device_statuses(rows: list[ReportValueRecord]) -> tuple[DeviceStatus, ...]:
    found: dict[str, dict[str, Any]] = {}
    for row in rows:  # ordered by id: a later row of the same rID and time wins
        device, _, name = row.r_id.rpartition(".")
        if not device or name not in STATUS_FIELDS:
            continue
        at = row.dtstart
        fields = found.setdefault(device, {"device_id": device, "updated_at": at})
        fields["updated_at"] = max(fields["updated_at"], at)
        if name == "soc":
            fields["soc_percent"] = None if row.value < 0 else row.value
        else:
            fields[name] = row.value >= 0.5
    return tuple(DeviceStatus(**found[d]) for d in sorted(found))


def _resource_ids(registrations: list[ReportRegistrationRecord]) -> dict[str, str]:
    """rID -> the resource its METADATA description names (reportDataSource)."""
    return {
        d["r_id"]: d["resource_id"]
        for r in registrations
        for d in r.descriptions
        if d.get("resource_id") is not None
    }


def _resource_statuses(
    rows: list[ReportValueRecord], registrations: list[ReportRegistrationRecord]
) -> tuple[ResourceStatus, ...]:
    resource_ids = _resource_ids(registrations)
    return tuple(
        ResourceStatus(
            r_id, resource_ids.get(r_id), at, state.online, state.manual_override, state.load_control_state
        )
        for r_id, (at, state) in sorted(newest_states(rows).items())
    )


async def site_status(uow: UnitOfWork, ven_id: str, site_id: str | None = None) -> SiteStatus:
    """The newest TELEMETRY_STATUS value per device and field, and the newest resource status
    per rID. NotFound (unknown VEN, or not `site_id`'s); Conflict (409) before any status report
    has arrived."""
    async with uow:
        ven = await _ven(uow, ven_id, site_id)
        rows = list(await uow.reports.latest_values(ven_id, STATUS_REPORT_NAME, STATUS_WINDOW))
        registrations = await uow.reports.registrations(ven_id)
    devices = device_statuses(rows)
    resources = _resource_statuses(rows, registrations)
    if not devices and not resources:
        raise Conflict(f"VEN {ven_id!r} has sent no {STATUS_REPORT_NAME} report yet")
    updated_at = max([d.updated_at for d in devices] + [r.updated_at for r in resources])
    return SiteStatus(ven_id, ven.site_id, updated_at, devices, resources)
