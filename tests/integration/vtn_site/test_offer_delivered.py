"""An offer activated end to end: the VTN app (its planning loop and solver process), the real
home agent over real HTTP and a simulated home (constant base load, one EV) on the in-memory bus,
all on one manual clock, so the test does not depend on how fast a loaded machine runs.

The VTN plans the home (the car charges in the cheap first two hours); GET
/api/v1/portfolio/flexibility offers the car's power as down flexibility in the slot half an hour
ahead; a DR request caps the portfolio at planned - down there; the loop re-plans, the agent
polls the modified event, and the meter's telemetry, as the VTN stores it, shows the slot's
import down by the offered kW while the car still gets its energy by departure."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from site_messages import OPENADR

from ven.agent.openadr_mapping import USAGE_SPECIFIER
from ven.agent.runner import HomeAgent
from ven.clock import ManualClock
from ven.device_bus import FakeBroker, FakeBus
from ven.settings import AgentSettings
from ven.simulators.ev_charger import CarSession, EvCharger
from ven.simulators.home import HomeSpec, SimulatedHome
from vtn.api.tokens import create_token
from vtn.app import create_app
from vtn.keys import CLOCK
from vtn.settings import VtnSettings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "vtn_api"))
from vtn_api_client import API, CheckedApi

pytestmark = pytest.mark.db_backends("sqlite")  # the database is not the point

SLOT_S = 900
BASE_KW = 1.0
EV_KW = 7.4
NEED_KWH = 10.0


async def _until(predicate: Any, timeout_s: float, what: str) -> Any:
    """Wait for the app's background run; the bound only stops a hang, it is not what is tested."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Rig:
    def __init__(self, api: CheckedApi, clock: ManualClock, sim: SimulatedHome, agent: HomeAgent) -> None:
        self.api, self.clock, self.sim, self.agent = api, clock, sim, agent
        self.ven_id = ""
        self.usage_request = ""

    async def advance_to(self, moment_s: float, step_s: float = 30.0) -> None:
        """The control loop's steps up to `moment_s`, telemetry sent as the agent's report job does."""
        while self.clock.now() < moment_s:
            self.clock.advance(min(step_s, moment_s - self.clock.now()))
            self.sim.tick()
            await self.agent.step()
        await self.agent.client.update_report(self.usage_request)


