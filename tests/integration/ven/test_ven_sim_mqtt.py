"""A simulated home on a real Mosquitto: retained config/state, telemetry, set/ack, bad input, restarts."""

from __future__ import annotations

import json
import uuid

import pytest
from ven_broker import Mosquitto, Recorder, wait_for

from ven.clock import AcceleratedClock
from ven.device_bus import BrokerAddress
from ven.messages import parse_ack, parse_config, parse_telemetry
from ven.simulators.home import HomeSpec
from ven.simulators.run import mqtt_home

pytestmark = pytest.mark.mqtt


def test_home_on_real_broker_survives_bad_input_and_restart(mosquitto: Mosquitto) -> None:
    site = f"it-{uuid.uuid4().hex[:8]}"
    home = mqtt_home(
        HomeSpec(site_id=site, seed=1, telemetry_interval_s=60),
        BrokerAddress.parse(mosquitto.url),
        AcceleratedClock(speed=120.0),
    )
    rec = Recorder(mosquitto.url, f"flexvpp/{site}/#")
    home.start()
    try:
        base = f"flexvpp/{site}"
        wait_for(lambda: all(rec.on(f"{base}/{d}/config") for d in home.devices), what="configs")
        assert parse_config("t", rec.on(f"{base}/evse-1/config")[0]).device_id == "evse-1"
        wait_for(lambda: len(rec.on(f"{base}/meter-1/telemetry")) >= 2, what="telemetry")
        parse_telemetry("t", rec.on(f"{base}/meter-1/telemetry")[-1])

        # Garbage on a device's set topic and on an unknown device: logged and dropped.
        rec.bus.publish(f"{base}/plug-1/set", "not json")
        rec.bus.publish(f"{base}/plug-1/set", json.dumps({"command_id": "bad", "on": "yes"}))
        rec.bus.publish(
            f"{base}/ghost-9/set", json.dumps({"command_id": "g", "ts": 0, "on": False, "valid_until": 9e12})
        )
        now = home.clock.now()
        rec.bus.publish(
            f"{base}/plug-1/set",
            json.dumps({"command_id": "ok1", "ts": now, "on": False, "valid_until": now + 3600}),
        )
        wait_for(lambda: len(rec.on(f"{base}/plug-1/ack")) >= 2, what="acks")
        acks = {a.command_id: a for a in (parse_ack("t", p) for p in rec.on(f"{base}/plug-1/ack"))}
        assert not acks["bad"].accepted and "valid_until" in (acks["bad"].reason or "")
        assert acks["ok1"].accepted
        wait_for(lambda: home.device("plug-1").power_kw == 0.0, what="plug off")

        # The broker goes away and comes back (no persistence): every device re-announces.
        mosquitto.stop()
        wait_for(lambda: not any(c.bus.connected for c in home.clients.values()), what="disconnect")
        rec.messages.clear()
        mosquitto.start()
        wait_for(
            lambda: all(rec.on(f"{base}/{d}/config") for d in home.devices),
            timeout_s=60,
            what="configs after restart",
        )
        wait_for(lambda: len(rec.on(f"{base}/meter-1/telemetry")) >= 1, what="telemetry after restart")
    finally:
        home.stop()
        rec.bus.stop()
