"""One home end to end for the VEN-side faults: the VTN (in-process, SQLite), a private Mosquitto,
the simulated devices and the project's agent (ven/agent)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from ven_broker import Mosquitto
from vtn_server import VtnServer

from ven.agent.runner import HomeAgent
from ven.clock import WallClock
from ven.device_bus import BrokerAddress
from ven.settings import AgentSettings
from ven.simulators.ev_charger import CarSession, EvCharger
from ven.simulators.home import HomeSpec
from ven.simulators.run import mqtt_home

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


class HomeRig:
    def __init__(self, tmp: Path, mosquitto: Mosquitto) -> None:
        self.site = f"fault-{uuid.uuid4().hex[:8]}"
        self.tmp = tmp
        self.buffer_path = tmp / "buffer.db"
        self.mosquitto = mosquitto
        self.vtn = VtnServer(tmp, poll_interval_seconds=1, report_interval_seconds=1)
        spec = HomeSpec(
            site_id=self.site, seed=3, base_load_kw=0.5, pv_kw=None, battery_kwh=None, heat_pump=False,
            smart_plug_kw=None, telemetry_interval_s=TELEMETRY_S,
        )  # fmt: skip
        self.home = mqtt_home(spec, BrokerAddress.parse(mosquitto.url), WallClock())
        ev = self.home.device("evse-1")
        assert isinstance(ev, EvCharger)
        ev.sessions.clear()
        now = time.time()
        ev.plug_in(CarSession(now - 60, now + 8 * 3600, 30.0, 30.0))
        self.ev = ev
        self.agent: HomeAgent | None = None
        self.ven_id = ""

    async def start(self) -> HomeAgent:
        await self.vtn.setup()
        await self.vtn.start()
        ven = await self.vtn.api("POST", "/vens", {"ven_name": f"ven-{self.site}", "site_id": self.site})
        self.ven_id = ven["ven_id"]
        self.home.start()
        settings = AgentSettings(
            vtn_url=self.vtn.openadr_url, ven_name=f"ven-{self.site}", site_id=self.site,
            broker_url=self.mosquitto.url, dispatch_period_s=0.5, command_ttl_s=30,
            buffer_path=self.buffer_path, discovery_wait_s=5, dispatch_device="evse-1", housekeeping_every=4,
        )  # fmt: skip
        self.agent = HomeAgent(settings)
        await self.agent.start()
        return self.agent

    async def stop(self) -> None:
        if self.agent is not None:
            await self.agent.stop()
        self.home.stop()
        await self.vtn.stop()

    def stored(self, r_id: str) -> list[tuple[float, float]]:
        """(time, value) of r_id at the VTN, in the order the VTN stored them."""
        with sqlite3.connect(self.vtn.db_url.removeprefix("sqlite:///")) as db:
            rows = db.execute(
                "SELECT dtstart, value FROM report_values WHERE r_id = ? AND ven_id = ? ORDER BY id",
                (r_id, self.ven_id),
            ).fetchall()
        from datetime import UTC, datetime

        return [
            (round(datetime.fromisoformat(d).replace(tzinfo=UTC).timestamp(), 3), float(v)) for d, v in rows
        ]
