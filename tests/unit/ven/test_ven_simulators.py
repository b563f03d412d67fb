"""Simulated devices on the fake bus: physics, set/ack, valid_until, retained config and state."""

from __future__ import annotations

import json

import pytest

from ven.clock import ManualClock
from ven.device_bus import FakeBroker, FakeBus
from ven.messages import parse_ack, parse_config, parse_state, parse_telemetry
from ven.simulators.ev_charger import CarSession, EvCharger
from ven.simulators.home import HomeSpec, SimulatedHome

T0 = 1741550400.0  # 2025-03-09 20:00 UTC
SITE = "sim-unit"


@pytest.fixture
def setup() -> tuple[SimulatedHome, FakeBroker, ManualClock]:
    broker = FakeBroker()
    clock = ManualClock(T0)
    home = SimulatedHome(
        HomeSpec(site_id=SITE, seed=3, base_load_kw=0.5, telemetry_interval_s=60),
        clock,
        lambda _id: FakeBus(broker),
    )
    ev = home.device("evse-1")
    assert isinstance(ev, EvCharger)
    ev.sessions.clear()
    ev.plug_in(CarSession(T0 - 60, T0 + 8 * 3600, 40.0, 6.0))
    home.start(thread=False)
    return home, broker, clock


def _set(broker: FakeBroker, device: str, body: dict[str, object]) -> None:
    broker.route(f"flexvpp/{SITE}/{device}/set", json.dumps(body), retain=False)


def _acks(broker: FakeBroker, device: str) -> list[object]:
    name = f"flexvpp/{SITE}/{device}/ack"
    return [parse_ack(name, p) for p in broker.published(name)]


def test_config_and_state_are_retained(setup) -> None:  # type: ignore[no-untyped-def]
    home, broker, _ = setup
    for device_id, device in home.devices.items():
        config = parse_config("t", broker.retained[f"flexvpp/{SITE}/{device_id}/config"])
        assert config.device_type == device.device_type
        parse_state("t", broker.retained[f"flexvpp/{SITE}/{device_id}/state"])
    state = parse_state("t", broker.retained[f"flexvpp/{SITE}/evse-1/state"])
    assert state.plugged_in and state.ev_target_kwh == 6.0 and state.ev_departure is not None


def test_meter_reads_the_sum_of_the_others(setup) -> None:  # type: ignore[no-untyped-def]
    home, broker, clock = setup
    for _ in range(30):
        clock.advance(37.0)
        home.tick()
        assert home.meter.power_kw == pytest.approx(home.others_sum_kw(), abs=1e-9)
    packs = broker.published(f"flexvpp/{SITE}/meter-1/telemetry")
    assert len(packs) >= 15
    power = {m.name: m.value for m in parse_telemetry("t", packs[-1])}["power"]
    assert power == pytest.approx(home.meter.power_kw * 1000, abs=0.1)


def test_set_ack_and_valid_until_fallback(setup) -> None:  # type: ignore[no-untyped-def]
    home, broker, clock = setup
    ev = home.device("evse-1")
    _set(broker, "evse-1", {"command_id": "c1", "ts": T0, "power_kw": 3.0, "valid_until": T0 + 600})
    _set(broker, "evse-1", {"command_id": "c2", "ts": T0, "power_kw": 40, "valid_until": T0 + 600})
    _set(broker, "evse-1", {"command_id": "c3", "ts": T0, "on": True, "valid_until": T0 + 600})
    _set(broker, "evse-1", {"command_id": "c4", "ts": T0, "power_kw": 1, "valid_until": T0 - 1})
    _set(broker, "evse-1", {"command_id": "c5", "ts": T0, "valid_until": T0 + 600})
    _set(broker, "evse-1", {"ts": T0})  # no command id: nobody to answer, dropped
    acks = {a.command_id: a for a in _acks(broker, "evse-1")}
    assert acks["c1"].accepted
    assert acks["c2"].reason == "power_kw 40 above max 11"
    assert "on is not a control of ev_charger" in acks["c3"].reason
    assert "valid_until" in acks["c4"].reason
    assert "exactly one control" in acks["c5"].reason and not acks["c5"].accepted
    clock.advance(300)
    home.tick()
    assert ev.power_kw == pytest.approx(3.0)
    clock.advance(305)  # past valid_until: the user's own mode (full power)
    home.tick()
    assert ev.command is None and ev.power_kw == pytest.approx(11.0)
    assert parse_state("t", broker.retained[f"flexvpp/{SITE}/evse-1/state"]).model_extra["control"] == "local"


def test_ev_never_past_its_target(setup) -> None:  # type: ignore[no-untyped-def]
    home, _, clock = setup
    ev = home.device("evse-1")
    assert isinstance(ev, EvCharger)
    for _ in range(120):
        clock.advance(60)
        home.tick()
    assert ev.delivered_kwh == pytest.approx(6.0, abs=1e-6)
    assert ev.power_kw == 0.0


def test_override_rejects_commands(setup) -> None:  # type: ignore[no-untyped-def]
    home, broker, _ = setup
    home.device("evse-1").set_mode("boost")
    _set(broker, "evse-1", {"command_id": "c9", "ts": T0, "power_kw": 1.0, "valid_until": T0 + 600})
    assert _acks(broker, "evse-1")[-1].reason == "user override: mode is 'boost'"


def test_other_devices_obey_set(setup) -> None:  # type: ignore[no-untyped-def]
    home, broker, clock = setup
    clock.set(T0 + 16 * 3600)  # noon next day: the sun shines
    home.tick()
    pv = home.device("pv-1")
    assert pv.power_kw < -0.5
    _set(
        broker,
        "pv-1",
        {"command_id": "p", "ts": clock.now(), "curtail_percent": 10, "valid_until": clock.now() + 600},
    )
    _set(
        broker,
        "plug-1",
        {"command_id": "q", "ts": clock.now(), "on": False, "valid_until": clock.now() + 600},
    )
    _set(
        broker,
        "hp-1",
        {"command_id": "h", "ts": clock.now(), "setpoint_c": 30, "valid_until": clock.now() + 600},
    )
    _set(
        broker,
        "battery-1",
        {"command_id": "b", "ts": clock.now(), "power_kw": -2, "valid_until": clock.now() + 600},
    )
    clock.advance(60)
    home.tick()
    assert pv.power_kw >= -0.5 - 1e-9
    assert home.device("plug-1").power_kw == 0.0
    assert _acks(broker, "hp-1")[-1].reason == "setpoint_c 30 above max 25"
    assert home.device("battery-1").power_kw == pytest.approx(-2.0)
