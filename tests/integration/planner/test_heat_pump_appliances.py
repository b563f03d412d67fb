"""Heat pumps and shiftable appliances in the planner (issue 15, docs/plan-format-extensions.md).

Plans are feasible (an independent check: temperatures recomputed from the planned power, the
band, each appliance's window and profile, the balance) and optimal against formulations written
here: scipy.optimize.linprog on arrays for the heat pump, a brute force over the starts for the
appliances. HiGHS and GLPK agree, and so do the Pyomo model and the array path.
"""

from __future__ import annotations

import copy
import itertools
import json
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from hp_cases import appliance, heat_pump, scenario
from hp_check import allowed_starts, appliance_kw, check_site
from scipy.optimize import linprog

from flexmodel.fast import solve_site_fast
from flexmodel.model.solver import solve_site
from flexmodel.planner import plan_scenario
from flexmodel.problem import prepare_sites
from flexmodel.scenario import parse_scenario
from flexmodel.site_plan import SitePlan
from flexmodel.solve import SolverOptions

Doc = dict[str, Any]
MIN_BILLED_PEAK_KW = 2.5  # the spec's default floor


def _plan(doc: Doc, solver: str = "highs") -> Doc:
    decoded: Doc = json.loads(plan_scenario(parse_scenario(doc), SolverOptions(solver=solver)).plan.to_json())
    return decoded


def _reference_heat_pump_cost(doc: Doc) -> float:
    """min Σ Δ·price·(base + P) + cap·max(0, max(base + P) - floor) subject to the thermal model
    and a hard band, as one linprog on [P_0..P_{n-1}, T_1..T_n, x]. No PV: the site never exports."""
    n, dt = doc["horizon_slots"], doc["resolution_minutes"] / 60
    site = doc["sites"][0]
    hp = site["heat_pump"]
    base = np.array(site["base_load_kw"])
    price = np.array(doc["tariff"]["import_eur_per_kwh"])
    cap = doc["tariff"]["capacity_eur_per_kw_month"]
    c, r = hp["thermal_capacity_kwh_per_k"], hp["thermal_resistance_k_per_kw"]
    out = np.array(hp["outdoor_temp_c"])
    cop = np.array(hp.get("cop_per_slot") or hp["cop_intercept"] + hp["cop_slope_per_k"] * out)
    cost = np.concatenate([dt * price, np.zeros(n), [cap]])
    # T_{t+1} - (1 - Δ/RC)·T_t - Δ/C·cop_t·P_t = Δ/RC·T_out_t
    a_eq = np.zeros((n, 2 * n + 1))
    b_eq = dt / (r * c) * out
    for t in range(n):
        a_eq[t, n + t] = 1.0
        a_eq[t, t] = -dt / c * cop[t]
        if t:
            a_eq[t, n + t - 1] = -(1 - dt / (r * c))
    b_eq[0] += (1 - dt / (r * c)) * hp["initial_temp_c"]
    # base + P - x <= floor
    a_ub = np.zeros((n, 2 * n + 1))
    a_ub[np.arange(n), np.arange(n)] = 1.0
    a_ub[:, -1] = -1.0
    b_ub = MIN_BILLED_PEAK_KW - base
    bounds = [(0.0, hp["max_power_kw"])] * n + list(
        zip(hp["comfort_min_c"], hp["comfort_max_c"], strict=True)
    )
    res = linprog(
        cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=[*bounds, (0.0, None)], method="highs"
    )
    assert res.status == 0, res.message
    return float(res.fun + dt * price @ base)


@pytest.mark.parametrize("resolution", [15, 60])
@pytest.mark.parametrize("solver", ["highs", "glpk"])
def test_heat_pump_plan_is_feasible_and_optimal_against_linprog(resolution: int, solver: str) -> None:
    n = 24 * 60 // resolution
    doc = scenario(n, resolution, heat_pump=heat_pump(n, resolution / 60))
    plan = _plan(doc, solver)
    [out] = plan["sites"]
    assert out["status"] == "optimal" and out["violations"] == []
    check_site(doc, doc["sites"][0], out)
    assert out["cost_eur"]["total"] == pytest.approx(_reference_heat_pump_cost(doc), abs=1e-6)
    # The band binds somewhere (the plan is not trivially comfortable).
    temps = out["heat_pump"]["temp_c"][1:]
    assert (
        min(t - lo for t, lo in zip(temps, doc["sites"][0]["heat_pump"]["comfort_min_c"], strict=True)) < 1e-6
    )


