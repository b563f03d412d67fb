"""On the benchmark's negative-price day every home that needs binaries is planned at the optimum
of the plain MILP: binaries for import/export and charge/discharge in every one of its 96 slots.

The array path (flexmodel.fast) solves the LP first and a MILP with binaries only where an answer
does both things (plus the slots whose import price is negative), round by round. That shortcut
is exact only if every model on the way is a relaxation of the plain MILP and the last answer is
exclusive everywhere; this test checks the outcome on the real data of `flexvpp bench plan`'s
default day (2025-05-11, day-ahead down to -462 EUR/MWh), home by home.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from flexmodel.fast import FastPlanner
from flexmodel.fast.arrays import site_vectors
from flexmodel.fast.layout import layout_of
from flexmodel.fast.levels import solve_levels
from flexmodel.fast.milp import build_milp
from flexmodel.fast.result import flows_from_solution, site_plan
from flexmodel.fast.solver import new_highs
from flexmodel.problem import SiteProblem, prepare_sites
from flexmodel.scenario import parse_scenario
from flexmodel.site_plan import SitePlan, net_grid
from flexmodel.solve import SolverOptions
from flexvpp.bench.data import load_day
from flexvpp.bench.homes import make_portfolio

HOMES = 150  # ~37 need binaries, home-00142 a second MILP round; the plain MILP costs 60-300 ms a home
OPTIONS = SolverOptions()


def plain_milp(p: SiteProblem) -> SitePlan:
    """The site with both exclusivity binaries in every slot, solved level by level as the planner does."""
    layout = layout_of(p)
    v = site_vectors(layout, p)
    every = np.ones(layout.n, dtype=bool)
    model = build_milp(new_highs(OPTIONS, mip=True), layout, p, v, every, every.copy())
    result = solve_levels(model, p, v)
    flows = net_grid(flows_from_solution(result.col_value, layout, p), p)
    return site_plan(p, flows, result.gap, 2 * layout.n, 0.0)


def test_every_binary_home_is_at_the_plain_milps_optimum(shared_data: Path) -> None:
    day = load_day(shared_data, date(2025, 5, 11))
    problems = prepare_sites(parse_scenario(make_portfolio(day, HOMES, seed=1)))
    planner = FastPlanner(OPTIONS)
    checked = 0
    for p in problems:
        planned = planner.solve(p)
        if not planned.needed_binaries:
            continue
        plain = plain_milp(p)
        # HiGHS stops a MILP within mip_abs_gap (1e-6) of its bound: both answers are optimal to that.
        assert planned.objective_eur == pytest.approx(plain.objective_eur, rel=1e-6, abs=1e-6), p.site_id
        checked += 1
    assert checked >= 20, f"only {checked} homes needed binaries: the day no longer exercises them"
