"""flexmodel.planner.plan_scenario, the one planning entry point, picks the formulation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flexmodel.model.solver import solve_site
from flexmodel.planner import JOINT_MAX_HOMES, Formulation, Method, choose, plan_scenario
from flexmodel.problem import prepare_sites
from flexmodel.scenario import PlanStatus, parse_scenario
from flexmodel.solve import SolverOptions

Doc = dict[str, Any]


@pytest.mark.parametrize(
    ("method", "solver", "homes", "coupled", "expected"),
    [
        (Method.AUTO, "highs", 10_000, False, Formulation.HOMES_ARRAYS),
        (Method.JOINT, "highs", 3, False, Formulation.HOMES_ARRAYS),  # nothing couples the homes
        (Method.AUTO, "glpk", 3, False, Formulation.HOMES_PYOMO),
        (Method.AUTO, "highs", JOINT_MAX_HOMES, True, Formulation.JOINT),
        (Method.AUTO, "highs", JOINT_MAX_HOMES + 1, True, Formulation.DECOMPOSITION),
        (Method.AUTO, "glpk", 10_000, True, Formulation.JOINT),  # the decomposition prices on HiGHS
        (Method.DECOMPOSITION, "highs", 3, True, Formulation.DECOMPOSITION),
        (Method.COORDINATION, "glpk", 3, True, Formulation.COORDINATION),
    ],
)
def test_choose(method: Method, solver: str, homes: int, coupled: bool, expected: Formulation) -> None:
    assert choose(method, solver, homes, coupled) is expected


def _homes(scenario: Callable[..., Doc]) -> Doc:
    doc = scenario(
        base_load_kw=[0.5, 1.0, 0.5, 1.0],
        battery={"capacity_kwh": 5.0, "soc_kwh": 2.0, "max_charge_kw": 2.0, "max_discharge_kw": 2.0},
    )
    doc["tariff"]["import_eur_per_kwh"] = [0.3, 0.1, -0.05, 0.3]
    second = dict(doc["sites"][0], site_id="home-002", base_load_kw=[1.0] * 4)
    doc["sites"].append(second)
    return doc


@pytest.mark.parametrize("solver", ["highs", "glpk"])
def test_independent_homes_plan_as_the_pyomo_model_does(scenario: Callable[..., Doc], solver: str) -> None:
    scn = parse_scenario(_homes(scenario))
    planned = plan_scenario(scn, SolverOptions(solver=solver))
    assert planned.formulation is (Formulation.HOMES_ARRAYS if solver == "highs" else Formulation.HOMES_PYOMO)
    reference = [solve_site(p, SolverOptions(solver=solver)) for p in prepare_sites(scn)]
    assert planned.plan.status is PlanStatus.OPTIMAL
    assert planned.plan.objective_eur == pytest.approx(sum(p.objective_eur for p in reference), rel=1e-6)
    for got, want in zip(planned.plan.sites, reference, strict=True):
        assert got.cost_eur.total == pytest.approx(want.cost.total_eur, rel=1e-6, abs=1e-9)


def test_coupled_homes_go_to_the_portfolio_formulations(scenario: Callable[..., Doc]) -> None:
    doc = _homes(scenario)
    doc["portfolio"] = {"net_import_cap_kw": [None, 1.5, None, None]}
    for method in (Method.AUTO, Method.COORDINATION):
        planned = plan_scenario(parse_scenario(doc), SolverOptions(), method=method)
        expected = Formulation.JOINT if method is Method.AUTO else Formulation.COORDINATION
        assert planned.formulation is expected and planned.plan.portfolio is not None
        assert len(planned.site_plans) == 2 and planned.facts()["method"] == expected.value
        over_kwh = max(0.0, planned.plan.portfolio.net_import_kw[1] - 1.5) * 0.25
        reported = sum(v.kwh for v in planned.plan.portfolio.violations)
        assert reported == pytest.approx(over_kwh, abs=1e-6)
        if method is Method.AUTO:
            assert over_kwh <= 1e-6, "the batteries can hold the cap: the joint model does"
