"""The demo's evidence: measured telemetry -> per-slot energy, the baseline, costs, the report.

Everything "measured" comes from the meters' and chargers' energy counters as the VTN stored
them from the agents' TELEMETRY_USAGE reports (never from the plan). The uncontrolled baseline
replaces each home's measured EV charging by charging at full power from arrival until the
car's target (the rest of the home as measured).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

DAY_START = timedelta(hours=11)  # the reported day runs 11:00 -> 11:00 UTC (after the day-ahead run)
SLOT = timedelta(minutes=15)
DT_H = 0.25


@dataclass
class DemoData:
    day_start: datetime
    slots: int
    homes: list[str]
    market: dict[str, Any]
    meter_kw: dict[str, np.ndarray]  # per home, average net import per slot [kW]
    ev_kw: dict[str, np.ndarray]  # per home, average charger power per slot [kW]
    runs: list[dict[str, Any]]
    sessions: list[dict[str, Any]] = field(default_factory=list)
    household: dict[str, Any] | None = None  # one household's app view (flexvpp.demo.household_view)
    dashboard_url: str = ""  # the operator's dashboard of the demo's VTN, while it ran

    def times(self) -> list[datetime]:
        return [self.day_start + t * SLOT for t in range(self.slots)]


@dataclass
class Report:
    summary: str
    html_path: Path
    figures: Any = None


def _slot_average_kw(points: list[tuple[float, float]], edges_s: np.ndarray) -> np.ndarray:
    """Average power per slot [kW] from an energy counter's samples (time s, Wh)."""
    if len(points) < 2:
        return np.full(len(edges_s) - 1, np.nan)
    t = np.array([p[0] for p in points])
    wh = np.array([p[1] for p in points])
    at_edges = np.interp(edges_s, t, wh, left=np.nan, right=np.nan)
    average: np.ndarray = np.diff(at_edges) / 1000.0 / DT_H
    return average


def _counter(points: list[dict[str, Any]], r_id: str) -> list[tuple[float, float]]:
    rows = sorted(
        (datetime.fromisoformat(p["dtstart"]).timestamp(), float(p["value"]))
        for p in points
        if p["r_id"] == r_id
    )
    return rows


