"""DR performance on the fakes: an event's requested, baseline, measured and delivered figures per
home and summed, opted-out homes apart, each baseline method (tests/unit/aggregator/mv_rig.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from mv_rig import END, EVENT, PROGRAM, START, make_uow

from aggregator.baseline_accuracy import baseline_accuracy
from aggregator.errors import InvalidInput, NotFound
from aggregator.performance import event_performance, program_performance
from aggregator.records import EventInterval
from flexmodel.mv import BaselineMethod, Direction

BRUSSELS = ZoneInfo("Europe/Brussels")
NOW = END + timedelta(hours=2)


async def test_meter_before_per_home_and_summed() -> None:
    got = await event_performance(make_uow(), "dr-1", BaselineMethod.METER_BEFORE, NOW, BRUSSELS)
    assert (got.method, got.method_version, got.direction) == (
        BaselineMethod.METER_BEFORE,
        "meter_before/1",
        Direction.REDUCTION,
    )
    homes = {h.ven_id: h for h in got.homes}
    a, b, c = homes["ven-a"], homes["ven-b"], homes["ven-c"]
    # By hand: baseline 2 kW for an hour (2 kWh); A draws 0.5 kW (delivers 1.5 kWh), B 1.5 kW (0.5).
    assert not a.opted_out
    assert (a.baseline_kwh, a.measured_kwh, a.delivered_kwh) == pytest.approx((2.0, 0.5, 1.5))
    assert (b.baseline_kwh, b.measured_kwh, b.delivered_kwh) == pytest.approx((2.0, 1.5, 0.5))
    assert (a.requested_kwh, b.requested_kwh) == (1.0, 1.0)  # -1 kW over one hour
    assert c.opted_out and c.delivered_kwh == pytest.approx(0.0)  # its figures are shown, apart
    # Summed over A and B only; participation counts C as targeted.
    assert got.delivered_kwh == pytest.approx(2.0)
    assert got.requested_kwh == pytest.approx(2.0)
    assert got.participation == pytest.approx(2 / 3)
    assert [s.start for s in got.intervals] == [START + i * timedelta(minutes=15) for i in range(4)]
    for s in got.intervals:
        assert (s.requested_kw, s.baseline_kw, s.measured_kw) == pytest.approx((2.0, 4.0, 2.0))
        # delivered kWh is baseline minus measured, slot by slot
        assert s.delivered_kwh == pytest.approx((s.baseline_kw - s.measured_kw) / 4)


async def test_x_of_y_uses_the_history_and_skips_event_days() -> None:
    got = await event_performance(make_uow(), "dr-1", BaselineMethod.X_OF_Y, NOW, BRUSSELS)
    a = next(h for h in got.homes if h.ven_id == "ven-a")
    assert a.error is None
    assert a.baseline_kwh == pytest.approx(2.0)  # every history day read 2 kW at 18:00-19:00 local
    assert a.delivered_kwh == pytest.approx(1.5)
    assert len(a.baseline["days"]) == 10 and "2026-11-09" in a.baseline["days"]
    # Another event on Monday 9 November makes that day ineligible for the homes it targeted.
    uow = make_uow()
    monday = replace(
        EVENT, event_id="dr-0", dtstart=START - timedelta(days=1), created_at=START - timedelta(days=2)
    )
    uow.stored.events["dr-0"] = monday
    uow.stored.event_targets["dr-0"] = ("ven-a",)
    got = await event_performance(uow, "dr-1", BaselineMethod.X_OF_Y, NOW, BRUSSELS)
    days = {h.ven_id: h.baseline["days"] for h in got.homes}
    assert "2026-11-09" not in days["ven-a"] and "2026-11-09" in days["ven-b"]


async def test_plan_baseline_takes_the_run_before_the_event_was_created() -> None:
    got = await event_performance(make_uow(), "dr-1", BaselineMethod.PLAN_BASELINE, NOW, BRUSSELS)
    a = next(h for h in got.homes if h.ven_id == "ven-a")
    assert a.baseline["run_id"] == "before"
    assert (a.baseline_kwh, a.delivered_kwh) == pytest.approx((3.0, 2.5))  # planned 3 kW, drew 0.5
    b = next(h for h in got.homes if h.ven_id == "ven-b")
    assert b.baseline_kwh is None and "did not plan site site-b" in (b.error or "")
    assert got.delivered_kwh == pytest.approx(2.5)  # a home without a baseline adds nothing


async def test_setpoint_events_request_against_the_baseline_and_increase_turns_the_sign() -> None:
    uow = make_uow()
    uow.stored.events["dr-1"] = replace(
        EVENT, signal_type="setpoint", intervals=(EventInterval(START, 3600, 1.0),)
    )
    got = await event_performance(uow, "dr-1", BaselineMethod.METER_BEFORE, NOW, BRUSSELS)
    assert got.requested_kwh == pytest.approx(2.0)  # (2 - 1 kW) x 1 h, for A and B
    uow.stored.events["dr-1"] = replace(EVENT, intervals=(EventInterval(START, 3600, 1.0),))
    got = await event_performance(uow, "dr-1", BaselineMethod.METER_BEFORE, NOW, BRUSSELS)
    assert got.direction is Direction.INCREASE
    assert got.delivered_kwh == pytest.approx(-2.0)  # measured minus baseline: they went down


async def test_unknown_and_future_events() -> None:
    with pytest.raises(NotFound):
        await event_performance(make_uow(), "nope", None, NOW, BRUSSELS)
    with pytest.raises(InvalidInput, match="has not started"):
        await event_performance(make_uow(), "dr-1", None, START - timedelta(hours=1), BRUSSELS)


async def test_the_terms_method_is_the_default() -> None:
    got = await event_performance(make_uow(), "dr-1", None, NOW, BRUSSELS)
    assert got.method is BaselineMethod.METER_BEFORE  # mv_rig's terms name it
    got = await event_performance(make_uow(with_terms=False), "dr-1", None, NOW, BRUSSELS)
    assert got.method is BaselineMethod.X_OF_Y


async def test_program_month() -> None:
    got = await program_performance(make_uow(), PROGRAM, date(2026, 11, 1), NOW, BRUSSELS)
    assert [e.event_id for e in got.events] == ["dr-1"]
    assert (got.delivered_kwh, got.requested_kwh, got.delivery_ratio) == pytest.approx((2.0, 2.0, 1.0))
    assert got.participation == pytest.approx(2 / 3)
    empty = await program_performance(make_uow(), PROGRAM, date(2026, 10, 1), NOW, BRUSSELS)
    assert (empty.events, empty.delivered_kwh, empty.delivery_ratio) == ((), 0.0, None)


async def test_baseline_accuracy_on_flat_history() -> None:
    now = datetime(2026, 11, 10, 22, tzinfo=UTC)  # 23:00 in Brussels: test days 5-9 November
    got = await baseline_accuracy(make_uow(until=now), "site-b", None, now, BRUSSELS, days=5)
    scores = {m.method: m.accuracy for m in got.methods}
    # A flat 2 kW before 10 November: both methods predict it exactly on the test days.
    meter = scores[BaselineMethod.METER_BEFORE]
    assert meter.days == 5 and meter.intervals == 5 * 12
    assert (meter.relative_error, meter.bias) == pytest.approx((0.0, 0.0), abs=1e-9)
    # x_of_y has no 10 weekend days of history for the 7th and 8th: three weekdays are scored.
    x = scores[BaselineMethod.X_OF_Y]
    assert x.days == 3 and x.relative_error == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(NotFound):
        await baseline_accuracy(make_uow(), "site-b", "site-a", now, BRUSSELS)
