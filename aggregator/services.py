"""The closed loop's use case: plan the portfolio, record the run, dispatch the schedules."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

from aggregator.inputs import Home, PlanningInputs
from aggregator.ports import Dispatched, Dispatcher, Executor, LoopStore, RunRecord, Schedule
from aggregator.scenario_builder import (
    RESOLUTION,
    BuiltScenario,
    NothingToPlan,
    build_scenario,
    without_sites,
)
from flexmodel.planner import Method, plan_scenario
from flexmodel.scenario import Plan, PlanStatus, ScenarioInvalid, parse_scenario
from flexmodel.solve import SolverOptions

log = logging.getLogger(__name__)


def _plan_blocking(
    scenario: dict[str, Any], solver: str, method: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate and plan in a worker; plain dicts cross the process boundary."""
    planned = plan_scenario(parse_scenario(scenario), SolverOptions(solver=solver), method=Method(method))
    return planned.plan.model_dump(mode="json", exclude_none=True), planned.facts()


def _capped_zeros(built: BuiltScenario, start: datetime, home: Home) -> Schedule | str:
    """A car-less home under target "ev": zeros over the capped slots only (a car arriving
    there waits for the next plan instead of adding to the capped load); elsewhere no schedule,
    so a car arriving before the next plan follows the agent's own promise policy."""
    caps = (built.scenario.get("portfolio") or {}).get("net_import_cap_kw") or []
    capped = [t for t, cap in enumerate(caps) if cap is not None]
    if not capped:
        return home.ven_id
    first, last = capped[0], capped[-1]
    return Schedule(
        home.ven_id, home.site_id, start + first * RESOLUTION, RESOLUTION, (0.0,) * (last - first + 1)
    )


def schedules(built: BuiltScenario, plan: Plan, target: str = "site") -> list[Schedule | str]:
    """Each planned home's setpoint per slot: its net import (target "site"), or the summed
    power of its EV chargers (target "ev", for agents that steer the charger with the event).
    A VEN id instead of a schedule: release the home (see `_capped_zeros`)."""
    start = datetime.fromisoformat(built.scenario["start"])
    out: list[Schedule | str] = []
    for home, site in zip(built.planned, plan.sites, strict=True):
        if target == "ev":
            if not site.ev_kw:
                out.append(_capped_zeros(built, start, home))
                continue
            values = [sum(kw) for kw in zip(*site.ev_kw.values(), strict=True)]
        else:
            values = [g - e for g, e in zip(site.grid_import_kw, site.grid_export_kw, strict=True)]
        out.append(Schedule(home.ven_id, home.site_id, start, RESOLUTION, tuple(round(v, 3) for v in values)))
    return out


def _inputs_summary(inputs: PlanningInputs, built: BuiltScenario | None) -> dict[str, Any]:
    return {
        "now": inputs.now.isoformat(),
        "homes": [
            {
                "ven_id": h.ven_id,
                "site_id": h.site_id,
                "usable": h.site is not None and (built is None or h not in built.skipped),
                "excluded": h.excluded_reason,
            }
            for h in inputs.homes
        ],
        "windows": [
            {**asdict(w), "start": w.start.isoformat(), "end": w.end.isoformat()} for w in inputs.windows
        ],
        "imbalance": inputs.imbalance is not None,
        "scenario": built.scenario if built is not None else None,
        "fixed_kw": list(built.fixed_kw) if built is not None else None,
    }


async def run_planning(
    store: LoopStore,
    dispatcher: Dispatcher,
    executor: Executor,
    trigger: str,
    now: datetime,
    solver: str = "highs",
    method: str = "auto",
    target: str = "site",
) -> RunRecord:
    """Plan the portfolio from the stored inputs as of `now`, dispatch, and record the run.

    A run that cannot plan (no prices, no homes, an invalid scenario) is recorded with status
    "error" and its message; nothing is dispatched then.
    """
    run_id = uuid.uuid4().hex
    started = time.perf_counter()
    inputs = await store.load_inputs(now)
    timings = {"inputs_s": time.perf_counter() - started}
    built: BuiltScenario | None = None
    try:
        built = build_scenario(inputs, batteries=target != "ev")
        try:
            parse_scenario(built.scenario)
        except ScenarioInvalid as exc:
            # One home's bad entry must not stop the others: plan without it (it is recorded).
            log.warning("planning without invalid site entries: %s", exc)
            built = without_sites(built, exc.messages) or built
        solve_started = time.perf_counter()
        plan_json, facts = await executor(_plan_blocking, built.scenario, solver, method)
        timings["solve_s"] = time.perf_counter() - solve_started
    except (NothingToPlan, ScenarioInvalid) as exc:
        record = _record(run_id, trigger, now, started, inputs, built, None, None, str(exc), solver)
        await store.save_run(record)
        return record
    plan = Plan.model_validate(plan_json)
    dispatched: list[Dispatched] = []
    dispatch_started = time.perf_counter()
    if plan.status is not PlanStatus.ERROR:
        for home in built.fixed:
            await dispatcher.release(home.ven_id, now)
        steered: list[Schedule] = []
        for schedule in schedules(built, plan, target):
            if isinstance(schedule, str):
                await dispatcher.release(schedule, now)
            else:
                steered.append(schedule)
        dispatched = await dispatcher.dispatch_all(steered, run_id, now)
    timings["dispatch_s"] = time.perf_counter() - dispatch_started
    record = _record(
        run_id, trigger, now, started, inputs, built, plan_json, dispatched, plan.message, solver
    )
    record = RunRecord(
        **{
            **asdict(record),
            "inputs": {**record.inputs, "method": facts, "target": target, "timings": timings},
        }
    )
    await store.save_run(record)
    log.info("planning run %s (%s): %s in %.2f s", run_id, trigger, record.status, record.seconds)
    return record


def _record(
    run_id: str,
    trigger: str,
    now: datetime,
    started: float,
    inputs: PlanningInputs,
    built: BuiltScenario | None,
    plan: dict[str, Any] | None,
    dispatched: list[Dispatched] | None,
    message: str | None,
    solver: str,
) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        trigger=trigger,
        started_at=now,
        seconds=time.perf_counter() - started,
        status=str(plan["status"]) if plan else "error",
        solver=str(plan["solver"]["name"]) if plan else solver,
        gap=plan.get("gap") if plan else None,
        message=message,
        inputs=_inputs_summary(inputs, built),
        plan=plan,
        dispatch={"vens": [asdict(d) for d in dispatched]} if dispatched is not None else None,
    )
