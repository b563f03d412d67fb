"""A household's charging sessions and its month against the uncontrolled baseline, from the
telemetry the VTN stored (the customer app's `/sites/{site_id}/sessions` and `/savings`).

Everything is measured: the charger's `plugged_in` status and its `energy_import` counter (or
`power`), the meter's counters (or power), as the agent sent them (docs/openadr-mapping.md).
What is not measured is said so in `estimated` (docs/customer-api.md). The computations are
flexmodel's (sessions.py, savings.py); this module reads the data and hands it over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from aggregator.errors import InvalidInput
from aggregator.records import PriceRecord, ReportValueRecord
from aggregator.site import STATUS_REPORT_NAME
from aggregator.sites import site_ven
from aggregator.uow import UnitOfWork
from flexmodel.energy_counter import EnergyCounter, SlotGrid, floor_to
from flexmodel.flexreport import REPORT_NAME as FLEX_REPORT_NAME
from flexmodel.flexreport import FlexReportInvalid, points_from_values
from flexmodel.savings import MIN_BILLED_PEAK_KW, MonthSavings, Tariff, baseline_charge_kwh, compare_month
from flexmodel.sessions import (
    SLOT,
    Boundary,
    EvPlan,
    Session,
    ev_plans,
    find_sessions,
    plan_of,
    slot_energy,
    slots_cost_eur,
    target_kwh,
    target_met,
)

CHARGER_STATUS_WINDOW = timedelta(days=400)  # a charger that sent no status for longer is gone
METER_PREFIX = "meter"  # the grid connection point's device id: meter-1 (docs/openadr-mapping.md)
DEFAULT_METER = "meter-1"
# Plug state read from before `from`: a car already on the charger then started before `from`.
SESSION_LOOKBACK = timedelta(hours=1)
# A session that starts before `to` is followed this long after it for its end and energy.
SESSION_LOOKAHEAD = timedelta(days=4)
MAX_RANGE = timedelta(days=92)  # one query reads at most a quarter's telemetry
# Day-ahead prices are sent a day or two ahead: one covering a slot starts at most this before it.
PRICE_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class ChargingSession:
    device_id: str  # the charger
    start: datetime
    end: datetime | None  # None: the car is still on the charger
    energy_kwh: float
    cost_eur: float | None  # None: energy fell in a quarter-hour without a stored price
    boundary: Boundary  # what start and end were found from
    mode: str | None = None  # smart | solar | boost, from the agent's flexibility report
    target_kwh: float | None = None
    target_met: bool | None = None
    estimated: tuple[str, ...] = ()  # the fields that are estimates, not measurements


@dataclass(frozen=True, slots=True)
class SiteSavings:
    site_id: str
    month: str  # YYYY-MM
    start: datetime  # the month's first quarter-hour (UTC)
    end: datetime  # the end of the last completed quarter-hour counted
    savings: MonthSavings
    sessions: int
    full_power_kw: float | None  # the baseline's charging power
    estimated: tuple[str, ...]


# ---- reading --------------------------------------------------------------------------------


def _aware(field: str, value: datetime) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput(field, "must carry a timezone")
    return value.astimezone(UTC)


async def _devices(uow: UnitOfWork, ven_id: str) -> tuple[list[str], str]:
    """(the chargers, the meter): chargers report `plugged_in`, the meter's id starts `meter`;
    both from what the VEN offers (METADATA), else from its newest status values."""
    r_ids = {d["r_id"] for r in await uow.reports.registrations(ven_id) for d in r.descriptions}
    if not any(r.endswith(".plugged_in") for r in r_ids):  # offered nothing (yet): what it sent
        sent = await uow.reports.latest_values(ven_id, STATUS_REPORT_NAME, CHARGER_STATUS_WINDOW)
        r_ids |= {v.r_id for v in sent}
    devices = {r.rpartition(".")[0] for r in r_ids}
    chargers = sorted(r.rpartition(".")[0] for r in r_ids if r.endswith(".plugged_in"))
    meter = min((d for d in devices if d.startswith(METER_PREFIX)), default=DEFAULT_METER)
    return chargers, meter


def _ev_plans(rows: Sequence[ReportValueRecord]) -> dict[str, EvPlan]:
    """The cars of the latest flexibility snapshot (none when it is absent or unreadable)."""
    if not rows:
        return {}
    samples = [(r.r_id, r.dtstart, timedelta(seconds=r.duration_seconds), r.value) for r in rows]
    try:
        points = points_from_values(samples)
    except FlexReportInvalid:
        return {}
    return ev_plans(points, max(r.received_at for r in rows))


def _min_billed_peak_kw(rows: Sequence[ReportValueRecord]) -> float:
    values = [r.value for r in rows if r.r_id == "site.min_billed_peak_kw"]
    return values[-1] if values else MIN_BILLED_PEAK_KW


def _charger_r_ids(chargers: Iterable[str]) -> list[str]:
    """The telemetry rIDs a charger's sessions are found and measured from."""
    return [f"{c}.{f}" for c in chargers for f in ("plugged_in", "power", "energy_import")]


