"""What makes the loop re-plan: cars arriving or leaving, and homes that stop following.

A home is excluded from steering (its expected load held fixed, the others pick up the slack)
when it opts out of its dispatch event, stops polling, or its measured net import strays from
its schedule by more than `deviation_tolerance_kw` on average over the last half hour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from aggregator.events import get_event
from aggregator.records import DispatchRecord, VenRecord
from aggregator.telemetry import query_telemetry
from flexmodel.flexreport import REPORT_NAME as FLEX_REPORT_NAME
from vtn.db.uow import UnitOfWork
from vtn.errors import NotFound
from vtn.portfolio.store import Exclusion

if TYPE_CHECKING:
    from vtn.db.uow import Sessions
    from vtn.settings import VtnSettings

DEVIATION_WINDOW = timedelta(minutes=30)
EV_NEED = ".energy_needed_kwh"  # the rID of a car's energy need (docs/openadr-mapping.md)
MIN_SAMPLES = 3


@dataclass(frozen=True, slots=True)
class Finding:
    ven_id: str
    reason: str
    exclusion: Exclusion | None = None
    include_again: bool = False


class WatchedLoop(Protocol):
    """What the watch reads of the portfolio loop; vtn/portfolio/loop.py runs the watch (and
    imports this module), so the watch names only what it needs of it."""

    @property
    def sessions(self) -> Sessions: ...

    @property
    def settings(self) -> VtnSettings: ...

    @property
    def exclusions(self) -> Mapping[str, Exclusion]: ...

    @property
    def _last_evs(self) -> frozenset[tuple[str, str]] | None: ...  # the (site, EV) pairs last planned


async def look(loop: WatchedLoop, now: datetime) -> list[Finding]:
    async with UnitOfWork(loop.sessions) as uow:
        vens = await uow.vens.registered()
        dispatch = await uow.dispatches.all()
        # Which cars each home's latest flexibility snapshot holds (one cheap query, no rebuild).
        needs = await uow.reports.r_ids_ending(FLEX_REPORT_NAME, EV_NEED)
    site_of = {v.ven_id: v.site_id for v in vens}
    evs = {(site_of[v], r.removesuffix(EV_NEED)) for v, r in needs if v in site_of}
    findings: list[Finding] = []
    for ven in vens:
        if ven.ven_id in loop.exclusions:
            continue
        finding = await _check_ven(loop, ven, dispatch.get(ven.ven_id), now)
        if finding is not None:
            findings.append(finding)
    if loop._last_evs is not None and evs != loop._last_evs:
        findings.append(Finding("", "flexibility changed (an EV arrived or left)"))
    return findings


async def _check_ven(
    loop: WatchedLoop, ven: VenRecord, row: DispatchRecord | None, now: datetime
) -> Finding | None:
    last_poll = ven.last_poll_at
    if last_poll is not None and datetime.now(UTC) - last_poll > timedelta(
        seconds=loop.settings.offline_after_seconds
    ):
        return Finding(
            ven.ven_id, f"{ven.ven_id} offline", Exclusion("offline", await _measured_kw(loop, ven, now))
        )
    if row is None:
        return None
    try:
        event = await get_event(UnitOfWork(loop.sessions), row.event_id, now)
    except NotFound:
        return None
    if event.responses.get(ven.ven_id) == "optOut":
        return Finding(
            ven.ven_id, f"{ven.ven_id} opted out", Exclusion("opted out", await _measured_kw(loop, ven, now))
        )
    deviation = await _deviation_kw(loop, ven, row, now)
    if deviation is not None and deviation > loop.settings.deviation_tolerance_kw:
        return Finding(
            ven.ven_id,
            f"{ven.ven_id} deviates {deviation:.1f} kW from its schedule",
            Exclusion("deviates from its schedule", await _measured_kw(loop, ven, now)),
        )
    return None


async def _meter_samples(
    loop: WatchedLoop, ven_id: str, now: datetime, device: str = "meter"
) -> list[tuple[datetime, float]]:
    points = await query_telemetry(UnitOfWork(loop.sessions), ven_id, now - DEVIATION_WINDOW, now)
    return [
        (p.dtstart, p.value / 1000.0)
        for p in points
        if p.r_id.startswith(device) and p.r_id.endswith(".power")
    ]


async def _measured_kw(loop: WatchedLoop, ven: VenRecord, now: datetime) -> float:
    samples = await _meter_samples(loop, ven.ven_id, now)
    return sum(v for _, v in samples) / len(samples) if samples else 0.0


async def _deviation_kw(
    loop: WatchedLoop, ven: VenRecord, row: DispatchRecord, now: datetime
) -> float | None:
    start = row.start
    resolution = timedelta(minutes=row.resolution_minutes)
    gaps = []
    # The schedule steers the site's net import (the meter) or the EV charger's power.
    device = "evse" if loop.settings.dispatch_target == "ev" else "meter"
    for at, measured in await _meter_samples(loop, ven.ven_id, now, device):
        slot = int((at - start) / resolution)
        if at >= start and slot < len(row.setpoint_kw):
            gaps.append(abs(measured - float(row.setpoint_kw[slot])))
    if len(gaps) < MIN_SAMPLES:
        return None
    return sum(gaps) / len(gaps)
