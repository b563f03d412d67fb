"""Planning runs through the one planning entry point (flexmodel.planner), with fake ports.

Every method reports a portfolio violation the same way, its size in kWh with one tolerance
(solver noise): the price coordination used to drop any slot less than 0.05 kW over a cap and
call the plan feasible, where the joint model reported the same miss as best_effort. And a plan
that is an error is recorded as one, not lost in a crash of the run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from aggregator.inputs import Home, PlanningInputs, PortfolioWindow, Prices, Series, WindowKind
from aggregator.ports import Dispatched, RunRecord, Schedule
from aggregator.services import run_planning

T = TypeVar("T")
DAY = datetime(2026, 3, 10, tzinfo=UTC)
SLOT = timedelta(minutes=15)
NOW = DAY + timedelta(hours=16, minutes=5)
BASE_KW = 0.5  # per home, not movable
CAP_KW = 0.98  # below the two homes' base load: 0.02 kW over in the capped quarter-hour, whatever the cars do


def _site(site_id: str) -> dict[str, Any]:
    return {
        "site_id": site_id,
        "import_limit_kw": 9.2,
        "export_limit_kw": 10.0,
        "month_peak_kw": 0.0,
        "base_load_kw": [BASE_KW] * 96,
        "evs": [
            {
                "ev_id": "evse-1",
                "arrival": (DAY + timedelta(hours=17)).isoformat(),
                "departure": (DAY + timedelta(hours=31)).isoformat(),
                "energy_needed_kwh": 10.0,
                "max_power_kw": 7.4,
            }
        ],
    }


def _inputs() -> PlanningInputs:
    # Cheapest at 17:00-19:00, so that the cars want to charge in the capped quarter-hour.
    prices = tuple(0.05 if 68 <= t < 76 else 0.30 for t in range(96))
    cap = PortfolioWindow(
        "r1", WindowKind.CAP, DAY + timedelta(hours=17), DAY + timedelta(hours=17, minutes=15), CAP_KW, "test"
    )
    return PlanningInputs(
        now=NOW,
        homes=(Home("v1", "h1", _site("h1"), DAY), Home("v2", "h2", _site("h2"), DAY)),
        prices=Prices(Series(DAY, SLOT, prices), Series(DAY, SLOT, (0.02,) * 96), 3.0),
        windows=(cap,),
    )


class _Store:
    def __init__(self) -> None:
        self.runs: list[RunRecord] = []

    async def load_inputs(self, now: datetime) -> PlanningInputs:
        return _inputs()

    async def save_run(self, run: RunRecord) -> None:
        self.runs.append(run)


class _Dispatcher:
    def __init__(self) -> None:
        self.sent: list[Schedule] = []

    async def dispatch_all(
        self, schedules: Sequence[Schedule], run_id: str, now: datetime
    ) -> list[Dispatched]:
        self.sent += schedules
        return [Dispatched(s.ven_id, f"ev-{s.ven_id}", 0, "created") for s in schedules]

    async def release(self, ven_id: str, now: datetime) -> None:
        return None


async def _inline(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


@pytest.mark.parametrize("method", ["auto", "coordination"])
def test_a_small_miss_of_the_cap_is_reported_by_every_method(method: str) -> None:
    record = asyncio.run(run_planning(_Store(), _Dispatcher(), _inline, "test", NOW, method=method))
    assert record.plan is not None, record.message
    portfolio = record.plan["portfolio"]
    caps = record.inputs["scenario"]["portfolio"]["net_import_cap_kw"]
    [capped] = [t for t, cap in enumerate(caps) if cap is not None]
    over_kw = portfolio["net_import_kw"][capped] - CAP_KW
    assert over_kw == pytest.approx(2 * BASE_KW - CAP_KW, abs=1e-5), "only the base load is left there"
    assert portfolio["violations"] == [{"kind": "net_import_cap", "kwh": pytest.approx(over_kw * 0.25)}]
    assert record.status == "best_effort"


def test_a_plan_that_is_an_error_is_recorded_and_dispatches_nothing() -> None:
    store, dispatcher = _Store(), _Dispatcher()
    record = asyncio.run(run_planning(store, dispatcher, _inline, "test", NOW, solver="cplex"))
    assert record.status == "error" and "cplex" in (record.message or "")
    assert record.plan is not None and record.plan["status"] == "error"
    assert store.runs == [record] and dispatcher.sent == []
