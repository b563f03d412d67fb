"""A solved site as arrays (`SitePlan`), read from the model and checked against the spec.

Costs and violations are recomputed from the arrays, not taken from the solver's objective, so
what the plan reports is what its numbers say.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyomo.environ as pyo

from flexmodel.problem import FloatArray, SiteProblem
from flexmodel.scenario import ApplianceOut, EvMode, HeatPumpOut, PlanStatus, SitePlanOut, Violation
from flexmodel.scenario import SiteCost as SiteCostOut

ZERO_KW = 1e-9  # solver noise below this is written as 0
BOTH_KW = 1e-6  # import and export (or charge and discharge) both above this: the LP did both
VIOLATION_KWH = 1e-6  # smaller misses are solver noise, not violations


@dataclass(frozen=True, slots=True)
class SiteCost:
    energy_eur: float
    export_eur: float  # revenue
    capacity_eur: float

    @property
    def total_eur(self) -> float:
        return self.energy_eur - self.export_eur + self.capacity_eur


@dataclass(frozen=True, slots=True)
class SiteViolation:
    kind: str  # ev_shortfall | import_limit | export_limit | comfort
    kwh: float
    ev_id: str | None = None


@dataclass(frozen=True, slots=True)
class SiteFlows:
    """The decision values of one site [kW], [kWh]; battery_soc_kwh has n_slots + 1 values."""

    grid_import_kw: FloatArray
    grid_export_kw: FloatArray
    pv_used_kw: FloatArray
    charge_kw: FloatArray
    discharge_kw: FloatArray
    battery_soc_kwh: FloatArray
    ev_kw: dict[str, FloatArray]
    # Extensions (docs/plan-format-extensions.md): None / empty where the site has none.
    heat_pump_kw: FloatArray | None = None
    indoor_temp_c: FloatArray | None = None  # n_slots + 1 values
    appliance_kw: dict[str, FloatArray] = field(default_factory=dict)
    appliance_start: dict[str, int] = field(default_factory=dict)  # the start slot

    @property
    def battery_kw(self) -> FloatArray:
        return self.charge_kw - self.discharge_kw

    @property
    def net_import_kw(self) -> FloatArray:
        """g - e: what the site adds to the portfolio's net import."""
        return self.grid_import_kw - self.grid_export_kw

    def grid_both_slots(self) -> set[int]:
        """Slots that import and export at once."""
        return {
            int(t) for t in np.flatnonzero(np.minimum(self.grid_import_kw, self.grid_export_kw) > BOTH_KW)
        }

    def battery_both_slots(self) -> set[int]:
        """Slots that charge and discharge at once."""
        return {int(t) for t in np.flatnonzero(np.minimum(self.charge_kw, self.discharge_kw) > BOTH_KW)}


@dataclass(frozen=True, slots=True)
class SitePlan:
    site_id: str
    status: PlanStatus
    flows: SiteFlows
    ev_energy_kwh: dict[str, float]
    peak_kw: float
    cost: SiteCost
    imbalance_eur: float  # Σ imbalance_t·(g_t - e_t)·Δ: this site's share (no nomination term)
    violations: tuple[SiteViolation, ...]
    needed_binaries: bool
    binary_slots: int  # binaries in the last model solved (exclusivity, starts, on/off); 0 for an LP
    gap: float | None
    solve_seconds: float
    appliance_start_at: dict[str, datetime] = field(default_factory=dict)

    @property
    def objective_eur(self) -> float:
        """What the site's solve minimised last: total cost plus its imbalance share."""
        return self.cost.total_eur + self.imbalance_eur


def _clean(values: FloatArray) -> FloatArray:
    out = np.where(np.abs(values) < ZERO_KW, 0.0, values)
    return np.asarray(out, dtype=np.float64)


def _array(var: pyo.Var, n: int) -> FloatArray:
    return _clean(np.array([pyo.value(var[t]) for t in range(n)], dtype=np.float64))


def read_flows(m: pyo.ConcreteModel, p: SiteProblem) -> SiteFlows:
    n = p.n_slots
    ev_kw: dict[str, FloatArray] = {}
    for ev in p.evs:
        if ev.boost_kw is not None:
            ev_kw[ev.ev_id] = np.array(ev.boost_kw)
            continue
        power = np.zeros(n)
        for t in range(ev.first_slot, ev.stop_slot):
            power[t] = pyo.value(m.ev_kw[ev.ev_id, t])
        ev_kw[ev.ev_id] = _clean(power)
    if p.battery is None:
        charge, discharge, soc = np.zeros(n), np.zeros(n), np.zeros(n + 1)
    else:
        charge, discharge = _array(m.charge_kw, n), _array(m.discharge_kw, n)
        soc = _clean(np.array([pyo.value(m.soc_kwh[t]) for t in range(n + 1)], dtype=np.float64))
    hp_kw: FloatArray | None = None
    temp: FloatArray | None = None
    if p.heat_pump is not None:
        hp_kw = _array(m.heat_pump_kw, n)
        temp = np.array([pyo.value(m.indoor_temp_c[t]) for t in range(n + 1)], dtype=np.float64)
    starts: dict[str, int] = {}
    for j, a in enumerate(p.appliances):
        chosen = [float(pyo.value(m.appliance_start[j, s])) for s in a.starts]
        starts[a.appliance_id] = a.starts[int(np.argmax(chosen))]
    return SiteFlows(
        grid_import_kw=_array(m.grid_import_kw, n),
        grid_export_kw=_array(m.grid_export_kw, n),
        pv_used_kw=_array(m.pv_used_kw, n),
        charge_kw=charge,
        discharge_kw=discharge,
        battery_soc_kwh=soc,
        ev_kw=ev_kw,
        heat_pump_kw=hp_kw,
        indoor_temp_c=temp,
        appliance_kw=appliance_power(p, starts),
        appliance_start=starts,
    )


