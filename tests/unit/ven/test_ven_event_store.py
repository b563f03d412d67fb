"""The schedule survives an agent restart (the VTN may be unreachable then)."""

from __future__ import annotations

from pathlib import Path

from ven.agent.core import AgentCore
from ven.agent.event_store import EventStore
from ven.agent.events import DrEvent, EventInterval
from ven.agent.policy import SiteLimits
from ven.clock import ManualClock
from ven.device_bus import FakeBroker, FakeBus

T0 = 1741550400.0


def _core(path: Path, clock: ManualClock) -> AgentCore:
    return AgentCore(
        "site-s", "ven-s", FakeBus(FakeBroker()), clock, SiteLimits(9.2, 10.0), store=EventStore(path)
    )


def test_events_survive_a_restart_with_the_same_randomisation(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    path = tmp_path / "agent.db"
    first = _core(path, clock)
    dispatch = DrEvent(
        "d1",
        2,
        "LOAD_DISPATCH",
        "setpoint",
        (EventInterval(T0 + 600, 1800, 4.0),),
        resource_ids=("evse-1",),
        start_after_s=300.0,
        ramp_up_s=60.0,
    )
    prices = DrEvent("p1", 0, "ELECTRICITY_PRICE", "price", (EventInterval(T0, 3600, 0.1),))
    old = DrEvent("old", 0, "SIMPLE", "level", (EventInterval(T0 - 7200, 600, 1.0),))
    for event in (dispatch, prices, old):
        first.set_event([event])
    first.cancel_event("p1")
    kept = {e.event_id: e for e in first.events()}

    again = _core(path, clock)  # the agent restarts
    restored = {e.event_id: e for e in again.events()}
    assert set(restored) == {"d1"}  # cancelled and finished events are gone
    assert restored["d1"] == kept["d1"] and 0 < restored["d1"].offset_s <= 300.0
    assert restored["d1"].resource_ids == ("evse-1",) and restored["d1"].modification_number == 2
