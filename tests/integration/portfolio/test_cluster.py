"""The decomposition on a dask cluster (a real LocalCluster). (The bidding offer: test_offer.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from planner_realdata import make_scenario
from portfolio_checker import check_portfolio_plan

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
