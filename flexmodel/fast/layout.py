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
             level rows     Σ Δ·(io + eo); Σ_smart η·Δ·v; Σ_solar η·Δ·v   (free unless fixed)

Differences that do not change the LP: an EV's power exists in every slot and is bounded to 0
outside its window (Pyomo creates it only inside), so the structure of a home depends on its
devices, not on when its cars arrive; soc_n >= final_soc_min is a bound instead of a row. The
level rows let the lexicographic solve fix a priority level by changing a row's bounds, so the
same HiGHS object serves every home with the same structure.
"""

from __future__ import annotations

from dataclasses import dataclass

from flexmodel.problem import SiteProblem
from flexmodel.scenario import EvMode

# What fixes the LP's matrix: the slot count and length, the battery's efficiencies and each
# optimised EV's mode and efficiency. Homes with equal keys share one HiGHS object.
StructureKey = tuple[int, float, tuple[float, float] | None, tuple[tuple[str, float], ...]]


def structure_key(p: SiteProblem) -> StructureKey:
    battery = None if p.battery is None else (p.battery.charge_efficiency, p.battery.discharge_efficiency)
    evs = tuple((str(ev.mode), ev.efficiency) for ev in p.optimised_evs)
    return (p.n_slots, p.dt_h, battery, evs)


@dataclass(frozen=True, slots=True)
class Layout:
    """Column and row offsets of one structure (n = n_slots)."""

    n: int
    has_battery: bool
    ev_modes: tuple[EvMode, ...]  # the optimised EVs, in problem order

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
    def n_cols(self) -> int:
        return self.v(len(self.ev_modes))

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
    def n_rows(self) -> int:
        return self.r_level_solar + 1


def layout_of(p: SiteProblem) -> Layout:
    return Layout(
        n=p.n_slots,
        has_battery=p.battery is not None,
        ev_modes=tuple(ev.mode for ev in p.optimised_evs),
    )