def collect(demo: Any, market: dict[str, Any]) -> DemoData:
    start = demo.day + DAY_START
    slots = 96
    edges = np.array([(start + t * SLOT).timestamp() for t in range(slots + 1)])
    meter: dict[str, np.ndarray] = {}
    ev: dict[str, np.ndarray] = {}
    since = (start - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    for site, ven_id in demo.vens.items():
        points = demo.api("GET", f"/vens/{ven_id}/telemetry?since={since}", role="operator")
        imp = _slot_average_kw(_counter(points, "meter-1.energy_import"), edges)
        exp = _slot_average_kw(_counter(points, "meter-1.energy_export"), edges)
        meter[site] = imp - np.nan_to_num(exp)
        ev[site] = np.nan_to_num(_slot_average_kw(_counter(points, "evse-1.energy_import"), edges))
    runs = [
        demo.api("GET", f"/portfolio/runs/{r['run_id']}")
        for r in reversed(demo.api("GET", "/portfolio/runs"))
    ]
    return DemoData(start, slots, list(demo.vens), market, meter, ev, runs)


# ---- analysis ------------------------------------------------------------------------------


def _series_on(data: DemoData, body: dict[str, Any], key: str) -> np.ndarray:
    start = datetime.fromisoformat(body["start"])
    step = timedelta(minutes=int(body.get("resolution_minutes", 15)))
    values = body[key]
    out = np.zeros(data.slots)
    for t, moment in enumerate(data.times()):
        k = int((moment + SLOT / 2 - start) / step)
        out[t] = float(values[k]) if 0 <= k < len(values) else float(values[k % len(values)])
    return out


def _window(data: DemoData, start: str, end: str) -> np.ndarray:
    a, b = datetime.fromisoformat(start), datetime.fromisoformat(end)
    return np.array([a <= m + SLOT / 2 < b for m in data.times()])


def baseline_ev_kw(data: DemoData, site: str) -> np.ndarray:
    """Every car charging at full power from arrival until its target (energy into the car)."""
    out = np.zeros(data.slots)
    for s in data.sessions:
        if s["site_id"] != site:
            continue
        need_grid_kwh = s["target_kwh"] / s.get("efficiency", 1.0)
        t0 = data.day_start.timestamp()
        for t in range(data.slots):
            a, b = t0 + t * 900.0, t0 + (t + 1) * 900.0
            overlap_h = max(0.0, min(b, s["departure_s"]) - max(a, s["arrival_s"])) / 3600.0
            kwh = min(need_grid_kwh, s["max_kw"] * overlap_h)
            out[t] += kwh / DT_H
            need_grid_kwh -= kwh
    return out


@dataclass
class Figures:
    measured_kw: np.ndarray
    baseline_kw: np.ndarray
    plan_kw: np.ndarray
    dayahead_kw: np.ndarray
    cap_kw: np.ndarray
    imbalance_mask: np.ndarray
    cost_eur: tuple[float, float]  # controlled, baseline
    capacity_eur: tuple[float, float]
    sum_peaks_kw: tuple[float, float]
    portfolio_peak_kw: tuple[float, float]
    ev_rows: list[tuple[str, float, float, bool]]  # site, target, delivered, met
    dr: dict[str, float]


def _plan_curves(data: DemoData) -> tuple[np.ndarray, np.ndarray]:
    """(the schedule as dispatched: each slot from the newest run before it; the first plan)."""
    dispatched = np.full(data.slots, np.nan)
    first = np.full(data.slots, np.nan)
    for i, run in enumerate(r for r in data.runs if r.get("plan") and r["plan"].get("portfolio")):
        scenario = run["inputs"]["scenario"]
        fixed = run["inputs"].get("fixed_kw") or [0.0] * scenario["horizon_slots"]
        start = datetime.fromisoformat(scenario["start"])
        net = np.array(run["plan"]["portfolio"]["net_import_kw"]) + np.array(fixed)
        for t, moment in enumerate(data.times()):
            k = int((moment - start) / SLOT)
            if 0 <= k < len(net):
                dispatched[t] = net[k]
                if i == 0:
                    first[t] = net[k]
    return dispatched, first


def _costs(data: DemoData, nets: dict[str, np.ndarray]) -> tuple[float, float, float, float]:
    """(energy cost, capacity cost, sum of home peaks, portfolio peak) for per-home net imports."""
    prices = data.market["prices"]
    imp = _series_on(data, prices, "import_eur_per_kwh")
    exp = _series_on(data, prices, "export_eur_per_kwh")
    capacity = float(prices.get("capacity_eur_per_kw_month", 0.0))
    energy = cap_cost = peaks = 0.0
    total = np.zeros(data.slots)
    for net in nets.values():
        net = np.nan_to_num(net)
        total += net
        energy += float(np.sum(imp * np.maximum(net, 0) - exp * np.maximum(-net, 0)) * DT_H)
        peak = float(np.max(np.maximum(net, 0)))
        peaks += peak
        cap_cost += capacity * max(0.0, peak - 2.5)
    return energy, cap_cost, peaks, float(total.max())


def analyse(data: DemoData) -> Figures:
    measured = {s: data.meter_kw[s] for s in data.homes}
    baseline = {
        s: np.nan_to_num(data.meter_kw[s]) - data.ev_kw[s] + baseline_ev_kw(data, s) for s in data.homes
    }
    total = np.nansum(np.array(list(measured.values())), axis=0)
    total_base = np.sum(np.array(list(baseline.values())), axis=0)
    request = data.market["request"]
    cap_mask = _window(data, request["start"], request["end"])
    cap = np.where(cap_mask, float(request["power_kw"]), np.nan)
    imb = data.market["imbalance"]
    imb_end = (datetime.fromisoformat(imb["start"]) + len(imb["imbalance_eur_per_kwh"]) * SLOT).isoformat()
    plan, first = _plan_curves(data)
    c_ctrl, c_base = _costs(data, measured), _costs(data, baseline)
    ev_rows = []
    for s in sorted(data.sessions, key=lambda x: x["site_id"]):
        if not data.day_start.timestamp() <= s["arrival_s"] < data.day_start.timestamp() + data.slots * 900:
            continue
        ev_rows.append(
            (s["site_id"], s["target_kwh"], s["delivered_kwh"], s["delivered_kwh"] >= s["target_kwh"] - 0.1)
        )
    requested = np.where(cap_mask, np.maximum(0.0, total_base - cap), 0.0)
    delivered = np.where(cap_mask, total_base - total, 0.0)
    over = np.where(cap_mask, np.maximum(0.0, total - cap), 0.0)
    dr = {
        "requested_kwh": float(requested.sum() * DT_H),
        "delivered_kwh": float(np.maximum(delivered, 0).sum() * DT_H),
        "max_measured_kw": float(np.nanmax(np.where(cap_mask, total, np.nan))),
        "cap_kw": float(request["power_kw"]),
        "over_cap_kwh": float(over.sum() * DT_H),
        "baseline_max_kw": float(np.nanmax(np.where(cap_mask, total_base, np.nan))),
    }
    return Figures(
        total, total_base, plan, first, cap, _window(data, imb["start"], imb_end),
        (c_ctrl[0] + c_ctrl[1], c_base[0] + c_base[1]), (c_ctrl[1], c_base[1]), (c_ctrl[2], c_base[2]),
        (c_ctrl[3], c_base[3]), ev_rows, dr,
    )  # fmt: skip


# ---- output --------------------------------------------------------------------------------


def summary_table(data: DemoData, f: Figures) -> str:
    met = sum(1 for r in f.ev_rows if r[3])
    plans = [r for r in data.runs if r["status"] != "error"]
    triggers = ", ".join(sorted({r["trigger"].split(" (")[0][:28] for r in data.runs}))[:70]
    dr = f.dr
    rows = [
        ("homes", f"{len(data.homes)}", ""),
        ("planning runs", f"{len(data.runs)} ({len(plans)} planned)", triggers),
        ("EVs at target", f"{met}/{len(f.ev_rows)}", "delivered >= target - 0.1 kWh"),
        ("cost (energy + capacity) EUR", f"{f.cost_eur[0]:.2f}", f"baseline {f.cost_eur[1]:.2f}"),
        ("sum of home peaks kW", f"{f.sum_peaks_kw[0]:.1f}", f"baseline {f.sum_peaks_kw[1]:.1f}"),
        ("portfolio peak kW", f"{f.portfolio_peak_kw[0]:.1f}", f"baseline {f.portfolio_peak_kw[1]:.1f}"),
        ("DR cap kW (17-21 h)", f"{dr['cap_kw']:.1f}",
         f"measured max {dr['max_measured_kw']:.1f}, baseline max {dr['baseline_max_kw']:.1f}"),
        ("DR kWh requested / delivered", f"{dr['requested_kwh']:.1f} / {dr['delivered_kwh']:.1f}",
         f"over the cap {dr['over_cap_kwh']:.2f} kWh"),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    lines = [f"{'':{width}}  {'controlled':>14}  vs", "-" * (width + 40)]
    lines += [f"{a:{width}}  {b:>14}  {c}" for a, b, c in rows]
    return "\n".join(lines)


def _png(fig: Any, out: Path, name: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    (out / f"{name}.png").write_bytes(buffer.getvalue())
    return base64.b64encode(buffer.getvalue()).decode()


def plots(data: DemoData, f: Figures, out: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = np.array(
        [(m - data.day_start).total_seconds() / 3600 + data.day_start.hour for m in data.times()]
    )
    images = {}
    fig, ax = plt.subplots(figsize=(11, 4.2))
    ax.step(
        hours, f.baseline_kw, where="post", color="0.6", label="uncontrolled baseline (EVs charge on arrival)"
    )
    ax.step(hours, f.dayahead_kw, where="post", color="tab:green", ls=":", label="day-ahead plan")
    ax.step(
        hours, f.plan_kw, where="post", color="tab:blue", ls="--", label="plan as dispatched (after re-plans)"
    )
    ax.step(hours, f.measured_kw, where="post", color="black", lw=1.6, label="measured (meters' telemetry)")
    ax.step(hours, f.cap_kw, where="post", color="tab:red", lw=2.5, label="DR cap")
    ax.fill_between(hours, 0, 1, where=f.imbalance_mask, step="post", color="orange", alpha=0.15,
                    transform=ax.get_xaxis_transform(), label="imbalance signal")  # fmt: skip
    ax.set_xlabel("hour (UTC, from 11:00)")
    ax.set_ylabel("portfolio net import [kW]")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    images["net_import"] = _png(fig, out, "net_import")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(11, 3.6))
    x = np.arange(len(f.ev_rows))
    ax.bar(x - 0.2, [r[1] for r in f.ev_rows], 0.4, color="0.7", label="target")
    ax.bar(
        x + 0.2,
        [r[2] for r in f.ev_rows],
        0.4,
        color=["tab:green" if r[3] else "tab:red" for r in f.ev_rows],
        label="delivered",
    )
    ax.set_xticks(x, [r[0].removeprefix("home-") for r in f.ev_rows], fontsize=7)
    ax.set_ylabel("EV energy [kWh]"), ax.set_xlabel("home"), ax.legend(fontsize=8)
    images["ev_energy"] = _png(fig, out, "ev_energy")
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for ax, title, pair in (
        (axes[0], "cost: energy + capacity [EUR]", f.cost_eur),
        (axes[1], "sum of home month peaks [kW]", f.sum_peaks_kw),
        (axes[2], "portfolio peak [kW]", f.portfolio_peak_kw),
    ):
        ax.bar(["controlled", "baseline"], pair, color=["tab:blue", "0.6"])
        ax.set_title(title, fontsize=9)
        for i, v in enumerate(pair):
            ax.text(i, v, f"{v:.1f}", ha="center", va="bottom", fontsize=8)
    images["cost_peak"] = _png(fig, out, "cost_peak")
    plt.close(fig)

    mask = ~np.isnan(f.cap_kw)
    fig, ax = plt.subplots(figsize=(11, 3.4))
    requested = np.where(mask, np.maximum(0, f.baseline_kw - np.nan_to_num(f.cap_kw)), np.nan)
    delivered = np.where(mask, f.baseline_kw - f.measured_kw, np.nan)
    ax.step(hours, requested, where="post", color="tab:red", label="requested: baseline above the cap")
    ax.step(hours, delivered, where="post", color="black", label="delivered: baseline - measured")
    ax.set_xlim(hours[mask].min() - 1 if mask.any() else 0, hours[mask].max() + 1.25 if mask.any() else 24)
    ax.set_ylabel("DR [kW]")
    ax.set_xlabel("hour (UTC)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    images["dr"] = _png(fig, out, "dr")
    plt.close(fig)
    return images


def write_report(data: DemoData, out: Path) -> Report:
    f = analyse(data)
    summary = summary_table(data, f)
    images = plots(data, f, out)
    runs = "".join(
        f"<tr><td>{r['started_at'][11:16]}</td><td>{_esc(r['trigger'])}</td><td>{r['status']}</td>"
        f"<td>{r['seconds']:.1f}</td><td>{_esc(str((r.get('inputs') or {}).get('method', '')))}</td></tr>"
        for r in data.runs
    )
    figures = "".join(
        f'<h2>{title}</h2><img alt="{name}" src="data:image/png;base64,{images[name]}">'
        for name, title in (
            ("net_import", "Portfolio net import: measured, plan, cap, baseline"),
            ("ev_energy", "Each home's EV: energy delivered against its target"),
            ("cost_peak", "Cost and month peak against the uncontrolled baseline"),
            ("dr", "DR: kW requested against delivered (measured)"),
        )
    )
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>flexvpp demo</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "pre{background:#f4f4f4;padding:1em}td,th{padding:2px 8px;border-bottom:1px solid #ddd;"
        "font-size:13px}img{max-width:100%}</style></head><body>"
        f"<h1>flexvpp demo: {len(data.homes)} homes, {data.day_start:%Y-%m-%d %H:%M} UTC + 24 h</h1>"
        f"<pre>{_esc(summary)}</pre>{figures}<h2>Planning runs</h2><table><tr><th>sim time</th>"
        f"<th>trigger</th><th>status</th><th>s</th><th>method</th></tr>{runs}</table>"
        f"{household_html(data.household)}{dashboard_html(data.dashboard_url)}</body></html>"
    )
    path = out / "report.html"
    path.write_text(html)
    return Report(summary, path, f)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _eur(value: Any) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _kwh(value: Any) -> str:
    return "" if value is None else f"{value:.1f}"


def dashboard_html(url: str) -> str:
    """Where the operator watched the run live (docs/dashboard.md); the VTN stops with the demo."""
    if not url:
        return ""
    return (
        f"<h2>The operator's dashboard</h2><p>While the demo ran, its VTN served the operator's dashboard "
        f"at <a href='{_esc(url)}'>{_esc(url)}</a> (log in with the operator token in "
        "<code>operator-token</code> beside this report): the fleet, the portfolio's measured net import "
        "against the plan and the cap, the events and the planning runs, refreshed live.</p>"
    )


def household_html(view: dict[str, Any] | None) -> str:
    """One household's app view: its charge mode, its sessions and its month against the baseline."""
    if view is None:
        return ""
    prefs, savings = view["preferences"], view["savings"]
    sessions = "".join(
        f"<tr><td>{s['start'][11:16]}</td><td>{(s['end'] or '')[11:16] or 'charging'}</td>"
        f"<td>{s['energy_kwh']:.2f}</td><td>{_eur(s['cost_eur'])}</td><td>{s['mode'] or ''}</td>"
        f"<td>{_kwh(s['target_kwh'])}</td>"
        f"<td>{'' if s['target_met'] is None else ('yes' if s['target_met'] else 'no')}</td></tr>"
        for s in view["sessions"]
    )
    measured, baseline, saved = savings["measured"], savings["baseline"], savings["saved"]
    estimated = ", ".join(savings["estimated"]) or "nothing"
    return (
        f"<h2>One household's view: {_esc(view['site'])} (its app, a customer token)</h2>"
        f"<p>Charge mode <b>{_esc(prefs['charge_mode'])}</b>. Sessions of the day "
        "(GET /sites/{site_id}/sessions):</p>"
        "<table><tr><th>start</th><th>end</th><th>kWh</th><th>EUR</th><th>mode</th><th>target kWh</th>"
        f"<th>met</th></tr>{sessions}</table>"
        f"<p>The month so far (GET /sites/{{site_id}}/savings?month={_esc(savings['month'])}): energy "
        f"{_eur(measured['energy_eur'])} EUR against {_eur(baseline['energy_eur'])} uncontrolled, month "
        f"peak {measured['peak_kw']:.1f} kW against {baseline['peak_kw']:.1f} kW, capacity "
        f"{_eur(measured['capacity_eur'])} EUR against {_eur(baseline['capacity_eur'])}: saved "
        f"{_eur(saved['total_eur'])} EUR. Estimated: {_esc(estimated)}.</p>"
    )
