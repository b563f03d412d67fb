"""What makes the loop re-plan: cars arriving or leaving, and homes that stop following.

A home is excluded from steering (its expected load held fixed, the others pick up the slack)
when it opts out of its dispatch event, stops polling, or its measured power strays from its
schedule by more than `WatchRules.deviation_tolerance_kw` on average over the last half hour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from aggregator.event_rules import DEFAULT_NEAR_WINDOW_SECONDS
from aggregator.events import EventInfo, load_infos
from aggregator.loop_store import Exclusion, ExclusionReason
from aggregator.notification_sources import homes_offline
from aggregator.ports import RunRecord
from aggregator.records import DispatchRecord, VenRecord
from aggregator.uow import UnitOfWork
from flexmodel.flexreport import REPORT_NAME as FLEX_REPORT_NAME

DEVIATION_WINDOW = timedelta(minutes=30)
EV_NEED = ".energy_needed_kwh"  # the rID of a car's energy need (docs/openadr-mapping.md)
MIN_SAMPLES = 3
FLEXIBILITY_CHANGED = "flexibility changed (an EV arrived or left)"

EvKey = tuple[str, str]  # (siteID, EV id)


@dataclass(frozen=True, slots=True)
class WatchRules:
    """When a home counts as no longer following (vtn settings offline_after_seconds,
    deviation_tolerance_kw, dispatch_target)."""

    offline_after: timedelta  # on the VTN's clock, as the stored poll times are
    deviation_tolerance_kw: float
    steered_device: str = "meter"  # whose power the schedule sets: the meter's (site) or "evse"
    # How long after a schedule changed the home may still follow the one before: it takes the
    # new one on its next poll. Samples of that time are not held against the new schedule (a
    # demo at x1200 polling every real second excluded a home for the minutes its new schedule
    # took to reach it, and the excluded home's charger then ran through the evening cap).
    delivery_grace: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class Finding:
    """A reason to re-plan: a home to exclude (`exclusion`), or the portfolio's cars changed
    (`ven_id` empty, no exclusion)."""

    ven_id: str
    reason: str
    exclusion: Exclusion | None = None


def planned_evs(run: RunRecord) -> frozenset[EvKey]:
    """The (site, EV) pairs a run planned with (none if it built no scenario)."""
    scenario = run.inputs.get("scenario") or {}
    return frozenset(
        (s["site_id"], e["ev_id"]) for s in scenario.get("sites", []) for e in s.get("evs") or []
    )


async def look(
    uow: UnitOfWork,
    now: datetime,
    rules: WatchRules,
    exclusions: Mapping[str, Exclusion],
    last_evs: frozenset[EvKey] | None,
) -> list[Finding]:
    """The homes (not excluded yet) that stopped following, and whether the cars the steered
    (not excluded) homes report differ from `last_evs`, the ones last planned with (None:
    nothing planned yet, no finding)."""
    async with uow:
        vens = await uow.vens.registered()
        dispatches = await uow.dispatches.all()
        # Which cars each home's latest flexibility snapshot holds (one cheap query, no rebuild).
        needs = await uow.reports.r_ids_ending(FLEX_REPORT_NAME, EV_NEED)
        watched = [v for v in vens if v.ven_id not in exclusions]
        events = await uow.events.get_many(
            [dispatches[v.ven_id].event_id for v in watched if v.ven_id in dispatches]
        )
        infos = {i.event_id: i for i in await load_infos(uow, events, now, DEFAULT_NEAR_WINDOW_SECONDS)}
        findings: list[Finding] = []
        offline: list[VenRecord] = []
        for ven in watched:
            finding = await _check_ven(uow, ven, dispatches.get(ven.ven_id), infos, now, rules)
            if finding is not None:
                findings.append(finding)
                if finding.exclusion is not None and finding.exclusion.reason is ExclusionReason.OFFLINE:
                    offline.append(ven)
        if offline:  # told once: an excluded home is not watched again
            await homes_offline(uow, offline, now)
            await uow.commit()
    # The steered homes' cars only: a run plans an excluded home's load fixed, without its cars,
    # while the home still reports them; counted, they differed from `last_evs` at every check
    # and the loop re-planned every second while the home stayed excluded (docs/closed-loop.md).
    # When its exclusion ends, its cars count again, and their return to the plan is a finding.
    site_of = {v.ven_id: v.site_id for v in watched}
    evs = {(site_of[v], r.removesuffix(EV_NEED)) for v, r in needs if v in site_of}
    if last_evs is not None and evs != last_evs:
        findings.append(Finding("", FLEXIBILITY_CHANGED))
    return findings


async def _check_ven(
    uow: UnitOfWork,
    ven: VenRecord,
    row: DispatchRecord | None,
    infos: Mapping[str, EventInfo],
    now: datetime,
    rules: WatchRules,
) -> Finding | None:
    """The home's finding, if any, on an entered unit of work."""
    if ven.last_poll_at is not None and now - ven.last_poll_at > rules.offline_after:
        return await _excluded(uow, ven, ExclusionReason.OFFLINE, f"{ven.ven_id} offline", now)
    event = infos.get(row.event_id) if row is not None else None
    if row is None or event is None:
        return None
    if event.responses.get(ven.ven_id) == "optOut":
        return await _excluded(uow, ven, ExclusionReason.OPTED_OUT, f"{ven.ven_id} opted out", now)
    samples = await _power_samples(uow, ven.ven_id, now, rules.steered_device)
    deviation = _deviation_kw(row, samples, row.updated_at + rules.delivery_grace)
    if deviation is not None and deviation > rules.deviation_tolerance_kw:
        reason = f"{ven.ven_id} deviates {deviation:.1f} kW from its schedule"
        return await _excluded(uow, ven, ExclusionReason.DEVIATES, reason, now)
    return None


async def _excluded(
    uow: UnitOfWork, ven: VenRecord, why: ExclusionReason, reason: str, now: datetime
) -> Finding:
    """Exclude the home with its mean metered net import of the last half hour held fixed."""
    samples = await _power_samples(uow, ven.ven_id, now, "meter")
    measured_kw = sum(v for _, v in samples) / len(samples) if samples else 0.0
    return Finding(ven.ven_id, reason, Exclusion(why, measured_kw))


async def _power_samples(
    uow: UnitOfWork, ven_id: str, now: datetime, device: str
) -> list[tuple[datetime, float]]:
    """(time, kW) of the device's `.power` telemetry over the last half hour, one per time: a VEN
    that answers two report requests stores each sample twice (a CI demo's home counted two
    samples as four, passed MIN_SAMPLES and was excluded on them)."""
    values = await uow.reports.values(ven_id, now - DEVIATION_WINDOW, now)
    by_time = {
        (v.dtstart, v.r_id): v.value / 1000.0
        for v in values
        if v.r_id.startswith(device) and v.r_id.endswith(".power")
    }
    return [(at, kw) for (at, _), kw in sorted(by_time.items())]


def _deviation_kw(
    row: DispatchRecord, samples: list[tuple[datetime, float]], in_force_from: datetime
) -> float | None:
    """The mean |measured - scheduled| over the samples in the schedule's slots taken once it was
    in force; None with fewer than MIN_SAMPLES of them."""
    resolution = timedelta(minutes=row.resolution_minutes)
    gaps = []
    for at, measured in samples:
        slot = int((at - row.start) / resolution)
        if at >= max(row.start, in_force_from) and slot < len(row.setpoint_kw):
            gaps.append(abs(measured - float(row.setpoint_kw[slot])))
    if len(gaps) < MIN_SAMPLES:
        return None
    return sum(gaps) / len(gaps)
