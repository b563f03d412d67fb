"""An independent checker of a plan against the spec (../shared/spec/plan-format.md).

Reads the raw scenario dict and the plan's JSON dict; uses none of flexmodel's code, so a
misreading of the spec in the planner is not repeated here.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np

TOL = 1e-5  # [kW] / [kWh] / [EUR]: solver tolerances are far below this


def window(ev: dict[str, Any], start: datetime, dt: timedelta, n: int) -> tuple[int, int]:
    """Slots wholly inside [arrival, departure]: ceil(...) up to floor(...), clipped."""
    a = (datetime.fromisoformat(ev["arrival"]) - start) / dt
    d = (datetime.fromisoformat(ev["departure"]) - start) / dt
    first = max(0, math.ceil(a - 1e-9))
    stop = min(n, math.floor(d + 1e-9))
    return min(first, n), max(min(first, n), stop)


def boost_kw(
    site: dict[str, Any], ev: dict[str, Any], first: int, stop: int, dt_h: float, used_kw: np.ndarray
) -> np.ndarray:
    """The spec's boost formula; used_kw is what earlier boost EVs of the site already take."""
    base = np.array(site["base_load_kw"])
    pv = np.array(site["pv"]["forecast_kw"]) if site.get("pv") else np.zeros(len(base))
    eta = ev.get("efficiency", 1.0)
    remaining = ev["energy_needed_kwh"]
    out = np.zeros(len(base))
    for t in range(first, stop):
        if remaining <= 0:
            break
        v = max(
            0.0,
            min(
                ev["max_power_kw"],
                remaining / (eta * dt_h),
                site["import_limit_kw"] - base[t] + pv[t] - used_kw[t],
            ),
        )
        out[t] = v
        remaining -= v * eta * dt_h
    return out


def _close(a: float, b: float, what: str, tol: float = TOL) -> None:
    assert abs(a - b) <= tol * max(1.0, abs(b)), f"{what}: {a} != {b}"


def check_site(scn: dict[str, Any], site: dict[str, Any], out: dict[str, Any]) -> None:
    n = scn["horizon_slots"]
    dt = timedelta(minutes=scn["resolution_minutes"])
    dt_h = dt.total_seconds() / 3600
    start = datetime.fromisoformat(scn["start"])
    sid = site["site_id"]
    tariff = site.get("tariff") or scn["tariff"]
    g, e = np.array(out["grid_import_kw"]), np.array(out["grid_export_kw"])
    u, b = np.array(out["pv_used_kw"]), np.array(out["battery_kw"])
    soc = np.array(out["battery_soc_kwh"])
    for name, arr, length in (("g", g, n), ("e", e, n), ("u", u, n), ("b", b, n), ("soc", soc, n + 1)):
        assert len(arr) == length, f"{sid}: {name} has {len(arr)} values"
    assert (g >= -TOL).all() and (e >= -TOL).all(), f"{sid}: negative grid flow"
    assert not ((g > TOL) & (e > TOL)).any(), f"{sid}: import and export in one slot"
    violations = {(v["kind"], v.get("ev_id")): v["kwh"] for v in out["violations"]}
    over_import = float(np.maximum(0, g - site["import_limit_kw"]).sum() * dt_h)
    over_export = float(np.maximum(0, e - site["export_limit_kw"]).sum() * dt_h)
    _close(violations.get(("import_limit", None), 0.0), over_import, f"{sid}: import overrun")
    _close(violations.get(("export_limit", None), 0.0), over_export, f"{sid}: export overrun")
    pv = np.array(site["pv"]["forecast_kw"]) if site.get("pv") else np.zeros(n)
    assert (u >= -TOL).all() and (u <= pv + TOL).all(), f"{sid}: PV used outside [0, forecast]"
    if not (site.get("pv") or {}).get("curtailable", False):
        assert np.allclose(u, pv, atol=TOL), f"{sid}: uncurtailable PV was curtailed"
    _check_battery(site.get("battery"), b, soc, dt_h, sid)
    ev_total = _check_evs(scn, site, out, start, dt, dt_h, pv)
    base = np.array(site["base_load_kw"])
    assert np.allclose(g - e, base + b + ev_total - u, atol=TOL), f"{sid}: balance"
    peak = float(g.max())
    _close(out["peak_kw"], peak, f"{sid}: peak")
    floor = max(site.get("month_peak_kw", 0.0), site.get("min_billed_peak_kw", 2.5))
    energy = float(np.dot(tariff["import_eur_per_kwh"], g) * dt_h)
    export = float(np.dot(tariff["export_eur_per_kwh"], e) * dt_h)
    capacity = tariff.get("capacity_eur_per_kw_month", 0.0) * max(0.0, peak - floor)
    cost = out["cost_eur"]
    _close(cost["energy"], energy, f"{sid}: energy cost")
    _close(cost["export"], export, f"{sid}: export revenue")
    _close(cost["capacity"], capacity, f"{sid}: capacity cost")
    _close(cost["total"], energy - export + capacity, f"{sid}: total cost")
    expected_status = "best_effort" if out["violations"] else out["status"]
    assert out["status"] == expected_status and out["status"] in ("optimal", "feasible", "best_effort")


