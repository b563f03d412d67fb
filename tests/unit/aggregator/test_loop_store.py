"""What a planning run reads and records (aggregator/loop_store.py), on in-memory ports: the
current prices, imbalance and DR windows, each registered home's site entry or fixed load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fakes import FakeUnitOfWork

from aggregator.inputs import Home, Imbalance, PortfolioWindow, Prices, Series, WindowKind
from aggregator.loop_store import Exclusion, ExclusionReason, LoopStoreOverUow, load_inputs, save_run
from aggregator.ports import RunRecord
from aggregator.records import ImbalanceRecord, PriceRecord, ReportValueRecord, RequestRecord, VenRecord
from flexmodel.flexreport import REPORT_NAME as FLEX_REPORT_NAME
from flexmodel.flexreport import site_to_points

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
STEP = timedelta(minutes=15)
H = timedelta(hours=1)


def ven(name: str, site_id: str, registered: bool = True) -> VenRecord:
    return VenRecord(name, f"home {name}", site_id, T0, registration_id=f"reg-{name}" if registered else None)


def site(site_id: str) -> dict[str, Any]:
    return {"site_id": site_id, "import_limit_kw": 9.2, "export_limit_kw": 6.0, "base_load_kw": [0.3] * 4}


def flexibility(ven_id: str, site_id: str) -> list[ReportValueRecord]:
    """The stored values of the home's flexibility report on the grid from T0."""
    return [
        ReportValueRecord(
            ven_id, "flex", FLEX_REPORT_NAME, p.r_id, i.start, int(i.duration.total_seconds()), i.value, T0
        )
        for p in site_to_points(site(site_id), T0, STEP)
        for i in p.intervals
    ]


def request(request_id: str, start: datetime, end: datetime, cancelled: bool = False) -> RequestRecord:
    return RequestRecord(
        request_id,
        WindowKind.CAP,
        start,
        end,
        8.0,
        "grid",
        T0 - H,
        cancelled_at=T0 - H if cancelled else None,
    )


PRICES = [
    PriceRecord(1, T0 - 24 * H, 15, (0.1,), (0.0,), 1.0, T0 - 24 * H),
    PriceRecord(2, T0, 15, (0.3, 0.2), (0.05, 0.04), 3.0, T0),
]
IMBALANCE = [
    ImbalanceRecord(1, T0, 15, (0.5,), None, None, T0),
    ImbalanceRecord(2, T0, 60, (0.2, 0.1), (4.0, 5.0), "forecast", T0),
]


async def test_the_inputs_are_the_current_prices_imbalance_and_windows_not_over() -> None:
    uow = FakeUnitOfWork(
        prices=PRICES,
        imbalance=IMBALANCE,
        requests=[
            request("live", T0 + H, T0 + 2 * H),
            request("over", T0 - 2 * H, T0),
            request("cancelled", T0 + H, T0 + 2 * H, cancelled=True),
        ],
    )
    inputs = await load_inputs(uow, T0, {})
    assert inputs.now == T0 and inputs.homes == ()
    assert inputs.prices == Prices(Series(T0, STEP, (0.3, 0.2)), Series(T0, STEP, (0.05, 0.04)), 3.0)
    assert inputs.imbalance == Imbalance(Series(T0, H, (0.2, 0.1)), Series(T0, H, (4.0, 5.0)))
    assert inputs.windows == (PortfolioWindow("live", WindowKind.CAP, T0 + H, T0 + 2 * H, 8.0, "grid"),)


async def test_without_prices_or_imbalance_they_are_none() -> None:
    inputs = await load_inputs(FakeUnitOfWork(imbalance=IMBALANCE[:1]), T0, {})
    assert inputs.prices is None
    assert inputs.imbalance == Imbalance(Series(T0, STEP, (0.5,)), None)


async def test_each_registered_home_by_site_with_its_entry_or_its_fixed_load() -> None:
    vens = [ven("v-c", "c"), ven("v-a", "a"), ven("v-b", "b"), ven("v-x", "x", registered=False)]
    uow = FakeUnitOfWork(vens=vens, report_values=flexibility("v-c", "c") + flexibility("v-b", "b"))
    excluded = {"v-b": Exclusion(ExclusionReason.OPTED_OUT, 1.5)}

    homes = (await load_inputs(uow, T0, excluded)).homes

    assert [h.ven_id for h in homes] == ["v-a", "v-b", "v-c"]
    assert homes[0] == Home("v-a", "a", None)  # no flexibility report yet
    assert homes[1] == Home("v-b", "b", None, fixed_kw=(1.5,) * 96, excluded_reason="opted out")
    assert homes[2].site is not None and homes[2].site["site_id"] == "c" and homes[2].grid_start == T0
    assert homes[2].site["base_load_kw"] == [0.3] * 4


async def test_a_run_is_recorded() -> None:
    uow = FakeUnitOfWork()
    run = RunRecord("r1", "test", T0, 0.5, "optimal", "highs", 0.0, None, {}, None, None)
    await save_run(uow, run)
    assert uow.stored.runs == {"r1": run}


async def test_the_loop_store_reads_the_exclusions_at_each_run() -> None:
    uow = FakeUnitOfWork(vens=[ven("v-a", "a")], prices=PRICES)
    exclusions: dict[str, Exclusion] = {}
    store = LoopStoreOverUow(uow, exclusions)
    assert (await store.load_inputs(T0)).homes == (Home("v-a", "a", None),)
    exclusions["v-a"] = Exclusion(ExclusionReason.OFFLINE, 0.4)  # the watch found it
    (home,) = (await store.load_inputs(T0)).homes
    assert home.excluded_reason == "offline" and home.fixed_kw == (0.4,) * 96
    run = RunRecord("r1", "test", T0, 0.5, "error", "highs", None, "no prices", {}, None, None)
    await store.save_run(run)
    assert uow.stored.runs == {"r1": run}
