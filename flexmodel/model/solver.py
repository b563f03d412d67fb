"""Plan one site on the Pyomo path: `solve_site(problem, options) -> SitePlan`.

The path for GLPK (and the reference the array path, flexmodel.fast, is checked against): the
model of flexmodel.model built afresh for the site and solved lexicographically by
flexmodel.solve. HiGHS plans the same model faster through flexmodel.fast; flexmodel.planner
picks the path.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from flexmodel.model import build_model
from flexmodel.problem import SiteProblem
from flexmodel.site_plan import SitePlan, net_battery, net_grid, plan_from_flows, read_flows
from flexmodel.solve import SolverOptions, solve_lexicographic

log = logging.getLogger(__name__)


def solve_site(problem: SiteProblem, options: SolverOptions) -> SitePlan:
    """Plan one site exactly: an LP, with binaries added only in the slots where the answer
    imports and exports (or charges and discharges) at once, until no slot does.

    Why this is exact: the model with binaries in a subset S of the slots is a relaxation of the
    model with binaries everywhere (the MILP). When its optimum does both things in no slot, it
    is feasible for the MILP, so it is optimal for the MILP too. S only grows, so this ends
    after at most n_slots rounds. To save rounds, the first MILP round also covers the slots
    where doing both can pay (`_risky_slots`); that changes the number of rounds, not the answer.
    """
    started = time.perf_counter()
    grid_slots: set[int] = set()
    battery_slots: set[int] = set()
    while True:
        model = build_model(problem, exclusive_grid_slots=grid_slots, exclusive_battery_slots=battery_slots)
        mip = bool(grid_slots or battery_slots) or problem.needs_integers
        result = solve_lexicographic(model, problem, options, mip=mip)
        flows = net_grid(net_battery(read_flows(model, problem), problem), problem)
        new_grid = flows.grid_both_slots() - grid_slots
        new_battery = flows.battery_both_slots() - battery_slots
        if not (new_grid or new_battery):
            break
        log.debug(
            "%s: the answer does both in %s / %s; adding binaries", problem.site_id, new_grid, new_battery
        )
        if not (grid_slots or battery_slots):
            risky_grid, risky_battery = _risky_slots(problem)
            new_grid |= risky_grid if new_grid else set()
            new_battery |= risky_battery if new_battery else set()
        grid_slots |= new_grid
        battery_slots |= new_battery
    return plan_from_flows(
        flows,
        problem,
        binary_slots=len(grid_slots) + len(battery_slots) + problem.own_binaries,
        proven=result.proven,
        gap=result.gap,
        solve_seconds=time.perf_counter() - started,
    )


def _risky_slots(p: SiteProblem) -> tuple[set[int], set[int]]:
    """Slots where simultaneous import and export (export earns more than import costs) or
    simultaneous charge and discharge (burning energy: import or export price below zero) pays."""
    buy = p.import_price_eur_per_kwh + p.imbalance_eur_per_kwh
    sell = p.export_price_eur_per_kwh + p.imbalance_eur_per_kwh
    grid = {int(t) for t in np.flatnonzero(sell > buy)}
    battery = {int(t) for t in np.flatnonzero((buy < 0) | (sell < 0))} if p.battery is not None else set()
    return grid, battery
