"""The VTN is told when the agent's capacity-peak guard sheds: the real HomeAgent (its step, and
its openleadr-based VenClient over real HTTP) against the VTN app, the simulated home on the
in-memory bus. The values arrive as TELEMETRY_STATUS rIDs `agent.peak_guard` and
`agent.month_peak_kw` and are stored like every report value."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from site_messages import SiteVtn

from ven.agent.events import DrEvent, EventInterval
from ven.agent.openadr_mapping import STATUS_SPECIFIER
from ven.agent.runner import HomeAgent
from ven.clock import ManualClock
from ven.device_bus import FakeBroker, FakeBus
from ven.settings import AgentSettings
from ven.simulators.ev_charger import PlugIn
from ven.simulators.home import HomeSpec, SimulatedHome

# The database is not the point: one backend.
pytestmark = pytest.mark.db_backends("sqlite")


async def test_the_vtn_hears_at_once_that_the_agent_sheds_for_the_peak(vtn: SiteVtn, tmp_path: Path) -> None:
    site_id = f"peak-{uuid.uuid4().hex[:8]}"
    start_s = (time.time() // 900) * 900 + 30  # 30 s into a quarter
    broker, clock = FakeBroker(), ManualClock(start_s)
    spec = HomeSpec(
        site_id=site_id, base_load_kw=1.5, pv_kw=None, battery_kwh=None, heat_pump=False, smart_plug_kw=None,
        import_limit_kw=17.0, telemetry_interval_s=10, plug_in_now=PlugIn(10.0, 10.0),
    )  # fmt: skip
    sim = SimulatedHome(spec, clock, lambda _id: FakeBus(broker))
    sim.start(thread=False)
    created = await vtn.api.call("POST", "/vens", json={"ven_name": f"ven-{site_id}", "site_id": site_id})
    ven_id = created.json["ven_id"]
    # The household listens: the VTN queues capacity_peak_risk for it (docs/customer-api.md).
    hook = await vtn.api.call("PUT", f"/sites/{site_id}/webhook", json={"url": "https://app.example/h"})
    assert hook.status == 201, hook.json
    settings = AgentSettings.model_validate(
        {
            "vtn_url": vtn.openadr_url, "ven_name": f"ven-{site_id}", "site_id": site_id,
            "buffer_path": tmp_path / "agent.db", "validate_messages": True,
            "import_limit_kw": 17.0, "month_peak_kw": 4.0, "peak_guard": True,
        }
    )  # fmt: skip
    agent = HomeAgent(settings, bus=FakeBus(broker), clock=clock)
    agent.core.start()
    try:
        client = agent.client
        await client._register_with_retry()  # what run() does first
        client.offer_reports()
        await client.register_reports(client.reports)
        assert any(r["report_specifier_id"] == STATUS_SPECIFIER for r in client.report_requests)
        clock.advance(10)
        sim.tick()
        await agent.step()  # the local policy: under the month's peak, nothing to tell
        assert agent.core.peak_guard.quarters_shed in (0, 1)  # (the car ran at full power until now)
        before = agent.core.peak_guard.quarters_shed

        # a schedule asking 11 kW of the charger: the quarter heads for a new month peak
        agent.core.set_event(
            [
                DrEvent(
                    "full",
                    0,
                    "LOAD_DISPATCH",
                    "setpoint",
                    (EventInterval(start_s + 900, 1800, 11.0),),
                    ("evse-1",),
                )
            ]
        )
        while clock.now() < start_s + 900 - 30 + 20:  # the control loop's steps to 20 s into the next quarter
            clock.advance(10)
            sim.tick()
            await agent.step()
        assert agent.core.peak_guard.quarters_shed == before + 1 and agent.core.peak_guard.shedding
        assert client.invalid_outgoing == 0, "every message the agent sent is XSD-valid"

        since = datetime.fromtimestamp(start_s, UTC) - timedelta(minutes=1)
        until = since + timedelta(hours=1)
        window = {"since": since.isoformat(), "until": until.isoformat()}
        reply = await vtn.api.call("GET", f"/vens/{ven_id}/telemetry", params=window)
        assert reply.status == 200, reply.json
        values = {p["r_id"]: p["value"] for p in reply.json if p["r_id"].startswith("agent.")}
        assert values == {"agent.peak_guard": 1.0, "agent.month_peak_kw": 4.0}
        told = await vtn.api.call("GET", f"/sites/{site_id}/notifications")
        assert told.status == 200, told.json
        risks = [n for n in told.json if n["kind"] == "capacity_peak_risk"]
        # once per quarter the guard shed (the first may have been shed too: see `before`)
        assert len(risks) == agent.core.peak_guard.quarters_shed, told.json
        assert all(r["data"]["month_peak_kw"] == 4.0 for r in risks), told.json
    finally:
        await agent.client.stop()
        agent.core.stop()
        agent.buffer.close()
        agent.events.close()
        sim.stop()
