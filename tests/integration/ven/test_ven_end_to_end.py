"""End to end: the project's VTN + one agent + a simulated home on a private Mosquitto.

The agent registers; the VTN's REST API shows the meter's telemetry; a LOAD_DISPATCH event
created over REST reaches the EV charger as acknowledged `set` commands at the interval
starts and the charger's telemetry follows. Then the VTN goes away: the agent buffers on
disk and, when the VTN is back, backfills without gap or duplicate.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ven_broker import Mosquitto, Recorder
from vtn_server import VtnServer

from ven.agent.runner import HomeAgent
from ven.clock import WallClock
from ven.device_bus import BrokerAddress
from ven.messages import parse_ack, parse_set
from ven.settings import AgentSettings
from ven.simulators.ev_charger import CarSession, EvCharger
from ven.simulators.home import HomeSpec
from ven.simulators.run import mqtt_home

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
TELEMETRY_S = 1.0


async def until(predicate: Any, timeout_s: float, what: str) -> Any:
    """Poll an (async) predicate; the bound only stops a hang, it is not what is tested."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Setup:
    def __init__(self, tmp: Path, mosquitto: Mosquitto) -> None:
        self.site = f"e2e-{uuid.uuid4().hex[:8]}"
        self.vtn = VtnServer(tmp, poll_interval_seconds=1, report_interval_seconds=1)
        self.mosquitto = mosquitto
        self.tmp = tmp
        self.home = mqtt_home(
            HomeSpec(
                site_id=self.site,
                seed=2,
                base_load_kw=0.5,
                pv_kw=None,
                battery_kwh=None,
                heat_pump=False,
                smart_plug_kw=None,
                telemetry_interval_s=TELEMETRY_S,
            ),
            BrokerAddress.parse(mosquitto.url),
            WallClock(),
        )
        ev = self.home.device("evse-1")
        assert isinstance(ev, EvCharger)
        ev.sessions.clear()
        now = time.time()
        ev.plug_in(CarSession(now - 60, now + 8 * 3600, 30.0, 30.0))
        self.ev = ev
        self.agent: HomeAgent | None = None
        self.ven_id = ""
        self.recorder = Recorder(mosquitto.url, f"flexvpp/{self.site}/evse-1/#")

    async def start(self, home_first: bool = True) -> None:
        await self.vtn.setup()
        await self.vtn.start()
        ven = await self.vtn.api("POST", "/vens", {"ven_name": f"ven-{self.site}", "site_id": self.site})
        self.ven_id = ven["ven_id"]
        if home_first:
            self.home.start()
        settings = AgentSettings(
            vtn_url=self.vtn.openadr_url,
            ven_name=f"ven-{self.site}",
            site_id=self.site,
            broker_url=self.mosquitto.url,
            dispatch_period_s=0.5,
            command_ttl_s=30,
            buffer_path=self.tmp / "buffer.db",
            discovery_wait_s=5 if home_first else 0,
            dispatch_device="evse-1",
            validate_messages=True,
            housekeeping_every=4,
        )
        self.agent = HomeAgent(settings)
        await self.agent.start()

    async def stop(self) -> None:
        if self.agent is not None:
            await self.agent.stop()
        self.home.stop()
        self.recorder.bus.stop()
        await self.vtn.stop()

    async def telemetry(self, r_id: str) -> list[dict[str, Any]]:
        points = await self.vtn.api("GET", f"/vens/{self.ven_id}/telemetry")
        return sorted((p for p in points if p["r_id"] == r_id), key=lambda p: p["dtstart"])


@pytest.fixture
async def setup(tmp_path: Path, mosquitto: Mosquitto) -> Any:
    rig = Setup(tmp_path, mosquitto)
    try:
        await rig.start()
        yield rig
    finally:
        await rig.stop()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


