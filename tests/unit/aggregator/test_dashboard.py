"""aggregator/dashboard.py on the fakes: the overview's fleet, events and portfolio series."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeRecentPolls, FakeUnitOfWork
from home_telemetry import device_rows, registration
from samples import EVENT_AHEAD, REGISTERED_VEN, T0

from aggregator.dashboard import SLOT, home_day, overview, performance_series, summarize_run, window
from aggregator.dispatch import MARKET_CONTEXT
from aggregator.inputs import WindowKind
from aggregator.performance import EventPerformance, Slot
from aggregator.ports import RunRecord
from aggregator.records import DispatchRecord, RequestRecord
from flexmodel.mv import BaselineMethod, Direction

NOW = T0 + timedelta(minutes=7)  # 10:07: the last completed quarter-hour is 09:45-10:00
ZONE = ZoneInfo("UTC")
OTHER = replace(REGISTERED_VEN, ven_id="ven-2", ven_name="home 2", site_id="site-2")


def run(started_offset_h: float, net_kw: float, run_id: str) -> RunRecord:
    """A run that planned `net_kw` for 24 slots from its start, with 0.5 kW of fixed homes."""
    start = T0 + timedelta(hours=started_offset_h)
    return RunRecord(
        run_id=run_id,
        trigger="test",
        started_at=start,
        seconds=1.0,
        status="optimal",
        solver="highs",
        gap=0.0,
        message=None,
        inputs={"scenario": {"start": start.isoformat(), "resolution_minutes": 15}, "fixed_kw": [0.5] * 24},
        plan={"portfolio": {"net_import_kw": [net_kw] * 24, "imbalance_eur": 0.0}},
        dispatch=None,
    )


def fleet() -> FakeUnitOfWork:
    since, until = NOW - timedelta(hours=13), NOW
    step = timedelta(minutes=5)
    rows = device_rows("ven-1", "meter-1", since, until, step, lambda t: 2.0) + device_rows(
        "ven-2", "meter-1", since, until, step, lambda t: -0.5 if t >= T0 - timedelta(hours=1) else 1.0
    )
    schedule_event = replace(EVENT_AHEAD, event_id="sched-1", market_context=MARKET_CONTEXT)
    return FakeUnitOfWork(
        vens=[REGISTERED_VEN, OTHER],
        report_registrations=registration("ven-1", {"meter-1": False}, since)
        + registration("ven-2", {"meter-1": False}, since),
        report_values=rows,
        events=[EVENT_AHEAD, schedule_event],
        event_targets=[("ev-1", ["ven-1"]), ("sched-1", ["ven-2"])],
        runs=[run(-2, 3.0, "older"), run(0, 4.0, "newer"), run(-30, 9.0, "yesterday")],
        requests=[
            RequestRecord("cap-1", WindowKind.CAP, T0, T0 + timedelta(hours=2), 5.0, "evening", T0),
            RequestRecord(
                "cap-2", WindowKind.CAP, T0 + timedelta(hours=1), T0 + timedelta(hours=3), 4.0, "x", T0
            ),
            RequestRecord(
                "gone", WindowKind.CAP, T0, T0 + timedelta(hours=4), 1.0, "cancelled", T0, cancelled_at=T0
            ),
        ],
        dispatches=[DispatchRecord("ven-1", "sched-9", "newer", T0, 15, (1.5, 2.5), T0)],
    )


async def test_the_portfolio_sums_the_homes_meters_per_completed_quarter_hour() -> None:
    seen = await overview(fleet(), NOW, FakeRecentPolls({"ven-1": NOW}), 10, 3600, ZONE)
    grid = seen.portfolio.grid
    assert grid == window(NOW) and grid.start == T0 - timedelta(hours=12) and grid.slots == 96
    # 2 kW + 1 kW until 09:00, then 2 kW - 0.5 kW exported
    assert seen.portfolio.value_at(seen.portfolio.measured_kw, T0 - timedelta(hours=2)) == pytest.approx(3.0)
    assert seen.measured_now_kw == pytest.approx(1.5)
    assert seen.portfolio.value_at(seen.portfolio.measured_kw, T0) is None, "10:00-10:15 has not ended"
    assert seen.portfolio.homes_measured == 2


async def test_the_plan_in_force_is_each_slots_newest_run_and_the_cap_the_lowest_live_one() -> None:
    seen = await overview(fleet(), NOW, FakeRecentPolls(), 10, 3600, ZONE)
    p = seen.portfolio
    assert p.value_at(p.planned_kw, T0 - timedelta(hours=1)) == pytest.approx(3.5)  # the older run + fixed
    assert seen.planned_now_kw == pytest.approx(4.5)  # the newer run from 10:00
    assert p.value_at(p.planned_kw, T0 - timedelta(hours=3)) is None  # before either ran
    assert seen.cap_now_kw == 5.0
    assert p.value_at(p.cap_kw, T0 + timedelta(hours=1, minutes=30)) == 4.0
    assert p.value_at(p.cap_kw, T0 + timedelta(hours=5)) is None, "the cancelled cap counts nowhere"
    assert all(v is None for v in p.floor_kw)


async def test_fleet_events_and_todays_runs() -> None:
    seen = await overview(
        fleet(), NOW, FakeRecentPolls({"ven-1": NOW - timedelta(seconds=5)}), 10, 3600, ZONE
    )
    assert [(v.ven_id, v.online) for v in seen.vens] == [("ven-1", True), ("ven-2", False)]
    assert seen.online == 1
    assert [e.event_id for e in seen.events] == ["ev-1"], "the loop's schedules are counted apart"
    assert seen.schedules_live == 1
    assert [r.run_id for r in seen.runs_today] == ["newer", "older"]


async def test_a_homes_measured_net_import_against_its_dispatched_schedule() -> None:
    day = await home_day(fleet(), "ven-1", NOW)
    assert day.measured_kw[day.grid.index(T0 - SLOT)] == pytest.approx(2.0)
    assert day.scheduled_kw[day.grid.index(T0)] == 1.5
    assert day.scheduled_kw[day.grid.index(T0 + SLOT)] == 2.5
    assert day.scheduled_kw[day.grid.index(T0 + 2 * SLOT)] is None
    assert NOW.tzinfo is UTC


def test_a_run_summary_names_its_method_timings_and_what_it_could_not_meet() -> None:
    record = replace(
        run(0, 4.0, "r"),
        inputs={
            "method": {"method": "decomposed", "iterations": 3},
            "timings": {"inputs_s": 0.1, "solve_s": 2.5, "dispatch_s": 0.2},
            "homes": [{"ven_id": "a", "usable": True}, {"ven_id": "b", "usable": False}],
        },
        plan={
            "portfolio": {"net_import_kw": [], "violations": [{"kind": "net_import_cap", "kwh": 1.5}]},
            "sites": [
                {"site_id": "s1", "violations": [{"kind": "ev_shortfall", "kwh": 2.0, "ev_id": "e"}]},
                {"site_id": "s2"},
            ],
        },
    )
    summary = summarize_run(record)
    assert summary.method == "decomposed (iterations 3)"
    assert summary.timings_s == {"inputs_s": 0.1, "solve_s": 2.5, "dispatch_s": 0.2}
    assert (summary.homes_planned, summary.homes_skipped) == (2, 1)
    assert [(v.where, v.kind) for v in summary.violations] == [
        ("portfolio", "net_import_cap"),
        ("s1", "ev_shortfall"),
    ]
    assert summary.violation_kwh == pytest.approx(3.5)


async def test_a_meter_without_counters_is_measured_by_its_power() -> None:
    uow = fleet()
    uow.stored.report_values = {
        k: v for k, v in uow.stored.report_values.items() if not v.r_id.endswith(("_import", "_export"))
    }
    day = await home_day(uow, "ven-1", NOW)
    assert day.measured_kw[day.grid.index(T0 - SLOT)] == pytest.approx(2.0)


@pytest.mark.parametrize(("direction", "level"), [(Direction.REDUCTION, 1.5), (Direction.INCREASE, 2.5)])
def test_the_requested_level_is_the_baseline_moved_by_the_request(direction: Direction, level: float) -> None:
    slots = (
        Slot(T0, requested_kw=0.5, baseline_kw=2.0, measured_kw=1.8, delivered_kwh=0.05),
        Slot(T0 + SLOT, requested_kw=0.5, baseline_kw=None, measured_kw=None, delivered_kwh=None),
        Slot(T0 + 2 * SLOT, requested_kw=None, baseline_kw=2.0, measured_kw=2.1, delivered_kwh=None),
    )
    result = EventPerformance(
        "ev", "mc", BaselineMethod.METER_BEFORE, "meter_before/1", direction, T0, T0 + 3 * SLOT,
        slots, (), 0.05, 0.125, 1.0,
    )  # fmt: skip
    grid, series = performance_series(result)
    assert (grid.start, grid.slots) == (T0, 3)
    assert series["baseline"] == (2.0, None, 2.0)
    assert series["measured"] == (1.8, None, 2.1)
    assert series["requested"] == (level, None, None)
