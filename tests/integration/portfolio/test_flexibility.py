"""Portfolio flexibility per hour: the exact figure is deliverable and is the most that is (a
cap just below it is violated), and the large-portfolio method never promises more."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from planner_realdata import make_scenario
from portfolio_checker import check_portfolio_plan

from flexmodel.planner import Method, plan_scenario
from flexmodel.portfolio.flexibility import exact_flexibility, safe_flexibility
from flexmodel.portfolio.joint import solve_joint
from flexmodel.problem import prepare_portfolio, prepare_sites
from flexmodel.scenario import parse_scenario
from flexmodel.solve import SolverOptions

HIGHS = SolverOptions()
EVENING = range(68, 84)
HOURS = [2, 18]  # a night hour and a capped evening hour


def _scenario(shared_data: Path) -> dict[str, Any]:
    scn = make_scenario(
        shared_data,
        start=datetime(2025, 1, 15, 0, tzinfo=UTC),
        fluvius_day="20/12/2023",
        homes=3,
        ev_modes=("smart",),
    )
    scn["portfolio"] = {"net_import_cap_kw": [9.0 if t in EVENING else None for t in range(96)]}
    return scn


def _limited(scn: dict[str, Any], hour: int, sign: float, planned: np.ndarray, r: float) -> dict[str, Any]:
    """The scenario with the hour's net import forced r beyond the plan (cap or floor)."""
    scn = json.loads(json.dumps(scn))
    port = scn["portfolio"]
    key = "net_import_cap_kw" if sign < 0 else "net_import_floor_kw"
    values = port.get(key) or [None] * 96
    for t in range(hour * 4, hour * 4 + 4):
        values[t] = float(planned[t] + sign * r)
    port[key] = values
    return scn


def test_exact_flexibility_is_deliverable_and_the_most(shared_data: Path) -> None:
    scn = _scenario(shared_data)
    scenario = parse_scenario(scn)
    problems, portfolio = prepare_sites(scenario), prepare_portfolio(scenario)
    joint = solve_joint(problems, portfolio, HIGHS)
    planned = sum(p.flows.grid_import_kw - p.flows.grid_export_kw for p in joint.plans)
    assert planned[EVENING.start : EVENING.stop].max() <= 9.0 + 1e-6
    flex = exact_flexibility(problems, portfolio, joint.plans, HIGHS, hours=HOURS)
    for hour in HOURS:
        for sign, value in ((-1.0, flex.reduce_kw[hour]), (1.0, flex.add_kw[hour])):
            assert value > 0.1, f"hour {hour}: no flexibility {sign}"
            # Delivering it: a cap (or floor) at planned -/+ r for the hour is met by the joint plan.
            ok = _limited(scn, hour, sign, planned, value - 1e-4)
            plan = json.loads(plan_scenario(parse_scenario(ok), HIGHS, method=Method.JOINT).plan.to_json())
            assert check_portfolio_plan(ok, plan) == {}, (
                f"hour {hour} sign {sign}: {value} kW not deliverable"
            )
            slots = range(hour * 4, hour * 4 + 4)
            if sign > 0 and hour * 4 in EVENING:
                # Adding is bounded by the cap itself here: some quarter-hour reaches it.
                assert max(planned[t] + value for t in slots) == pytest.approx(9.0, abs=1e-4)
                continue
            # And no more: 0.2 kW beyond it cannot be met without a violation.
            too_much = _limited(scn, hour, sign, planned, value + 0.2)
            too_much_plan = plan_scenario(parse_scenario(too_much), HIGHS, method=Method.JOINT).plan
            plan = json.loads(too_much_plan.to_json())
            assert check_portfolio_plan(too_much, plan), f"hour {hour} sign {sign}: more than {value} kW met"
    safe = safe_flexibility(problems, portfolio, joint.plans, HIGHS, hours=HOURS)
    for hour in HOURS:
        assert safe.reduce_kw[hour] <= flex.reduce_kw[hour] + 1e-5
        assert safe.add_kw[hour] <= flex.add_kw[hour] + 1e-5
    # Without coupling in the night hour, the homes' own figures add up to the exact one.
    assert safe.reduce_kw[2] == pytest.approx(flex.reduce_kw[2], abs=1e-4)
