"""The aggregator's bidding view and the decomposition on a dask cluster (a real LocalCluster)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from planner_realdata import make_scenario
from portfolio_checker import check_portfolio_plan

from aggregator.bidding import plan_with_flexibility
from flexmodel.planner import Method, plan_scenario
from flexmodel.scenario import parse_scenario
from flexmodel.solve import SolverOptions

HIGHS = SolverOptions()
EVENING = range(68, 84)


def _capped(shared_data: Path, homes: int, cap_kw: float) -> dict[str, Any]:
    scn = make_scenario(
        shared_data, start=datetime(2025, 1, 15, 0, tzinfo=UTC), fluvius_day="20/12/2023", homes=homes
    )
    scn["portfolio"] = {"net_import_cap_kw": [cap_kw if t in EVENING else None for t in range(96)]}
    return scn


def test_bidding_view_exact_for_small_and_never_above_it_when_guarded(shared_data: Path) -> None:
    scn = _capped(shared_data, homes=3, cap_kw=9.0)
    scenario = parse_scenario(scn)
    exact = plan_with_flexibility(scenario, HIGHS, hours=[18, 21])
    guarded = plan_with_flexibility(scenario, HIGHS, hours=[18, 21], exact_max_homes=0)
    assert exact.exact and not guarded.exact
    check_portfolio_plan(scn, json.loads(exact.plan.to_json()))
    for h in (18, 21):
        assert exact.flexibility.reduce_kw[h] > 0.1
        assert guarded.flexibility.reduce_kw[h] <= exact.flexibility.reduce_kw[h] + 1e-5
        assert guarded.flexibility.add_kw[h] <= exact.flexibility.add_kw[h] + 1e-5
    assert exact.flexibility.reduce_kw[0] == 0.0  # hours not asked for stay at zero


def test_decomposition_on_a_dask_local_cluster_matches_joint(shared_data: Path) -> None:
    distributed = pytest.importorskip("distributed")
    scn = _capped(shared_data, homes=4, cap_kw=14.0)
    scenario = parse_scenario(scn)
    joint = json.loads(plan_scenario(scenario, HIGHS, method=Method.JOINT).plan.to_json())
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None, scheduler_port=0
    ) as cluster:
        address = cluster.scheduler_address
        plan = plan_scenario(scenario, HIGHS, method=Method.DECOMPOSITION, cluster=address).plan
    decomposed = json.loads(plan.to_json())
    assert check_portfolio_plan(scn, joint) == {}, "this cap can be met"
    assert check_portfolio_plan(scn, decomposed) == {}
    exact, mine = joint["objective_eur"], decomposed["objective_eur"]
    assert mine >= exact - 1e-6 * max(1.0, abs(exact))
    assert (mine - exact) / abs(mine) <= (decomposed.get("gap") or 0.0) + 1e-6
