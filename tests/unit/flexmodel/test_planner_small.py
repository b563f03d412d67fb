"""The planner on tiny problems whose answers are known by hand, with HiGHS and with GLPK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flexmodel.errors import SolverUnavailable
from flexmodel.model.solver import solve_site
from flexmodel.planner import plan_scenario
from flexmodel.problem import prepare_sites
from flexmodel.scenario import Plan, PlanStatus, parse_scenario
from flexmodel.solve import SolverOptions

Doc = dict[str, Any]
DT = 0.25
SOLVERS = ["highs", "glpk"]
WINDOW = ("2025-03-10T00:00:00+01:00", "2025-03-10T01:00:00+01:00")


def _ev(**extra: Any) -> Doc:
    return {
        "ev_id": "ev-1",
        "arrival": WINDOW[0],
        "departure": WINDOW[1],
        "energy_needed_kwh": 1.0,
        "max_power_kw": 4.0,
        **extra,
    }


def _plan(doc: Doc, solver: str) -> Plan:
    return plan_scenario(parse_scenario(doc), SolverOptions(solver=solver)).plan


@pytest.mark.parametrize("solver", SOLVERS)
def test_smart_ev_charges_in_the_cheapest_slot(scenario: Callable[..., Doc], solver: str) -> None:
    doc = scenario(base_load_kw=[0.0] * 4, min_billed_peak_kw=5.0, evs=[_ev()])
    doc["tariff"]["import_eur_per_kwh"] = [0.3, 0.1, 0.2, 0.3]
    plan = _plan(doc, solver)
    site = plan.sites[0]
    assert plan.status is PlanStatus.OPTIMAL
    assert site.ev_kw["ev-1"] == pytest.approx([0.0, 4.0, 0.0, 0.0])
    assert site.cost_eur.energy == pytest.approx(0.1 * 4.0 * DT)
    assert plan.objective_eur == pytest.approx(0.1)


@pytest.mark.parametrize("solver", SOLVERS)
def test_capacity_tariff_spreads_charging_below_the_floor(scenario: Callable[..., Doc], solver: str) -> None:
    # 2 kWh into the car: at 4 kW in two slots costs 3.37 * (4 - 2.5) in capacity; spread over
    # four slots at 2 kW it stays under the 2.5 kW floor, worth more than the price difference.
    doc = scenario(base_load_kw=[0.0] * 4, evs=[_ev(energy_needed_kwh=2.0)])
    doc["tariff"]["import_eur_per_kwh"] = [0.3, 0.1, 0.1, 0.3]
    site = _plan(doc, solver).sites[0]
    assert site.peak_kw <= 2.5 + 1e-9 and site.cost_eur.capacity == pytest.approx(0.0, abs=1e-9)
    assert site.ev_energy_kwh["ev-1"] == pytest.approx(2.0)
    # 2.5 kW in the cheap slots (1.25 kWh), the remaining 0.75 kWh in the dear ones.
    assert site.cost_eur.energy == pytest.approx(0.1 * 1.25 + 0.3 * 0.75)


@pytest.mark.parametrize("solver", SOLVERS)
def test_base_load_above_the_floor_pays_capacity(scenario: Callable[..., Doc], solver: str) -> None:
    site = _plan(scenario(base_load_kw=[1.0, 3.0, 1.0, 1.0], month_peak_kw=2.0), solver).sites[0]
    assert site.peak_kw == pytest.approx(3.0)
    assert site.cost_eur.capacity == pytest.approx(3.37 * 0.5)
    assert site.cost_eur.total == pytest.approx(0.25 * 6.0 * DT + 3.37 * 0.5)


@pytest.mark.parametrize("solver", SOLVERS)
def test_export_price_above_import_price_needs_binaries(scenario: Callable[..., Doc], solver: str) -> None:
    doc = scenario(base_load_kw=[1.0] * 4, import_limit_kw=5.0, export_limit_kw=5.0)
    doc["tariff"]["export_eur_per_kwh"] = [0.5] * 4  # the LP would import 5 kW and export 4 kW
    [problem] = prepare_sites(parse_scenario(doc))
    result = solve_site(problem, SolverOptions(solver=solver))
    assert result.needed_binaries and result.binary_slots == 4
    assert result.flows.grid_import_kw == pytest.approx([1.0] * 4)
    assert result.flows.grid_export_kw == pytest.approx([0.0] * 4)
    assert result.status is PlanStatus.OPTIMAL


@pytest.mark.parametrize("solver", SOLVERS)
def test_negative_price_battery_does_not_charge_and_discharge_at_once(
    scenario: Callable[..., Doc], solver: str
) -> None:
    battery = {
        "capacity_kwh": 1.0,
        "soc_kwh": 0.5,
        "max_charge_kw": 4.0,
        "max_discharge_kw": 4.0,
        "charge_efficiency": 0.9,
        "discharge_efficiency": 0.9,
        "final_soc_min_kwh": 0.0,
    }
    # No export: discharged energy could only be burnt, so the exact answer just fills the battery.
    doc = scenario(base_load_kw=[0.0] * 4, battery=battery, min_billed_peak_kw=10.0, export_limit_kw=0.0)
    doc["tariff"]["import_eur_per_kwh"] = [-0.5] * 4
    [problem] = prepare_sites(parse_scenario(doc))
    result = solve_site(problem, SolverOptions(solver=solver))
    assert result.needed_binaries
    both = [min(c, d) for c, d in zip(result.flows.charge_kw, result.flows.discharge_kw, strict=True)]
    assert max(both) <= 1e-9
    # Best without burning: fill the 0.5 kWh of room (0.5/0.9 kWh from the grid) at -0.5 EUR/kWh,
    # ending full (final SoC may be anything >= 0).
    assert result.cost.total_eur == pytest.approx(-0.5 * 0.5 / 0.9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_base_load_above_the_import_limit_is_an_overrun(scenario: Callable[..., Doc], solver: str) -> None:
    plan = _plan(scenario(base_load_kw=[1.0, 7.0, 1.0, 1.0], import_limit_kw=5.0), solver)
    site = plan.sites[0]
    assert plan.status is site.status is PlanStatus.BEST_EFFORT
    [violation] = site.violations
    assert violation.kind == "import_limit" and violation.kwh == pytest.approx(2.0 * DT)


@pytest.mark.parametrize("solver", SOLVERS)
def test_uncurtailable_pv_above_the_export_limit(scenario: Callable[..., Doc], solver: str) -> None:
    doc = scenario(base_load_kw=[0.0] * 4, export_limit_kw=3.0, pv={"forecast_kw": [0.0, 5.0, 2.0, 0.0]})
    site = _plan(doc, solver).sites[0]
    [violation] = site.violations
    assert violation.kind == "export_limit" and violation.kwh == pytest.approx(2.0 * DT)
    curtailable = _plan(
        scenario(
            base_load_kw=[0.0] * 4,
            export_limit_kw=3.0,
            pv={"forecast_kw": [0.0, 5.0, 2.0, 0.0], "curtailable": True},
        ),
        solver,
    )
    assert curtailable.status is PlanStatus.OPTIMAL
    assert curtailable.sites[0].pv_used_kw == pytest.approx([0.0, 3.0, 2.0, 0.0])


@pytest.mark.parametrize("solver", SOLVERS)
def test_shortfall_before_overrun(scenario: Callable[..., Doc], solver: str) -> None:
    # Limit 5 kW, base 4 kW: the car gets 1 kW per slot, not more: the limit is a physical one.
    doc = scenario(base_load_kw=[4.0] * 4, import_limit_kw=5.0, evs=[_ev(energy_needed_kwh=3.0)])
    site = _plan(doc, solver).sites[0]
    assert site.grid_import_kw == pytest.approx([5.0] * 4)
    [violation] = site.violations
    assert (violation.kind, violation.ev_id) == ("ev_shortfall", "ev-1")
    assert violation.kwh == pytest.approx(3.0 - 4 * 1.0 * DT)


@pytest.mark.parametrize("solver", SOLVERS)
def test_solar_ev_energy_comes_before_cost(scenario: Callable[..., Doc], solver: str) -> None:
    # Exporting the surplus would earn 0.5 EUR/kWh, but solar EV energy ranks above cost.
    doc = scenario(
        base_load_kw=[0.0] * 4,
        pv={"forecast_kw": [0.0, 3.0, 1.0, 0.0]},
        evs=[_ev(mode="solar", energy_needed_kwh=5.0, efficiency=0.9)],
    )
    doc["tariff"]["export_eur_per_kwh"] = [0.2] * 4
    plan = _plan(doc, solver)
    site = plan.sites[0]
    assert site.ev_kw["ev-1"] == pytest.approx([0.0, 3.0, 1.0, 0.0])
    assert site.ev_energy_kwh["ev-1"] == pytest.approx(4.0 * DT * 0.9)
    assert plan.status is PlanStatus.OPTIMAL  # solar mode promises only the surplus: no violation


@pytest.mark.parametrize("solver", SOLVERS)
def test_boost_is_fixed_by_formula(scenario: Callable[..., Doc], solver: str) -> None:
    doc = scenario(
        base_load_kw=[1.0] * 4, import_limit_kw=4.0, evs=[_ev(mode="boost", energy_needed_kwh=1.0)]
    )
    doc["tariff"]["import_eur_per_kwh"] = [0.9, 0.1, 0.1, 0.1]  # boost ignores prices
    site = _plan(doc, solver).sites[0]
    assert site.ev_kw["ev-1"] == pytest.approx([3.0, 1.0, 0.0, 0.0])
    assert site.violations == []


@pytest.mark.parametrize("solver", SOLVERS)
def test_battery_arbitrage_with_efficiencies(scenario: Callable[..., Doc], solver: str) -> None:
    battery = {
        "capacity_kwh": 2.0,
        "soc_kwh": 0.0,
        "max_charge_kw": 4.0,
        "max_discharge_kw": 4.0,
        "charge_efficiency": 0.9,
        "discharge_efficiency": 0.8,
    }
    doc = scenario(base_load_kw=[0.0, 0.0, 2.0, 2.0], battery=battery, min_billed_peak_kw=9.0)
    doc["tariff"]["import_eur_per_kwh"] = [0.1, 0.1, 0.5, 0.5]
    site = _plan(doc, solver).sites[0]
    # Needs 1 kWh out of the battery (2 slots x 2 kW x 0.25 h): 1/0.8 kWh stored, 1/(0.8*0.9) bought.
    assert site.battery_soc_kwh[0] == 0.0 and len(site.battery_soc_kwh) == 5
    assert site.grid_import_kw[2:] == pytest.approx([0.0, 0.0], abs=1e-9)
    assert site.cost_eur.energy == pytest.approx(0.1 / (0.8 * 0.9))


def test_highs_and_glpk_agree_on_a_mixed_site(scenario: Callable[..., Doc]) -> None:
    battery = {
        "capacity_kwh": 5.0,
        "soc_kwh": 2.0,
        "max_charge_kw": 3.0,
        "max_discharge_kw": 3.0,
        "charge_efficiency": 0.95,
        "discharge_efficiency": 0.95,
        "min_soc_kwh": 0.5,
    }
    doc = scenario(
        8,
        base_load_kw=[0.4, 0.6, 2.0, 0.3, 0.2, 1.5, 2.5, 0.8],
        battery=battery,
        pv={"forecast_kw": [0, 0, 1.0, 3.0, 4.0, 2.0, 0.5, 0], "curtailable": True},
        evs=[_ev(departure="2025-03-10T02:00:00+01:00", energy_needed_kwh=3.0)],
    )
    doc["tariff"]["import_eur_per_kwh"] = [0.3, 0.25, -0.05, 0.1, 0.12, 0.3, 0.35, 0.3]
    doc["tariff"]["export_eur_per_kwh"] = [0.1, 0.05, -0.15, 0.0, 0.02, 0.1, 0.15, 0.1]
    highs, glpk = _plan(doc, "highs"), _plan(doc, "glpk")
    assert highs.objective_eur == pytest.approx(glpk.objective_eur, rel=1e-6)


def test_no_battery_reports_zero_soc(scenario: Callable[..., Doc]) -> None:
    site = _plan(scenario(), "highs").sites[0]
    assert site.battery_soc_kwh == [0.0] * 5 and site.battery_kw == [0.0] * 4


def test_portfolio_caps_are_planned_jointly(scenario: Callable[..., Doc]) -> None:
    doc = scenario()
    doc["portfolio"] = {"net_import_cap_kw": [None, 1.0, None, None]}
    plan = _plan(doc, "highs")
    assert plan.status is not PlanStatus.ERROR and plan.portfolio is not None
    over = max(0.0, plan.portfolio.net_import_kw[1] - 1.0) * DT
    reported = sum(v.kwh for v in plan.portfolio.violations if v.kind == "net_import_cap")
    assert reported == pytest.approx(over, abs=1e-6)


def test_imbalance_without_caps_is_planned(scenario: Callable[..., Doc]) -> None:
    doc = scenario(base_load_kw=[1.0] * 4)
    doc["portfolio"] = {"imbalance_eur_per_kwh": [0.1, 0.2, 0.0, 0.0], "nominated_net_kw": [0.5] * 4}
    plan = _plan(doc, "highs")
    assert plan.portfolio is not None
    assert plan.portfolio.net_import_kw == pytest.approx([1.0] * 4)
    assert plan.portfolio.imbalance_eur == pytest.approx((0.1 + 0.2) * 0.5 * DT)
    assert plan.objective_eur == pytest.approx(plan.sites[0].cost_eur.total + plan.portfolio.imbalance_eur)


def test_unknown_solver(scenario: Callable[..., Doc]) -> None:
    [problem] = prepare_sites(parse_scenario(scenario()))
    with pytest.raises(SolverUnavailable):
        solve_site(problem, SolverOptions(solver="cplex"))
    plan = plan_scenario(parse_scenario(scenario()), SolverOptions(solver="cplex")).plan
    assert plan.status is PlanStatus.ERROR and "cplex" in (plan.message or "")


def test_plan_json_has_every_spec_field(scenario: Callable[..., Doc]) -> None:
    import json

    plan = json.loads(_plan(scenario(evs=[_ev()]), "highs").to_json())
    assert set(plan) == {"status", "objective_eur", "solver", "portfolio", "sites"}
    assert set(plan["solver"]) == {"name", "seconds"}
    assert set(plan["portfolio"]) == {"net_import_kw", "imbalance_eur", "violations"}
    assert set(plan["sites"][0]) == {
        "site_id",
        "status",
        "grid_import_kw",
        "grid_export_kw",
        "pv_used_kw",
        "battery_kw",
        "battery_soc_kwh",
        "ev_kw",
        "ev_energy_kwh",
        "peak_kw",
        "cost_eur",
        "violations",
    }
    assert set(plan["sites"][0]["cost_eur"]) == {"energy", "export", "capacity", "total"}


@pytest.mark.parametrize("solver", SOLVERS)
def test_sessions_without_a_whole_slot_get_nothing(scenario: Callable[..., Doc], solver: str) -> None:
    inside_one_slot = {"arrival": "2025-03-10T00:20:00+01:00", "departure": "2025-03-10T00:25:00+01:00"}
    evs = [_ev(ev_id=mode, mode=mode, **inside_one_slot) for mode in ("smart", "solar", "boost")]
    plan = _plan(scenario(evs=evs, pv={"forecast_kw": [3.0] * 4}), solver)
    site = plan.sites[0]
    assert plan.status is PlanStatus.BEST_EFFORT
    assert all(v == [0.0] * 4 for v in site.ev_kw.values())
    # Smart and boost sessions report their shortfall; a solar session promises only the surplus.
    assert {(v.kind, v.ev_id, v.kwh) for v in site.violations} == {
        ("ev_shortfall", "smart", 1.0),
        ("ev_shortfall", "boost", 1.0),
    }


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_solver_failure_raises_solve_failed(scenario: Callable[..., Doc], solver: str) -> None:
    import pyomo.environ as pyo

    from flexmodel.errors import SolveFailed
    from flexmodel.model import build_model
    from flexmodel.solve import solve_lexicographic

    [problem] = prepare_sites(parse_scenario(scenario()))
    model = build_model(problem)
    # The planner's model is always feasible (overrun slack); force infeasibility from outside.
    model.impossible = pyo.Constraint(expr=model.grid_import_kw[0] <= -1.0)
    with pytest.raises(SolveFailed) as info:
        solve_lexicographic(model, problem, SolverOptions(solver=solver), mip=False)
    assert info.value.problem_id == "home-001" and "infeasible" in info.value.condition.lower()


def test_a_site_tariff_replaces_the_top_one_in_the_plan(scenario: Callable[..., Doc]) -> None:
    doc = scenario(base_load_kw=[1.0] * 4)
    own = {"import_eur_per_kwh": [1.0] * 4, "export_eur_per_kwh": [0.0] * 4}
    doc["sites"].append(dict(doc["sites"][0], site_id="home-002", tariff=own))
    first, second = _plan(doc, "highs").sites
    assert first.cost_eur.energy == pytest.approx(0.25 * 1.0)
    assert second.cost_eur.energy == pytest.approx(1.0 * 1.0) and second.cost_eur.capacity == 0.0
