"""The array path (flexmodel.fast) and the Pyomo path (flexmodel.model) solve the same model.

Scenario by scenario and site by site, both plan with HiGHS and must agree on the objective
(relative 1e-6), on every priority level (grid overrun, smart-EV shortfall, solar-EV energy),
on the status and on whether binaries were needed. Each fast plan is also checked against the
spec's constraints directly. If either path drifts, this fails.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fast_cases import cases

from flexmodel.fast import FastPlanner
from flexmodel.model.solver import solve_site
from flexmodel.problem import SiteProblem, prepare_sites
from flexmodel.scenario import EvMode, parse_scenario
from flexmodel.site_plan import SitePlan
from flexmodel.solve import SolverOptions
from flexvpp.bench.homes import make_portfolio, synthetic_day

REL = 1e-6
TOL_KW = 1e-5
OPTIONS = SolverOptions(solver="highs")


def _problems(doc: dict[str, Any]) -> list[SiteProblem]:
    return prepare_sites(parse_scenario(doc))


def _levels(plan: SitePlan, p: SiteProblem) -> dict[str, float]:
    over = np.maximum(0.0, plan.flows.grid_import_kw - p.import_limit_kw).sum()
    over += np.maximum(0.0, plan.flows.grid_export_kw - p.export_limit_kw).sum()
    smart = sum(
        ev.energy_needed_kwh - plan.ev_energy_kwh[ev.ev_id] for ev in p.evs if ev.mode is EvMode.SMART
    )
    solar = sum(plan.ev_energy_kwh[ev.ev_id] for ev in p.evs if ev.mode is EvMode.SOLAR)
    return {"overrun_kwh": float(over * p.dt_h), "smart_shortfall_kwh": smart, "solar_energy_kwh": solar}


def check_spec_constraints(plan: SitePlan, p: SiteProblem) -> None:
    """The spec's per-site model, checked on the plan's numbers (not on the solver's word)."""
    f, dt = plan.flows, p.dt_h
    g, e, u = f.grid_import_kw, f.grid_export_kw, f.pv_used_kw
    assert (g >= -TOL_KW).all() and (e >= -TOL_KW).all()
    assert not (np.minimum(g, e) > TOL_KW).any(), "imports and exports in one slot"
    assert not (np.minimum(f.charge_kw, f.discharge_kw) > TOL_KW).any(), "charges and discharges in one slot"
    assert (u >= -TOL_KW).all() and (u <= p.pv_kw + TOL_KW).all()
    if not p.pv_curtailable:
        np.testing.assert_allclose(u, p.pv_kw, atol=TOL_KW)
    ev_total = sum(f.ev_kw.values(), np.zeros(p.n_slots))
    np.testing.assert_allclose(g - e, p.base_kw + f.battery_kw + ev_total - u, atol=TOL_KW)
    for ev in p.evs:
        power = f.ev_kw[ev.ev_id]
        assert (power[~ev.charge_mask] == 0.0).all()
        assert (power <= ev.max_power_kw + TOL_KW).all() and (power >= -TOL_KW).all()
        assert plan.ev_energy_kwh[ev.ev_id] <= ev.energy_needed_kwh + 1e-6
        if ev.mode is EvMode.SOLAR:
            assert (power <= p.solar_surplus_kw + TOL_KW).all()
    if p.battery is not None:
        bat, soc = p.battery, f.battery_soc_kwh
        step = bat.charge_efficiency * f.charge_kw * dt - f.discharge_kw * dt / bat.discharge_efficiency
        np.testing.assert_allclose(np.diff(soc), step, atol=1e-6)
        assert soc[0] == pytest.approx(bat.initial_soc_kwh)
        assert (soc >= bat.min_soc_kwh - 1e-6).all() and (soc <= bat.capacity_kwh + 1e-6).all()
        assert soc[-1] >= bat.final_soc_min_kwh - 1e-6
    assert plan.peak_kw == pytest.approx(float(g.max()), abs=1e-9)


def assert_same(fast: SitePlan, ref: SitePlan, p: SiteProblem) -> None:
    assert fast.site_id == ref.site_id
    assert fast.objective_eur == pytest.approx(ref.objective_eur, rel=REL, abs=REL), p.site_id
    for name, value in _levels(ref, p).items():
        assert _levels(fast, p)[name] == pytest.approx(value, rel=REL, abs=1e-5), f"{p.site_id}: {name}"
    assert fast.status == ref.status, p.site_id
    assert fast.needed_binaries == ref.needed_binaries, p.site_id
    assert [(v.kind, v.ev_id) for v in fast.violations] == [(v.kind, v.ev_id) for v in ref.violations]


@pytest.mark.parametrize("name", sorted(cases()))
def test_fast_path_matches_pyomo_scenario_by_scenario(name: str) -> None:
    planner = FastPlanner(OPTIONS)
    for p in _problems(cases()[name]):
        fast = planner.solve(p)
        check_spec_constraints(fast, p)
        assert_same(fast, solve_site(p, OPTIONS), p)


def test_fast_path_matches_pyomo_on_a_generated_portfolio() -> None:
    """30 homes of the benchmark's kind (PV, batteries, EVs in every mode, negative prices)."""
    from datetime import datetime, timedelta, timezone

    day = synthetic_day(datetime(2025, 5, 11, tzinfo=timezone(timedelta(hours=2))), seed=3)
    planner = FastPlanner(OPTIONS)
    needed = 0
    for p in _problems(make_portfolio(day, 30, seed=7)):
        fast = planner.solve(p)
        check_spec_constraints(fast, p)
        assert_same(fast, solve_site(p, OPTIONS), p)
        needed += fast.needed_binaries
    assert needed > 0, "the negative-price day should need binaries somewhere"
    assert planner.lp_builds < 30, "homes of one structure should share a HiGHS object"


def test_the_cases_exercise_what_they_claim() -> None:
    """Guards the test data: binaries, shortfall, overrun and solar energy all really occur."""
    planner = FastPlanner(OPTIONS)
    plans = {p.site_id: (planner.solve(p), p) for doc in cases().values() for p in _problems(doc)}
    assert plans["full-battery"][0].needed_binaries
    assert plans["export-pays-more"][0].needed_binaries  # import and export at once would pay
    assert not plans["bare"][0].needed_binaries
    hidden, hidden_problem = plans["full-at-midnight"]
    assert hidden.needed_binaries and _levels(hidden, hidden_problem)["overrun_kwh"] > 0.04
    kinds = {v.kind for plan, _ in plans.values() for v in plan.violations}
    assert {"ev_shortfall", "import_limit", "export_limit"} <= kinds
    solar_plan, solar_problem = plans["solar-ev"]
    assert _levels(solar_plan, solar_problem)["solar_energy_kwh"] > 1.0
