"""What the aggregator can bid: the portfolio's flexibility offer per 15-minute slot around its
current plan (the newest planning run that planned), as `GET /api/v1/portfolio/flexibility`
serves it.

Per slot from now to the plan's horizon: the planned net import of the whole portfolio (the homes
left out of steering count with their expected load), how many kW it can rise (`up_kw`) or fall
(`down_kw`) from that plan in that slot, and for how long each can be held: `up_held_s` is the
length of the longest run of slots, from this slot's start, in which the portfolio can keep its
net import at least `up_kw` above its plan in every slot at once, by one plan per home; down
likewise. Every home keeps its own guarantees meanwhile (flexmodel.portfolio.offer: EV targets by
departure, battery reserve and final SoC, import and export limits), and
the portfolio's DR requests already planned are kept (no up under a cap, no down under a floor).

Why per 15-minute slot: it is the planning grid, the resolution of Belgian balancing products and
of the DR requests a market sends (a request's window is cut on this grid), so an offered slot
can be activated exactly as it is offered; an hour's block is the minimum of its four slots'
figures held for four slots.

Activating an offer: a DR request (POST /api/v1/portfolio/requests) capping the portfolio at
`planned_kw - down_kw` over the slot (or a floor at `planned_kw + up_kw`); over `down_held_s`,
one such request per slot at that slot's planned_kw minus the first slot's down_kw. The re-plan
then delivers it (tests/integration/portfolio/test_offer.py).

Cost: one small LP per home, slot and direction, a few more for the held durations (HiGHS
through flexmodel.fast's arrays). That is computed once per planning run (`OfferCache`), in a
process beside the planner's (a planning run never waits for it), and served from the cache
until the next run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aggregator.ports import Executor, RunRecord
from aggregator.runs import latest_planned_run
from aggregator.uow import UnitOfWork
from flexmodel.portfolio.offer import home_plans, portfolio_offer
from flexmodel.problem import prepare_portfolio, prepare_sites
from flexmodel.scenario import Plan, parse_scenario
from flexmodel.solve import SolverOptions


@dataclass(frozen=True, slots=True)
class SlotOffer:
    start: datetime
    planned_kw: float
    up_kw: float
    up_held_s: int
    down_kw: float
    down_held_s: int


@dataclass(frozen=True, slots=True)
class PortfolioOffer:
    """The offer around one planning run's plan, from `now` (slots already begun left out)."""

    run_id: str
    planned_at: datetime
    resolution_s: int
    homes: int  # the homes the plan steers (each offers its own flexibility)
    fixed_homes: int  # the homes left out of steering (counted in planned_kw, offering nothing)
    compute_s: float  # how long the offer took to compute (once per run)
    slots: tuple[SlotOffer, ...]


def compute_offer(
    scenario: dict[str, Any], plan: dict[str, Any], fixed_kw: list[float] | None, solver: str
) -> dict[str, Any]:
    """The offer of a recorded run, in plain values (it runs in a process of its own)."""
    started = time.perf_counter()
    parsed = parse_scenario(scenario)
    problems, portfolio = prepare_sites(parsed), prepare_portfolio(parsed)
    offer = portfolio_offer(
        problems, home_plans(Plan.model_validate(plan), problems), portfolio, SolverOptions(solver=solver)
    )
    fixed = list(fixed_kw or [])
    planned = [float(v) + (fixed[t] if t < len(fixed) else 0.0) for t, v in enumerate(offer.planned_kw)]
    return {
        "start": scenario["start"],
        "resolution_minutes": scenario["resolution_minutes"],
        "planned_kw": planned,
        "up_kw": [float(v) for v in offer.up_kw],
        "up_slots": [int(v) for v in offer.up_slots],
        "down_kw": [float(v) for v in offer.down_kw],
        "down_slots": [int(v) for v in offer.down_slots],
        "compute_s": time.perf_counter() - started,
    }


class OfferCache:
    """The offer of the latest planning run, computed once per run (concurrent requests for a
    new run wait for the one computation)."""

    def __init__(self) -> None:
        self._run_id: str | None = None
        self._offer: dict[str, Any] | None = None
        self._lock = asyncio.Lock()

    async def get(self, run_id: str, compute: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        async with self._lock:
            if self._run_id != run_id or self._offer is None:
                self._offer = await compute()
                self._run_id = run_id
            return self._offer


def _offer_of(run: RunRecord, computed: dict[str, Any], now: datetime) -> PortfolioOffer:
    start = datetime.fromisoformat(computed["start"])
    step = timedelta(minutes=computed["resolution_minutes"])
    step_s = int(step.total_seconds())
    slots = tuple(
        SlotOffer(
            start=start + t * step,
            planned_kw=computed["planned_kw"][t],
            up_kw=computed["up_kw"][t],
            up_held_s=computed["up_slots"][t] * step_s,
            down_kw=computed["down_kw"][t],
            down_held_s=computed["down_slots"][t] * step_s,
        )
        for t in range(len(computed["planned_kw"]))
        if start + t * step >= now
    )
    homes = run.inputs.get("homes") or []
    return PortfolioOffer(
        run_id=run.run_id,
        planned_at=run.started_at,
        resolution_s=step_s,
        homes=len((run.plan or {}).get("sites") or []),
        fixed_homes=sum(1 for h in homes if h.get("excluded")),
        compute_s=computed["compute_s"],
        slots=slots,
    )


async def portfolio_flexibility(
    uow: UnitOfWork, cache: OfferCache, executor: Executor, now: datetime, solver: str = "highs"
) -> PortfolioOffer:
    """The offer around the newest plan, slots starting at or after `now`; NotFound when no run
    has planned yet."""
    run = await latest_planned_run(uow)
    scenario, plan = run.inputs.get("scenario"), run.plan
    assert scenario is not None and plan is not None, "a run that planned records both"

    async def compute() -> dict[str, Any]:
        return await executor(compute_offer, scenario, plan, run.inputs.get("fixed_kw"), solver)

    return _offer_of(run, await cache.get(run.run_id, compute), now)
