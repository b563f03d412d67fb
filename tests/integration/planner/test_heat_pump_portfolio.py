"""Heat pumps and appliances under portfolio caps: the joint model and the decomposition plan
them (issue 15), the cap holds, and the decomposition's plan is within its proven gap of the
joint optimum."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hp_cases import appliance, heat_pump, scenario
from hp_check import check_site

from flexmodel.planner import Formulation, Method, plan_scenario
from flexmodel.scenario import parse_scenario
from flexmodel.solve import SolverOptions

HOMES = 4
EVENING = range(17 * 4, 20 * 4)
CAP_KW = 2.5


def _portfolio(cap_kw: float) -> dict[str, Any]:
    doc = scenario(capacity=3.0)
    template = doc["sites"][0]
    sites = []
    for h in range(HOMES):
        site = copy.deepcopy(template)
        site["site_id"] = f"home-{h}"
        site["heat_pump"] = heat_pump(96, thermal_capacity_kwh_per_k=3.0 + h, max_power_kw=2.5 + 0.5 * h)
        if h % 2 == 0:
            site["appliances"] = [appliance(f"washer-{h}", earliest_h=15.0, deadline_h=23.5)]
        sites.append(site)
    doc["sites"] = sites
    doc["portfolio"] = {"net_import_cap_kw": [cap_kw if t in EVENING else None for t in range(96)]}
    return doc


def _plan(doc: dict[str, Any], method: Method, solver: str = "highs") -> tuple[dict[str, Any], Formulation]:
    planned = plan_scenario(parse_scenario(doc), SolverOptions(solver=solver), method=method)
    return json.loads(planned.plan.to_json()), planned.formulation


def test_uncapped_evening_exceeds_the_cap_we_then_set() -> None:
    plan, _ = _plan(_portfolio(1e6), Method.JOINT)
    assert max(plan["portfolio"]["net_import_kw"][t] for t in EVENING) > CAP_KW + 0.3


@pytest.mark.parametrize("solver", ["highs", "glpk"])
def test_joint_and_decomposition_hold_the_cap_with_heat_pumps_and_appliances(solver: str) -> None:
    doc = _portfolio(CAP_KW)
    joint, formulation = _plan(doc, Method.JOINT, solver)
    assert formulation is Formulation.JOINT and joint["status"] == "optimal"
    plans = {"joint": joint}
    if solver == "highs":  # the decomposition prices homes on the array path: HiGHS only
        plans["decomposition"], formulation = _plan(doc, Method.DECOMPOSITION)
        assert formulation is Formulation.DECOMPOSITION
    for name, plan in plans.items():
        assert plan["portfolio"]["violations"] == [], name
        assert max(plan["portfolio"]["net_import_kw"][t] for t in EVENING) <= CAP_KW + 1e-6, name
        for site, out in zip(doc["sites"], plan["sites"], strict=True):
            check_site(doc, site, out)
    if "decomposition" in plans:
        gap = plans["decomposition"].get("gap") or 0.0
        best = joint["objective_eur"]
        assert best - 1e-6 <= plans["decomposition"]["objective_eur"] <= best + gap * abs(best) + 1e-6


def test_the_bench_portfolio_mixes_in_heat_pumps_and_appliances_without_changing_the_rest() -> None:
    from datetime import date

    from flexmodel.problem import prepare_sites
    from flexvpp.bench.data import local_midnight
    from flexvpp.bench.homes import make_portfolio, synthetic_day

    day = synthetic_day(local_midnight(date(2024, 12, 12)), seed=3)
    plain = make_portfolio(day, 24, seed=5)
    mixed = make_portfolio(day, 24, seed=5, heat_pump_share=0.5, appliance_share=0.5)
    stripped = [{k: v for k, v in s.items() if k not in ("heat_pump", "appliances")} for s in mixed["sites"]]
    assert stripped == plain["sites"]
    assert any("heat_pump" in s for s in mixed["sites"]) and any("appliances" in s for s in mixed["sites"])
    problems = prepare_sites(parse_scenario(mixed))
    plan = json.loads(plan_scenario(parse_scenario(mixed)).plan.to_json())
    assert [p.site_id for p in problems] == [s["site_id"] for s in plan["sites"]]
    for site, out in zip(mixed["sites"], plan["sites"], strict=True):
        check_site(mixed, site, out)
