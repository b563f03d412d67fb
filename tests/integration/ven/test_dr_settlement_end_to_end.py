"""DR performance and settlement end to end (issue 13, done-when 2): the project's VTN, a private
Mosquitto, three simulated homes with their agents, all on one clock running x120.

Each home has a 0.5 kW house and a car on its 7.4 kW charger that the agent charges on its own
policy. Half an hour into the future the operator's DR event (LOAD_DISPATCH setpoint 0 kW,
which each agent applies to its charger) targets all three; home C's agent steers a charger it
does not have (`dispatch_device = evse-9`), so it opts out. The program's terms (meter_before,
0.30 EUR/kWh, 0.10 EUR/kWh penalty) are PUT over REST. After the event, performance and the
month's settlement come from the meters' telemetry as the agents reported it: A and B delivered
(their chargers stopped), C is apart, counted in participation (2 of 3) and paid nothing.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from test_ven_end_to_end import until
from ven_broker import Mosquitto
from vtn_server import VtnServer

from ven.agent.runner import HomeAgent
from ven.clock import AcceleratedClock
from ven.device_bus import BrokerAddress
from ven.settings import AgentSettings
from ven.simulators.ev_charger import PlugIn
from ven.simulators.home import HomeSpec, SimulatedHome
from ven.simulators.run import mqtt_home

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
SPEED = 120.0  # two simulated minutes per real second
PROGRAM = "http://flexvpp.org/market/e2e-dr"
QUARTER = timedelta(minutes=15)


def at(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


class Rig:
    def __init__(self, tmp: Path, mosquitto: Mosquitto) -> None:
        real = time.time()
        origin = (real // 900) * 900  # the simulated day starts on a quarter-hour
        self.clock = AcceleratedClock(SPEED, origin_s=origin)
        self.vtn = VtnServer(
            tmp, poll_interval_seconds=1, report_interval_seconds=1, portfolio_loop=False,
            clock_speed=SPEED, clock_origin=at(origin), clock_anchor=at(real),
        )  # fmt: skip
        self.tmp, self.mosquitto = tmp, mosquitto
        tag = uuid.uuid4().hex[:6]
        self.sites = {name: f"dr-{tag}-{name}" for name in "abc"}
        self.homes: list[SimulatedHome] = []
        self.agents: list[HomeAgent] = []
        self.ven_ids: dict[str, str] = {}

    async def start(self) -> None:
        await self.vtn.setup()
        await self.vtn.start()
        for name, site in self.sites.items():
            ven = await self.vtn.api("POST", "/vens", {"ven_name": f"ven-{site}", "site_id": site})
            self.ven_ids[name] = ven["ven_id"]
            spec = HomeSpec(
                site_id=site, seed=3, base_load_kw=0.5, pv_kw=None, battery_kwh=None, heat_pump=False,
                smart_plug_kw=None, ev_max_kw=7.4, telemetry_interval_s=30, plug_in_now=PlugIn(40.0, 12.0),
            )  # fmt: skip
            home = mqtt_home(spec, BrokerAddress.parse(self.mosquitto.url), self.clock)
            home.start()
            self.homes.append(home)
            settings = AgentSettings(
                vtn_url=self.vtn.openadr_url, ven_name=f"ven-{site}", site_id=site,
                broker_url=self.mosquitto.url, speed=SPEED, dispatch_period_s=30, command_ttl_s=900,
                buffer_path=self.tmp / f"{name}.db", discovery_wait_s=3,
                dispatch_device="evse-1" if name != "c" else "evse-9",
            )  # fmt: skip
            agent = HomeAgent(settings, clock=self.clock)
            await agent.start()
            self.agents.append(agent)

    async def stop(self) -> None:
        for agent in self.agents:
            await agent.stop()
        for home in self.homes:
            home.stop()
        await self.vtn.stop()

    def now(self) -> datetime:
        return at(self.clock.now())


@pytest.fixture
async def rig(tmp_path: Path, mosquitto: Mosquitto) -> Any:
    setup = Rig(tmp_path, mosquitto)
    try:
        await setup.start()
        yield setup
    finally:
        await setup.stop()


async def test_an_event_is_measured_and_settled_from_the_homes_telemetry(rig: Rig) -> None:
    vtn, program = rig.vtn, quote(PROGRAM, safe="")
    terms = {"reward_eur_per_kwh": 0.30, "penalty_eur_per_kwh": 0.10, "baseline_method": "meter_before"}
    await vtn.api("PUT", f"/programs/{program}/terms", terms)
    # The event: the second quarter-hour edge at least 70 simulated minutes ahead (meter_before
    # needs the hour before it measured), for two quarter-hours.
    now = rig.now()
    start = at((now.timestamp() // 900 + 1) * 900) + 4 * QUARTER
    end = start + 2 * QUARTER
    event = await vtn.api("POST", "/events", {
        "ven_ids": sorted(rig.ven_ids.values()), "signal_name": "LOAD_DISPATCH", "signal_type": "setpoint",
        "intervals": [{"start": start.isoformat(), "duration_seconds": 1800, "value": 0.0}],
        "market_context": PROGRAM,
    })  # fmt: skip
    event_id = event["event_id"]

    async def answered() -> bool:
        got = await vtn.api("GET", f"/events/{event_id}")
        return len(got["responses"]) == 3

    await until(answered, 60, "the three agents' answers")
    responses = (await vtn.api("GET", f"/events/{event_id}"))["responses"]
    assert responses[rig.ven_ids["c"]] == "optOut"
    assert responses[rig.ven_ids["a"]] == responses[rig.ven_ids["b"]] == "optIn"

    # Until the meters' telemetry of the quarter after the event is at the VTN (whole slots).
    async def measured() -> bool:
        if rig.now() < end + QUARTER:
            return False
        p = await vtn.api("GET", f"/events/{event_id}/performance", params={"method": "meter_before"})
        return all(
            h["measured_kwh"] is not None and h["baseline_kwh"] is not None for h in p["homes"]
        ) and all(i["measured_kw"] is not None for i in p["intervals"])

    await until(measured, 240, "the event measured")
    p = await vtn.api("GET", f"/events/{event_id}/performance")  # the terms' method
    assert p["method"] == "meter_before" and len(p["intervals"]) == 2
    assert p["participation"] == pytest.approx(2 / 3)
    homes = {h["site_id"]: h for h in p["homes"]}
    a, b, c = (homes[rig.sites[n]] for n in "abc")
    assert c["opted_out"] and not a["opted_out"] and not b["opted_out"]
    for h in (a, b):
        # Each charger was drawing before the event and stopped in it: the house's 0.5 kW stays.
        assert h["baseline_kwh"] > h["measured_kwh"] > 0, h
        assert h["delivered_kwh"] == pytest.approx(h["baseline_kwh"] - h["measured_kwh"])
        # half an hour of the house (0.25 kWh), and the charger's last seconds before it stopped
        assert 0.2 <= h["measured_kwh"] <= 0.6, h
    # Summed over A and B only, interval by interval: delivered = baseline - measured.
    for i in p["intervals"]:
        assert i["delivered_kwh"] == pytest.approx((i["baseline_kw"] - i["measured_kw"]) / 4)
    assert p["delivered_kwh"] == pytest.approx(a["delivered_kwh"] + b["delivered_kwh"])
    print(f"delivered: A {a['delivered_kwh']:.3f} kWh, B {b['delivered_kwh']:.3f}, C (opted out) "
          f"{c['delivered_kwh']:.3f}; baseline A {a['baseline_kwh']:.3f} kWh")  # fmt: skip

    month = start.astimezone(ZoneInfo("Europe/Brussels")).strftime("%Y-%m")  # the VTN's zone
    program_month = await vtn.api("GET", f"/programs/{program}/performance", params={"month": month})
    assert [e["event_id"] for e in program_month["events"]] == [event_id]
    assert program_month["participation"] == pytest.approx(2 / 3)

    settled = await vtn.api("GET", "/settlement", params={"month": month})
    statements = {s["site_id"]: s for s in settled["statements"]}
    assert sorted(statements) == sorted([rig.sites["a"], rig.sites["b"]])  # C: no reward
    for site, home in ((rig.sites["a"], a), (rig.sites["b"], b)):
        (line,) = statements[site]["lines"]
        assert line["event_id"] == event_id and line["method_version"] == "meter_before/1"
        # the setpoint asks for all of the baseline; the house's 0.5 kW stays: a shortfall
        assert line["delivered_kwh"] == pytest.approx(home["delivered_kwh"])
        assert line["committed_kwh"] == pytest.approx(home["baseline_kwh"])
        assert line["reward_eur"] == pytest.approx(0.30 * home["delivered_kwh"])
        assert line["penalty_eur"] == pytest.approx(0.10 * (home["baseline_kwh"] - home["delivered_kwh"]))
