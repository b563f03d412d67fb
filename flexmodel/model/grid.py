"""Grid connection: import, export, their limits (with reported overrun slack) and the balance."""

from __future__ import annotations

from collections.abc import Collection

import pyomo.environ as pyo

from flexmodel.problem import SiteProblem


def grid_bounds_kw(p: SiteProblem) -> tuple[float, float]:
    """Upper bounds on g_t and e_t implied by the balance; the big-M of the exclusivity binaries."""
    max_charge = p.battery.max_charge_kw if p.battery else 0.0
    max_discharge = p.battery.max_discharge_kw if p.battery else 0.0
    ev_max = sum(ev.max_power_kw for ev in p.optimised_evs)
    ev_max += p.heat_pump.max_power_kw if p.heat_pump is not None else 0.0
    ev_max += sum(float(a.slot_kw.max()) for a in p.appliances)
    load = p.base_kw + p.boost_kw
    g_max = max(p.import_limit_kw, float((load + max_charge + ev_max).max()))
    e_max = max(p.export_limit_kw, float((p.pv_kw - load + max_discharge).max()))
    return g_max + 1.0, e_max + 1.0


def add_grid(m: pyo.ConcreteModel, p: SiteProblem, exclusive_slots: Collection[int] = ()) -> None:
    m.grid_import_kw = pyo.Var(m.T, domain=pyo.NonNegativeReals, doc="g_t [kW]")
    m.grid_export_kw = pyo.Var(m.T, domain=pyo.NonNegativeReals, doc="e_t [kW]")
    # Overrun slack: without it, base load above the import limit (or uncurtailable PV above the
    # export limit) would make the model infeasible. It is the first priority and is reported.
    m.import_overrun_kw = pyo.Var(m.T, domain=pyo.NonNegativeReals, doc="g_t above import_limit_kw")
    m.export_overrun_kw = pyo.Var(m.T, domain=pyo.NonNegativeReals, doc="e_t above export_limit_kw")
    m.import_limit = pyo.Constraint(
        m.T, rule=lambda m, t: m.grid_import_kw[t] - m.import_overrun_kw[t] <= p.import_limit_kw
    )
    m.export_limit = pyo.Constraint(
        m.T, rule=lambda m, t: m.grid_export_kw[t] - m.export_overrun_kw[t] <= p.export_limit_kw
    )
    if exclusive_slots:
        g_max, e_max = grid_bounds_kw(p)
        m.GRID_EXCLUSIVE = pyo.Set(initialize=sorted(exclusive_slots), doc="Slots with import XOR export")
        m.importing = pyo.Var(
            m.GRID_EXCLUSIVE, domain=pyo.Binary, doc="1: the slot may import, 0: it may export"
        )
        m.import_only = pyo.Constraint(
            m.GRID_EXCLUSIVE, rule=lambda m, t: m.grid_import_kw[t] <= g_max * m.importing[t]
        )
        m.export_only = pyo.Constraint(
            m.GRID_EXCLUSIVE, rule=lambda m, t: m.grid_export_kw[t] <= e_max * (1 - m.importing[t])
        )


def add_balance(m: pyo.ConcreteModel, p: SiteProblem) -> None:
    """g_t - e_t = base_t + b_t + Σ v_t + P_t + Σ a_t - u_t (boost EVs are part of the fixed load;
    P_t the heat pump, a_t the appliances)."""
    fixed_kw = p.base_kw + p.boost_kw

    def balance(m: pyo.ConcreteModel, t: int) -> pyo.Expression:
        return (
            m.grid_import_kw[t] - m.grid_export_kw[t]
            == float(fixed_kw[t])
            + m.battery_kw[t]
            + m.ev_total_kw[t]
            + m.heat_pump_kw[t]
            + m.appliance_total_kw[t]
            - m.pv_used_kw[t]
        )

    m.balance = pyo.Constraint(m.T, rule=balance)
