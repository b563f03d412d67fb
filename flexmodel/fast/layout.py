"""Where each variable and constraint of one site's LP sits in the column and row arrays.

The LP is exactly the Pyomo model's (flexmodel.model), variable for variable:

    columns  g_t  e_t  io_t  eo_t  u_t  x  [c_t  d_t  soc_{t+1}]  [v_{k,t} per smart/solar EV]
    rows     balance_t      g - e + u - c + d - Σ_k v_k        =  base_t + boost_t
             import_limit_t g - io                             <= import_limit_kw
             export_limit_t e - eo                             <= export_limit_kw
             peak_t         g - x                              <= peak_floor_kw
             [soc_t         soc_{t+1} - soc_t - η_c·Δ·c + Δ/η_d·d = 0 (soc_0 moved to the rhs)]
             ev_k           Σ_t η_k·Δ·v_{k,t}                  <= energy_needed_kwh
             [solar_t       Σ_{solar k} v_{k,t}                <= max(0, pv_t - base_t)]
             level rows     Σ Δ·(io + eo) + C·Σ(lo + hi); Σ_smart η·Δ·v; Σ_solar η·Δ·v   (free unless fixed)

Extensions (docs/plan-format-extensions.md), after those columns and rows:

    columns  [P_t  T_{t+1}  lo_t  hi_t  [on_t]]  [z_{j,s} per appliance, a column for every slot]
    rows     [thermal_t   T_{t+1} - keep·T_t - Δ/C·cop_t·P_t   = Δ/(RC)·T_out_t (keep·T_0 moved to the rhs)
              comfort_lo_t T_{t+1} + lo_t                      >= comfort_min_t
              comfort_hi_t T_{t+1} - hi_t                      <= comfort_max_t
              [on_max_t  P_t - P_max·on_t <= 0;  on_min_t  P_t - P_min·on_t >= 0]]
             one_start_j  Σ_s z_{j,s}                          = 1
    and in balance_t: - P_t - Σ_j Σ_s slot_kw_j[t - s]·z_{j,s}

z_{j,s} is bounded to 0 outside the appliance's allowed starts, so the matrix depends on the
profile, not on the window. on_t and z_{j,s} are continuous in the LP; the MILP makes them integer.

Differences that do not change the LP: an EV's power exists in every slot and is bounded to 0
outside its window (Pyomo creates it only inside), so the structure of a home depends on its
devices, not on when its cars arrive; soc_n >= final_soc_min is a bound instead of a row. The
level rows let the lexicographic solve fix a priority level by changing a row's bounds, so the
same HiGHS object serves every home with the same structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flexmodel.problem import SiteProblem
from flexmodel.scenario import EvMode

# What fixes the LP's matrix: the slot count and length, the battery's efficiencies and each
# optimised EV's mode and efficiency. Homes with equal keys share one HiGHS object.
# The heat pump's matrix coefficients and the appliances' profiles are part of it too.
StructureKey = tuple[
    int,
    float,
    tuple[float, float] | None,
    tuple[tuple[str, float], ...],
    tuple[float, ...] | None,
    tuple[tuple[float, ...], ...],
]


def structure_key(p: SiteProblem) -> StructureKey:
    battery = None if p.battery is None else (p.battery.charge_efficiency, p.battery.discharge_efficiency)
    evs = tuple((str(ev.mode), ev.efficiency) for ev in p.optimised_evs)
    hp = p.heat_pump
    heat_pump = None
    if hp is not None:
        on = (hp.max_power_kw, hp.min_power_kw) if hp.needs_binaries else ()
        heat_pump = (hp.capacity_kwh_per_k, hp.resistance_k_per_kw, *on, *(float(c) for c in hp.cop))
    appliances = tuple(tuple(float(k) for k in a.slot_kw) for a in p.appliances)
    return (p.n_slots, p.dt_h, battery, evs, heat_pump, appliances)


@dataclass(frozen=True, slots=True)
class Layout:
    """Column and row offsets of one structure (n = n_slots)."""

    n: int
    has_battery: bool
    ev_modes: tuple[EvMode, ...]  # the optimised EVs, in problem order
    has_heat_pump: bool = False
    heat_pump_on: bool = False  # the heat pump has a minimum power: on_t columns and rows
    n_appliances: int = 0

    # ---- columns
    @property
    def g(self) -> int:
        return 0

    @property
    def e(self) -> int:
        return self.n

    @property
    def io(self) -> int:
        return 2 * self.n

    @property
    def eo(self) -> int:
        return 3 * self.n

    @property
    def u(self) -> int:
        return 4 * self.n

    @property
    def x(self) -> int:
        return 5 * self.n

    @property
    def c(self) -> int:
        return 5 * self.n + 1

    @property
    def d(self) -> int:
        return 6 * self.n + 1

    @property
    def soc(self) -> int:
        """Column of soc_1; soc_t is at soc + t - 1."""
        return 7 * self.n + 1

    def v(self, k: int) -> int:
        return (8 if self.has_battery else 5) * self.n + 1 + k * self.n

    @property
    def hp(self) -> int:
        """Column of P_0 (the heat pump's power); T_{t+1}, lo, hi, on follow in blocks of n."""
        return self.v(len(self.ev_modes))

    @property
    def temp(self) -> int:
        return self.hp + self.n

    @property
    def below(self) -> int:
        return self.hp + 2 * self.n

    @property
    def above(self) -> int:
        return self.hp + 3 * self.n

    @property
    def on(self) -> int:
        return self.hp + 4 * self.n

    def z(self, j: int) -> int:
        blocks = (5 if self.heat_pump_on else 4) if self.has_heat_pump else 0
        return self.hp + blocks * self.n + j * self.n

    @property
    def n_cols(self) -> int:
        return self.z(self.n_appliances)

    def column_slots(self, n_cols: int) -> npt.NDArray[np.int64]:
        """Each of `n_cols` columns' slot: -1 for a day-wide column (the peak x) and any column
        past this layout's (a MILP's binaries). soc + t is the charge after slot t; an
        appliance's z_{j,s} counts in its start slot s."""
        n = self.n
        blocks = [self.g, self.e, self.io, self.eo, self.u]
        if self.has_battery:
            blocks += [self.c, self.d, self.soc]
        blocks += [self.v(k) for k in range(len(self.ev_modes))]
        if self.has_heat_pump:
            blocks += [self.hp, self.temp, self.below, self.above]
            blocks += [self.on] if self.heat_pump_on else []
        blocks += [self.z(j) for j in range(self.n_appliances)]
        slots = np.full(n_cols, -1, dtype=np.int64)
        for start in blocks:
            slots[start : start + n] = np.arange(n)
        return slots

    @property
    def integer_cols(self) -> range:
        """The columns the MILP makes integer: on_t, then every z_{j,s} (they are adjacent)."""
        first = self.on if self.heat_pump_on else self.z(0)
        return range(first, self.n_cols)

    # ---- rows
    @property
    def r_balance(self) -> int:
        return 0

    @property
    def r_import(self) -> int:
        return self.n

    @property
    def r_export(self) -> int:
        return 2 * self.n

    @property
    def r_peak(self) -> int:
        return 3 * self.n

    @property
    def r_soc(self) -> int:
        return 4 * self.n

    @property
    def r_ev(self) -> int:
        return (5 if self.has_battery else 4) * self.n

    @property
    def has_solar(self) -> bool:
        return EvMode.SOLAR in self.ev_modes

    @property
    def has_smart(self) -> bool:
        return EvMode.SMART in self.ev_modes

    @property
    def r_solar(self) -> int:
        return self.r_ev + len(self.ev_modes)

    @property
    def r_level_overrun(self) -> int:
        return self.r_solar + (self.n if self.has_solar else 0)

    @property
    def r_level_smart(self) -> int:
        return self.r_level_overrun + 1

    @property
    def r_level_solar(self) -> int:
        return self.r_level_smart + 1

    @property
    def r_thermal(self) -> int:
        return self.r_level_solar + 1

    @property
    def r_comfort_low(self) -> int:
        return self.r_thermal + self.n

    @property
    def r_comfort_high(self) -> int:
        return self.r_thermal + 2 * self.n

    @property
    def r_on_max(self) -> int:
        return self.r_thermal + 3 * self.n

    @property
    def r_on_min(self) -> int:
        return self.r_thermal + 4 * self.n

    @property
    def r_one_start(self) -> int:
        blocks = (5 if self.heat_pump_on else 3) if self.has_heat_pump else 0
        return self.r_thermal + blocks * self.n

    @property
    def n_rows(self) -> int:
        return self.r_one_start + self.n_appliances


def layout_of(p: SiteProblem) -> Layout:
    return Layout(
        n=p.n_slots,
        has_battery=p.battery is not None,
        ev_modes=tuple(ev.mode for ev in p.optimised_evs),
        has_heat_pump=p.heat_pump is not None,
        heat_pump_on=p.heat_pump is not None and p.heat_pump.needs_binaries,
        n_appliances=len(p.appliances),
    )
