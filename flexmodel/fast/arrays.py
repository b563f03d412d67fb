"""The LP of one site as numpy arrays: the matrix (per structure) and the data (per home).

`constraint_matrix` depends only on the structure (see layout.py); `site_vectors` gives what
changes from home to home: column bounds, row bounds and the objective vectors of the priority
levels. Reusing a HiGHS object for the next home means passing only the latter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from flexmodel.fast.layout import Layout
from flexmodel.problem import FloatArray, SiteProblem
from flexmodel.scenario import EvMode

INF = np.inf


def _triplets(layout: Layout, p: SiteProblem) -> tuple[list[FloatArray], list[FloatArray], list[FloatArray]]:
    n, dt = layout.n, p.dt_h
    t = np.arange(n, dtype=np.float64)
    ones = np.ones(n)
    rows: list[FloatArray] = []
    cols: list[FloatArray] = []
    vals: list[FloatArray] = []

    def add(row0: int, col0: int, coef: FloatArray | float, count: int = n) -> None:
        rows.append(row0 + t[:count])
        cols.append(col0 + t[:count])
        vals.append(np.broadcast_to(np.asarray(coef, dtype=np.float64), (count,)).copy())

    for col, sign in ((layout.g, 1.0), (layout.e, -1.0), (layout.u, 1.0)):
        add(layout.r_balance, col, sign)
    add(layout.r_import, layout.g, 1.0)
    add(layout.r_import, layout.io, -1.0)
    add(layout.r_export, layout.e, 1.0)
    add(layout.r_export, layout.eo, -1.0)
    add(layout.r_peak, layout.g, 1.0)
    rows.append(layout.r_peak + t)
    cols.append(np.full(n, float(layout.x)))
    vals.append(-ones)
    if p.battery is not None:
        bat = p.battery
        add(layout.r_balance, layout.c, -1.0)
        add(layout.r_balance, layout.d, 1.0)
        add(layout.r_soc, layout.soc, 1.0)  # soc_{t+1}
        add(layout.r_soc + 1, layout.soc, -1.0, n - 1)  # -soc_t for t >= 1
        add(layout.r_soc, layout.c, -bat.charge_efficiency * dt)
        add(layout.r_soc, layout.d, dt / bat.discharge_efficiency)
    _ev_triplets(layout, p, rows, cols, vals)
    _heat_pump_triplets(layout, p, rows, cols, vals)
    _appliance_triplets(layout, p, rows, cols, vals)
    overrun = np.concatenate([layout.io + t, layout.eo + t])
    rows.append(np.full(2 * n, float(layout.r_level_overrun)))
    cols.append(overrun)
    vals.append(np.full(2 * n, dt))
    return rows, cols, vals


def _ev_triplets(
    layout: Layout, p: SiteProblem, rows: list[FloatArray], cols: list[FloatArray], vals: list[FloatArray]
) -> None:
    n, dt = layout.n, p.dt_h
    t = np.arange(n, dtype=np.float64)
    for k, ev in enumerate(p.optimised_evs):
        col = layout.v(k) + t
        energy = np.full(n, ev.efficiency * dt)
        level_row = layout.r_level_smart if ev.mode is EvMode.SMART else layout.r_level_solar
        rows.extend([layout.r_balance + t, np.full(n, float(layout.r_ev + k)), np.full(n, float(level_row))])
        cols.extend([col, col, col])
        vals.extend([-np.ones(n), energy, energy])
        if ev.mode is EvMode.SOLAR:
            rows.append(layout.r_solar + t)
            cols.append(col)
            vals.append(np.ones(n))


def _heat_pump_triplets(
    layout: Layout, p: SiteProblem, rows: list[FloatArray], cols: list[FloatArray], vals: list[FloatArray]
) -> None:
    hp = p.heat_pump
    if hp is None:
        return
    n, dt, c = layout.n, p.dt_h, hp.capacity_kwh_per_k
    t = np.arange(n, dtype=np.float64)
    ones = np.ones(n)

    def add(row0: int, col0: int, coef: FloatArray | float, count: int = n) -> None:
        rows.append(row0 + t[:count])
        cols.append(col0 + t[:count])
        vals.append(np.broadcast_to(np.asarray(coef, dtype=np.float64), (count,)).copy())

    add(layout.r_balance, layout.hp, -1.0)
    add(layout.r_thermal, layout.temp, 1.0)  # T_{t+1}
    add(layout.r_thermal + 1, layout.temp, -hp.loss_factor(dt), n - 1)  # -keep·T_t for t >= 1
    add(layout.r_thermal, layout.hp, -dt / c * hp.cop)
    add(layout.r_comfort_low, layout.temp, 1.0)
    add(layout.r_comfort_low, layout.below, 1.0)
    add(layout.r_comfort_high, layout.temp, 1.0)
    add(layout.r_comfort_high, layout.above, -1.0)
    rows.append(np.full(2 * n, float(layout.r_level_overrun)))
    cols.append(np.concatenate([layout.below + t, layout.above + t]))
    vals.append(np.full(2 * n, c))
    if layout.heat_pump_on:
        add(layout.r_on_max, layout.hp, 1.0)
        add(layout.r_on_max, layout.on, -hp.max_power_kw * ones)
        add(layout.r_on_min, layout.hp, 1.0)
        add(layout.r_on_min, layout.on, -hp.min_power_kw * ones)


def _appliance_triplets(
    layout: Layout, p: SiteProblem, rows: list[FloatArray], cols: list[FloatArray], vals: list[FloatArray]
) -> None:
    n = layout.n
    s = np.arange(n, dtype=np.float64)
    for j, a in enumerate(p.appliances):
        rows.append(np.full(n, float(layout.r_one_start + j)))
        cols.append(layout.z(j) + s)
        vals.append(np.ones(n))
        for k, kw in enumerate(a.slot_kw):
            if kw == 0.0 or k >= n:
                continue
            starts = s[: n - k]  # z_{j,s} draws slot_kw[k] in slot s + k
            rows.append(layout.r_balance + starts + k)
            cols.append(layout.z(j) + starts)
            vals.append(np.full(n - k, -float(kw)))


def constraint_matrix(layout: Layout, p: SiteProblem) -> sp.csc_matrix:
    """The LP's constraint matrix, column-wise (what HiGHS takes)."""
    rows, cols, vals = _triplets(layout, p)
    matrix = sp.coo_matrix(
        (
            np.concatenate(vals),
            (np.concatenate(rows).astype(np.int32), np.concatenate(cols).astype(np.int32)),
        ),
        shape=(layout.n_rows, layout.n_cols),
    )
    return matrix.tocsc()


