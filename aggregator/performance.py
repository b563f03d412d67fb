"""DR performance: what each event asked, what the homes would have drawn, what they drew.

Use cases (a server-rendered page calls them as the REST routes do; `zone` is the sites' time
zone, where days and months start):

    event_performance(uow, event_id, method: BaselineMethod | None, now, zone) -> EventPerformance
    program_performance(uow, market_context, month: date, now, zone) -> ProgramMonth

`method` None: the program's terms' method (aggregator/settlement.py), else x_of_y. Every kW is
a 15-minute mean of the meter's net import (aggregator/meter_series.py). How well each method
predicts a home: aggregator/baseline_accuracy.py.

What an event requests, per home and slot, from its signal: `delta` (kW) is the change asked;
`setpoint` / `x-loadControlSetpoint` the net import asked, so the change is setpoint - baseline;
`x-loadControlCapacity` a cap, so min(0, cap - baseline); other signals (SIMPLE levels, prices)
ask no kW (requested null). The event is a reduction unless the changes asked sum above zero.
Sums (per interval, per event) are over the homes that did not opt out; opted-out homes are
listed apart, with their own figures, and count in `participation` (the share of targeted homes
that did not opt out). Events of the portfolio's own dispatch (aggregator/dispatch.py) steer
homes all the time and are not DR events: they neither count here nor make a day ineligible.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aggregator.dispatch import MARKET_CONTEXT as DISPATCH_CONTEXT
from aggregator.errors import InvalidInput, NotFound
from aggregator.events import effective_responses
from aggregator.meter_series import meter_net_kw
from aggregator.records import EventRecord, VenRecord
from aggregator.uow import UnitOfWork
from flexmodel.mv.baselines import (
    METHOD_VERSIONS,
    SLOT,
    Baseline,
    BaselineMethod,
    BaselineUnavailable,
    XOfY,
    event_slots,
    meter_before,
    plan_baseline,
    x_of_y,
)
from flexmodel.mv.delivery import Direction, delivered_kw, kwh

DEFAULT_METHOD = BaselineMethod.X_OF_Y
METER_BEFORE_INTERVALS = 4  # the hour before the event


@dataclass(frozen=True, slots=True)
class Slot:
    """One 15-minute slot of an event (a home's, or summed over the participating homes)."""

    start: datetime
    requested_kw: float | None  # in the event's direction; null: the signal asks no kW
    baseline_kw: float | None  # null: no baseline (its reason is the home's `error`)
    measured_kw: float | None  # null: the meter did not measure the slot
    delivered_kwh: float | None


@dataclass(frozen=True, slots=True)
class HomePerformance:
    ven_id: str
    site_id: str
    opted_out: bool
    slots: tuple[Slot, ...]
    baseline_kwh: float | None
    measured_kwh: float | None
    delivered_kwh: float | None
    requested_kwh: float | None
    baseline: dict[str, Any] = field(default_factory=dict)  # the method's details (days, factor)
    error: str | None = None  # why there is no baseline


@dataclass(frozen=True, slots=True)
class EventPerformance:
    event_id: str
    market_context: str
    method: BaselineMethod
    method_version: str
    direction: Direction
    start: datetime
    end: datetime
    intervals: tuple[Slot, ...]  # summed over the homes that did not opt out
    homes: tuple[HomePerformance, ...]
    delivered_kwh: float | None
    requested_kwh: float | None
    participation: float | None  # null: the event targets no home


@dataclass(frozen=True, slots=True)
class EventSummary:
    event_id: str
    start: datetime
    targeted: int
    participating: int
    delivered_kwh: float | None
    requested_kwh: float | None


@dataclass(frozen=True, slots=True)
class ProgramMonth:
    market_context: str
    month: str  # YYYY-MM
    method: BaselineMethod
    events: tuple[EventSummary, ...]
    participation: float | None  # over every (event, targeted home)
    delivered_kwh: float
    requested_kwh: float | None
    delivery_ratio: float | None  # delivered / requested


# ---- what an event asks --------------------------------------------------------------------------


def requested_change_kw(event: EventRecord, slot: datetime, baseline_kw: float | None) -> float | None:
    """The change of net import [kW] the event asks of one home in the slot (consumption
    positive), or None when its signal asks no kW or the slot is outside its intervals."""
    value = next(
        (
            i.value
            for i in event.intervals
            if i.start <= slot < i.start + timedelta(seconds=i.duration_seconds)
        ),
        None,
    )
    if value is None:
        return None
    kind = event.signal_type
    if kind == "delta" or kind == "x-loadControlLevelOffset":
        return value
    if baseline_kw is None:
        return None
    if kind in ("setpoint", "x-loadControlSetpoint"):
        return value - baseline_kw
    if kind == "x-loadControlCapacity":
        return min(0.0, value - baseline_kw)
    return None


def _in_direction(change: float | None, direction: Direction) -> float | None:
    if change is None:
        return None
    return max(0.0, -change if direction is Direction.REDUCTION else change)


# ---- one home ------------------------------------------------------------------------------------


def event_days(events: Sequence[EventRecord], zone: ZoneInfo) -> set[date]:
    """The local days the DR events touch (the portfolio's dispatch events are not DR events)."""
    days: set[date] = set()
    for e in events:
        if e.market_context == DISPATCH_CONTEXT or e.cancelled:
            continue
        day, last = (
            e.dtstart.astimezone(zone).date(),
            (e.end - timedelta(microseconds=1)).astimezone(zone).date(),
        )
        while day <= last:
            days.add(day)
            day += timedelta(days=1)
    return days


async def _baseline(
    uow: UnitOfWork, ven: VenRecord, event: EventRecord, method: BaselineMethod, zone: ZoneInfo
) -> tuple[Baseline, dict[datetime, float]]:
    """(the baseline, the meter over the event's slots). BaselineUnavailable says why not."""
    start, end = event.dtstart, event.end
    if method is BaselineMethod.X_OF_Y:
        options = XOfY()
        day = start.astimezone(zone).date() - timedelta(days=options.lookback_days)
        since = datetime.combine(day, time(0), zone).astimezone(UTC)
        measured = await meter_net_kw(uow, ven.ven_id, since, end)
        excluded = event_days(await uow.events.live_for_ven(ven.ven_id), zone)
        return x_of_y(measured, start, end, zone, excluded, options), measured
    if method is BaselineMethod.METER_BEFORE:
        since = event_slots(start, end)[0] - METER_BEFORE_INTERVALS * SLOT
        measured = await meter_net_kw(uow, ven.ven_id, since, end)
        return meter_before(measured, start, end, METER_BEFORE_INTERVALS), measured
    measured = await meter_net_kw(uow, ven.ven_id, event_slots(start, end)[0], end)
    planned, source = await _planned(uow, ven, event)
    return plan_baseline(planned, start, end, source), measured


async def _planned(
    uow: UnitOfWork, ven: VenRecord, event: EventRecord
) -> tuple[dict[datetime, float], dict[str, Any]]:
    """The home's planned net import per slot in the last run started before the event was
    created, and which run that was."""
    run = await uow.runs.latest_planned_before(event.created_at)
    if run is None or not run.plan:
        raise BaselineUnavailable(f"plan_baseline: no planning run before {event.created_at.isoformat()}")
    scenario = run.inputs.get("scenario") or {}
    site = next((s for s in run.plan.get("sites", []) if s.get("site_id") == ven.site_id), None)
    if site is None or "start" not in scenario:
        raise BaselineUnavailable(f"plan_baseline: run {run.run_id} did not plan site {ven.site_id}")
    start = datetime.fromisoformat(scenario["start"]).astimezone(UTC)
    step = timedelta(minutes=int(scenario.get("resolution_minutes", 15)))
    kw: dict[datetime, float] = {}
    for t, (g, e) in enumerate(zip(site["grid_import_kw"], site["grid_export_kw"], strict=True)):
        begin = start + t * step
        slot = begin
        while slot < begin + step:  # a coarser plan holds for each of its 15-minute slots
            kw[slot] = float(g) - float(e)
            slot += SLOT
    return kw, {"run_id": run.run_id, "run_started_at": run.started_at.isoformat()}


def _sum(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


async def _home(
    uow: UnitOfWork,
    ven: VenRecord,
    event: EventRecord,
    method: BaselineMethod,
    zone: ZoneInfo,
    opted_out: bool,
) -> tuple[HomePerformance, list[float | None]]:
    """The home's figures (direction not applied yet: `requested_kw` holds the signed change)."""
    slots = event_slots(event.dtstart, event.end)
    error = None
    try:
        baseline, measured = await _baseline(uow, ven, event, method, zone)
        base: list[float | None] = list(baseline.kw)
        details = baseline.details
    except BaselineUnavailable as exc:
        measured = await meter_net_kw(uow, ven.ven_id, slots[0], event.end)
        base, details, error = [None] * len(slots), {}, str(exc)
    changes = [requested_change_kw(event, s, b) for s, b in zip(slots, base, strict=True)]
    rows = tuple(Slot(s, c, b, measured.get(s), None) for s, c, b in zip(slots, changes, base, strict=True))
    home = HomePerformance(ven.ven_id, ven.site_id, opted_out, rows, None, None, None, None, details, error)
    return home, changes


def _directed(home: HomePerformance, direction: Direction) -> HomePerformance:
    rows = []
    for s in home.slots:
        delivered = None
        if s.baseline_kw is not None:
            kw = delivered_kw(s.baseline_kw, s.measured_kw, direction)
            delivered = None if kw is None else kwh(kw)
        rows.append(
            replace(s, requested_kw=_in_direction(s.requested_kw, direction), delivered_kwh=delivered)
        )
    return replace(
        home,
        slots=tuple(rows),
        baseline_kwh=_sum([None if s.baseline_kw is None else kwh(s.baseline_kw) for s in rows]),
        measured_kwh=_sum([None if s.measured_kw is None else kwh(s.measured_kw) for s in rows]),
        delivered_kwh=_sum([s.delivered_kwh for s in rows]),
        requested_kwh=_sum([None if s.requested_kw is None else kwh(s.requested_kw) for s in rows]),
    )


def _summed(homes: Sequence[HomePerformance], slots: Sequence[datetime]) -> tuple[Slot, ...]:
    taking = [h for h in homes if not h.opted_out]
    return tuple(
        Slot(
            start,
            _sum([h.slots[i].requested_kw for h in taking]),
            _sum([h.slots[i].baseline_kw for h in taking]),
            _sum([h.slots[i].measured_kw for h in taking]),
            _sum([h.slots[i].delivered_kwh for h in taking]),
        )
        for i, start in enumerate(slots)
    )


# ---- the use cases -------------------------------------------------------------------------------


async def _load_event(uow: UnitOfWork, event_id: str) -> EventRecord:
    event = await uow.events.get(event_id)
    if event is None:
        raise NotFound("event", event_id)
    return event


async def measure_event(
    uow: UnitOfWork,
    event: EventRecord,
    method: BaselineMethod,
    zone: ZoneInfo,
    only_vens: Collection[str] | None = None,
) -> EventPerformance:
    """Inside an entered unit of work. `only_vens`: measure those of the targeted homes only
    (one household's statement need not measure the fleet); participation and the sums are then
    theirs, and a setpoint event's direction comes from their own requests."""
    targets = (await uow.events.targets([event.event_id]))[event.event_id]
    if only_vens is not None:
        targets = [v for v in targets if v in only_vens]
    answers = effective_responses(
        event, await uow.events.responses([event.event_id]), await uow.opts.live_for_events([event.event_id])
    )
    homes: list[HomePerformance] = []
    changes: list[float | None] = []
    for ven_id in targets:
        ven = await uow.vens.get(ven_id)
        if ven is None:
            continue
        opted_out = answers.get(ven_id) == "optOut"
        home, asked = await _home(uow, ven, event, method, zone, opted_out)
        homes.append(home)
        if not opted_out:
            changes += asked
    direction = Direction.INCREASE if (_sum(changes) or 0.0) > 0 else Direction.REDUCTION
    homes = [_directed(h, direction) for h in homes]
    taking = [h for h in homes if not h.opted_out]
    slots = event_slots(event.dtstart, event.end)
    return EventPerformance(
        event_id=event.event_id,
        market_context=event.market_context,
        method=method,
        method_version=METHOD_VERSIONS[method],
        direction=direction,
        start=event.dtstart,
        end=event.end,
        intervals=_summed(homes, slots),
        homes=tuple(homes),
        delivered_kwh=_sum([h.delivered_kwh for h in taking]),
        requested_kwh=_sum([h.requested_kwh for h in taking]),
        participation=len(taking) / len(targets) if targets else None,
    )


async def program_method(uow: UnitOfWork, market_context: str) -> BaselineMethod:
    """The baseline method the program's terms name, else the default. Inside a unit of work."""
    terms = await uow.programs.get(market_context)
    return BaselineMethod(terms.baseline_method) if terms is not None else DEFAULT_METHOD


async def event_performance(
    uow: UnitOfWork, event_id: str, method: BaselineMethod | None, now: datetime, zone: ZoneInfo
) -> EventPerformance:
    """NotFound for an unknown event; InvalidInput for one that has not started."""
    async with uow:
        event = await _load_event(uow, event_id)
        if event.dtstart > now:
            raise InvalidInput("event_id", f"event {event_id} has not started")
        chosen = method or await program_method(uow, event.market_context)
        return await measure_event(uow, event, chosen, zone)


def month_bounds(month: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of the month in `zone`, in UTC."""
    first = datetime(month.year, month.month, 1, tzinfo=zone)
    following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=zone)
    return first.astimezone(UTC), following.astimezone(UTC)


async def program_events(
    uow: UnitOfWork, market_context: str, start: datetime, end: datetime, now: datetime
) -> list[EventRecord]:
    """The program's events (not cancelled) that started in [start, end) and before now."""
    return [
        e
        for e in await uow.events.all()
        if e.market_context == market_context and not e.cancelled and start <= e.dtstart < min(end, now)
    ]


async def program_performance(
    uow: UnitOfWork, market_context: str, month: date, now: datetime, zone: ZoneInfo
) -> ProgramMonth:
    """The program's events that started in the month (so far), with the terms' method."""
    start, end = month_bounds(month, zone)
    async with uow:
        method = await program_method(uow, market_context)
        events = await program_events(uow, market_context, start, end, now)
        done = [await measure_event(uow, e, method, zone) for e in events]
    summaries = tuple(
        EventSummary(
            p.event_id,
            p.start,
            len(p.homes),
            sum(1 for h in p.homes if not h.opted_out),
            p.delivered_kwh,
            p.requested_kwh,
        )
        for p in done
    )
    targeted = sum(s.targeted for s in summaries)
    delivered = sum(s.delivered_kwh or 0.0 for s in summaries)
    requested = _sum([s.requested_kwh for s in summaries])
    return ProgramMonth(
        market_context=market_context,
        month=f"{month:%Y-%m}",
        method=method,
        events=summaries,
        participation=sum(s.participating for s in summaries) / targeted if targeted else None,
        delivered_kwh=delivered,
        requested_kwh=requested,
        delivery_ratio=delivered / requested if requested else None,
    )
