"""A home's meter as 15-minute mean net import [kW], from its stored telemetry (for M&V).

The meter's `energy_import` and `energy_export` counters (else its `power` integrated), as
aggregator/site_history.py reads them; telemetry a VEN backfilled (days at once) is stored by
its dtstart like live telemetry and counts the same. A slot counts as measured only when a
sample lies inside it or on its edges and the samples span it whole: a slot at the edge of the
data, or inside a gap longer than a slot, is left out rather than under-counted.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime, timedelta

from aggregator.meter_records import ValueBucket
from aggregator.records import ReportValueRecord
from aggregator.site_history import DEFAULT_METER, METER_PREFIX
from aggregator.uow import UnitOfWork
from flexmodel.energy_counter import EnergyCounter
from flexmodel.mv.baselines import SLOT, floor_slot

_HOURS_PER_SLOT = SLOT / timedelta(hours=1)


async def meter_id(uow: UnitOfWork, ven_id: str) -> str:
    """The VEN's grid meter: the device whose id starts with `meter` in what it offers."""
    r_ids = {d["r_id"] for r in await uow.reports.registrations(ven_id) for d in r.descriptions}
    meters = {r.rpartition(".")[0] for r in r_ids if r.startswith(METER_PREFIX)}
    return min(meters, default=DEFAULT_METER)


def counters_from_rows(rows: list[ReportValueRecord], meter: str) -> tuple[EnergyCounter, EnergyCounter]:
    """(import, export) from every sample: the counters [Wh], else the power [W] integrated."""
    return _counter(rows, meter, "energy_import"), _counter(rows, meter, "energy_export")


def _counter(rows: list[ReportValueRecord], meter: str, sensor: str) -> EnergyCounter:
    readings = [(r.dtstart, r.value / 1000.0) for r in rows if r.r_id == f"{meter}.{sensor}"]
    if len(readings) >= 2:
        return EnergyCounter.from_counter(readings)
    sign = 1.0 if sensor == "energy_import" else -1.0
    power = [(r.dtstart, max(0.0, sign * r.value / 1000.0)) for r in rows if r.r_id == f"{meter}.power"]
    return EnergyCounter.from_power(power)


def bucket_readings(buckets: list[ValueBucket], r_id: str) -> list[tuple[datetime, float]]:
    """A rising counter's first and last reading [kWh] in each bucket: between them and the next
    bucket's first, it interpolates at a slot's edges exactly as from every sample. A counter
    reset (a replaced meter) inside a slot pairs the wrong values there: that one slot is off."""
    out: list[tuple[datetime, float]] = []
    for b in buckets:
        if b.r_id == r_id:
            out.append((b.first_at, b.min_value / 1000.0))
            if b.last_at != b.first_at:
                out.append((b.last_at, b.max_value / 1000.0))
    return out


def _sampled(times: tuple[datetime, ...], start: datetime, end: datetime) -> bool:
    i = bisect_left(times, start)
    return i < len(times) and times[i] <= end


def net_kw_per_slot(imports: EnergyCounter, exports: EnergyCounter) -> dict[datetime, float]:
    """Slot start -> mean net import [kW] of the slots the counters measure whole."""
    if not imports:
        return {}
    out: dict[datetime, float] = {}
    slot = floor_slot(imports.times[0])
    while slot + SLOT <= imports.times[-1]:
        end = slot + SLOT
        if imports.times[0] <= slot and _sampled(imports.times, slot, end):
            imported = imports.between(slot, end) or 0.0
            exported = 0.0
            if exports and exports.times[0] <= slot and exports.times[-1] >= end:
                exported = exports.between(slot, end) or 0.0
            out[slot] = (imported - exported) / _HOURS_PER_SLOT
        slot = end
    return out


async def meter_net_kw(
    uow: UnitOfWork, ven_id: str, since: datetime, until: datetime
) -> dict[datetime, float]:
    """The VEN's meter per slot over [since, until). Call inside an entered unit of work.

    The counters are read summarised per slot (ReportRepository.buckets: 60 days of minute
    samples are 17,000 rows, not 260,000); a meter without counters has its power read whole."""
    meter = await meter_id(uow, ven_id)
    # One slot either side, so that the edge slots are spanned whole.
    lo, hi = since - SLOT, until + SLOT
    counters = [f"{meter}.energy_import", f"{meter}.energy_export"]
    buckets = await uow.reports.buckets(ven_id, counters, lo, hi, SLOT)
    imported, exported = (bucket_readings(buckets, r) for r in counters)
    if len(imported) >= 2 and len(exported) >= 2:
        pair = EnergyCounter.from_counter(imported), EnergyCounter.from_counter(exported)
    else:
        pair = counters_from_rows(
            await uow.reports.series(ven_id, [*counters, f"{meter}.power"], lo, hi), meter
        )
    return {s: kw for s, kw in net_kw_per_slot(*pair).items() if since <= s < until}
