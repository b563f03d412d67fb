"""A site's month as measured, against the uncontrolled baseline: energy cost, peak, capacity cost.

The baseline is what the same month would have cost had each car charged at full power from
its arrival until it had the energy it was measured to take: the measured grid import per
quarter-hour, minus what the charger measurably drew in it, plus what the baseline charge
would have drawn. Moved load meets the quarter's export first (more consumption while
exporting exports less) and, taken away, lowers its import first. Everything else in the home
(its base load, PV, battery) is as measured: a counterfactual of the charging only.

Cost of a month (../shared/spec/plan-format.md, "Cost of a site", billed over a month):

    energy   = Σ_t import_eur_per_kwh[t]·import_kwh[t] - Σ_t export_eur_per_kwh[t]·export_kwh[t]
    peak     = max_t import_kwh[t] / Δ                     (the highest quarter-hour mean import)
    capacity = capacity_eur_per_kw_month · max(peak, min_billed_peak_kw)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flexmodel.energy_counter import SlotGrid

MIN_BILLED_PEAK_KW = 2.5  # the Flemish capacity tariff bills at least 2.5 kW a month


@dataclass(frozen=True, slots=True)
class Tariff:
    """Prices by slot start [EUR/kWh] (a slot missing: unpriced) and the capacity price."""

    import_eur_per_kwh: Mapping[datetime, float]
    export_eur_per_kwh: Mapping[datetime, float]
    capacity_eur_per_kw_month: float | None  # None: no price carries one
    min_billed_peak_kw: float = MIN_BILLED_PEAK_KW


@dataclass(frozen=True, slots=True)
class MonthCost:
    import_kwh: float
    export_kwh: float
    energy_eur: float  # import cost minus export revenue, over the priced slots
    peak_kw: float  # the highest quarter-hour mean import
    peak_at: datetime | None  # the start of that quarter-hour (None: no import at all)
    capacity_eur: float | None  # None: no capacity price known
    total_eur: float | None


@dataclass(frozen=True, slots=True)
class MonthSavings:
    measured: MonthCost
    baseline: MonthCost
    slots: int  # quarter-hours of the month so far
    unmeasured_slots: int  # quarter-hours without meter data (counted as zero)
    unpriced_slots: int  # quarter-hours with energy but no price (left out of energy_eur)

    @property
    def energy_saved_eur(self) -> float:
        return self.baseline.energy_eur - self.measured.energy_eur

    @property
    def capacity_saved_eur(self) -> float | None:
        if self.baseline.capacity_eur is None or self.measured.capacity_eur is None:
            return None
        return self.baseline.capacity_eur - self.measured.capacity_eur


def baseline_charge_kwh(
    arrivals: Sequence[tuple[datetime, float]], full_power_kw: float, grid: SlotGrid
) -> list[float]:
    """Per slot, the energy [kWh] cars would draw charging at `full_power_kw` from their arrival
    until each had its energy; `arrivals` are (arrival, energy_kwh). Energy before the grid or
    after it falls outside (a session at the month's edge counts only its part in the month)."""
    out = [0.0] * grid.slots
    if full_power_kw <= 0:
        return out
    for arrival, energy_kwh in arrivals:
        end = arrival + timedelta(hours=max(0.0, energy_kwh) / full_power_kw)
        for i in range(max(0, grid.index(arrival)), min(grid.slots, grid.index(end) + 1)):
            slot = grid.start + i * grid.resolution
            overlap = min(end, slot + grid.resolution) - max(arrival, slot)
            if overlap > timedelta(0):
                out[i] += full_power_kw * (overlap / timedelta(hours=1))
    return out


def shift_load(import_kwh: float, export_kwh: float, delta_kwh: float) -> tuple[float, float]:
    """(import, export) of a quarter-hour whose consumption changes by `delta_kwh`: added load
    meets the export first, removed load lowers the import first (the net moves by delta)."""
    if delta_kwh >= 0:
        absorbed = min(export_kwh, delta_kwh)
        return import_kwh + delta_kwh - absorbed, export_kwh - absorbed
    lowered = min(import_kwh, -delta_kwh)
    return import_kwh - lowered, export_kwh + (-delta_kwh - lowered)


def month_cost(
    import_kwh: Sequence[float], export_kwh: Sequence[float], grid: SlotGrid, tariff: Tariff
) -> MonthCost:
    energy_eur = 0.0
    for slot, imp, exp in zip(grid.starts(), import_kwh, export_kwh, strict=True):
        energy_eur += imp * tariff.import_eur_per_kwh.get(slot, 0.0)
        energy_eur -= exp * tariff.export_eur_per_kwh.get(slot, 0.0)
    hours = grid.resolution / timedelta(hours=1)
    peak_index = max(range(grid.slots), key=lambda i: import_kwh[i], default=None)
    peak_kw = import_kwh[peak_index] / hours if peak_index is not None else 0.0
    peak_at = grid.start + peak_index * grid.resolution if peak_index is not None and peak_kw > 0 else None
    capacity = (
        None
        if tariff.capacity_eur_per_kw_month is None
        else tariff.capacity_eur_per_kw_month * max(peak_kw, tariff.min_billed_peak_kw)
    )
    return MonthCost(
        import_kwh=sum(import_kwh),
        export_kwh=sum(export_kwh),
        energy_eur=energy_eur,
        peak_kw=peak_kw,
        peak_at=peak_at,
        capacity_eur=capacity,
        total_eur=None if capacity is None else energy_eur + capacity,
    )


def compare_month(
    import_kwh: Sequence[float | None],
    export_kwh: Sequence[float | None],
    charger_kwh: Sequence[float | None],
    baseline_kwh: Sequence[float],
    grid: SlotGrid,
    tariff: Tariff,
) -> MonthSavings:
    """The measured month against the baseline, per slot of `grid`: the meter's import and export
    and the charger's draw as measured (None: no data, counted as zero), the baseline's charge
    (`baseline_charge_kwh`)."""
    measured_import = [v or 0.0 for v in import_kwh]
    measured_export = [v or 0.0 for v in export_kwh]
    shifted = [
        shift_load(imp, exp, base - (ev or 0.0))
        for imp, exp, ev, base in zip(
            measured_import, measured_export, charger_kwh, baseline_kwh, strict=True
        )
    ]
    unpriced = sum(
        1
        for slot, imp, exp in zip(grid.starts(), measured_import, measured_export, strict=True)
        if (imp > 0 and slot not in tariff.import_eur_per_kwh)
        or (exp > 0 and slot not in tariff.export_eur_per_kwh)
    )
    return MonthSavings(
        measured=month_cost(measured_import, measured_export, grid, tariff),
        baseline=month_cost([s[0] for s in shifted], [s[1] for s in shifted], grid, tariff),
        slots=grid.slots,
        unmeasured_slots=sum(1 for v in import_kwh if v is None),
        unpriced_slots=unpriced,
    )
