"""Every device of a home per 15-minute slot, from its stored telemetry: the house's base load
(the meter less every device it measures) and its PV production, for the forecasts.

Each device's `energy_import` / `energy_export` counters (else its `power` integrated), read as
aggregator/meter_series.py reads the meter's. The VTN knows devices only by their rIDs
(docs/openadr-mapping.md): a PV inverter is the device that exports and imports next to nothing
(a battery imports what it exports and more).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aggregator.meter_series import bucket_readings, counters_from_rows, meter_id, net_kw_per_slot
from aggregator.uow import UnitOfWork
from flexmodel.energy_counter import EnergyCounter
from flexmodel.mv.baselines import SLOT

USAGE_SENSORS = ("energy_import", "energy_export", "power")
# An inverter draws a little at night (its standby): up to this share of what it produced.
PV_IMPORT_SHARE_MAX = 0.1


@dataclass(frozen=True, slots=True)
class HomeSeries:
    """Slot start -> mean power [kW]: base load positive (consumption), PV positive (production)."""

    meter: str
    base_load_kw: dict[datetime, float]
    pv_kw: dict[datetime, float]
    pv_devices: tuple[str, ...]


async def devices_net_kw(
    uow: UnitOfWork, ven_id: str, since: datetime, until: datetime, meter: str
) -> dict[str, dict[datetime, float]]:
    """Each device's net import [kW] per slot over [since, until) it measures whole: the meter
    and whatever the VEN offers usage for. Call inside an entered unit of work."""
    r_ids = {d["r_id"] for r in await uow.reports.registrations(ven_id) for d in r.descriptions}
    offered = {r.rpartition(".")[0] for r in r_ids if r.rpartition(".")[2] in USAGE_SENSORS}
    devices = sorted(offered | {meter})
    lo, hi = since - SLOT, until + SLOT  # one slot either side: the edge slots spanned whole
    counters = [f"{d}.{s}" for d in devices for s in ("energy_import", "energy_export")]
    buckets = await uow.reports.buckets(ven_id, counters, lo, hi, SLOT)
    pairs: dict[str, tuple[EnergyCounter, EnergyCounter]] = {}
    for device in devices:
        imported = bucket_readings(buckets, f"{device}.energy_import")
        exported = bucket_readings(buckets, f"{device}.energy_export")
        if len(imported) >= 2 and len(exported) >= 2:
            pairs[device] = EnergyCounter.from_counter(imported), EnergyCounter.from_counter(exported)
    without = [d for d in devices if d not in pairs]
    if without:
        wanted = [f"{d}.{s}" for d in without for s in USAGE_SENSORS]
        rows = await uow.reports.series(ven_id, wanted, lo, hi)
        pairs |= {d: counters_from_rows(rows, d) for d in without}
    return {
        d: {s: kw for s, kw in net_kw_per_slot(*pair).items() if since <= s < until}
        for d, pair in pairs.items()
    }


def is_pv(net_kw: dict[datetime, float]) -> bool:
    exported = sum(-kw for kw in net_kw.values() if kw < 0)
    imported = sum(kw for kw in net_kw.values() if kw > 0)
    return exported > 0 and imported <= PV_IMPORT_SHARE_MAX * exported


async def home_series(uow: UnitOfWork, ven_id: str, since: datetime, until: datetime) -> HomeSeries:
    """The base load and the PV production per slot over [since, until). A slot has a base load
    when the meter and every device that reported in the window measured it whole. Call inside
    an entered unit of work."""
    meter = await meter_id(uow, ven_id)
    per_device = await devices_net_kw(uow, ven_id, since, until, meter)
    metered = per_device.pop(meter, {})
    others = {d: s for d, s in per_device.items() if s}
    base = {
        slot: kw - sum(s[slot] for s in others.values())
        for slot, kw in metered.items()
        if all(slot in s for s in others.values())
    }
    pv_devices = tuple(sorted(d for d, s in others.items() if is_pv(s)))
    pv: dict[datetime, float] = {}
    for device in pv_devices:  # a slot counts when every inverter measured it
        for slot, kw in others[device].items():
            pv[slot] = pv.get(slot, 0.0) - kw
    pv = {s: kw for s, kw in pv.items() if all(s in others[d] for d in pv_devices)}
    return HomeSeries(meter, base, pv, pv_devices)