def appliance_power(p: SiteProblem, starts: dict[str, int]) -> dict[str, FloatArray]:
    """Each appliance's power per slot from its start slot."""
    return {a.appliance_id: a.power_kw(starts[a.appliance_id], p.n_slots) for a in p.appliances}


def comfort_miss_kwh(flows: SiteFlows, p: SiteProblem) -> float:
    """C·Σ_t (below + above the band at T[t+1]) [kWh of heat]; 0 without a heat pump."""
    hp = p.heat_pump
    if hp is None or flows.indoor_temp_c is None:
        return 0.0
    temp = flows.indoor_temp_c[1:]
    miss = np.maximum(0.0, hp.comfort_min_c - temp) + np.maximum(0.0, temp - hp.comfort_max_c)
    return float(hp.capacity_kwh_per_k * miss.sum())


def net_grid(flows: SiteFlows, p: SiteProblem) -> SiteFlows:
    """Cancel simultaneous import and export where import costs at least what export earns.

    Lowering g_t and e_t by the same amount keeps the balance, lowers the peak and changes the
    cost by -(p_imp - p_exp)·x·Δ <= 0, so an optimal LP answer stays optimal and now satisfies
    the exclusivity the MILP would impose: no binaries needed for that slot.
    """
    overlap = np.minimum(flows.grid_import_kw, flows.grid_export_kw)
    # Also cancel overlaps below BOTH_KW whatever the prices (solver noise, worth < 1e-6 EUR), so
    # that a plan never shows import and export in one slot, not even by a hair.
    cancel = (p.import_price_eur_per_kwh >= p.export_price_eur_per_kwh) | (overlap <= BOTH_KW)
    overlap = np.where(cancel, overlap, 0.0)
    if not (overlap > 0).any():
        return flows
    return dataclasses.replace(
        flows,
        grid_import_kw=_clean(flows.grid_import_kw - overlap),
        grid_export_kw=_clean(flows.grid_export_kw - overlap),
    )


def net_battery(flows: SiteFlows, p: SiteProblem) -> SiteFlows:
    """Cancel simultaneous charge and discharge where the energy it burns has no negative value.

    Lowering c_t by x and d_t by η_c·η_d·x keeps the SoC path; the site then draws
    δ = (1 - η_c·η_d)·x less: less import (if it imports δ or more) or more export. When that
    price (plus the imbalance price) is >= 0 and the export stays within its limit, the cost does
    not rise, so an optimal answer stays optimal (and every higher level is unchanged) while the
    slot no longer does both. Negative prices are left to the binaries.
    """
    bat = p.battery
    both = np.minimum(flows.charge_kw, flows.discharge_kw) > BOTH_KW
    if bat is None or not both.any():
        return flows
    eta = bat.charge_efficiency * bat.discharge_efficiency
    g, e = flows.grid_import_kw.copy(), flows.grid_export_kw.copy()
    c, d = flows.charge_kw.copy(), flows.discharge_kw.copy()
    for t in np.flatnonzero(both):
        x = min(c[t], d[t] / eta)
        delta = (1.0 - eta) * x
        from_import = min(g[t], delta)
        to_export = delta - from_import
        price_ok = from_import == 0.0 or p.import_price_eur_per_kwh[t] + p.imbalance_eur_per_kwh[t] >= 0.0
        export_ok = to_export == 0.0 or (
            p.export_price_eur_per_kwh[t] + p.imbalance_eur_per_kwh[t] >= 0.0
            and e[t] + to_export <= p.export_limit_kw + ZERO_KW
        )
        if price_ok and export_ok:
            c[t], d[t] = c[t] - x, d[t] - eta * x
            g[t], e[t] = g[t] - from_import, e[t] + to_export
    return dataclasses.replace(
        flows, grid_import_kw=_clean(g), grid_export_kw=_clean(e), charge_kw=_clean(c), discharge_kw=_clean(d)
    )


def site_cost(flows: SiteFlows, p: SiteProblem) -> SiteCost:
    dt = p.dt_h
    peak = float(flows.grid_import_kw.max(initial=0.0))
    return SiteCost(
        energy_eur=float(np.dot(p.import_price_eur_per_kwh, flows.grid_import_kw) * dt),
        export_eur=float(np.dot(p.export_price_eur_per_kwh, flows.grid_export_kw) * dt),
        capacity_eur=p.capacity_eur_per_kw_month * max(0.0, peak - p.peak_floor_kw),
    )


