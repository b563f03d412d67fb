"""The market's inputs (aggregator/market.py) and the loop's records (aggregator/runs.py) on
in-memory ports. The REST routes are tested at the edge (tests/integration/aggregator/
test_market_api.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeUnitOfWork

from aggregator.errors import Conflict, NotFound
from aggregator.inputs import WindowKind
from aggregator.market import (
    add_request,
    cancel_request,
    latest_imbalance,
    latest_prices,
    list_requests,
    put_imbalance,
    put_prices,
)
from aggregator.ports import RunRecord
from aggregator.records import DispatchRecord, VenRecord
from aggregator.runs import get_run, latest_planned_run, list_runs, ven_schedule

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
H = timedelta(hours=1)


async def test_the_newest_prices_are_the_current_ones() -> None:
    uow = FakeUnitOfWork()
    assert await latest_prices(uow) is None
    await put_prices(uow, T0, 15, [0.1, 0.2], [0.0, 0.0], 3.0, T0)
    newer = await put_prices(uow, T0 + H, 60, [0.3], [0.01], 4.0, T0 + H)
    assert (newer.start, newer.import_eur_per_kwh, newer.created_at) == (T0 + H, (0.3,), T0 + H)
    assert await latest_prices(uow) == newer and len(uow.stored.prices) == 2


async def test_the_newest_imbalance_signal_is_the_current_one() -> None:
    uow = FakeUnitOfWork()
    assert await latest_imbalance(uow) is None
    await put_imbalance(uow, T0, 15, [0.5], None, None, T0)
    newer = await put_imbalance(uow, T0, 15, [0.2, 0.1], [4.0, 5.0], "forecast", T0 + H)
    assert (newer.nominated_net_kw, newer.reason) == ((4.0, 5.0), "forecast")
    assert await latest_imbalance(uow) == newer


async def test_dr_requests_are_added_listed_and_cancelled() -> None:
    uow = FakeUnitOfWork()
    cap = await add_request(uow, WindowKind.CAP, T0 + H, T0 + 2 * H, 8.0, "evening peak", T0)
    floor = await add_request(uow, WindowKind.FLOOR, T0 + H, T0 + 3 * H, 2.0, "surplus", T0 + H)
    assert cap.request_id != floor.request_id and cap.cancelled_at is None
    assert await list_requests(uow) == [cap, floor]

    cancelled = await cancel_request(uow, cap.request_id, T0 + 2 * H)
    assert cancelled == replace(cap, cancelled_at=T0 + 2 * H)
    assert await list_requests(uow) == [cancelled, floor]  # cancelled ones stay listed


async def test_cancelling_an_unknown_or_cancelled_request_fails() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(NotFound):
        await cancel_request(uow, "nope", T0)
    cap = await add_request(uow, WindowKind.CAP, T0 + H, T0 + 2 * H, 8.0, "evening peak", T0)
    await cancel_request(uow, cap.request_id, T0)
    with pytest.raises(Conflict, match="already cancelled"):
        await cancel_request(uow, cap.request_id, T0 + H)
    assert uow.stored.requests[cap.request_id].cancelled_at == T0  # the first cancellation's time


def run(run_id: str, started_at: datetime, status: str = "optimal", seconds: float = 1.0) -> RunRecord:
    return RunRecord(run_id, "test", started_at, seconds, status, "highs", None, None, {}, None, None)


async def test_runs_are_listed_newest_first() -> None:
    uow = FakeUnitOfWork(runs=[run("r1", T0), run("r3", T0 + 2 * H), run("r2", T0 + H)])
    assert [r.run_id for r in await list_runs(uow)] == ["r3", "r2", "r1"]
    assert [r.run_id for r in await list_runs(uow, limit=2)] == ["r3", "r2"]
    assert await get_run(uow, "r2") == run("r2", T0 + H)
    with pytest.raises(NotFound):
        await get_run(uow, "nope")


async def test_the_latest_plan_is_the_newest_run_that_planned() -> None:
    with pytest.raises(NotFound):
        await latest_planned_run(FakeUnitOfWork(runs=[run("failed", T0, "error")]))
    runs = [run("r1", T0), run("short", T0 + H, seconds=0.1), run("long", T0 + H, seconds=2.0)]
    uow = FakeUnitOfWork(runs=[*runs, run("failed", T0 + 2 * H, "error")])
    assert (await latest_planned_run(uow)).run_id == "long"  # of two started at once, the one that planned


async def test_a_homes_schedule_is_the_one_last_dispatched() -> None:
    vens = [VenRecord("v1", "home 1", "s1", T0), VenRecord("v2", "home 2", "s2", T0)]
    sent = DispatchRecord("v1", "ev-1", "r1", T0, 15, (1.0, 2.0), T0)
    uow = FakeUnitOfWork(vens=vens, dispatches=[sent])
    assert await ven_schedule(uow, "v1") == sent
    with pytest.raises(Conflict, match="no schedule yet"):
        await ven_schedule(uow, "v2")
    with pytest.raises(NotFound):
        await ven_schedule(uow, "nope")