@pytest.fixture
async def rig(db_url: str, aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[Rig]:
    start_s = (time.time() // SLOT_S) * SLOT_S + 60  # a minute into a quarter-hour
    clock = ManualClock(start_s)
    settings = VtnSettings.model_validate(
        {
            "db_url": db_url,
            "poll_interval_seconds": 1,
            "report_interval_seconds": 60,
            "dispatch_target": "ev",  # the schedule steers the charger, as in the demo
            "portfolio_loop": False,  # runs on demand and on DR requests only
        }
    )
    app = create_app(settings)
    app[CLOCK] = lambda: datetime.fromtimestamp(clock.now(), UTC)  # the VTN on the homes' clock
    client = await aiohttp_client(app)
    token = await create_token(db_url, "operator", name="offer test")
    async with client.get(f"{API}/openapi.json") as resp:
        doc = await resp.json()
    api = CheckedApi(client, doc, token)

    site_id = f"offer-{uuid.uuid4().hex[:8]}"
    broker = FakeBroker()
    spec = HomeSpec(
        site_id=site_id, base_load_kw=BASE_KW, pv_kw=None, battery_kwh=None, heat_pump=False,
        smart_plug_kw=None, ev_max_kw=EV_KW, telemetry_interval_s=60,
    )  # fmt: skip
    sim = SimulatedHome(spec, clock, lambda _id: FakeBus(broker))
    charger = sim.device("evse-1")
    assert isinstance(charger, EvCharger)
    charger.sessions.clear()
    charger.plug_in(CarSession(start_s - 600, start_s + 8 * 3600, 30.0, NEED_KWH))
    sim.start(thread=False)
    created = await api.call("POST", "/vens", json={"ven_name": f"ven-{site_id}", "site_id": site_id})
    agent_settings = AgentSettings.model_validate(
        {
            "vtn_url": str(client.make_url(OPENADR)),
            "ven_name": f"ven-{site_id}",
            "site_id": site_id,
            "buffer_path": tmp_path / "agent.db",
            "dispatch_device": "evse-1",
        }
    )
    agent = HomeAgent(agent_settings, bus=FakeBus(broker), clock=clock)
    agent.core.start()
    rig = Rig(api, clock, sim, agent)
    rig.ven_id = created.json["ven_id"]
    try:
        yield rig
    finally:
        await agent.client.stop()
        agent.core.stop()
        agent.buffer.close()
        agent.events.close()
        sim.stop()


async def _register(rig: Rig) -> None:
    """What the agent's run() does first, one step at a time: register, offer and send reports."""
    client = rig.agent.client
    rig.sim.tick()
    rig.agent.core.step()
    await client._register_with_retry()
    client.offer_reports()
    await client.register_reports(client.reports)
    requests = {r["report_specifier_id"]: r["report_request_id"] for r in client.report_requests}
    for request_id in requests.values():
        await client.update_report(request_id)
    await client.send_availability()
    rig.usage_request = requests[USAGE_SPECIFIER]


async def _prices(rig: Rig, cheap_from: datetime) -> None:
    day = cheap_from.replace(hour=0, minute=0, second=0, microsecond=0)
    first = int((cheap_from - day) / timedelta(minutes=15))
    # Two days: the plan's horizon must not end at midnight when the test runs late in the day.
    prices = [0.05 if first <= t < first + 8 else 0.30 for t in range(2 * 96)]
    reply = await rig.api.call(
        "PUT",
        "/prices",
        json={"start": day.isoformat(), "resolution_minutes": 15, "import_eur_per_kwh": prices},
    )
    assert reply.status == 200, reply.json


async def _poll_events(rig: Rig) -> None:
    """The agent's poll, until the VTN has nothing more to send."""
    for _ in range(5):
        await rig.agent.client._poll()


async def _mean_kw(rig: Rig, r_id: str, start: datetime) -> float:
    window = {"since": start.isoformat(), "until": (start + timedelta(seconds=SLOT_S)).isoformat()}
    reply = await rig.api.call("GET", f"/vens/{rig.ven_id}/telemetry", params=window)
    assert reply.status == 200, reply.json
    # The reading at the slot's first instant is the power before the step that switches into
    # it (the simulator ticks, then the agent steps): it belongs to the slot before.
    values = [
        p["value"] for p in reply.json if p["r_id"] == r_id and datetime.fromisoformat(p["dtstart"]) > start
    ]
    assert len(values) >= 10, f"{r_id}: {len(values)} readings in the slot"
    return sum(values) / len(values) / 1000.0  # the agent reports power in W (OpenADR's realPower)


async def test_an_offered_slot_activated_as_a_dr_request_is_delivered_by_the_home(rig: Rig) -> None:
    none_yet = await rig.api.call("GET", "/portfolio/flexibility")
    assert none_yet.status == 404, "no plan, no offer"
    await _register(rig)
    now = datetime.fromtimestamp(rig.clock.now(), UTC)
    slot0 = now.replace(second=0, microsecond=0) - timedelta(minutes=now.minute % 15)
    await _prices(rig, slot0)
    planned = await rig.api.call("POST", "/portfolio/plan")
    assert planned.status == 200 and planned.json["status"] == "optimal", planned.json
    await _poll_events(rig)

    target = slot0 + timedelta(minutes=30)
    offer = await rig.api.call("GET", "/portfolio/flexibility")
    assert offer.status == 200, offer.json
    assert offer.json["run_id"] == planned.json["run_id"] and offer.json["homes"] == 1
    [slot] = [s for s in offer.json["slots"] if datetime.fromisoformat(s["start"]) == target]
    # The plan charges the car in the cheap hours; it can wait for the dear ones: all its
    # planned power there is offered.
    first = (await rig.api.call("GET", f"/portfolio/runs/{planned.json['run_id']}")).json
    index = int(
        (target - datetime.fromisoformat(first["inputs"]["scenario"]["start"])) / timedelta(minutes=15)
    )
    planned_ev_kw = first["plan"]["sites"][0]["ev_kw"]["evse-1"][index]
    assert planned_ev_kw > 3.0, "the plan charges the car in the slot"
    assert slot["down_kw"] == pytest.approx(planned_ev_kw, abs=1e-3), slot
    assert slot["down_held_s"] >= SLOT_S

    cap_kw = slot["planned_kw"] - slot["down_kw"]
    request = {
        "kind": "cap", "start": target.isoformat(), "end": (target + timedelta(seconds=SLOT_S)).isoformat(),
        "power_kw": cap_kw, "reason": "offer activated",
    }  # fmt: skip
    created = await rig.api.call("POST", "/portfolio/requests", json=request)
    assert created.status == 201, created.json

    async def replanned() -> Any:
        runs = (await rig.api.call("GET", "/portfolio/runs")).json
        return [r for r in runs if "offer activated" in r["trigger"]]

    [run] = await _until(replanned, 120, "the re-plan the DR request triggers")
    assert run["status"] == "optimal", run
    await _poll_events(rig)

    # The home follows: the charger stays off in the activated slot. The meter shows the change:
    # its import is the base load alone. (The plan's base load is the agent's forecast, not the
    # simulator's constant: nobody steers it, so the change is measured on top of it.)
    await rig.advance_to((target + timedelta(seconds=SLOT_S + 60)).timestamp())
    charger = await _mean_kw(rig, "evse-1.power", target)
    meter = await _mean_kw(rig, "meter-1.power", target)
    assert charger <= planned_ev_kw - slot["down_kw"] + 0.1, f"the car drew {charger:.2f} kW"
    delivered_kw = BASE_KW + planned_ev_kw - meter
    assert delivered_kw >= slot["down_kw"] - 0.1, f"measured {meter:.2f} kW: {delivered_kw:.2f} kW delivered"

    # And the car still gets its energy by departure (the offer kept its target).
    detail = (await rig.api.call("GET", f"/portfolio/runs/{run['run_id']}")).json
    [site] = detail["plan"]["sites"]
    assert site["violations"] == [] and sum(site["ev_energy_kwh"].values()) == pytest.approx(
        NEED_KWH, abs=1e-3
    )