def _by_r_id(rows: Iterable[ReportValueRecord]) -> dict[str, list[tuple[datetime, float]]]:
    out: dict[str, list[tuple[datetime, float]]] = {}
    for row in rows:
        out.setdefault(row.r_id, []).append((row.dtstart, row.value))
    return out


def _counter(series: dict[str, list[tuple[datetime, float]]], device: str, sensor: str) -> EnergyCounter:
    """The device's `sensor` counter [Wh] as kWh, else its power [W] integrated (one direction:
    export counts the power below zero)."""
    readings = series.get(f"{device}.{sensor}", [])
    if len(readings) >= 2:
        return EnergyCounter.from_counter([(t, wh / 1000.0) for t, wh in readings])
    sign = 1.0 if sensor == "energy_import" else -1.0
    power = series.get(f"{device}.power", [])
    return EnergyCounter.from_power([(t, max(0.0, sign * w / 1000.0)) for t, w in power])


def price_maps(records: Sequence[PriceRecord]) -> tuple[dict[datetime, float], dict[datetime, float]]:
    """(import, export) [EUR/kWh] by 15-minute slot start; records oldest first, a later one
    replacing an earlier one's slots. An hourly price holds for its four quarter-hours."""
    imports: dict[datetime, float] = {}
    exports: dict[datetime, float] = {}
    for record in records:
        resolution = timedelta(minutes=record.resolution_minutes)
        for i, (imp, exp) in enumerate(
            zip(record.import_eur_per_kwh, record.export_eur_per_kwh, strict=False)
        ):
            begin = record.start + i * resolution
            slot = floor_to(begin, SLOT)
            while slot < begin + resolution:
                imports[slot], exports[slot] = imp, exp
                slot += SLOT
    return imports, exports


# ---- sessions --------------------------------------------------------------------------------


def _sessions_of(
    device: str,
    series: dict[str, list[tuple[datetime, float]]],
    counter: EnergyCounter,
    plan: EvPlan | None,
    until: datetime,
) -> list[tuple[Session, list[tuple[datetime, float]], ChargingSession]]:
    """(session, its energy per slot, what the customer sees without the cost yet) of a charger
    whose import `counter` is `_counter(series, device, "energy_import")`."""
    plugged = [(t, v >= 0.5) for t, v in series.get(f"{device}.plugged_in", [])]
    power_kw = [(t, w / 1000.0) for t, w in series.get(f"{device}.power", [])]
    out = []
    for session in find_sessions(plugged, power_kw):
        slots = slot_energy(session, counter, until)
        energy = sum(kwh for _, kwh in slots)
        estimated = ["energy_kwh", "cost_eur"] if counter.estimated else []
        mine = plan_of(session, plan)
        target = target_kwh(session, mine, counter) if mine is not None else None
        if target is not None:
            estimated.append("target_kwh")
        seen = ChargingSession(
            device_id=device,
            start=session.start,
            end=session.end,
            energy_kwh=energy,
            cost_eur=None,
            boundary=session.boundary,
            mode=mine.mode if mine is not None else None,
            target_kwh=target,
            target_met=target_met(session, energy, target) if target is not None else None,
            estimated=tuple(estimated),
        )
        out.append((session, slots, seen))
    return out


async def list_sessions(
    uow: UnitOfWork, site_id: str, own_site: str | None, start: datetime, end: datetime
) -> list[ChargingSession]:
    """The site's charging sessions that started in [start, end), oldest first. NotFound when the
    caller may not see the site; InvalidInput for a range backwards or longer than MAX_RANGE."""
    start, end = _aware("from", start), _aware("to", end)
    if end <= start:
        raise InvalidInput("to", "must be after from")
    if end - start > MAX_RANGE:
        raise InvalidInput("to", f"must be at most {MAX_RANGE.days} days after from")
    since, until = start - SESSION_LOOKBACK, end + SESSION_LOOKAHEAD
    async with uow:
        ven = await site_ven(uow, site_id, own_site)
        chargers, _ = await _devices(uow, ven.ven_id)
        plans = _ev_plans(await uow.reports.values_of(ven.ven_id, FLEX_REPORT_NAME))
        series = _by_r_id(await uow.reports.series(ven.ven_id, _charger_r_ids(chargers), since, until))
        prices, _ = price_maps(await uow.prices.starting_between(since - PRICE_LOOKBACK, until))
    out = []
    for device in chargers:
        counter = _counter(series, device, "energy_import")
        for session, slots, seen in _sessions_of(device, series, counter, plans.get(device), until):
            if start <= session.start < end:
                out.append(replace(seen, cost_eur=slots_cost_eur(slots, prices)))
    return sorted(out, key=lambda s: (s.start, s.device_id))


# ---- the month's savings ----------------------------------------------------------------------


