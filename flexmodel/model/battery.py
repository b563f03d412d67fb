"""Battery: charge c_t and discharge d_t split so each carries its own efficiency.

soc_{t+1} = soc_t + η_c·c_t·Δ - d_t·Δ/η_d, min_soc <= soc_t <= capacity, soc_0 given,
soc_n >= final_soc_min. The LP may charge and discharge in one slot when burning energy pays
(negative prices); binaries forbid that in the slots `exclusive_slots`.
"""

from __future__ import annotations

from collections.abc import Collection

import pyomo.environ as pyo

from flexmodel.problem import SiteProblem


def add_battery(m: pyo.ConcreteModel, p: SiteProblem, exclusive_slots: Collection[int] = ()) -> None:
    bat = p.battery
    if bat is None:
        m.battery_kw = pyo.Expression(m.T, rule=lambda m, t: 0.0, doc="b_t [kW]: no battery")
        return
    m.charge_kw = pyo.Var(m.T, bounds=(0.0, bat.max_charge_kw), doc="c_t [kW]")
    m.discharge_kw = pyo.Var(m.T, bounds=(0.0, bat.max_discharge_kw), doc="d_t [kW]")
    m.soc_kwh = pyo.Var(m.T1, bounds=(bat.min_soc_kwh, bat.capacity_kwh), doc="soc at slot boundaries [kWh]")
    m.soc_kwh[0].fix(bat.initial_soc_kwh)
    m.battery_kw = pyo.Expression(m.T, rule=lambda m, t: m.charge_kw[t] - m.discharge_kw[t], doc="b_t [kW]")
    dt = p.dt_h
    m.soc_step = pyo.Constraint(
        m.T,
        rule=lambda m, t: (
            m.soc_kwh[t + 1]
            == m.soc_kwh[t]
            + bat.charge_efficiency * dt * m.charge_kw[t]
            - dt / bat.discharge_efficiency * m.discharge_kw[t]
        ),
    )
    m.final_soc = pyo.Constraint(expr=m.soc_kwh[p.n_slots] >= bat.final_soc_min_kwh)
    if exclusive_slots:
        m.BATTERY_EXCLUSIVE = pyo.Set(
            initialize=sorted(exclusive_slots), doc="Slots with charge XOR discharge"
        )
        m.charging = pyo.Var(
            m.BATTERY_EXCLUSIVE, domain=pyo.Binary, doc="1: the slot may charge, 0: it may discharge"
        )
        m.charge_only = pyo.Constraint(
            m.BATTERY_EXCLUSIVE, rule=lambda m, t: m.charge_kw[t] <= bat.max_charge_kw * m.charging[t]
        )
        m.discharge_only = pyo.Constraint(
            m.BATTERY_EXCLUSIVE,
            rule=lambda m, t: m.discharge_kw[t] <= bat.max_discharge_kw * (1 - m.charging[t]),
        )