def _cost_with_fixed_loads(doc: Doc, extra_kw: np.ndarray) -> float:
    """The exact cost of a site without battery, EVs or curtailment once every load is fixed:
    net = base + extra - pv; import max(0, net), export max(0, -net) (import costs >= export earns)."""
    site = doc["sites"][0]
    dt = doc["resolution_minutes"] / 60
    net = np.array(site["base_load_kw"]) + extra_kw - np.array(site.get("pv", {}).get("forecast_kw", 0.0))
    g, e = np.maximum(0.0, net), np.maximum(0.0, -net)
    tariff = doc["tariff"]
    energy = dt * (np.array(tariff["import_eur_per_kwh"]) @ g - np.array(tariff["export_eur_per_kwh"]) @ e)
    return float(energy + tariff["capacity_eur_per_kw_month"] * max(0.0, g.max() - MIN_BILLED_PEAK_KW))


def _brute_force(doc: Doc) -> tuple[float, list[dict[str, datetime]]]:
    """The least cost over every combination of allowed starts, and the combinations reaching it."""
    apps = doc["sites"][0]["appliances"]
    best, argbest = np.inf, []
    for starts in itertools.product(*(allowed_starts(doc, a) for a in apps)):
        extra = sum(
            (np.array(appliance_kw(doc, a, at)) for a, at in zip(apps, starts, strict=True)), np.zeros(1)
        )
        cost = _cost_with_fixed_loads(doc, extra)
        if cost < best - 1e-9:
            best, argbest = cost, [dict(zip([a["appliance_id"] for a in apps], starts, strict=True))]
        elif cost <= best + 1e-9:
            argbest.append(dict(zip([a["appliance_id"] for a in apps], starts, strict=True)))
    return best, argbest


def _pv(n: int) -> dict[str, Any]:
    return {"forecast_kw": [round(max(0.0, 3.5 * np.sin(np.pi * (t / 4 - 8) / 9)), 4) for t in range(n)]}


APPLIANCE_CASES = {
    "one washer": dict(appliances=[appliance()]),
    "washer and dishwasher, capacity tariff": dict(
        appliances=[appliance(), appliance("dishwasher", [1.8, 1.8, 0.1, 0.1, 1.8], 17.0, 23.5)]
    ),
    "with pv": dict(
        appliances=[appliance(), appliance("dryer", [2.5, 2.5, 2.5, 2.5], 6.0, 20.0)], pv=_pv(96)
    ),
}


@pytest.mark.parametrize("case", list(APPLIANCE_CASES))
@pytest.mark.parametrize("solver", ["highs", "glpk"])
def test_appliance_plan_is_the_brute_force_optimum(case: str, solver: str) -> None:
    doc = scenario(capacity=6.0, **copy.deepcopy(APPLIANCE_CASES[case]))
    plan = _plan(doc, solver)
    [out] = plan["sites"]
    assert out["status"] == "optimal"
    check_site(doc, doc["sites"][0], out)
    best, argbest = _brute_force(doc)
    assert out["cost_eur"]["total"] == pytest.approx(best, abs=1e-6)
    chosen = {k: datetime.fromisoformat(v["start"]) for k, v in out["appliances"].items()}
    assert chosen in argbest


def test_a_fractional_relaxation_sends_the_home_to_the_milp() -> None:
    """A 4 kW one-slot appliance under a steep capacity price: the LP spreads the start over the
    window (z = 1/8 each keeps the peak under the floor); the plan must still start it once."""
    doc = scenario(16, capacity=50.0, appliances=[appliance("kettle", [4.0], 0.0, 2.0)])
    doc["sites"][0]["base_load_kw"] = [0.5] * 16
    doc["tariff"]["import_eur_per_kwh"] = [0.2] * 16
    [problem] = prepare_sites(parse_scenario(doc))
    fast = solve_site_fast(problem, SolverOptions())
    assert fast.needed_binaries, "the LP relaxation's answer is fractional here"
    pyomo = solve_site(problem, SolverOptions())
    best, _ = _brute_force(doc)
    for plan in (fast, pyomo):
        assert plan.cost.total_eur == pytest.approx(best, abs=1e-6)
        assert plan.flows.appliance_start["kettle"] in range(8)
        assert plan.flows.appliance_kw["kettle"].sum() == pytest.approx(4.0)


