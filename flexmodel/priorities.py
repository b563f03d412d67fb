"""The spec's priority levels of a site plan, shared by the Pyomo path and the array path.

Highest first: grid-limit overrun (physical limits), smart-EV shortfall, solar-EV energy
(maximised); cost comes last. Each level has an ideal value that no plan can beat, so a plan
attaining it is provably optimal at that level, and a weight per kWh large enough that one
weighted solve usually settles every level (flexmodel.solve explains the procedure).
"""

from __future__ import annotations

from dataclasses import dataclass

from flexmodel.problem import SiteProblem
from flexmodel.scenario import EvMode

# Slack when fixing a solved level before optimising the next (relative, at least 1 kWh/EUR
# scale). Not tighter: the answer that found the level's optimum meets its constraints only to
# the solver's feasibility tolerance (~1e-7), and a bound that close made glpsol's simplex cycle
# ("numerical instability") on a best-effort site. 1e-6 kWh is far below any metered quantity.
LEVEL_TOL = 1e-6
# A level within this of its ideal counts as attaining it (solver noise is well below).
ATTAINED_TOL = 1e-7


@dataclass(frozen=True, slots=True)
class Level:
    name: str  # the model's Expression
    maximise: bool
    ideal: float  # a bound no plan can beat: attaining it proves the level optimal


def solar_energy_bound_kwh(p: SiteProblem) -> float:
    """Σ over solar EVs of min(needed, η·Δ·Σ_window min(max_power, surplus_t)): an upper bound."""
    surplus = p.solar_surplus_kw
    total = 0.0
    for ev in p.optimised_evs:
        if ev.mode is EvMode.SOLAR:
            window = surplus[ev.first_slot : ev.stop_slot]
            reach = ev.efficiency * p.dt_h * float(sum(min(ev.max_power_kw, s) for s in window))
            total += min(ev.energy_needed_kwh, reach)
    return total


def priority_levels(p: SiteProblem) -> list[Level]:
    levels = [Level("level_overrun_kwh", False, 0.0)]
    modes = {ev.mode for ev in p.optimised_evs}
    if EvMode.SMART in modes:
        levels.append(Level("level_smart_shortfall_kwh", False, 0.0))
    if EvMode.SOLAR in modes:
        levels.append(Level("level_solar_energy_kwh", True, solar_energy_bound_kwh(p)))
    return levels


def level_weights(p: SiteProblem) -> dict[str, float]:
    """Weights per level [EUR/kWh], each well above what a kWh can change at the levels below."""
    price = float(abs(p.import_price_eur_per_kwh).max() + abs(p.export_price_eur_per_kwh).max())
    price += 2 * float(abs(p.imbalance_eur_per_kwh).max())
    min_eff = min([ev.efficiency for ev in p.evs] + [1.0])
    per_kwh = (price + p.capacity_eur_per_kw_month / p.dt_h) / min_eff + 1.0
    return {
        "level_overrun_kwh": 1000.0 * per_kwh,
        "level_smart_shortfall_kwh": 100.0 * per_kwh,
        "level_solar_energy_kwh": 10.0 * per_kwh,
    }
