"""Random small sites (hypothesis): the planner never fails, every plan honours the spec, and each
site's lexicographic optimum equals the independent scipy formulation's, level by level."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples
from planner_checker import check_plan
from planner_reference import reference_site_cost

from flexmodel.planner import plan_scenario
from flexmodel.scenario import parse_scenario
from flexmodel.solve import SolverOptions

N = 8
START = datetime(2025, 5, 11, 10, tzinfo=UTC)
power = st.floats(0.0, 6.0, allow_nan=False).map(lambda x: round(x, 2))
price = st.floats(-0.4, 0.5, allow_nan=False).map(lambda x: round(x, 3))


@st.composite
def battery(draw: st.DrawFn) -> dict[str, Any]:
    capacity = draw(st.sampled_from([2.0, 5.0, 10.0]))
    soc = round(draw(st.floats(0.0, capacity)), 2)
    return {
        "capacity_kwh": capacity,
        "soc_kwh": soc,
        "min_soc_kwh": min(soc, draw(st.sampled_from([0.0, 0.5]))),
        "max_charge_kw": draw(st.sampled_from([1.0, 3.0])),
        "max_discharge_kw": draw(st.sampled_from([1.0, 3.0])),
        "charge_efficiency": draw(st.sampled_from([0.9, 1.0])),
        "discharge_efficiency": draw(st.sampled_from([0.85, 1.0])),
        "final_soc_min_kwh": round(min(capacity, soc + draw(st.sampled_from([0.0, 0.5]))), 2),
    }


@st.composite
def ev(draw: st.DrawFn, ev_id: str) -> dict[str, Any]:
    arrival = START + timedelta(minutes=draw(st.integers(-30, 90)))
    departure = arrival + timedelta(minutes=draw(st.integers(0, 150)))
    return {
        "ev_id": ev_id,
        "arrival": arrival.isoformat(),
        "departure": departure.isoformat(),
        "energy_needed_kwh": round(draw(st.floats(0.0, 6.0)), 2),
        "max_power_kw": draw(st.sampled_from([3.7, 7.4])),
        "efficiency": draw(st.sampled_from([0.9, 1.0])),
        "mode": draw(st.sampled_from(["smart", "solar", "boost"])),
    }


@st.composite
def scenario(draw: st.DrawFn) -> dict[str, Any]:
    imports = draw(st.lists(price, min_size=N, max_size=N))
    site: dict[str, Any] = {
        "site_id": "home",
        "import_limit_kw": draw(st.sampled_from([4.0, 9.2])),
        "export_limit_kw": draw(st.sampled_from([0.0, 3.0, 10.0])),
        "month_peak_kw": draw(st.sampled_from([0.0, 3.0])),
        "base_load_kw": draw(st.lists(power, min_size=N, max_size=N)),
    }
    if draw(st.booleans()):
        site["pv"] = {
            "forecast_kw": draw(st.lists(power, min_size=N, max_size=N)),
            "curtailable": draw(st.booleans()),
        }
    if draw(st.booleans()):
        site["battery"] = draw(battery())
    site["evs"] = [draw(ev(f"ev{i}")) for i in range(draw(st.integers(0, 2)))]
    doc: dict[str, Any] = {
        "start": START.isoformat(),
        "resolution_minutes": 15,
        "horizon_slots": N,
        "tariff": {
            "import_eur_per_kwh": imports,
            # Usually below the import price; sometimes above it (the case that needs binaries).
            "export_eur_per_kwh": [round(p - draw(st.sampled_from([0.1, 0.02, -0.05])), 3) for p in imports],
            "capacity_eur_per_kw_month": draw(st.sampled_from([0.0, 3.37])),
        },
        "sites": [site],
    }
    if draw(st.booleans()):
        doc["portfolio"] = {"imbalance_eur_per_kwh": draw(st.lists(price, min_size=N, max_size=N))}
    return doc


@pytest.mark.parametrize("solver", ["highs", "glpk"])
# 40 random sites per solver in CI (80 before: new ones each run; tests/hypothesis_profiles.py).
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=scenario())
def test_random_site_is_planned_exactly(doc: dict[str, Any], solver: str) -> None:
    try:
        parsed = parse_scenario(doc)
    except ValueError:  # e.g. an unreachable final SoC: rejected up front, nothing to plan
        return
    plan = json.loads(plan_scenario(parsed, SolverOptions(solver=solver)).plan.to_json())
    check_plan(doc, plan)
    assert plan["solver"]["name"] == solver
    ref = reference_site_cost(doc, doc["sites"][0])
    out = plan["sites"][0]
    over = sum(v["kwh"] for v in out["violations"] if v["kind"] in ("import_limit", "export_limit"))
    assert over == pytest.approx(ref["overrun"], abs=1e-6)
    mine = out["cost_eur"]["total"]
    imbalance = (doc.get("portfolio") or {}).get("imbalance_eur_per_kwh")
    if imbalance:
        net = [g - e for g, e in zip(out["grid_import_kw"], out["grid_export_kw"], strict=True)]
        mine += sum(p * x for p, x in zip(imbalance, net, strict=True)) * 0.25
    assert mine == pytest.approx(ref["cost"], rel=1e-6, abs=1e-6)
