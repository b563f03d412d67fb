"""The month's peak, the quarter's projection and the peak guard's decisions (pure, and on the
in-memory bus with a simulated home and a hand-moved clock)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ven_rig import T0, Rig, dispatch

from ven.agent.openadr_mapping import status_values
from ven.agent.peak import QUARTER_S, PeakTracker, QuarterSoFar
from ven.agent.peak_guard import PeakGuard, PeakGuardSettings, check_quarter, shed
from ven.agent.policy import SiteLimits, ev_need
from ven.agent.runner import HomeAgent
from ven.clock import ManualClock
from ven.device_bus import FakeBroker, FakeBus
from ven.settings import SettingsError, load_agent_settings
from ven.simulators.ev_charger import CarSession

Q0 = T0  # 2025-03-09 20:00 UTC, a quarter's edge


def feed(tracker: PeakTracker, start_s: float, seconds: float, kw: float, counter_kwh: float) -> float:
    """Meter readings every 60 s from `start_s` (included) at `kw`; returns the counter after."""
    t = start_s
    while t < start_s + seconds - 1e-9:
        tracker.add(t, kw, counter_kwh)
        counter_kwh += kw * 60 / 3600
        t += 60
    return counter_kwh


# --- the tracker -------------------------------------------------------------------------------
def test_quarter_means_from_the_counter_and_the_month_peak_of_completed_quarters() -> None:
    tracker = PeakTracker()
    counter = feed(tracker, Q0, 900, 2.0, 100.0)
    counter = feed(tracker, Q0 + 900, 900, 6.0, counter)
    # the second quarter is complete only once the third has started
    assert tracker.month_peak_kw(Q0 + 1799) == pytest.approx(2.0)
    feed(tracker, Q0 + 1800, 120, 1.0, counter)
    assert tracker.month_peak_kw(Q0 + 1900) == pytest.approx(6.0)


def test_the_counter_wins_over_power_readings_that_miss_a_spike() -> None:
    tracker = PeakTracker()
    # power read 1 kW at every reading, but the counter says 3 kWh went in a quarter: 12 kW mean
    for i in range(16):
        tracker.add(Q0 + 60 * i, 1.0, 50.0 + 3.0 * min(i, 15) / 15)
    assert tracker.month_peak_kw(Q0 + 1000) == pytest.approx(12.0)


def test_without_a_counter_the_mean_of_the_power_readings_and_export_counts_zero() -> None:
    tracker = PeakTracker()
    for i, kw in enumerate([4.0, 2.0, -3.0, 2.0]):
        tracker.add(Q0 + 60 * i, kw)
    tracker.add(Q0 + 900, 0.5)
    assert tracker.month_peak_kw(Q0 + 901) == pytest.approx(2.0)


def test_a_reading_delivered_twice_counts_once() -> None:
    tracker = PeakTracker()
    tracker.add(Q0, 2.0)
    tracker.add(Q0 + 60, 8.0)
    tracker.add(Q0 + 60, 8.0)
    assert tracker.month_peak_kw(Q0 + 900) == pytest.approx(5.0)


def test_the_month_starts_at_midnight_in_the_sites_time_zone() -> None:
    late_feb = datetime(2025, 2, 28, 22, 30, tzinfo=UTC).timestamp()  # 23:30 in Brussels: February
    march = datetime(2025, 2, 28, 23, 15, tzinfo=UTC).timestamp()  # 00:15 on 1 March in Brussels
    brussels, utc = PeakTracker(ZoneInfo("Europe/Brussels")), PeakTracker(UTC)
    for tracker in (brussels, utc):
        feed(tracker, late_feb, 900, 7.0, 0.0)
    assert brussels.month_peak_kw(late_feb + 1000) == pytest.approx(7.0)
    assert brussels.month_peak_kw(march) == 0.0  # a new month: the peak starts again
    assert utc.month_peak_kw(march) == pytest.approx(7.0)  # still February in UTC


def test_the_quarter_so_far_counts_to_the_last_reading_and_assumes_its_power_since() -> None:
    tracker = PeakTracker()
    counter = feed(tracker, Q0 - 120, 120, 1.0, 10.0)  # the end of the previous quarter
    feed(tracker, Q0, 300, 4.0, counter)  # readings at 0, 60, ..., 240 s: 0.267 kWh by 240 s
    so_far = tracker.quarter_so_far(Q0 + 290)
    assert so_far.start_s == Q0 and so_far.remaining_s == pytest.approx(610)
    assert so_far.import_kw == 4.0
    assert so_far.energy_kwh == pytest.approx(4.0 * 240 / 3600 + 4.0 * 50 / 3600)


def test_an_agent_starting_mid_quarter_interpolates_the_counter_at_the_edge() -> None:
    tracker = PeakTracker()
    tracker.add(Q0 - 30, 2.0, 10.0)
    tracker.add(Q0 + 30, 2.0, 10.0 + 2.0 * 60 / 3600)  # 2 kW throughout: half of it after the edge
    tracker.add(Q0 + 90, 2.0, 10.0 + 2.0 * 120 / 3600)
    assert tracker.quarter_so_far(Q0 + 90).energy_kwh == pytest.approx(2.0 * 90 / 3600)
    alone = PeakTracker()  # nothing before: the first reading's power since the edge
    alone.add(Q0 + 30, 3.0, 5.0)
    alone.add(Q0 + 90, 3.0, 5.05)
    assert alone.quarter_so_far(Q0 + 90).energy_kwh == pytest.approx(0.05 + 3.0 * 30 / 3600)
    # but the month's peak counts it by the power readings seen, not a guess at what came before
    seen = PeakTracker()
    seen.add(Q0 + 30, 12.0, 5.0)  # a spike as the agent starts; 2 kW afterwards
    counter = feed(seen, Q0 + 60, 840, 2.0, 5.0 + 12.0 * 30 / 3600)
    seen.add(Q0 + 900, 2.0, counter)
    assert seen.month_peak_kw(Q0 + 901) == pytest.approx((12.0 + 14 * 2.0) / 15)


# --- the projection and the limit -----------------------------------------------------------------
def test_projection_cap_and_needed_cut() -> None:
    so_far = QuarterSoFar(Q0, Q0 + 300, energy_kwh=0.5, import_kw=6.0)
    check = check_quarter(so_far, predicted_kw=12.0, limit_kw=4.0, margin_kw=0.2)
    assert check.projected_kw == pytest.approx((0.5 + 12.0 * 600 / 3600) / 0.25)  # 10 kW
    assert check.cap_kw == pytest.approx((3.8 * 0.25 - 0.5) / (600 / 3600))  # 2.7 kW
    # the brief's formula: (projected - limit) * quarter / remaining, the limit less the margin
    assert check.needed_cut_kw == pytest.approx((10.0 - 3.8) * QUARTER_S / 600)
    assert check.shedding
    calm = check_quarter(so_far, predicted_kw=2.0, limit_kw=4.0, margin_kw=0.2)
    assert not calm.shedding and calm.needed_cut_kw < 0


@pytest.mark.parametrize(
    ("settings", "billed", "limit"),
    [
        (PeakGuardSettings(), 4.0, None),
        (PeakGuardSettings(avoid_new_peak=True), 4.0, 4.0),
        (PeakGuardSettings(max_peak_kw=6.0), 4.0, 6.0),  # the customer's cap alone
        (PeakGuardSettings(avoid_new_peak=True, max_peak_kw=6.0), 4.0, 4.0),
        (PeakGuardSettings(avoid_new_peak=True, max_peak_kw=3.0), 8.0, 3.0),
    ],
)
def test_the_limit(settings: PeakGuardSettings, billed: float, limit: float | None) -> None:
    assert settings.limit_kw(billed) == limit


def test_bad_guard_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_peak_kw"):
        PeakGuardSettings(max_peak_kw=0.0)


def test_a_shedding_quarter_sheds_to_its_end_and_the_next_starts_afresh() -> None:
    guard = PeakGuard()
    assert guard.check(QuarterSoFar(Q0, Q0 + 60, 0.1, 6.0), 6.0, 4.0) is None  # off
    guard.set_max_peak_kw(4.0)  # a preference from the VTN turns it on
    assert guard.enabled
    assert guard.check(QuarterSoFar(Q0, Q0 + 60, 0.1, 6.0), 6.0, 4.0).shedding  # type: ignore[union-attr]
    # shed: the import is now low, the projection under the limit, but the quarter keeps its cap
    later = guard.check(QuarterSoFar(Q0, Q0 + 600, 0.6, 2.0), 2.0, 4.0)
    assert (
        later is not None
        and later.shedding
        and later.cap_kw == pytest.approx((3.8 * 0.25 - 0.6) / (300 / 3600))
    )
    nxt = guard.check(QuarterSoFar(Q0 + 900, Q0 + 960, 0.03, 2.0), 2.0, 4.0)
    assert nxt is not None and not nxt.shedding and not guard.shedding
    assert guard.quarters_shed == 1  # one quarter shed: the VTN is told once
    guard.check(QuarterSoFar(Q0 + 900, Q0 + 990, 0.1, 9.0), 9.0, 4.0)
    assert guard.shedding and guard.quarters_shed == 2
    guard.set_max_peak_kw(None)
    assert not guard.enabled


# --- shedding: EV first, then the battery ----------------------------------------------------------
def test_shed_lowers_the_ev_to_its_promise_then_the_battery() -> None:
    rig = Rig(base_load_kw=1.5, battery_kwh=10.0)
    snapshot = rig.core.snapshot()
    need = ev_need(snapshot.devices["evse-1"], snapshot.now_s)
    assert need is not None and need.remaining_kwh > 19.0
    flat = need.flat_kw  # the rate that still meets the target by departure (about 2.1 kW)
    result = shed({"evse-1": 11.0, "battery-1": 3.0}, snapshot, 15.5, 3.0, 10.0)
    assert result.setpoints["evse-1"] == pytest.approx(flat, abs=1e-3)  # never below the car's need
    battery = result.setpoints["battery-1"]
    assert battery == pytest.approx(3.0 - (12.5 - (11.0 - flat)), abs=1e-3) and battery < 0  # discharges
    assert result.predicted_import_kw == pytest.approx(3.0, abs=1e-3)
    assert [n.split(":")[0] for n in result.notes] == ["evse-1", "battery-1"]

    held = shed({"evse-1": 11.0, "battery-1": 3.0}, snapshot, 15.5, 3.0, 10.0, discharge_battery=False)
    assert held.setpoints["battery-1"] == 0.0  # stops charging, no more
    assert held.predicted_import_kw > 3.0 and "cannot shed" in held.notes[-1]

    never_export = shed({"evse-1": 11.0, "battery-1": 0.0}, snapshot, 12.5, -20.0, 10.0)
    assert never_export.predicted_import_kw == pytest.approx(0.0, abs=1e-3)


def test_shed_leaves_a_device_the_user_overrode() -> None:
    rig = Rig(base_load_kw=1.5, battery_kwh=10.0)
    rig.ev.set_mode("boost")
    rig.advance(60)
    result = shed({"battery-1": 0.0}, rig.core.snapshot(), 12.5, 4.0, 10.0)
    assert "evse-1" not in result.setpoints and result.setpoints["battery-1"] < 0


# --- the guard in the agent's step ---------------------------------------------------------------
def run_two_quarters(rig: Rig) -> list[float]:
    """Step home and agent every 10 s to the end of the quarter after next; the meter's measured
    mean import of each full quarter [kW] (its counter at the quarter's edges)."""
    edges = {Q0 + 900: 0.0, Q0 + 1800: 0.0, Q0 + 2700: 0.0}
    while rig.clock.now() < Q0 + 2700:
        rig.clock.advance(10)
        rig.home.tick()
        rig.last = rig.core.step()
        if rig.clock.now() in edges:
            edges[rig.clock.now()] = rig.home.meter.energy_import_wh
    counters = list(edges.values())
    return [(b - a) / 1000 / 0.25 for a, b in pairwise(counters)]


def heading_for_a_peak(guard: PeakGuardSettings | None, month_peak_kw: float = 4.0) -> Rig:
    """1.5 kW of base load, a car wanting 10 kWh in 10 h, the month's peak at `month_peak_kw`,
    and a schedule asking 11 kW of the charger from 2 min into the next quarter."""
    rig = Rig(limits=SiteLimits(17.0, 10.0, month_peak_kw), peak_guard=guard, base_load_kw=1.5)
    rig.ev.plug_in(CarSession(T0, T0 + 10 * 3600, 30.0, 10.0))
    rig.core.set_event(dispatch("ev-full", Q0 + 1020, 60, 11.0, ("evse-1",)))
    return rig


def test_without_the_guard_the_schedule_sets_a_new_month_peak() -> None:
    means = run_two_quarters(heading_for_a_peak(None))
    assert means[0] > 10.0 and means[1] > 12.0


def test_the_guard_keeps_each_quarter_under_the_months_peak() -> None:
    rig = heading_for_a_peak(PeakGuardSettings(avoid_new_peak=True))
    means = run_two_quarters(rig)
    assert all(m <= 4.0 for m in means), means
    assert rig.last.peak is not None and rig.last.peak.shedding and rig.last.peak.projected_kw > 10.0
    assert rig.last.setpoints["evse-1"] < 3.0 and any("peak guard" in n for n in rig.last.notes)
    assert max(rig.sets("evse-1")) < 11.0  # the charger never got the schedule's 11 kW
    # the VTN is told: TELEMETRY_STATUS agent.peak_guard = 1 while shedding, and the month's peak
    status = status_values(rig.core.snapshot(), rig.core.agent_status())
    assert status["agent.peak_guard"] == ("agent", 1.0) and status["agent.month_peak_kw"] == ("agent", 4.0)


def test_the_customers_cap_holds_above_an_old_peak_and_can_be_set_at_run_time() -> None:
    rig = heading_for_a_peak(PeakGuardSettings(), month_peak_kw=8.0)
    rig.core.peak_guard.set_max_peak_kw(5.0)
    means = run_two_quarters(rig)
    assert all(m <= 5.0 for m in means) and means[1] > 4.0, means  # up to the cap, not the floor


# --- settings --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone: Value error, unknown time zone 'Mars/Olympus'"),
        ({"max_peak_kw": 0}, "max_peak_kw: Input should be greater than 0"),
        ({"peak_guard_period_s": 0}, "peak_guard_period_s: Input should be greater than 0"),
        ({"peak_margin_kw": -1}, "peak_margin_kw: Input should be greater than or equal to 0"),
    ],
)
def test_bad_peak_settings_name_the_setting(overrides: dict[str, object], needle: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_agent_settings(None, vtn_url="http://v", ven_name="n", site_id="s", **overrides)
    assert needle in str(caught.value)


def test_the_site_time_zone_reaches_the_tracker(tmp_path: Path) -> None:
    settings = load_agent_settings(
        None, vtn_url="http://v", ven_name="n", site_id="s", buffer_path=tmp_path / "b.db", peak_guard=True
    )
    agent = HomeAgent(settings, bus=FakeBus(FakeBroker()), clock=ManualClock(Q0))
    try:
        assert settings.site_tz() == ZoneInfo("Europe/Brussels") and agent.core.peak_guard.enabled
        late_feb = datetime(2025, 2, 28, 22, 30, tzinfo=UTC).timestamp()  # 23:30 in Brussels
        feed(agent.core.peak, late_feb, 900, 7.0, 0.0)
        assert agent.core.peak.month_peak_kw(late_feb + 2700) == 0.0  # 00:15 on 1 March there
    finally:
        agent.buffer.close()
        agent.events.close()