def ev_energy(flows: SiteFlows, p: SiteProblem) -> dict[str, float]:
    return {ev.ev_id: float(flows.ev_kw[ev.ev_id].sum() * ev.efficiency * p.dt_h) for ev in p.evs}


def violations(flows: SiteFlows, p: SiteProblem, energy: dict[str, float]) -> tuple[SiteViolation, ...]:
    """Grid-limit overruns and the shortfall of smart and boost EVs (solar mode promises none)."""
    dt = p.dt_h
    found = []
    over_import = float(np.maximum(0.0, flows.grid_import_kw - p.import_limit_kw).sum() * dt)
    over_export = float(np.maximum(0.0, flows.grid_export_kw - p.export_limit_kw).sum() * dt)
    if over_import > VIOLATION_KWH:
        found.append(SiteViolation("import_limit", over_import))
    if over_export > VIOLATION_KWH:
        found.append(SiteViolation("export_limit", over_export))
    # The solver meets the band to its feasibility tolerance (~1e-7 K): a miss counts from 1e-5 K.
    comfort = comfort_miss_kwh(flows, p)
    if p.heat_pump is not None and comfort > 1e-5 * p.heat_pump.capacity_kwh_per_k:
        found.append(SiteViolation("comfort", comfort))
    for ev in p.evs:
        shortfall = ev.energy_needed_kwh - energy[ev.ev_id]
        if ev.mode is not EvMode.SOLAR and shortfall > VIOLATION_KWH:
            found.append(SiteViolation("ev_shortfall", shortfall, ev.ev_id))
    return tuple(found)


GAP_OPTIMAL = 1e-6  # a MIP answer within this relative gap counts as proven optimal


def plan_from_flows(
    flows: SiteFlows,
    p: SiteProblem,
    *,
    binary_slots: int = 0,
    proven: bool = True,
    gap: float | None = None,
    solve_seconds: float = 0.0,
) -> SitePlan:
    """The site's plan from its (netted) flows: costs, EV energy, violations and the status.

    One place for every solver path (Pyomo, the highspy arrays, the joint portfolio model), so
    they cannot disagree on how a status or a cost is derived.
    """
    energy = ev_energy(flows, p)
    found = violations(flows, p, energy)
    if found:
        status = PlanStatus.BEST_EFFORT
    elif not proven or (gap is not None and gap > GAP_OPTIMAL):
        status = PlanStatus.FEASIBLE
    else:
        status = PlanStatus.OPTIMAL
    imbalance = float(np.dot(p.imbalance_eur_per_kwh, flows.grid_import_kw - flows.grid_export_kw))
    return SitePlan(
        site_id=p.site_id,
        status=status,
        flows=flows,
        ev_energy_kwh=energy,
        peak_kw=float(flows.grid_import_kw.max(initial=0.0)),
        cost=site_cost(flows, p),
        imbalance_eur=imbalance * p.dt_h,
        violations=found,
        needed_binaries=binary_slots > 0,
        binary_slots=binary_slots,
        gap=gap if status is PlanStatus.FEASIBLE else None,
        solve_seconds=solve_seconds,
        appliance_start_at={
            a.appliance_id: a.start_time(flows.appliance_start[a.appliance_id]) for a in p.appliances
        },
    )


def _floats(values: FloatArray) -> list[float]:
    return [float(v) for v in values]


def site_plan_out(plan: SitePlan) -> SitePlanOut:
    """The site's part of the spec's Plan."""
    f = plan.flows
    heat_pump = None
    if f.heat_pump_kw is not None and f.indoor_temp_c is not None:
        heat_pump = HeatPumpOut(power_kw=_floats(f.heat_pump_kw), temp_c=_floats(f.indoor_temp_c))
    appliances = None
    if plan.appliance_start_at:
        appliances = {
            k: ApplianceOut(start=at, power_kw=_floats(f.appliance_kw[k]))
            for k, at in plan.appliance_start_at.items()
        }
    return SitePlanOut(
        site_id=plan.site_id,
        status=plan.status,
        grid_import_kw=_floats(f.grid_import_kw),
        grid_export_kw=_floats(f.grid_export_kw),
        pv_used_kw=_floats(f.pv_used_kw),
        battery_kw=_floats(f.battery_kw),
        battery_soc_kwh=_floats(f.battery_soc_kwh),
        ev_kw={k: _floats(v) for k, v in f.ev_kw.items()},
        ev_energy_kwh=dict(plan.ev_energy_kwh),
        peak_kw=plan.peak_kw,
        cost_eur=SiteCostOut(
            energy=plan.cost.energy_eur,
            export=plan.cost.export_eur,
            capacity=plan.cost.capacity_eur,
            total=plan.cost.total_eur,
        ),
        violations=[Violation(kind=v.kind, kwh=v.kwh, ev_id=v.ev_id) for v in plan.violations],
        gap=plan.gap,
        heat_pump=heat_pump,
        appliances=appliances,
    )
