"""What the closed loop tells the households: their schedule changed, their car's target is at risk,
their home went offline. Each is queued in the transaction that records its cause, and only for
sites with a webhook (aggregator/notifications.py `enqueue_many`).

capacity_peak_risk comes from the agent's peak guard, as its TELEMETRY_STATUS reports it
(`peak_guard_tripped`); charging_started and charging_stopped from the household's start/stop
(aggregator/preferences.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from aggregator.notification_records import NotificationKind, NotificationRecord
from aggregator.notifications import enqueue_many
from aggregator.ports import Dispatched, RunRecord, Schedule
from aggregator.records import VenRecord
from aggregator.uow import UnitOfWork
from flexmodel.energy_counter import floor_to

EvKey = tuple[str, str]  # (site_id, ev_id)
SHORTFALL_KWH = 0.01  # below this a plan's shortfall is solver noise, not a missed target


async def schedules_changed(
    uow: UnitOfWork, sent: Sequence[tuple[Schedule, Dispatched]], run_id: str, now: datetime
) -> list[NotificationRecord]:
    """schedule_changed for each home whose dispatch event a run created or modified."""
    return await enqueue_many(
        uow,
        (
            (
                schedule.site_id,
                NotificationKind.SCHEDULE_CHANGED,
                {
                    "ven_id": schedule.ven_id,
                    "event_id": done.event_id,
                    "modification_number": done.modification_number,
                    "run_id": run_id,
                    "start": schedule.start.isoformat(),
                    "end": (schedule.start + len(schedule.setpoint_kw) * schedule.resolution).isoformat(),
                },
            )
            for schedule, done in sent
        ),
        now,
    )


def ev_shortfalls(plan: dict[str, Any] | None) -> dict[EvKey, float]:
    """(site, EV) -> the energy [kWh] a plan (plan format) says the car will miss by departure."""
    out: dict[EvKey, float] = {}
    for site in (plan or {}).get("sites", []):
        for violation in site.get("violations") or []:
            kwh = float(violation.get("kwh", 0.0))
            if violation.get("kind") == "ev_shortfall" and kwh >= SHORTFALL_KWH:
                key = (str(site["site_id"]), str(violation.get("ev_id", "")))
                out[key] = out.get(key, 0.0) + kwh
    return out


def _ev_entries(run: RunRecord) -> dict[EvKey, dict[str, Any]]:
    scenario = run.inputs.get("scenario") or {}
    return {
        (str(s["site_id"]), str(e["ev_id"])): e for s in scenario.get("sites", []) for e in s.get("evs") or []
    }


async def targets_at_risk(
    uow: UnitOfWork, run: RunRecord, previous: RunRecord | None
) -> list[NotificationRecord]:
    """target_at_risk for each car the run cannot bring to its target by departure and the
    previous run could (a shortfall that persists run after run is told once)."""
    before = ev_shortfalls(previous.plan) if previous is not None else {}
    entries = _ev_entries(run)
    items = []
    for (site_id, ev_id), kwh in sorted(ev_shortfalls(run.plan).items()):
        if (site_id, ev_id) in before:
            continue
        entry = entries.get((site_id, ev_id), {})
        data = {
            "ev_id": ev_id,
            "shortfall_kwh": round(kwh, 3),
            "energy_needed_kwh": entry.get("energy_needed_kwh"),
            "departure": entry.get("departure"),
            "run_id": run.run_id,
        }
        items.append((site_id, NotificationKind.TARGET_AT_RISK, data))
    return await enqueue_many(uow, items, run.started_at)


async def homes_offline(
    uow: UnitOfWork, vens: Iterable[VenRecord], now: datetime
) -> list[NotificationRecord]:
    """device_offline for each home (its gateway, the VEN) that the watch found silent."""
    return await enqueue_many(
        uow,
        (
            (
                ven.site_id,
                NotificationKind.DEVICE_OFFLINE,
                {
                    "device": "gateway",
                    "ven_id": ven.ven_id,
                    "last_seen_at": ven.last_poll_at.isoformat() if ven.last_poll_at else None,
                },
            )
            for ven in vens
        ),
        now,
    )


# ---- the agent's capacity-peak guard ---------------------------------------------------------

PEAK_GUARD_R_ID = "agent.peak_guard"  # TELEMETRY_STATUS: 1 while the guard sheds (docs/openadr-mapping.md)
MONTH_PEAK_R_ID = "agent.month_peak_kw"
QUARTER = timedelta(minutes=15)


async def peak_guard_tripped(
    uow: UnitOfWork, ven_id: str, rows: Sequence[Mapping[str, Any]], now: datetime
) -> list[NotificationRecord]:
    """capacity_peak_risk once per quarter-hour in which the VEN's agent started shedding (its
    `agent.peak_guard` went to 1): `rows` are values just stored; a 1 stored earlier in the same
    quarter means the household was told already. Call on an entered unit of work; commit after."""
    shedding = sorted(r["dtstart"] for r in rows if r["r_id"] == PEAK_GUARD_R_ID and r["value"] >= 0.5)
    if not shedding:
        return []
    first = shedding[0]
    quarter = floor_to(first, QUARTER)
    earlier = await uow.reports.series(ven_id, [PEAK_GUARD_R_ID], quarter, first)
    if any(r.value >= 0.5 for r in earlier):
        return []
    ven = await uow.vens.get(ven_id)
    if ven is None:
        return []
    month_peak = [r["value"] for r in rows if r["r_id"] == MONTH_PEAK_R_ID]
    data = {
        "ven_id": ven_id,
        "quarter_start": quarter.isoformat(),
        "quarter_end": (quarter + QUARTER).isoformat(),
        "month_peak_kw": month_peak[-1] if month_peak else None,
        "action": "charger and battery shed until the quarter ends",
    }
    return await enqueue_many(uow, [(ven.site_id, NotificationKind.CAPACITY_PEAK_RISK, data)], now)
