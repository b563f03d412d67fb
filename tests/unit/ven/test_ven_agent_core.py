"""The agent core against a simulated home, both on the in-memory bus."""

from __future__ import annotations

import json

import pytest
from ven_rig import SITE, T0, Rig, dispatch

from ven.agent.events import DrEvent, EventInterval, OptType
from ven.agent.policy import local_setpoints
from ven.messages import SetCommand, parse_set


def test_discovery_and_bad_input_ignored() -> None:
    rig = Rig(smart_plug_kw=1.0)
    snapshot = rig.core.snapshot()
    assert set(snapshot.devices) == {"meter-1", "evse-1", "plug-1"}
    assert snapshot.meter_kw is not None
    before = rig.core.registry.ignored
    rig.broker.route(f"flexvpp/{SITE}/ghost/telemetry", '[{"bt": 1, "n": "power", "v": 1}]', retain=False)
    rig.broker.route(f"flexvpp/{SITE}/evse-1/state", "{not json", retain=False)
    rig.broker.route(f"flexvpp/{SITE}/evse-1/telemetry", json.dumps([{"n": "power"}]), retain=False)
    rig.broker.route(
        f"flexvpp/{SITE}/evse-1/config",
        json.dumps({"device_id": "other", "device_type": "meter"}),
        retain=False,
    )
    assert rig.core.registry.ignored == before + 4
    assert set(rig.core.snapshot().devices) == {"meter-1", "evse-1", "plug-1"}
    rig.advance(120)  # and the agent carries on
    assert rig.core.snapshot().devices["evse-1"].state.plugged_in  # type: ignore[union-attr]


def test_local_policy_keeps_the_promise_without_raising_the_peak() -> None:
    rig = Rig()
    flat = 20.0 / (0.95 * (10 * 3600 - 120) / 3600)
    assert rig.last.setpoints["evse-1"] == pytest.approx(flat, rel=0.02)  # above the 2.5 kW billed peak
    rig.advance(10 * 3600 - 300)
    assert rig.ev.delivered_kwh == pytest.approx(20.0, abs=0.05)
    assert max(rig.sets("evse-1")) < 3.0


def test_event_above_the_import_limit_is_clipped_at_the_limit() -> None:
    rig = Rig()
    opt, _ = rig.core.set_event(dispatch("ev-max", T0 + 300, 60, 11.0, ("evse-1",)))
    assert opt is OptType.OPT_IN
    rig.advance(600)
    assert "ev-max" in rig.last.active_events
    assert rig.last.setpoints["evse-1"] == pytest.approx(9.2 - 3.0, abs=1e-6)
    assert rig.last.predicted_import_kw == pytest.approx(9.2, abs=1e-6)
    assert any("import limit" in n for n in rig.last.notes)
    assert rig.home.meter.power_kw == pytest.approx(9.2, abs=1e-6)


def test_user_override_wins_and_opts_out() -> None:
    rig = Rig()
    rig.core.set_event(dispatch("ev-slow", T0 + 60, 60, 1.0, ("evse-1",)))
    rig.advance(120)
    assert rig.ev.power_kw == pytest.approx(1.0)
    rig.ev.set_mode("boost")
    rig.advance(120)
    sent_before = len(rig.sets("evse-1"))
    rig.advance(600)
    assert len(rig.sets("evse-1")) == sent_before  # nothing commanded while overridden
    assert rig.ev.power_kw == pytest.approx(11.0)
    assert rig.core.reconsider_opts() == [
        ("ev-slow", OptType.OPT_OUT, "user override on evse-1 (mode 'boost')")
    ]
    opt, reason = rig.core.set_event(dispatch("ev-2", T0 + 7200, 60, 2.0, ("evse-1",)))
    assert opt is OptType.OPT_OUT and "override" in reason


def test_opt_out_when_a_device_cannot_comply() -> None:
    rig = Rig()
    assert (
        rig.core.set_event(dispatch("a", T0, 60, 40.0, ("evse-1",)))[1]
        == "power_kw 40 above max 11 of evse-1"
    )
    assert rig.core.set_event(dispatch("b", T0, 60, 4.0, ("heater-7",)))[0] is OptType.OPT_OUT