@dataclass(frozen=True, slots=True)
class SiteVectors:
    """The per-home data of the LP; objective vectors per priority level (minimisation form)."""

    col_lower: FloatArray
    col_upper: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    cost: FloatArray  # the spec's cost plus the imbalance share [EUR]
    overrun: FloatArray  # level_overrun_kwh
    smart_energy: FloatArray  # Σ smart EV energy [kWh]; the shortfall is smart_need_kwh minus this
    solar_energy: FloatArray  # Σ solar EV energy [kWh]
    smart_need_kwh: float


def _col_bounds(layout: Layout, p: SiteProblem) -> tuple[FloatArray, FloatArray]:
    n = layout.n
    lower = np.zeros(layout.n_cols)
    upper = np.full(layout.n_cols, INF)
    pv = np.asarray(p.pv_kw, dtype=np.float64)
    upper[layout.u : layout.u + n] = pv
    if not p.pv_curtailable:
        lower[layout.u : layout.u + n] = pv
    if p.battery is not None:
        bat = p.battery
        upper[layout.c : layout.c + n] = bat.max_charge_kw
        upper[layout.d : layout.d + n] = bat.max_discharge_kw
        lower[layout.soc : layout.soc + n] = bat.min_soc_kwh
        upper[layout.soc : layout.soc + n] = bat.capacity_kwh
        lower[layout.soc + n - 1] = max(bat.min_soc_kwh, bat.final_soc_min_kwh)
    for k, ev in enumerate(p.optimised_evs):
        upper[layout.v(k) : layout.v(k) + n] = np.where(ev.charge_mask, ev.max_power_kw, 0.0)
    hp = p.heat_pump
    if hp is not None:
        upper[layout.hp : layout.hp + n] = hp.max_power_kw
        lower[layout.temp : layout.temp + n] = -INF  # T is free; the comfort rows bound it
        if layout.heat_pump_on:
            upper[layout.on : layout.on + n] = 1.0
    for j, a in enumerate(p.appliances):
        allowed = np.zeros(n)
        allowed[list(a.starts)] = 1.0
        upper[layout.z(j) : layout.z(j) + n] = allowed
    return lower, upper


