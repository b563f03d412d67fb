"""Heat pump: a one-node thermal model of the building, exact as an LP.

T[t+1] = T[t] + Δ/C·(cop_t·P_t - (T[t] - T_out[t])/R), T[0] given, 0 <= P_t <= max_power_kw;
comfort_min[t] - below_t <= T[t+1] <= comfort_max[t] + above_t with below, above >= 0 priced in the
first priority level as the heat C·(below + above) [kWh] (0 whenever the band can be held).
A minimum power when on needs a binary per slot: P_t <= P_max·on_t, P_t >= P_min·on_t.
"""

from __future__ import annotations

import pyomo.environ as pyo

from flexmodel.problem import SiteProblem


def add_heat_pump(m: pyo.ConcreteModel, p: SiteProblem) -> None:
    hp = p.heat_pump
    if hp is None:
        m.heat_pump_kw = pyo.Expression(m.T, rule=lambda m, t: 0.0, doc="P_t [kW]: no heat pump")
        m.comfort_miss_kwh = pyo.Expression(expr=0.0)
        return
    dt, c = p.dt_h, hp.capacity_kwh_per_k
    keep = hp.loss_factor(dt)
    m.heat_pump_kw = pyo.Var(m.T, bounds=(0.0, hp.max_power_kw), doc="P_t, electrical [kW]")
    m.indoor_temp_c = pyo.Var(m.T1, doc="T at slot boundaries [°C]")
    m.indoor_temp_c[0].fix(hp.initial_temp_c)
    m.comfort_below_k = pyo.Var(m.T, domain=pyo.NonNegativeReals, doc="T[t+1] below the band [K]")
    m.comfort_above_k = pyo.Var(m.T, domain=pyo.NonNegativeReals, doc="T[t+1] above the band [K]")
    m.thermal_step = pyo.Constraint(
        m.T,
        rule=lambda m, t: (
            m.indoor_temp_c[t + 1]
            == keep * m.indoor_temp_c[t]
            + dt / c * float(hp.cop[t]) * m.heat_pump_kw[t]
            + dt / (c * hp.resistance_k_per_kw) * float(hp.outdoor_temp_c[t])
        ),
    )
    m.comfort_low = pyo.Constraint(
        m.T, rule=lambda m, t: m.indoor_temp_c[t + 1] + m.comfort_below_k[t] >= float(hp.comfort_min_c[t])
    )
    m.comfort_high = pyo.Constraint(
        m.T, rule=lambda m, t: m.indoor_temp_c[t + 1] - m.comfort_above_k[t] <= float(hp.comfort_max_c[t])
    )
    m.comfort_miss_kwh = pyo.Expression(
        expr=c * sum(m.comfort_below_k[t] + m.comfort_above_k[t] for t in m.T)
    )
    if hp.needs_binaries:
        m.heat_pump_on = pyo.Var(m.T, domain=pyo.Binary, doc="1: the heat pump runs in slot t")
        m.heat_pump_max = pyo.Constraint(
            m.T, rule=lambda m, t: m.heat_pump_kw[t] <= hp.max_power_kw * m.heat_pump_on[t]
        )
        m.heat_pump_min = pyo.Constraint(
            m.T, rule=lambda m, t: m.heat_pump_kw[t] >= hp.min_power_kw * m.heat_pump_on[t]
        )