def test_commands_carry_valid_until_and_the_device_falls_back() -> None:
    rig = Rig()
    rig.core.set_event(dispatch("ev-1kw", T0 + 60, 120, 1.0, ("evse-1",)))
    rig.advance(120)
    assert rig.ev.power_kw == pytest.approx(1.0)
    name = f"flexvpp/{SITE}/evse-1/set"
    for command in (parse_set(name, p) for p in rig.broker.published(name)):
        assert command.valid_until == command.ts + 300
    rig.advance(400, step=False)  # the agent dies: no more commands
    assert rig.ev.command is None and rig.ev.power_kw == pytest.approx(11.0)  # the user's own mode


def test_ramp_up_and_randomisation() -> None:
    rig = Rig()
    event = dispatch("ramp", T0 + 1260, 60, 6.0, ("evse-1",), ramp_up_s=1200.0, start_after_s=600.0)
    rig.core.set_event(event)
    stored = rig.core.events()[0]
    assert 0 <= stored.offset_s <= 600 and stored.start_s == T0 + 1260 + stored.offset_s
    middle = stored.start_s - 600 - (rig.clock.now() % 60)
    rig.advance(middle - rig.clock.now())
    # the local policy's own setpoint at this moment is where the ramp starts from
    base = local_setpoints(rig.core.snapshot(), rig.core.current_limits(), {})["evse-1"]
    fraction = (rig.clock.now() - (stored.start_s - 1200)) / 1200
    assert rig.last.setpoints["evse-1"] == pytest.approx(base + (6.0 - base) * fraction, abs=0.05)
    rig.advance(stored.start_s - rig.clock.now() + 60)
    assert rig.last.setpoints["evse-1"] == pytest.approx(6.0)


def test_site_setpoint_and_simple_levels() -> None:
    rig = Rig(battery_kwh=10.0, smart_plug_kw=1.0, heat_pump=True)
    rig.core.set_event(dispatch("site", T0 + 60, 30, 2.0))
    rig.advance(300)
    assert rig.home.meter.power_kw == pytest.approx(2.0, abs=0.3)
    rig.core.cancel_event("site")
    rig.core.set_event([DrEvent("shed", 0, "SIMPLE", "level", (EventInterval(rig.clock.now(), 3600, 2.0),))])
    rig.advance(120)
    sp = rig.last.setpoints
    assert sp["plug-1"] is False and sp["hp-1"] == pytest.approx(19.0)
    assert sp["evse-1"] == pytest.approx(0.0)  # 10 h left: the promise needs nothing during the hour
    assert rig.home.device("plug-1").power_kw == 0.0


def test_site_setpoint_with_an_empty_battery_is_met_by_the_ev() -> None:
    rig = Rig(battery_kwh=10.0)
    battery = rig.home.device("battery-1")
    battery.soc_kwh = battery.min_soc_kwh  # type: ignore[attr-defined]
    rig.advance(60)  # the agent sees the empty battery in its telemetry
    # House 3 kW, car 20 kWh in 10 h (~2.1 kW flat): a site setpoint of 3 kW asks the steered
    # devices for 0 kW net, which the empty battery cannot give by discharging.
    rig.core.set_event(dispatch("site-empty", rig.clock.now(), 30, 3.0))
    rig.advance(300)
    assert rig.last.setpoints["battery-1"] == pytest.approx(0.0)
    assert rig.ev.power_kw == pytest.approx(0.0, abs=0.05)
    assert rig.home.meter.power_kw == pytest.approx(3.0, abs=0.3)


def test_site_setpoint_uses_only_what_the_battery_holds() -> None:
    rig = Rig(battery_kwh=10.0)
    battery = rig.home.device("battery-1")
    battery.soc_kwh = battery.min_soc_kwh + 0.02  # type: ignore[attr-defined]  # 20 Wh above its floor
    hold = SetCommand(command_id="hold", ts=rig.clock.now(), valid_until=rig.clock.now() + 600, power_kw=0.0)
    battery.handle_set(hold, rig.clock.now())  # kept from self-consumption until the agent steers it
    rig.advance(60, step=False)
    rig.core.set_event(dispatch("site-low", rig.clock.now(), 30, 3.0))
    rig.advance(60)
    # The steered devices must draw 0 kW net; 20 Wh * 0.95 lasts the 60 s step at 1.14 kW, so the
    # battery gives that and the car's ~2.1 kW goes down by the rest instead of the battery's 2.1.
    setpoints = rig.last.setpoints
    assert setpoints["battery-1"] == pytest.approx(-1.14, abs=0.01)
    assert float(setpoints["evse-1"]) + float(setpoints["battery-1"]) == pytest.approx(0.0, abs=0.05)


