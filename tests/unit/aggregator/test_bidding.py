"""The flexibility offer's use case (aggregator.bidding) on the fakes: around the newest run that
planned, from now on, the homes left out of steering counted in the plan and offering nothing,
computed once per run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from fakes import FakeUnitOfWork

from aggregator.bidding import OfferCache, portfolio_flexibility
from aggregator.errors import NotFound
from aggregator.inputs import Home, PlanningInputs, Prices, Series
from aggregator.ports import Dispatched, RunRecord, Schedule
from aggregator.services import run_planning

T = TypeVar("T")
DAY = datetime(2026, 3, 10, tzinfo=UTC)
SLOT = timedelta(minutes=15)
NOW = DAY + timedelta(hours=16, minutes=5)
BASE_KW = 0.5
EV_KW = 7.4
FIXED_KW = 1.25  # an excluded home's expected load


def _site(site_id: str) -> dict[str, Any]:
    return {
        "site_id": site_id,
        "import_limit_kw": 17.0,
        "export_limit_kw": 10.0,
        "month_peak_kw": 0.0,
        "base_load_kw": [BASE_KW] * 96,
        "evs": [
            {
                "ev_id": "evse-1",
                "arrival": (DAY + timedelta(hours=17)).isoformat(),
                "departure": (DAY + timedelta(hours=23)).isoformat(),
                "energy_needed_kwh": 10.0,
                "max_power_kw": EV_KW,
            }
        ],
    }


class _Store:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.runs: list[RunRecord] = []

    async def load_inputs(self, now: datetime) -> PlanningInputs:
        # Cheapest at 20:00-21:00: the car charges there, and may move anywhere in 17:00-23:00.
        prices = tuple(0.05 if 80 <= t < 84 else 0.30 for t in range(96))
        return PlanningInputs(
            now=now,
            homes=(
                Home("v1", "h1", _site("h1"), DAY),
                Home("v2", "h2", None, fixed_kw=(FIXED_KW,) * 96, excluded_reason="opted out"),
            ),
            prices=Prices(Series(DAY, SLOT, prices), Series(DAY, SLOT, (0.02,) * 96), 3.0),
        )

    async def save_run(self, run: RunRecord) -> None:
        self.runs.append(run)


class _Dispatcher:
    async def dispatch_all(self, schedules: Any, run_id: str, now: datetime) -> list[Dispatched]:
        return [Dispatched(s.ven_id, "e", 0, "created") for s in schedules if isinstance(s, Schedule)]

    async def release(self, ven_id: str, now: datetime) -> None:
        return None


class _Inline:
    """The solver process's executor, in this process, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, fn: Callable[..., T], *args: Any) -> T:
        self.calls += 1
        return fn(*args)


async def _planned(now: datetime) -> RunRecord:
    store = _Store(now)
    return await run_planning(store, _Dispatcher(), _Inline(), "test", now)


async def test_no_plan_yet_is_not_found() -> None:
    with pytest.raises(NotFound):
        await portfolio_flexibility(FakeUnitOfWork(), OfferCache(), _Inline(), NOW)


async def test_the_offer_is_around_the_newest_plan_from_now_on() -> None:
    run = await _planned(NOW)
    assert run.status == "optimal", run.message
    executor = _Inline()
    later = NOW + timedelta(hours=1)  # 17:05: the offer starts at 17:15
    offer = await portfolio_flexibility(FakeUnitOfWork(runs=[run]), OfferCache(), executor, later)
    assert offer.run_id == run.run_id and offer.resolution_s == 900
    assert offer.homes == 1 and offer.fixed_homes == 1
    assert offer.slots[0].start == DAY + timedelta(hours=17, minutes=15)
    by_start = {s.start: s for s in offer.slots}
    ev = run.plan["sites"][0]["ev_kw"]["evse-1"]  # type: ignore[index]
    scenario_start = datetime.fromisoformat(run.inputs["scenario"]["start"])
    for t, ev_kw in enumerate(ev):
        slot = by_start.get(scenario_start + t * SLOT)
        if slot is None:
            continue
        # the excluded home's load is in the plan's figure, and offers nothing
        assert slot.planned_kw == pytest.approx(BASE_KW + ev_kw + FIXED_KW, abs=1e-6)
        in_window = DAY + timedelta(hours=17) <= slot.start < DAY + timedelta(hours=23)
        if not in_window:
            assert slot.up_kw == slot.down_kw == 0.0 and slot.up_held_s == slot.down_held_s == 0
            continue
        # the car alone moves: up to its full power, down to nothing, its 10 kWh still delivered
        assert slot.up_kw == pytest.approx(EV_KW - ev_kw, abs=1e-3)
        assert slot.down_kw == pytest.approx(ev_kw, abs=1e-3)
        assert (slot.up_held_s > 0) == (slot.up_kw > 0) and slot.up_held_s % 900 == 0
    charging = [s for s in offer.slots if s.down_kw > 1.0]
    assert charging, "the plan charges the car"
    # 10 kWh need 1.35 h at 7.4 kW, the window is 6 h: the car can wait most of it
    assert max(s.down_held_s for s in charging) >= 3 * 3600


async def test_computed_once_per_planning_run() -> None:
    first = await _planned(NOW)
    cache, executor = OfferCache(), _Inline()
    uow = FakeUnitOfWork(runs=[first])
    await portfolio_flexibility(uow, cache, executor, NOW)
    again = await portfolio_flexibility(uow, cache, executor, NOW + timedelta(minutes=30))
    assert executor.calls == 1 and again.run_id == first.run_id
    second = await _planned(NOW + timedelta(minutes=20))
    newer = await portfolio_flexibility(FakeUnitOfWork(runs=[first, second]), cache, executor, NOW)
    assert executor.calls == 2 and newer.run_id == second.run_id
