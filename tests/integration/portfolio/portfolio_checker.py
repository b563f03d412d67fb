"""An independent check of a portfolio plan against the spec: every site by the planner tests'
checker (planner_checker.check_site), then the portfolio's own rules, from the raw documents."""

from __future__ import annotations

from typing import Any

import numpy as np
from planner_checker import TOL, check_site


def _close(a: float, b: float, what: str, tol: float = TOL) -> None:
    assert abs(a - b) <= tol * max(1.0, abs(b)), f"{what}: {a} != {b}"


def portfolio_violations(scn: dict[str, Any], net: np.ndarray) -> dict[str, float]:
    port = scn.get("portfolio") or {}
    dt_h = scn["resolution_minutes"] / 60
    out = {}
    caps = port.get("net_import_cap_kw")
    if caps:
        out["net_import_cap"] = (
            sum(max(0.0, x - c) for x, c in zip(net, caps, strict=True) if c is not None) * dt_h
        )
    floors = port.get("net_import_floor_kw")
    if floors:
        out["net_import_floor"] = (
            sum(max(0.0, f - x) for x, f in zip(net, floors, strict=True) if f is not None) * dt_h
        )
    return out


def check_portfolio_plan(scn: dict[str, Any], plan: dict[str, Any]) -> dict[str, float]:
    """Assert every rule of the spec; return the portfolio's violations by kind [kWh]."""
    assert plan["status"] in ("optimal", "feasible", "best_effort"), plan.get("message")
    assert [s["site_id"] for s in plan["sites"]] == [s["site_id"] for s in scn["sites"]]
    n = scn["horizon_slots"]
    net = np.zeros(n)
    for site, out in zip(scn["sites"], plan["sites"], strict=True):
        check_site(scn, site, out)
        net += np.array(out["grid_import_kw"]) - np.array(out["grid_export_kw"])
    assert np.allclose(plan["portfolio"]["net_import_kw"], net, atol=TOL)
    port = scn.get("portfolio") or {}
    imbalance = 0.0
    if port.get("imbalance_eur_per_kwh"):
        nominated = np.array(port.get("nominated_net_kw") or np.zeros(n))
        imbalance = float(
            np.dot(port["imbalance_eur_per_kwh"], net - nominated) * scn["resolution_minutes"] / 60
        )
    _close(plan["portfolio"]["imbalance_eur"], imbalance, "imbalance")
    _close(plan["objective_eur"], sum(s["cost_eur"]["total"] for s in plan["sites"]) + imbalance, "objective")
    expected = {k: v for k, v in portfolio_violations(scn, net).items() if v > TOL}
    reported = {v["kind"]: v["kwh"] for v in plan["portfolio"].get("violations", [])}
    assert set(reported) == set(expected), f"portfolio violations {reported} != {expected}"
    for kind, kwh in expected.items():
        _close(reported[kind], kwh, f"portfolio {kind}")
    any_violation = bool(expected) or any(s["violations"] for s in plan["sites"])
    assert (plan["status"] == "best_effort") == any_violation, plan["status"]
    if plan["status"] == "feasible":
        assert plan.get("gap") is not None and plan["gap"] >= 0.0, "feasible without a gap"
    return expected
