"""An independent formulation of one site, built from the spec as a matrix and solved with
scipy.optimize.milp (always with binaries for import/export and charge/discharge exclusivity,
and always with one solve per priority level). Shares no code with flexmodel.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
from planner_checker import boost_kw, window
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

LEVEL_TOL = 1e-9


class _Layout:
    def __init__(self) -> None:
        self.size = 0
        self.blocks: dict[str, slice] = {}

    def add(self, name: str, length: int) -> slice:
        self.blocks[name] = slice(self.size, self.size + length)
        self.size += length
        return self.blocks[name]


def reference_site_cost(scn: dict[str, Any], site: dict[str, Any]) -> dict[str, float]:  # noqa: C901
    """Lexicographic optimum of one site: {'overrun', 'shortfall', 'solar', 'cost'} (cost incl. imbalance)."""
    n = scn["horizon_slots"]
    dt = timedelta(minutes=scn["resolution_minutes"])
    dt_h = dt.total_seconds() / 3600
    start = datetime.fromisoformat(scn["start"])
    tariff = site.get("tariff") or scn["tariff"]
    imb = np.array((scn.get("portfolio") or {}).get("imbalance_eur_per_kwh") or np.zeros(n))
    base = np.array(site["base_load_kw"], float)
    pv = np.array(site["pv"]["forecast_kw"], float) if site.get("pv") else np.zeros(n)
    curtail = bool((site.get("pv") or {}).get("curtailable", False))
    bat = site.get("battery")
    fixed = base.copy()
    used = np.zeros(n)
    evs = []
    for ev in site.get("evs", []):
        first, stop = window(ev, start, dt, n)
        if ev.get("mode", "smart") == "boost":
            profile = boost_kw(site, ev, first, stop, dt_h, used)
            used += profile
            fixed += profile
        else:
            evs.append((ev, first, stop))

    lay = _Layout()
    g, e, u = lay.add("g", n), lay.add("e", n), lay.add("u", n)
    c, d, s = lay.add("c", n), lay.add("d", n), lay.add("s", n + 1)
    oi, oe, x = lay.add("oi", n), lay.add("oe", n), lay.add("x", 1)
    vs = [lay.add(f"v{i}", n) for i in range(len(evs))]
    yg, yb = lay.add("yg", n), lay.add("yb", n)
    N = lay.size
    lo, hi = np.zeros(N), np.full(N, np.inf)
    integrality = np.zeros(N)
    integrality[yg] = integrality[yb] = 1
    hi[yg] = hi[yb] = 1
    lo[u] = 0 if curtail else pv
    hi[u] = pv
    maxc = bat["max_charge_kw"] if bat else 0.0
    maxd = bat["max_discharge_kw"] if bat else 0.0
    hi[c], hi[d] = maxc, maxd
    if bat:
        lo[s], hi[s] = bat.get("min_soc_kwh", 0.0), bat["capacity_kwh"]
        lo[s.start] = hi[s.start] = bat["soc_kwh"]
        final = bat.get("final_soc_min_kwh")
        lo[s.stop - 1] = max(lo[s.stop - 1], bat["soc_kwh"] if final is None else final)
    else:
        hi[s] = 0.0
    for (ev, first, stop), v in zip(evs, vs, strict=True):
        mask = np.zeros(n)
        mask[first:stop] = 1
        hi[v] = ev["max_power_kw"] * mask

    rows: list[tuple[dict[int, float], float, float]] = []
    for t in range(n):
        bal = {g.start + t: 1.0, e.start + t: -1.0, c.start + t: -1.0, d.start + t: 1.0, u.start + t: 1.0}
        for v in vs:
            bal[v.start + t] = -1.0
        rows.append((bal, fixed[t], fixed[t]))
        rows.append(({g.start + t: 1.0, oi.start + t: -1.0}, -np.inf, site["import_limit_kw"]))
        rows.append(({e.start + t: 1.0, oe.start + t: -1.0}, -np.inf, site["export_limit_kw"]))
        rows.append(
            (
                {x.start: 1.0, g.start + t: -1.0},
                -max(site.get("month_peak_kw", 0.0), site.get("min_billed_peak_kw", 2.5)),
                np.inf,
            )
        )
        if bat:
            rows.append(
                (
                    {
                        s.start + t + 1: 1.0,
                        s.start + t: -1.0,
                        c.start + t: -bat.get("charge_efficiency", 1.0) * dt_h,
                        d.start + t: dt_h / bat.get("discharge_efficiency", 1.0),
                    },
                    0.0,
                    0.0,
                )
            )
        big_g = (
            site["import_limit_kw"] + fixed.max() + maxc + sum(ev["max_power_kw"] for ev, _, _ in evs) + 10
        )
        big_e = site["export_limit_kw"] + pv.max() + maxd + 10
        rows.append(({g.start + t: 1.0, yg.start + t: -big_g}, -np.inf, 0.0))
        rows.append(({e.start + t: 1.0, yg.start + t: big_e}, -np.inf, big_e))
        rows.append(({c.start + t: 1.0, yb.start + t: -maxc}, -np.inf, 0.0))
        rows.append(({d.start + t: 1.0, yb.start + t: maxd}, -np.inf, maxd))
        solar = [v for (ev, _, _), v in zip(evs, vs, strict=True) if ev.get("mode") == "solar"]
        if solar:
            rows.append(({v.start + t: 1.0 for v in solar}, -np.inf, max(0.0, pv[t] - base[t])))
    for ev, v in zip([ev for ev, _, _ in evs], vs, strict=True):
        eta = ev.get("efficiency", 1.0)
        rows.append(({v.start + t: eta * dt_h for t in range(n)}, -np.inf, ev["energy_needed_kwh"]))

    levels = {"overrun": np.zeros(N), "shortfall": np.zeros(N), "solar": np.zeros(N), "cost": np.zeros(N)}
    levels["overrun"][oi] = levels["overrun"][oe] = dt_h
    for (ev, _, _), v in zip(evs, vs, strict=True):
        key = "solar" if ev.get("mode") == "solar" else "shortfall"
        sign = -1.0  # shortfall = needed - delivered (minimise -delivered); solar: maximise delivered
        levels[key][v] = sign * ev.get("efficiency", 1.0) * dt_h
    levels["cost"][g] = (np.array(tariff["import_eur_per_kwh"]) + imb) * dt_h
    levels["cost"][e] = -(np.array(tariff["export_eur_per_kwh"]) + imb) * dt_h
    levels["cost"][x] = tariff.get("capacity_eur_per_kw_month", 0.0)

    result: dict[str, float] = {}
    needed = sum(ev["energy_needed_kwh"] for ev, _, _ in evs if ev.get("mode", "smart") == "smart")
    for name, cvec in levels.items():
        A = sparse.lil_matrix((len(rows), N))
        lb, ub = np.empty(len(rows)), np.empty(len(rows))
        for i, (coef, low, high) in enumerate(rows):
            for j, a in coef.items():
                A[i, j] = a
            lb[i], ub[i] = low, high
        res = milp(
            cvec,
            integrality=integrality,
            bounds=Bounds(lo, hi),
            constraints=LinearConstraint(A.tocsr(), lb, ub),
            options={"mip_rel_gap": 1e-9, "presolve": True},
        )
        assert res.status == 0, f"{site['site_id']}: reference {name} level: {res.message}"
        value = float(res.fun)
        rows.append(
            (
                {j: a for j, a in enumerate(cvec) if a != 0.0},
                -np.inf,
                value + LEVEL_TOL * max(1.0, abs(value)),
            )
        )
        result[name] = value
    result["shortfall"] += needed
    result["solar"] = -result["solar"]
    return result