def _check_battery(bat: dict[str, Any] | None, b: np.ndarray, soc: np.ndarray, dt_h: float, sid: str) -> None:
    if bat is None:
        assert np.allclose(b, 0) and np.allclose(soc, 0), f"{sid}: battery flows without a battery"
        return
    assert (b <= bat["max_charge_kw"] + TOL).all() and (b >= -bat["max_discharge_kw"] - TOL).all()
    _close(soc[0], bat["soc_kwh"], f"{sid}: initial soc")
    eta_c, eta_d = bat.get("charge_efficiency", 1.0), bat.get("discharge_efficiency", 1.0)
    # The spec's recursion on the net power b_t: it holds only if the plan never charges and
    # discharges in the same slot (doing both would lose energy the recursion does not see).
    expected = soc[:-1] + np.where(b >= 0, eta_c * b * dt_h, b * dt_h / eta_d)
    assert np.allclose(soc[1:], expected, atol=TOL), f"{sid}: SoC recursion"
    assert (soc >= bat.get("min_soc_kwh", 0.0) - TOL).all() and (soc <= bat["capacity_kwh"] + TOL).all()
    final = bat.get("final_soc_min_kwh")
    assert soc[-1] >= (bat["soc_kwh"] if final is None else final) - TOL, f"{sid}: final soc"


def _check_evs(
    scn: dict[str, Any],
    site: dict[str, Any],
    out: dict[str, Any],
    start: datetime,
    dt: timedelta,
    dt_h: float,
    pv: np.ndarray,
) -> np.ndarray:
    n = scn["horizon_slots"]
    sid = site["site_id"]
    total, solar_total, boost_used = np.zeros(n), np.zeros(n), np.zeros(n)
    violations = {(v["kind"], v.get("ev_id")): v["kwh"] for v in out["violations"]}
    for ev in site.get("evs", []):
        k = ev["ev_id"]
        v = np.array(out["ev_kw"][k])
        first, stop = window(ev, start, dt, n)
        mask = np.zeros(n, bool)
        mask[first:stop] = True
        assert np.allclose(v[~mask], 0, atol=TOL), f"{sid}/{k}: charging outside its window"
        assert (v >= -TOL).all() and (v <= ev["max_power_kw"] + TOL).all(), f"{sid}/{k}: power bounds"
        delivered = float(v.sum() * ev.get("efficiency", 1.0) * dt_h)
        _close(out["ev_energy_kwh"][k], delivered, f"{sid}/{k}: energy")
        assert delivered <= ev["energy_needed_kwh"] + TOL, f"{sid}/{k}: more than needed"
        mode = ev.get("mode", "smart")
        if mode == "boost":
            expected = boost_kw(site, ev, first, stop, dt_h, boost_used)
            boost_used += expected
            assert np.allclose(v, expected, atol=TOL), f"{sid}/{k}: boost profile"
        if mode == "solar":
            solar_total += v
        elif ev["energy_needed_kwh"] - delivered > TOL:
            _close(
                violations.get(("ev_shortfall", k), 0.0),
                ev["energy_needed_kwh"] - delivered,
                f"{sid}/{k}: shortfall reported",
            )
        else:
            assert ("ev_shortfall", k) not in violations
        total += v
    surplus = np.maximum(0, pv - np.array(site["base_load_kw"]))
    assert (solar_total <= surplus + TOL).all(), f"{sid}: solar EVs above the PV surplus"
    return total


def check_plan(scn: dict[str, Any], plan: dict[str, Any]) -> None:
    """Assert that the plan honours every rule of the spec for this scenario."""
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
    any_violation = any(s["violations"] for s in plan["sites"])
    assert (plan["status"] == "best_effort") == any_violation