async def test_event_reaches_the_charger_and_telemetry_reaches_the_vtn(setup: Setup) -> None:
    vtn = setup.vtn
    await until(lambda: vtn.api("GET", f"/vens/{setup.ven_id}"), 5, "the VEN")
    await until(lambda: _registered(vtn, setup.ven_id), 30, "registration")
    await until(lambda: setup.telemetry("meter-1.power"), 30, "meter telemetry at the VTN")
    # the site's plan-format entry and its devices' status, rebuilt by the VTN from our reports
    entry = await until(lambda: _optional(vtn, f"/vens/{setup.ven_id}/site"), 30, "the site entry")
    site = entry["site"]
    assert site["site_id"] == setup.site and site["import_limit_kw"] == 9.2
    assert site["evs"][0]["ev_id"] == "evse-1" and 29.0 < site["evs"][0]["energy_needed_kwh"] <= 30.0
    assert len(site["base_load_kw"]) == entry["horizon_slots"]
    status = await until(lambda: _optional(vtn, f"/vens/{setup.ven_id}/status"), 30, "the status")
    evse = next(d for d in status["devices"] if d["device_id"] == "evse-1")
    assert evse["plugged_in"] is True and evse["online"] is True

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    event = await vtn.api(
        "POST",
        "/events",
        {
            "ven_ids": [setup.ven_id],
            "signal_name": "LOAD_DISPATCH",
            "signal_type": "setpoint",
            "intervals": [
                {"start": _iso(start), "duration_seconds": 6, "value": 3.0},
                {"start": _iso(start + timedelta(seconds=6)), "duration_seconds": 6, "value": 5.0},
            ],
        },
    )
    assert event["event_id"]
    await until(lambda: abs(setup.ev.power_kw - 3.0) < 1e-6, 20, "the charger at 3 kW")
    first_3kw = time.time()
    await until(lambda: abs(setup.ev.power_kw - 5.0) < 1e-6, 20, "the charger at 5 kW")
    assert first_3kw >= start.timestamp() - 0.5  # not before the interval starts

    set_topic = f"flexvpp/{setup.site}/evse-1/set"
    commands = [parse_set(set_topic, p) for p in _published(setup, "set")]
    values = [c.value for c in commands]
    assert 3.0 in values and 5.0 in values
    assert all(c.valid_until > c.ts for c in commands)
    await until(lambda: any(a.accepted for a in _acks(setup)), 5, "acks")
    samples = await until(
        lambda: _with_value(setup, "evse-1.power", 5000.0), 20, "5 kW in the VTN's telemetry"
    )
    assert samples
    # the EV's availability window travelled as an EiOpt schedule
    opts = await until(lambda: vtn.api("GET", f"/vens/{setup.ven_id}/opts"), 20, "the availability opt")
    window = next(o for o in opts if o["resource_ids"] == ["evse-1"])
    assert window["opt_type"] == "optIn" and window["windows"]
    departure = datetime.fromisoformat(window["windows"][0]["start"]) + timedelta(
        seconds=window["windows"][0]["duration_seconds"]
    )
    assert abs(departure.timestamp() - setup.ev.session.departure_s) < 2  # type: ignore[union-attr]
    assert setup.agent is not None and setup.agent.client.invalid_outgoing == 0  # all valid per the XSD

    # prices over OpenADR: the agent re-plans the home locally with flexmodel
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    await vtn.api(
        "POST",
        "/events",
        {
            "ven_ids": [setup.ven_id],
            "signal_name": "ELECTRICITY_PRICE",
            "signal_type": "price",
            "market_context": "http://flexvpp.org/market/prices",
            "intervals": [
                {
                    "start": _iso(hour + timedelta(hours=h)),
                    "duration_seconds": 3600,
                    "value": 0.05 if 2 <= h < 5 else 0.35,
                }
                for h in range(12)
            ],
        },
    )
    agent = setup.agent
    plan = await until(lambda: agent.core.local_plan.power_kw.get("evse-1"), 60, "the local plan")
    assert len(plan) == 96 and sum(i.value for i in plan) > 0


async def _optional(vtn: VtnServer, path: str) -> Any:
    """The resource, or None while the VTN answers 409 (nothing received yet)."""
    try:
        return await vtn.api("GET", path)
    except AssertionError as exc:
        if ": 409 " in str(exc):
            return None
        raise


async def _registered(vtn: VtnServer, ven_id: str) -> bool:
    ven = await vtn.api("GET", f"/vens/{ven_id}")
    return bool(ven["registered"])


async def _with_value(setup: Setup, r_id: str, value: float) -> bool:
    return any(abs(p["value"] - value) < 1.0 for p in await setup.telemetry(r_id))


def _published(setup: Setup, kind: str) -> list[bytes]:
    return setup.recorder.on(f"flexvpp/{setup.site}/evse-1/{kind}")


def _acks(setup: Setup) -> list[Any]:
    return [parse_ack("ack", p) for p in _published(setup, "ack")]


async def test_vtn_outage_is_buffered_and_backfilled_without_gap_or_duplicate(setup: Setup) -> None:
    import sqlite3

    agent = setup.agent
    assert agent is not None
    r_id = "meter-1.power"
    await until(lambda: setup.telemetry(r_id), 30, "meter telemetry at the VTN")
    # an event that starts while the VTN is down: the agent follows the schedule it has
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
    await setup.vtn.api(
        "POST",
        "/events",
        {
            "ven_ids": [setup.ven_id],
            "signal_name": "LOAD_DISPATCH",
            "signal_type": "setpoint",
            "intervals": [{"start": _iso(start), "duration_seconds": 120, "value": 2.5}],
        },
    )
    await until(lambda: agent.core.events(), 20, "the event at the agent")
    await setup.vtn.stop()
    await until(lambda: not agent.client.reachable, 20, "the agent to notice the outage")
    await until(lambda: abs(setup.ev.power_kw - 2.5) < 1e-6, 30, "the event followed without the VTN")
    await until(lambda: agent.buffer.pending_count(r_id) >= 15, 40, "telemetry piling up in the buffer")
    await setup.vtn.start()
    await until(lambda: agent.client.reachable and agent.buffer.pending_count() == 0, 60, "the backfill")
    # Compare what was measured up to a moment safely before the backfill ended (newer samples
    # may be on their way) with what the VTN stored.
    cutoff = time.time() - 3.0
    received = [
        round(datetime.fromisoformat(p["dtstart"]).timestamp(), 3) for p in await setup.telemetry(r_id)
    ]
    assert len(received) == len(set(received)), "duplicates at the VTN"
    with sqlite3.connect(setup.tmp / "buffer.db") as db:
        measured = [
            round(row[0], 3)
            for row in db.execute(
                "SELECT ts FROM samples WHERE r_id = ? AND ts < ? ORDER BY ts", (r_id, cutoff)
            )
        ]
    assert [t for t in received if t < cutoff] == measured  # every measurement arrived once, in order
    assert len(measured) >= 10, (cutoff, measured[:3], len(received), agent.buffer.pending_count())


async def test_devices_that_appear_later_are_offered_and_reported(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    rig = Setup(tmp_path, mosquitto)
    try:
        await rig.start(home_first=False)  # the gateway boots before the devices
        assert rig.agent is not None
        await until(lambda: _registered(rig.vtn, rig.ven_id), 30, "registration")
        rig.home.start()
        await until(lambda: rig.telemetry("meter-1.power"), 60, "meter telemetry after the devices appeared")
    finally:
        await rig.stop()
