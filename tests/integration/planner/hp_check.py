"""An independent check of a plan's heat pump and appliances against the scenario document.

Written from docs/plan-format-extensions.md, not from the planner's code: the temperature path
is recomputed from the planned power, the band and the power limits are checked, and each
appliance's start and power against its window, deadline and profile.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

TOL = 1e-6


def recomputed_temps(hp: dict[str, Any], power_kw: list[float], dt_h: float) -> list[float]:
    """T[t+1] = T[t] + Δ/C·(COP_t·P_t - (T[t] - T_out[t])/R) from T[0]."""
    c, r = hp["thermal_capacity_kwh_per_k"], hp["thermal_resistance_k_per_kw"]
    out = hp["outdoor_temp_c"]
    cop = hp.get("cop_per_slot") or [hp["cop_intercept"] + hp["cop_slope_per_k"] * t for t in out]
    temps = [hp["initial_temp_c"]]
    for t, p in enumerate(power_kw):
        temps.append(temps[-1] + dt_h / c * (cop[t] * p - (temps[-1] - out[t]) / r))
    return temps


def check_heat_pump(scn: dict[str, Any], site: dict[str, Any], out: dict[str, Any]) -> None:
    hp = site["heat_pump"]
    dt_h = scn["resolution_minutes"] / 60
    power = out["heat_pump"]["power_kw"]
    temps = out["heat_pump"]["temp_c"]
    assert len(power) == scn["horizon_slots"] and len(temps) == scn["horizon_slots"] + 1
    for t, (mine, ref) in enumerate(zip(temps, recomputed_temps(hp, power, dt_h), strict=True)):
        assert abs(mine - ref) < 1e-5, f"temp_c[{t}] {mine} but the thermal model gives {ref}"
    for t, p in enumerate(power):
        assert -TOL <= p <= hp["max_power_kw"] + TOL, f"power_kw[{t}] {p}"
        minimum = hp.get("min_power_kw", 0.0)
        assert p <= TOL or p >= minimum - TOL, f"power_kw[{t}] {p} below the minimum {minimum} while on"
        assert hp["comfort_min_c"][t] - 1e-5 <= temps[t + 1] <= hp["comfort_max_c"][t] + 1e-5, (
            f"temp_c[{t + 1}] {temps[t + 1]} outside [{hp['comfort_min_c'][t]}, {hp['comfort_max_c'][t]}]"
        )


def allowed_starts(scn: dict[str, Any], app: dict[str, Any]) -> list[datetime]:
    start = datetime.fromisoformat(scn["start"])
    step = timedelta(minutes=scn["resolution_minutes"])
    end = start + scn["horizon_slots"] * step
    duration = timedelta(minutes=15 * len(app["profile_kw"]))
    earliest = datetime.fromisoformat(app["earliest_start"])
    latest = datetime.fromisoformat(app["latest_start"]) if app.get("latest_start") else end
    deadline = datetime.fromisoformat(app["deadline"])
    slots = [start + s * step for s in range(scn["horizon_slots"])]
    return [at for at in slots if earliest <= at <= latest and at + duration <= min(deadline, end)]


def appliance_kw(scn: dict[str, Any], app: dict[str, Any], at: datetime) -> list[float]:
    """The profile placed at `at`, averaged per slot (1-minute integration: independent of the
    planner's resampling)."""
    start = datetime.fromisoformat(scn["start"])
    res = scn["resolution_minutes"]
    offset = int((at - start).total_seconds() // 60)
    power = []
    for s in range(scn["horizon_slots"]):
        total = 0.0
        for minute in range(s * res, (s + 1) * res):
            k = (minute - offset) // 15
            if minute >= offset and k < len(app["profile_kw"]):
                total += app["profile_kw"][k]
        power.append(total / res)
    return power


def check_appliances(scn: dict[str, Any], site: dict[str, Any], out: dict[str, Any]) -> None:
    for app in site.get("appliances", []):
        planned = out["appliances"][app["appliance_id"]]
        at = datetime.fromisoformat(planned["start"])
        assert at in allowed_starts(scn, app), f"{app['appliance_id']} starts at {at}, outside its window"
        expected = appliance_kw(scn, app, at)
        assert max(abs(a - b) for a, b in zip(planned["power_kw"], expected, strict=True)) < 1e-9


def check_balance(site: dict[str, Any], out: dict[str, Any]) -> None:
    """g - e = base + battery + Σ EV + heat pump + Σ appliances - PV used, slot by slot."""
    for t in range(len(out["grid_import_kw"])):
        load = site["base_load_kw"][t] + out["battery_kw"][t] + sum(v[t] for v in out["ev_kw"].values())
        load += out["heat_pump"]["power_kw"][t] if "heat_pump" in out else 0.0
        load += sum(a["power_kw"][t] for a in (out.get("appliances") or {}).values())
        net = out["grid_import_kw"][t] - out["grid_export_kw"][t]
        assert abs(net - (load - out["pv_used_kw"][t])) < 1e-5, f"balance in slot {t}"


def check_site(scn: dict[str, Any], site: dict[str, Any], out: dict[str, Any]) -> None:
    if "heat_pump" in site:
        check_heat_pump(scn, site, out)
    check_appliances(scn, site, out)
    check_balance(site, out)
