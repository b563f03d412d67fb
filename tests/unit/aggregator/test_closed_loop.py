"""The closed loop's use case with fake ports: scenario building, planning, dispatch, records."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from aggregator.inputs import Home, Imbalance, PlanningInputs, PortfolioWindow, Prices, Series, WindowKind
from aggregator.ports import Dispatched, RunRecord, Schedule
from aggregator.scenario_builder import NothingToPlan, build_scenario
from aggregator.services import run_planning

T = TypeVar("T")
DAY = datetime(2026, 3, 10, tzinfo=UTC)
SLOT = timedelta(minutes=15)


def _site(site_id: str, ev: bool = True, battery: bool = False) -> dict[str, Any]:
    site: dict[str, Any] = {
        "site_id": site_id,
        "import_limit_kw": 9.2,
        "export_limit_kw": 10.0,
        "month_peak_kw": 0.0,
        "base_load_kw": [0.5] * 96,
    }
    if ev:
        site["evs"] = [
            {
                "ev_id": "evse-1",
                "arrival": (DAY + timedelta(hours=17)).isoformat(),
                "departure": (DAY + timedelta(hours=31)).isoformat(),
                "energy_needed_kwh": 20.0,
                "max_power_kw": 7.4,
            }
        ]
    if battery:
        site["battery"] = {
            "capacity_kwh": 10.0,
            "soc_kwh": 5.0,
            "max_charge_kw": 3.0,
            "max_discharge_kw": 3.0,
        }
    return site


def _prices() -> Prices:
    # Expensive evening, cheap at 17:00-19:00 so that every car wants to charge inside the cap.
    values = tuple(0.05 if 68 <= t < 76 else 0.30 for t in range(96))
    return Prices(Series(DAY, SLOT, values), Series(DAY, SLOT, (0.02,) * 96), 3.0)


def _inputs(**kw: Any) -> PlanningInputs:
    homes = kw.pop("homes", (Home("v1", "h1", _site("h1"), DAY), Home("v2", "h2", _site("h2"), DAY)))
    return PlanningInputs(now=DAY + timedelta(hours=16, minutes=5), homes=homes, prices=_prices(), **kw)


CAP = PortfolioWindow("r1", WindowKind.CAP, DAY + timedelta(hours=17), DAY + timedelta(hours=19), 8.0, "test")


def test_scenario_starts_at_the_current_slot_with_caps_from_the_windows() -> None:
    built = build_scenario(_inputs(windows=(CAP,)))
    scenario = built.scenario
    assert scenario["start"] == (DAY + timedelta(hours=16)).isoformat()
    assert scenario["horizon_slots"] == 96 - 64  # to the end of the entries
    caps = scenario["portfolio"]["net_import_cap_kw"]
    assert caps[:4] == [None] * 4 and caps[4:12] == [8.0] * 8 and caps[12] is None
    assert scenario["tariff"]["import_eur_per_kwh"][4] == 0.05


def test_excluded_homes_load_takes_its_share_of_the_cap() -> None:
    fixed = Home("v3", "h3", None, fixed_kw=(1.5,) * 96, excluded_reason="opted out")
    built = build_scenario(_inputs(windows=(CAP,), homes=(Home("v1", "h1", _site("h1"), DAY), fixed)))
    assert [h.ven_id for h in built.planned] == ["v1"] and built.fixed == (fixed,)
    assert built.scenario["portfolio"]["net_import_cap_kw"][4] == pytest.approx(6.5)


def test_imbalance_applies_only_inside_its_slots() -> None:
    signal = Imbalance(
        Series(DAY + timedelta(hours=17), SLOT, (0.2,) * 4),
        Series(DAY + timedelta(hours=17), SLOT, (1.0,) * 4),
    )
    portfolio = build_scenario(_inputs(imbalance=signal)).scenario["portfolio"]
    assert portfolio["imbalance_eur_per_kwh"][:8] == [0.0] * 4 + [0.2] * 4
    assert portfolio["imbalance_eur_per_kwh"][8] == 0.0


def test_no_prices_or_no_usable_home_is_nothing_to_plan() -> None:
    with pytest.raises(NothingToPlan, match="prices"):
        build_scenario(PlanningInputs(DAY, (Home("v1", "h1", _site("h1"), DAY),), None))
    with pytest.raises(NothingToPlan, match="flexibility"):
        build_scenario(_inputs(homes=(Home("v1", "h1", None),)))


class FakeStore:
    def __init__(self, inputs: PlanningInputs) -> None:
        self.inputs = inputs
        self.runs: list[RunRecord] = []

    async def load_inputs(self, now: datetime) -> PlanningInputs:
        return self.inputs

    async def save_run(self, run: RunRecord) -> None:
        self.runs.append(run)


class FakeDispatcher:
    def __init__(self) -> None:
        self.sent: list[Schedule] = []
        self.released: list[str] = []

    async def dispatch_all(
        self, schedules: Sequence[Schedule], run_id: str, now: datetime
    ) -> list[Dispatched]:
        self.sent += schedules
        return [Dispatched(s.ven_id, f"ev-{s.ven_id}", 0, "created") for s in schedules]

    async def release(self, ven_id: str, now: datetime) -> None:
        self.released.append(ven_id)


async def _inline(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


@pytest.mark.parametrize("target", ["site", "ev"])
def test_a_run_plans_within_the_cap_dispatches_and_is_recorded(target: str) -> None:
    store, dispatcher = FakeStore(_inputs(windows=(CAP,))), FakeDispatcher()
    record = asyncio.run(
        run_planning(
            store, dispatcher, _inline, "test", store.inputs.now, method="coordination", target=target
        )
    )
    assert store.runs == [record] and record.status in ("optimal", "feasible")
    assert record.plan is not None and record.plan["portfolio"]["violations"] == []
    net = record.plan["portfolio"]["net_import_kw"]
    assert max(net[4:12]) <= 8.0 + 0.05  # the cap holds in the plan
    for site in record.plan["sites"]:
        assert site["ev_energy_kwh"]["evse-1"] == pytest.approx(20.0, abs=1e-3)
    assert [s.ven_id for s in dispatcher.sent] == ["v1", "v2"]
    sent = dispatcher.sent[0].setpoint_kw
    plan = record.plan["sites"][0]
    expected = (
        plan["ev_kw"]["evse-1"]
        if target == "ev"
        else [g - e for g, e in zip(plan["grid_import_kw"], plan["grid_export_kw"], strict=True)]
    )
    assert sent == pytest.approx([round(v, 3) for v in expected], abs=1e-3)
    assert record.inputs["target"] == target and record.dispatch is not None


def test_a_run_without_prices_is_recorded_as_an_error_and_dispatches_nothing() -> None:
    inputs = PlanningInputs(DAY, (Home("v1", "h1", _site("h1"), DAY),), None)
    store, dispatcher = FakeStore(inputs), FakeDispatcher()
    record = asyncio.run(run_planning(store, dispatcher, _inline, "test", DAY))
    assert record.status == "error" and record.message is not None and "prices" in record.message
    assert dispatcher.sent == [] and store.runs == [record]


def test_a_heat_pumps_per_slot_arrays_are_cut_to_the_planning_grid() -> None:
    from flexmodel.scenario import parse_scenario

    site = _site("h1", ev=False)
    site["heat_pump"] = {
        "max_power_kw": 3.0,
        "thermal_capacity_kwh_per_k": 4.0,
        "thermal_resistance_k_per_kw": 6.0,
        "initial_temp_c": 20.0,
        "outdoor_temp_c": [float(t) for t in range(96)],
        "comfort_min_c": [19.0] * 96,
        "comfort_max_c": [22.0] * 96,
        "cop_per_slot": [3.0] * 96,
    }
    scenario = build_scenario(_inputs(homes=(Home("v1", "h1", site, DAY),))).scenario
    heat_pump = scenario["sites"][0]["heat_pump"]
    assert heat_pump["outdoor_temp_c"] == [float(t) for t in range(64, 96)]
    assert len(heat_pump["cop_per_slot"]) == scenario["horizon_slots"] == 32
    assert parse_scenario(scenario).sites[0].heat_pump is not None
