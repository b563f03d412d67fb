"""ELECTRICITY_PRICE: re-plan the home locally with flexmodel's planner.

The home's own plan-format entry plus the prices the VTN sent (EUR/kWh per interval; the last
known price fills slots past the price signal) make a one-site scenario; `plan_scenario`
(HiGHS) answers with EV and battery power per slot, which the agent then follows as its local
policy, under the same safety as everything else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ven.agent.events import EventInterval
from ven.agent.site_entry import Grid

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TariffDefaults:
    import_eur_per_kwh: float = 0.30  # used where no price is known
    export_eur_per_kwh: float = 0.03
    capacity_eur_per_kw_month: float = 3.37


class LocalPlanFailed(RuntimeError):
    """The local planner could not plan the home; the message says why."""


def price_series(grid: Grid, prices: list[EventInterval], default: float) -> list[float]:
    out = []
    last = default
    for t in range(grid.slots):
        moment = grid.slot_start_s(t)
        found = next((p.value for p in prices if p.start_s <= moment < p.end_s), None)
        if found is not None:
            last = found
        out.append(last if found is None else found)
    return out


def scenario_document(
    entry: dict[str, Any], grid: Grid, prices: list[EventInterval], tariff: TariffDefaults
) -> dict[str, Any]:
    return {
        "start": grid.start.isoformat(),
        "resolution_minutes": int(grid.resolution.total_seconds() // 60),
        "horizon_slots": grid.slots,
        "tariff": {
            "import_eur_per_kwh": price_series(grid, prices, tariff.import_eur_per_kwh),
            "export_eur_per_kwh": [tariff.export_eur_per_kwh] * grid.slots,
            "capacity_eur_per_kw_month": tariff.capacity_eur_per_kw_month,
        },
        "sites": [entry],
    }


def plan_home(
    entry: dict[str, Any],
    grid: Grid,
    prices: list[EventInterval],
    tariff: TariffDefaults,
    battery_id: str | None,
) -> dict[str, list[EventInterval]]:
    """Device id -> power per slot [kW] (EVs by ev_id = device id, the battery by `battery_id`)."""
    from flexmodel.planner import plan_scenario
    from flexmodel.scenario import ScenarioInvalid, parse_scenario
    from flexmodel.solve import SolverOptions

    try:
        scenario = parse_scenario(scenario_document(entry, grid, prices, tariff))
    except ScenarioInvalid as exc:
        raise LocalPlanFailed(f"the home's own entry is not a valid scenario: {exc}") from None
    plan = plan_scenario(scenario, SolverOptions(solver="highs", time_limit_s=30.0)).plan
    if plan.status == "error" or not plan.sites:
        raise LocalPlanFailed(f"local planning failed: {getattr(plan, 'message', plan.status)}")
    site = plan.sites[0]
    step = grid.resolution.total_seconds()

    def intervals(values: list[float]) -> list[EventInterval]:
        return [EventInterval(grid.slot_start_s(t), step, float(v)) for t, v in enumerate(values)]

    out = {ev_id: intervals(list(values)) for ev_id, values in site.ev_kw.items()}
    if battery_id is not None and entry.get("battery"):
        out[battery_id] = intervals(list(site.battery_kw))
    log.info("local plan: status %s, cost %.2f EUR", site.status, site.cost_eur.total)
    return out
