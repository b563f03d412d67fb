"""flexmodel.energy_counter and flexmodel.sessions: energy from counters or power, session
boundaries from plug state or power, cost per quarter-hour, the target from the flex report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flexmodel.energy_counter import EnergyCounter, SlotGrid, floor_to
from flexmodel.flexreport import site_to_points
from flexmodel.sessions import (
    Boundary,
    Session,
    ev_plans,
    plan_of,
    sessions_from_plug,
    sessions_from_power,
    slot_energy,
    slots_cost_eur,
    target_kwh,
    target_met,
)

T0 = datetime(2030, 1, 7, 18, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# ---- energy counters -------------------------------------------------------------------------


def test_a_counter_is_interpolated_between_readings_and_unknown_outside() -> None:
    counter = EnergyCounter.from_counter([(at(0), 10.0), (at(60), 17.0)])
    assert counter.at(at(30)) == pytest.approx(3.5)  # counted from the first reading
    assert counter.at(at(-1)) is None and counter.at(at(61)) is None
    assert counter.between(at(15), at(30)) == pytest.approx(1.75)
    # Clipped to the readings: only [45, 60) of [45, 90) is measured.
    assert counter.between(at(45), at(90)) == pytest.approx(1.75)
    assert counter.between(at(60), at(75)) is None  # nothing measured there
    assert not counter.estimated


def test_a_counter_reset_does_not_count_negative_energy() -> None:
    counter = EnergyCounter.from_counter([(at(0), 100.0), (at(10), 101.0), (at(20), 0.5), (at(30), 1.5)])
    assert counter.between(at(0), at(30)) == pytest.approx(1.0 + 0.5 + 1.0)


def test_power_is_held_until_the_next_sample_but_not_across_a_gap() -> None:
    # 6 kW for 10 min, then silence for 50 min (held only MAX_HOLD = 15 min), then 0.
    counter = EnergyCounter.from_power([(at(0), 6.0), (at(10), 6.0), (at(60), 0.0)])
    assert counter.estimated
    assert counter.between(at(0), at(60)) == pytest.approx(6.0 * (10 + 15) / 60)
    assert counter.between(at(25), at(60)) == pytest.approx(0.0)


def test_per_slot_energy_on_a_quarter_hour_grid() -> None:
    counter = EnergyCounter.from_counter([(at(m), m * 0.1) for m in range(0, 31)])  # 6 kW
    grid = SlotGrid(T0, timedelta(minutes=15), 3)
    assert counter.per_slot(grid) == [pytest.approx(1.5), pytest.approx(1.5), None]
    assert floor_to(at(29), timedelta(minutes=15)) == at(15)


# ---- session boundaries ------------------------------------------------------------------------


def test_plug_state_makes_a_session_from_the_first_1_to_the_first_0() -> None:
    samples = [
        (at(0), False),
        (at(1), True),
        (at(2), True),
        (at(90), False),
        (at(91), False),
        (at(200), True),
    ]
    assert sessions_from_plug(samples) == [
        Session(at(1), at(90), Boundary.PLUGGED_IN),
        Session(at(200), None, Boundary.PLUGGED_IN),  # still plugged in
    ]


def test_power_sessions_join_short_pauses_and_split_long_ones() -> None:
    power = (
        [(at(m), 7.0) for m in range(0, 30)]
        + [(at(m), 0.0) for m in range(30, 50)]  # a 20-minute pause: the same session
        + [(at(m), 7.0) for m in range(50, 60)]
        + [(at(m), 0.05) for m in range(60, 180)]  # standby for two hours: over
        + [(at(m), 3.0) for m in range(180, 185)]
    )
    assert sessions_from_power(power) == [
        Session(at(0), at(60), Boundary.POWER),
        Session(at(180), None, Boundary.POWER),
    ]


# ---- energy and cost ---------------------------------------------------------------------------


def test_session_energy_per_slot_and_its_cost() -> None:
    # 7.2 kW from 18:05 to 18:35 (counter every minute), prices 0.10 / 0.20 / 0.40 per quarter.
    readings = [(at(m), 0.0) for m in range(0, 6)] + [(at(m), (m - 5) * 0.12) for m in range(6, 36)]
    readings += [(at(m), 30 * 0.12) for m in range(36, 60)]
    counter = EnergyCounter.from_counter(readings)
    session = Session(at(5), at(50), Boundary.PLUGGED_IN)
    slots = slot_energy(session, counter, until=at(60))
    assert [s for s, _ in slots] == [at(0), at(15), at(30), at(45)]
    # 10 min at 7.2 kW, 15 min, 5 min, nothing.
    assert [kwh for _, kwh in slots] == pytest.approx([1.2, 1.8, 0.6, 0.0])
    prices = {at(0): 0.10, at(15): 0.20, at(30): 0.40}
    assert slots_cost_eur(slots, prices) == pytest.approx(1.2 * 0.10 + 1.8 * 0.20 + 0.6 * 0.40)
    assert slots_cost_eur(slots, {at(0): 0.10}) is None  # energy in an unpriced quarter


# ---- mode and target from the flexibility report --------------------------------------------


def _snapshot_points(arrival: datetime, needed_kwh: float, mode: str) -> list:  # type: ignore[type-arg]
    entry = {
        "import_limit_kw": 9.2,
        "base_load_kw": [0.5] * 4,
        "evs": [
            {
                "ev_id": "evse-1",
                "arrival": arrival.isoformat(),
                "departure": (arrival + timedelta(hours=10)).isoformat(),
                "energy_needed_kwh": needed_kwh,
                "max_power_kw": 7.4,
                "efficiency": 0.92,
                "mode": mode,
            }
        ],
    }
    return site_to_points(entry, floor_to(at(30), timedelta(minutes=15)), timedelta(minutes=15))


def test_target_is_what_was_still_needed_plus_what_was_delivered_by_the_snapshot() -> None:
    counter = EnergyCounter.from_counter([(at(m), m * 0.1) for m in range(0, 121)])  # 6 kW
    plans = ev_plans(_snapshot_points(at(0), 9.0, "solar"), reported_at=at(30))
    plan = plans["evse-1"]
    assert (plan.mode, plan.max_power_kw, plan.energy_needed_kwh) == ("solar", 7.4, 9.0)
    session = Session(at(0), at(120), Boundary.PLUGGED_IN)
    assert plan_of(session, plan) is plan
    # 3 kWh delivered by the snapshot at 30 min, 9 still needed then: a 12 kWh target.
    assert target_kwh(session, plan, counter) == pytest.approx(12.0)
    assert target_met(session, 12.0, 12.0) is True
    assert target_met(session, 11.0, 12.0) is False
    assert target_met(Session(at(0), None, Boundary.PLUGGED_IN), 11.0, 12.0) is None  # not over yet
    # A car that arrived after this session ended is another session's.
    assert plan_of(Session(at(-300), at(-100), Boundary.PLUGGED_IN), plan) is None