def month_grid(month: date, zone: ZoneInfo, now: datetime) -> SlotGrid:
    """The month's quarter-hours (the month in the site's zone) up to the last completed one."""
    first = datetime(month.year, month.month, 1, tzinfo=zone)
    following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=zone)
    start, stop = first.astimezone(UTC), following.astimezone(UTC)
    if now <= start:
        raise InvalidInput("month", f"{month:%Y-%m} has not begun")
    stop = min(stop, floor_to(now, SLOT))
    return SlotGrid(start, SLOT, max(0, (stop - start) // SLOT))


def _full_power_kw(
    plans: dict[str, EvPlan], chargers: list[str], charger_kwh: list[list[float | None]]
) -> tuple[float | None, bool]:
    """(the baseline's charging power, estimated?): the charger's maximum from the agent's
    flexibility report, else the highest quarter-hour mean it was measured to draw."""
    reported = [kw for c in chargers if (p := plans.get(c)) and (kw := p.max_power_kw)]
    if reported:
        return max(reported), False
    measured = [kwh / (SLOT / timedelta(hours=1)) for slots in charger_kwh for kwh in slots if kwh]
    return (max(measured), True) if measured else (None, True)


async def month_savings(
    uow: UnitOfWork, site_id: str, own_site: str | None, month: date, now: datetime, zone: ZoneInfo
) -> SiteSavings:
    """The month (in `zone`) so far, measured, against each car charged at full power from its
    arrival. NotFound when the caller may not see the site; InvalidInput for a month not begun."""
    grid = month_grid(month, zone, now)
    since, until = grid.start - SESSION_LOOKAHEAD, grid.end
    async with uow:
        ven = await site_ven(uow, site_id, own_site)
        chargers, meter = await _devices(uow, ven.ven_id)
        flex = await uow.reports.values_of(ven.ven_id, FLEX_REPORT_NAME)
        wanted = _charger_r_ids(chargers)
        wanted += [f"{meter}.{f}" for f in ("power", "energy_import", "energy_export")]
        series = _by_r_id(await uow.reports.series(ven.ven_id, wanted, since, until))
        records = await uow.prices.starting_between(grid.start - PRICE_LOOKBACK, grid.end)
    plans, min_billed = _ev_plans(flex), _min_billed_peak_kw(flex)
    imports, exports = price_maps(records)
    capacity = records[-1].capacity_eur_per_kw_month if records else None  # the newest price's
    import_counter = _counter(series, meter, "energy_import")
    export_counter = _counter(series, meter, "energy_export")
    charger_counters = {c: _counter(series, c, "energy_import") for c in chargers}
    charger_kwh = [counter.per_slot(grid) for counter in charger_counters.values()]
    full_power, power_estimated = _full_power_kw(plans, chargers, charger_kwh)
    arrivals = [
        (session.start, seen.energy_kwh)
        for c, counter in charger_counters.items()
        for session, _, seen in _sessions_of(c, series, counter, plans.get(c), until)
        if session.start < grid.end
    ]
    baseline = baseline_charge_kwh(arrivals, full_power or 0.0, grid)
    drawn = [sum(s[i] or 0.0 for s in charger_kwh) for i in range(grid.slots)]
    savings = compare_month(
        import_counter.per_slot(grid),
        export_counter.per_slot(grid),
        drawn,
        baseline,
        grid,
        Tariff(imports, exports, capacity, min_billed),
    )
    estimated = ["baseline"]
    if power_estimated:
        estimated.append("full_power_kw")
    if import_counter.estimated or export_counter.estimated:
        estimated.append("measured")  # the meter's energy integrated from its power samples
    if savings.unmeasured_slots:
        estimated.append("unmeasured_slots")
    return SiteSavings(
        site_id=site_id,
        month=f"{month:%Y-%m}",
        start=grid.start,
        end=grid.end,
        savings=savings,
        sessions=sum(1 for t, _ in arrivals if grid.start <= t < grid.end),
        full_power_kw=full_power,
        estimated=tuple(estimated),
    )


# ---- the session under way, for planning ------------------------------------------------------

# How far back a planning run looks for the plug-in of the car on the charger now: a session that
# began earlier is counted from this far back (its car got more than counted: the plan then asks
# for a little more than the household's target, never less).
OPEN_SESSION_LOOKBACK = timedelta(hours=24)


async def charged_this_session(uow: UnitOfWork, ven_id: str, now: datetime) -> dict[str, float]:
    """What each charger drew [kWh] in the session under way (a charger without a car is left
    out), from its telemetry. Call inside an entered unit of work."""
    chargers, _ = await _devices(uow, ven_id)
    if not chargers:
        return {}
    series = _by_r_id(
        await uow.reports.series(ven_id, _charger_r_ids(chargers), now - OPEN_SESSION_LOOKBACK, now)
    )
    out = {}
    for device in chargers:
        counter = _counter(series, device, "energy_import")
        for session, _slots, seen in _sessions_of(device, series, counter, None, now):
            if session.end is None:
                out[device] = seen.energy_kwh
    return out
