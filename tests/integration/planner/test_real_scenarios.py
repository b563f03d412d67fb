"""Plans of scenarios built from the real data: every plan honours the spec (independent checker)
and every site's objective equals an independent MILP formulation's (scipy), solver by solver."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from planner_checker import check_plan
from planner_realdata import make_scenario, with_imbalance
from planner_reference import reference_site_cost

from flexmodel.model.solver import solve_site
from flexmodel.planner import plan_scenario
from flexmodel.problem import prepare_sites
from flexmodel.scenario import parse_scenario
from flexmodel.solve import SolverOptions

UTC = UTC
# (name, horizon start in UTC, Fluvius day used as the base-load profile)
DAYS = {
    "negative_2025_05_11": (datetime(2025, 5, 11, 6, tzinfo=UTC), "15/11/2023"),  # min -462 EUR/MWh
    "negative_2024_05_12": (datetime(2024, 5, 12, 8, tzinfo=UTC), "02/12/2023"),
    "winter_2024_01_17": (datetime(2024, 1, 17, 12, tzinfo=UTC), "20/12/2023"),
    "quarter_hour_prices_2025_10_20": (datetime(2025, 10, 20, 0, tzinfo=UTC), "05/11/2023"),
}


def _scenario(shared_data: Path, day: str, **kwargs: Any) -> dict[str, Any]:
    start, fluvius_day = DAYS[day]
    return make_scenario(shared_data, start=start, fluvius_day=fluvius_day, **kwargs)


def _plan(scn: dict[str, Any], solver: str = "highs") -> dict[str, Any]:
    plan = plan_scenario(parse_scenario(scn), SolverOptions(solver=solver)).plan
    decoded: dict[str, Any] = json.loads(plan.to_json())
    return decoded


def _assert_matches_reference(scn: dict[str, Any], plan: dict[str, Any]) -> None:
    imbalance = (scn.get("portfolio") or {}).get("imbalance_eur_per_kwh")
    dt_h = scn["resolution_minutes"] / 60
    for site, out in zip(scn["sites"], plan["sites"], strict=True):
        ref = reference_site_cost(scn, site)
        mine = out["cost_eur"]["total"]
        if imbalance:
            net = [g - e for g, e in zip(out["grid_import_kw"], out["grid_export_kw"], strict=True)]
            mine += sum(p * x for p, x in zip(imbalance, net, strict=True)) * dt_h
        assert mine == pytest.approx(ref["cost"], rel=1e-6, abs=1e-6), site["site_id"]
        shortfall = sum(
            v["kwh"]
            for v in out["violations"]
            if v["kind"] == "ev_shortfall"
            and any(
                ev["ev_id"] == v["ev_id"] and ev.get("mode", "smart") == "smart" for ev in site.get("evs", [])
            )
        )
        assert shortfall == pytest.approx(ref["shortfall"], abs=1e-6)
        solar = sum(
            out["ev_energy_kwh"][ev["ev_id"]] for ev in site.get("evs", []) if ev.get("mode") == "solar"
        )
        assert solar == pytest.approx(ref["solar"], abs=1e-6)


@pytest.mark.parametrize("day", sorted(DAYS))
def test_real_day_plans_honour_the_spec_and_are_optimal(shared_data: Path, day: str) -> None:
    scn = _scenario(shared_data, day)
    plan = _plan(scn)
    check_plan(scn, plan)
    assert plan["status"] == "optimal"
    _assert_matches_reference(scn, plan)


@pytest.mark.parametrize("day", sorted(DAYS))
def test_highs_and_glpk_agree(shared_data: Path, day: str) -> None:
    scn = _scenario(shared_data, day, ev_offset=3)
    highs, glpk = _plan(scn, "highs"), _plan(scn, "glpk")
    check_plan(scn, glpk)
    assert glpk["objective_eur"] == pytest.approx(highs["objective_eur"], rel=1e-6)
    for a, b in zip(highs["sites"], glpk["sites"], strict=True):
        assert a["cost_eur"]["total"] == pytest.approx(b["cost_eur"]["total"], rel=1e-6, abs=1e-9)


def test_negative_prices_need_binaries_only_where_the_lp_does_both(shared_data: Path) -> None:
    scn = _scenario(shared_data, "negative_2025_05_11", homes=4)
    problems = prepare_sites(parse_scenario(scn))
    plans = [solve_site(p, SolverOptions()) for p in problems]
    needed = [p.needed_binaries for p in plans]
    # Homes with a battery can burn energy at a negative import price (charge and discharge at
    # once); the LP does that, so those need the MILP; the home without a battery does not.
    assert any(needed) and not all(needed), needed
    assert not needed[2]  # home-002 has no battery (see make_scenario)
    check_plan(scn, _plan(scn))


def test_winter_day_needs_no_binaries(shared_data: Path) -> None:
    scn = _scenario(shared_data, "winter_2024_01_17")
    problems = prepare_sites(parse_scenario(scn))
    assert not any(solve_site(p, SolverOptions()).needed_binaries for p in problems)


def test_imbalance_term_is_exact_per_site(shared_data: Path) -> None:
    scn = with_imbalance(shared_data, _scenario(shared_data, "negative_2025_05_11"), nominated_kw=1.5)
    plan = _plan(scn)
    check_plan(scn, plan)
    assert plan["portfolio"]["imbalance_eur"] != 0.0
    _assert_matches_reference(scn, plan)
    glpk = _plan(scn, "glpk")
    assert glpk["objective_eur"] == pytest.approx(plan["objective_eur"], rel=1e-6)


def test_unreachable_ev_target_is_best_effort_with_the_shortfall(shared_data: Path) -> None:
    scn = _scenario(shared_data, "winter_2024_01_17", ev_modes=("smart",))
    ev = scn["sites"][0]["evs"][0]
    ev["energy_needed_kwh"] = 200.0  # far more than 7.4 kW can deliver in the session
    plan = _plan(scn)
    check_plan(scn, plan)
    site = plan["sites"][0]
    assert plan["status"] == site["status"] == "best_effort"
    [violation] = site["violations"]
    assert violation["kind"] == "ev_shortfall" and violation["ev_id"] == ev["ev_id"]
    assert violation["kwh"] == pytest.approx(200.0 - site["ev_energy_kwh"][ev["ev_id"]], abs=1e-6)
    assert violation["kwh"] > 100
    assert [s["status"] for s in plan["sites"][1:]] == ["optimal"] * (len(plan["sites"]) - 1)
    _assert_matches_reference(scn, plan)
    glpk = _plan(scn, "glpk")
    assert glpk["objective_eur"] == pytest.approx(plan["objective_eur"], rel=1e-6)


def test_glpk_agrees_on_a_best_effort_home_that_needs_binaries(shared_data: Path) -> None:
    """A home of `flexvpp bench plan`'s portfolio (2025-05-11) whose EV cannot be filled and whose
    battery needs binaries: the cost is optimised with the missed level pulled at its weight.
    Measured from the level's ideal, that pull added ~3,500 EUR of constant to the objective and
    GLPK's relative tolerances then let the cost drift by 8e-4 EUR (6e-5 relative); measured from
    the value the level was fixed at, both solvers agree to rounding."""
    from flexvpp.bench.data import load_day
    from flexvpp.bench.homes import make_portfolio

    day = load_day(shared_data, datetime(2025, 5, 11).date())
    problems = prepare_sites(parse_scenario(make_portfolio(day, 47, seed=1)))
    home = next(p for p in problems if p.site_id == "home-00046")
    highs, glpk = solve_site(home, SolverOptions()), solve_site(home, SolverOptions(solver="glpk"))
    assert str(highs.status) == "best_effort" and highs.needed_binaries
    assert glpk.objective_eur == pytest.approx(highs.objective_eur, rel=1e-6, abs=1e-9)
