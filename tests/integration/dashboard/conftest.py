"""The dashboard's browser tests: the whole VTN app on a real port (SQLite), headless Debian
chromium driven by Playwright's async API (no browser download), and a seeded fleet: a real home
agent on a simulated home that reported 90 minutes of telemetry, its flexibility and its car's
availability over OpenADR, a planning run that dispatched it a schedule, and a second VEN that
never polled."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from aggregator.scenario_builder import slot_start
from vtn.api.tokens import create_token
from vtn.app import SESSIONS, create_app
from vtn.settings import VtnSettings

# The REST suite's OpenAPI-checking client and the site tests' agent rig, reused; this folder's rig.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "vtn_api"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "vtn_site"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from dashboard_rig import CHROMIUM, Fleet, Vtn
from site_messages import OPENADR
from test_site_agent import Home, report_everything
from vtn_api_client import API, CheckedApi

from ven.agent.runner import HomeAgent
from ven.clock import ManualClock
from ven.device_bus import FakeBroker, FakeBus
from ven.settings import AgentSettings
from ven.simulators.ev_charger import CarSession, EvCharger
from ven.simulators.home import HomeSpec, SimulatedHome

HISTORY_S = 150 * 60  # telemetry the agent sends at once: ten whole quarter-hours at least
PROGRAM = "http://flexvpp.org/programs/evening"
STEP_S = 60


@pytest.fixture
async def vtn(db_url: str, aiohttp_client: Any) -> Vtn:
    settings = VtnSettings.model_validate(
        # The loop's own re-plans stay off: the runs here are the ones the tests ask for.
        {
            "db_url": db_url,
            "poll_interval_seconds": 60,
            "report_interval_seconds": 60,
            "portfolio_loop": False,
        }
    )
    app = create_app(settings)
    client = await aiohttp_client(app)
    token = await create_token(db_url, "operator", name="dashboard tests")
    async with client.get(f"{API}/openapi.json") as resp:
        assert resp.status == 200
        doc = await resp.json()
    base = str(client.make_url("/")).rstrip("/")
    return Vtn(CheckedApi(client, doc, token), app[SESSIONS], base, db_url, token)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context()
    context.set_default_timeout(10_000)  # a missing element fails in 10 s, not 30
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.script_errors = errors  # checked by the tests: a page must run its script cleanly
    try:
        yield page
    finally:
        await context.close()


@pytest.fixture
async def fleet(vtn: Vtn, tmp_path: Path) -> AsyncIterator[Fleet]:
    """A home whose agent has reported the last 90 minutes, planned and dispatched; an idle VEN."""
    site_id = f"dash-{uuid.uuid4().hex[:6]}"
    now_s = time.time()
    broker, clock = FakeBroker(), ManualClock(now_s - HISTORY_S)
    sim = SimulatedHome(
        HomeSpec(site_id=site_id, seed=4, heat_pump=False, smart_plug_kw=None, telemetry_interval_s=STEP_S),
        clock,
        lambda _id: FakeBus(broker),
    )
    ev = sim.device("evse-1")
    assert isinstance(ev, EvCharger)
    ev.sessions.clear()
    ev.plug_in(CarSession(now_s - HISTORY_S - 600, now_s + 8 * 3600, 30.0, 20.0))
    sim.start(thread=False)
    created = await vtn.api.call("POST", "/vens", json={"ven_name": f"ven-{site_id}", "site_id": site_id})
    idle = await vtn.api.call(
        "POST", "/vens", json={"ven_name": f"idle-{site_id}", "site_id": f"{site_id}-2"}
    )
    settings = AgentSettings.model_validate(
        {
            "vtn_url": f"{vtn.base_url}{OPENADR}",
            "ven_name": f"ven-{site_id}",
            "site_id": site_id,
            "buffer_path": tmp_path / "agent.db",
            "validate_messages": True,
        }
    )
    agent = HomeAgent(settings, bus=FakeBus(broker), clock=clock)
    agent.core.start()
    home = Home(site_id, created.json["ven_id"], clock, sim, agent, ev)
    try:
        while clock.now() < now_s:  # the agent samples its devices; it sends them all at once below
            home.advance(STEP_S)
        await report_everything(home)
        await agent.client._poll()  # one poll: the VEN is online
        await vtn.api.call(
            "PUT", f"/sites/{site_id}/webhook", json={"url": "http://127.0.0.1:9/flexvpp-hook"}
        )  # the run below then queues a schedule_changed notification for the home
        start = slot_start(datetime.now(UTC))
        prices = [0.30 if 17 <= (start + timedelta(minutes=15 * t)).hour < 21 else 0.15 for t in range(96)]
        assert (
            await vtn.api.call(
                "PUT",
                "/prices",
                json={"start": start.isoformat(), "resolution_minutes": 15, "import_eur_per_kwh": prices},
            )
        ).status == 200
        run = await vtn.api.call("POST", "/portfolio/plan")
        assert run.status == 200 and run.json["status"] != "error", run.json
        ahead = (start + timedelta(hours=1)).isoformat()
        event = await vtn.api.call(
            "POST",
            "/events",
            json={
                "ven_ids": [home.ven_id],
                "signal_name": "SIMPLE",
                "signal_type": "level",
                "intervals": [{"start": ahead, "duration_seconds": 3600, "value": 1}],
            },
        )
        assert event.status == 201, event.json
        # A DR event under way since 30 minutes, in a program settled against the meter before it.
        terms = {"reward_eur_per_kwh": 0.5, "baseline_method": "meter_before"}
        put = await vtn.api.call("PUT", f"/programs/{quote(PROGRAM, safe='')}/terms", json=terms)
        assert put.status == 200, put.json
        begun = (start - timedelta(minutes=45)).isoformat()
        under_way = await vtn.api.call(
            "POST",
            "/events",
            json={
                "ven_ids": [home.ven_id],
                "signal_name": "LOAD_DISPATCH",
                "signal_type": "setpoint",
                "market_context": PROGRAM,
                "intervals": [{"start": begun, "duration_seconds": 3600, "value": 0.5}],
            },
        )
        assert under_way.status == 201, under_way.json
        yield Fleet(
            home, idle.json["ven_id"], run.json["run_id"], event.json["event_id"], under_way.json["event_id"]
        )
    finally:
        await agent.client.stop()
        agent.core.stop()
        agent.buffer.close()
        agent.events.close()
        sim.stop()