def _row_bounds(layout: Layout, p: SiteProblem) -> tuple[FloatArray, FloatArray]:
    n = layout.n
    lower = np.full(layout.n_rows, -INF)
    upper = np.full(layout.n_rows, INF)
    fixed = p.base_kw + p.boost_kw
    lower[:n] = fixed
    upper[:n] = fixed
    upper[layout.r_import : layout.r_import + n] = p.import_limit_kw
    upper[layout.r_export : layout.r_export + n] = p.export_limit_kw
    upper[layout.r_peak : layout.r_peak + n] = p.peak_floor_kw
    if p.battery is not None:
        lower[layout.r_soc : layout.r_soc + n] = 0.0
        upper[layout.r_soc : layout.r_soc + n] = 0.0
        lower[layout.r_soc] = upper[layout.r_soc] = p.battery.initial_soc_kwh
    for k, ev in enumerate(p.optimised_evs):
        upper[layout.r_ev + k] = ev.energy_needed_kwh
    if layout.has_solar:
        upper[layout.r_solar : layout.r_solar + n] = p.solar_surplus_kw
    hp = p.heat_pump
    if hp is not None:
        gain = p.dt_h / (hp.capacity_kwh_per_k * hp.resistance_k_per_kw)
        rhs = gain * hp.outdoor_temp_c
        rhs[0] += hp.loss_factor(p.dt_h) * hp.initial_temp_c
        lower[layout.r_thermal : layout.r_thermal + n] = rhs
        upper[layout.r_thermal : layout.r_thermal + n] = rhs
        lower[layout.r_comfort_low : layout.r_comfort_low + n] = hp.comfort_min_c
        upper[layout.r_comfort_high : layout.r_comfort_high + n] = hp.comfort_max_c
        if layout.heat_pump_on:
            upper[layout.r_on_max : layout.r_on_max + n] = 0.0
            lower[layout.r_on_min : layout.r_on_min + n] = 0.0
    lower[layout.r_one_start : layout.r_one_start + layout.n_appliances] = 1.0
    upper[layout.r_one_start : layout.r_one_start + layout.n_appliances] = 1.0
    return lower, upper


def _level_costs(layout: Layout, p: SiteProblem) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    n, dt = layout.n, p.dt_h
    cost = np.zeros(layout.n_cols)
    # Import pays its price plus the imbalance price; export earns its price plus the imbalance
    # price: the site's exact share of the portfolio's (separable) imbalance term.
    cost[layout.g : layout.g + n] = dt * (p.import_price_eur_per_kwh + p.imbalance_eur_per_kwh)
    cost[layout.e : layout.e + n] = -dt * (p.export_price_eur_per_kwh + p.imbalance_eur_per_kwh)
    cost[layout.x] = p.capacity_eur_per_kw_month
    overrun = np.zeros(layout.n_cols)
    overrun[layout.io : layout.io + 2 * n] = dt  # io and eo are adjacent
    if p.heat_pump is not None:  # below and above are adjacent: the comfort miss C·Σ(lo + hi)
        overrun[layout.below : layout.below + 2 * n] = p.heat_pump.capacity_kwh_per_k
    smart = np.zeros(layout.n_cols)
    solar = np.zeros(layout.n_cols)
    for k, ev in enumerate(p.optimised_evs):
        target = smart if ev.mode is EvMode.SMART else solar
        target[layout.v(k) : layout.v(k) + n] = ev.efficiency * dt
    return cost, overrun, smart, solar


def site_vectors(layout: Layout, p: SiteProblem) -> SiteVectors:
    col_lower, col_upper = _col_bounds(layout, p)
    row_lower, row_upper = _row_bounds(layout, p)
    cost, overrun, smart, solar = _level_costs(layout, p)
    need = sum(ev.energy_needed_kwh for ev in p.optimised_evs if ev.mode is EvMode.SMART)
    return SiteVectors(col_lower, col_upper, row_lower, row_upper, cost, overrun, smart, solar, float(need))