def _variants() -> dict[str, Doc]:
    n = 96
    battery = {
        "capacity_kwh": 8.0,
        "soc_kwh": 3.0,
        "max_charge_kw": 3.0,
        "max_discharge_kw": 3.0,
        "charge_efficiency": 0.95,
        "discharge_efficiency": 0.95,
    }
    ev = {
        "ev_id": "car",
        "arrival": "2025-01-15T17:30:00+01:00",
        "departure": "2025-01-16T00:00:00+01:00",
        "energy_needed_kwh": 12.0,
        "max_power_kw": 7.4,
    }
    hourly = heat_pump(24, 1.0, min_power_kw=1.2)
    return {
        "heat pump and washer": scenario(heat_pump=heat_pump(n), appliances=[appliance()]),
        "minimum power": scenario(heat_pump=heat_pump(n, min_power_kw=1.6, max_power_kw=2.5)),
        "cop per slot": scenario(
            heat_pump=heat_pump(
                n,
                cop_intercept=None,
                cop_slope_per_k=None,
                cop_per_slot=[2.8 + (t % 24) / 40 for t in range(n)],
            )
        ),
        "battery pv ev": scenario(
            heat_pump=heat_pump(n),
            appliances=[appliance()],
            battery=battery,
            pv=_pv(n),
            evs=[ev],
            capacity=8.0,
        ),
        "hourly with minimum": scenario(24, 60, heat_pump=hourly, appliances=[appliance(deadline_h=23.0)]),
    }


VARIANTS = _variants()


@pytest.mark.parametrize("name", list(VARIANTS))
def test_pyomo_and_array_paths_and_highs_and_glpk_agree(name: str) -> None:
    doc = VARIANTS[name]
    [problem] = prepare_sites(parse_scenario(doc))
    plans: dict[str, SitePlan] = {
        "arrays": solve_site_fast(problem, SolverOptions()),
        "pyomo-highs": solve_site(problem, SolverOptions(solver="highs")),
        "pyomo-glpk": solve_site(problem, SolverOptions(solver="glpk")),
    }
    costs = {k: p.cost.total_eur for k, p in plans.items()}
    assert max(costs.values()) - min(costs.values()) < 1e-6, costs
    assert {p.status for p in plans.values()} == {"optimal"}
    for solver in ("highs", "glpk"):
        [out] = _plan(doc, solver)["sites"]
        check_site(doc, doc["sites"][0], out)


def test_an_unreachable_band_is_a_reported_comfort_violation_not_a_failure() -> None:
    """22 °C within the first quarter-hour from 18 °C is out of reach: the plan heats at full
    power, says best_effort and reports the heat it missed, on both paths."""
    hp = heat_pump(96, initial_temp_c=18.0, comfort_min_c=[22.0] * 96, comfort_max_c=[24.0] * 96)
    doc = scenario(heat_pump=hp)
    for solver in ("highs", "glpk"):
        [out] = _plan(doc, solver)["sites"]
        assert out["status"] == "best_effort"
        [violation] = out["violations"]
        assert violation["kind"] == "comfort" and violation["kwh"] > 1.0
        assert out["heat_pump"]["power_kw"][0] == pytest.approx(3.0)


def test_sites_without_the_extensions_have_no_new_keys_in_the_plan() -> None:
    doc = scenario(heat_pump=heat_pump(96), appliances=[appliance()])
    plain = copy.deepcopy(doc["sites"][0])
    del plain["heat_pump"], plain["appliances"]
    plain["site_id"] = "plain"
    doc["sites"].append(plain)
    with_devices, without = _plan(doc)["sites"]
    assert {"heat_pump", "appliances"} <= set(with_devices)
    assert not {"heat_pump", "appliances"} & set(without)