def test_the_house_load_is_learnt_beside_a_protocol_device() -> None:
    """An OCPP or SunSpec device's readings carry the moment they arrived, never the meter's edge
    time: the house load (meter - devices) is learnt from its latest reading up to 15 min old."""
    from ven.agent.core import AgentCore
    from ven.agent.policy import SiteLimits
    from ven.clock import AcceleratedClock
    from ven.device_bus import FakeBroker, FakeBus

    broker = FakeBroker()
    clock = AcceleratedClock(1.0, origin_s=T0)
    core = AgentCore(SITE, "ven", FakeBus(broker), clock, SiteLimits(9.2, 10.0))
    core.start()
    configs = {
        "meter-1": {"device_id": "meter-1", "device_type": "meter"},
        "evse-1": {"device_id": "evse-1", "device_type": "ev_charger", "params": {"protocol": "ocpp1.6"}},
    }
    for device_id, config in configs.items():
        broker.route(f"flexvpp/{SITE}/{device_id}/config", json.dumps(config), retain=True)

    def power(device_id: str, time_s: float, watts: float) -> None:
        pack = [{"bn": f"{device_id}:", "bt": time_s, "n": "power", "u": "W", "v": watts}]
        broker.route(f"flexvpp/{SITE}/{device_id}/telemetry", json.dumps(pack), retain=False)

    power("evse-1", T0 + 100, 7000.0)  # arrived 200 s before the meter's edge reading
    power("meter-1", T0 + 300, 8200.0)
    assert core.snapshot().house_kw == pytest.approx(1.2)
    power("evse-1", T0 + 310, 0.0)  # after that reading: the next one learns with it
    power("meter-1", T0 + 600, 1500.0)
    assert core.snapshot().house_kw == pytest.approx(1.5)
    power("meter-1", T0 + 1500, 9000.0)  # the charger's reading is now 20 min old: not learnt
    assert core.snapshot().house_kw == pytest.approx(1.5)


def test_a_charger_with_clock_aligned_readings_counts_only_at_the_meters_edge() -> None:
    """Its readings are stamped with the edge (as the meter's): an older one is not the same
    moment (the charger may have changed since, e.g. at the edge where its setpoint changes), so
    the house load waits for the charger's reading of the meter's edge."""
    from ven.agent.core import AgentCore
    from ven.agent.policy import SiteLimits
    from ven.clock import AcceleratedClock
    from ven.device_bus import FakeBroker, FakeBus

    broker = FakeBroker()
    clock = AcceleratedClock(1.0, origin_s=T0)
    core = AgentCore(SITE, "ven", FakeBus(broker), clock, SiteLimits(9.2, 10.0))
    core.start()
    params = {"protocol": "ocpp1.6", "aligned_interval_s": 900}
    configs = {
        "meter-1": {"device_id": "meter-1", "device_type": "meter"},
        "evse-1": {"device_id": "evse-1", "device_type": "ev_charger", "params": params},
    }
    for device_id, config in configs.items():
        broker.route(f"flexvpp/{SITE}/{device_id}/config", json.dumps(config), retain=True)

    def power(device_id: str, time_s: float, watts: float) -> None:
        pack = [{"bn": f"{device_id}:", "bt": time_s, "n": "power", "u": "W", "v": watts}]
        broker.route(f"flexvpp/{SITE}/{device_id}/telemetry", json.dumps(pack), retain=False)

    power("evse-1", T0, 11000.0)
    power("meter-1", T0, 11800.0)
    assert core.snapshot().house_kw == pytest.approx(0.8)
    power("meter-1", T0 + 900, 1300.0)  # the charger stopped at T0 + 900: 11 kW of it is not house
    assert core.snapshot().house_kw == pytest.approx(0.8)
    power("evse-1", T0 + 900, 0.0)  # its reading of that edge, later
    assert core.snapshot().house_kw == pytest.approx(1.3)
