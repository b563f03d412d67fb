"""End to end through OpenADR: the project's VTN dispatches an event over REST -> OpenADR; the agent
(no MQTT) steers an OCPP charger (the `ocpp` library's charge point), whose measured current
follows, and writes a SunSpec inverter's limit (pymodbus server) when the export must be
curtailed. The devices' telemetry reaches the VTN as any MQTT device's does.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from devices_rig import charger_and_pv_settings, ocpp_adapter, until
from ocpp_peer import RunningChargePoint
from sunspec_peer import SunspecServer

from ven.agent.runner import HomeAgent
from ven.devices.bus import DeviceRouter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ven"))  # the VEN tests' VTN helper
from vtn_server import VtnServer

pytestmark = pytest.mark.slow


async def poll(predicate: Any, timeout_s: float, what: str) -> Any:
    """Poll an async predicate (the bound only stops a hang)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_vtn_event_reaches_the_ocpp_charger_and_curtails_the_sunspec_inverter(
    tmp_path: Path, pv_server: SunspecServer
) -> None:
    vtn = VtnServer(tmp_path, poll_interval_seconds=1, report_interval_seconds=1)
    await vtn.setup()
    await vtn.start()
    pv = pv_server.devices[0]
    agent: HomeAgent | None = None
    try:
        ven = await vtn.api("POST", "/vens", {"ven_name": "ven-dev-e2e", "site_id": "dev-e2e"})
        settings = charger_and_pv_settings(
            tmp_path,
            pv_server.port,
            poll_s=0.5,
            vtn_url=vtn.openadr_url,
            ven_name="ven-dev-e2e",
            site_id="dev-e2e",
            dispatch_device="CP-1",
            housekeeping_every=4,
        )
        agent = HomeAgent(settings)
        assert isinstance(agent.bus, DeviceRouter)
        await agent.start()
        ocpp = ocpp_adapter(agent)
        async with RunningChargePoint(f"ws://127.0.0.1:{ocpp.port}", "CP-1", meter_s=0.5) as cp:
            await until(lambda: ocpp.sessions["CP-1"].configured.is_set(), what="the charger configured")
            await poll(lambda: _registered(vtn, ven["ven_id"]), 30, "registration")
            # the charger's and the inverter's telemetry at the VTN, like any device's
            await poll(lambda: _telemetry(vtn, ven["ven_id"], "CP-1.power"), 30, "CP-1 telemetry at the VTN")
            await poll(lambda: _telemetry(vtn, ven["ven_id"], "pv-1.power"), 30, "pv-1 telemetry at the VTN")

            start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
            await vtn.api(
                "POST",
                "/events",
                {
                    "ven_ids": [ven["ven_id"]],
                    "signal_name": "LOAD_DISPATCH",
                    "signal_type": "setpoint",
                    "intervals": [
                        {"start": _iso(start), "duration_seconds": 8, "value": 6.9},
                        {"start": _iso(start + timedelta(seconds=8)), "duration_seconds": 60, "value": 0.0},
                    ],
                },
            )
            await until(lambda: cp.current_a == 10.0, timeout_s=30, what="the car at 10 A (6.9 kW)")
            await until(lambda: cp.current_a == 0.0, timeout_s=30, what="the car paused (0 kW)")
            await until(lambda: pv.written(123, 7), timeout_s=10, what="the inverter's limit enabled")
            assert pv.written(123, 3)[-1] == 125  # 1 kW of 8 kW: export held at the 1 kW limit
            await poll(
                lambda: _telemetry(vtn, ven["ven_id"], "pv-1.power", -1000.0), 30, "1 kW of PV at the VTN"
            )
    finally:
        if agent is not None:
            await agent.stop()
        await vtn.stop()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


async def _registered(vtn: VtnServer, ven_id: str) -> bool:
    return bool((await vtn.api("GET", f"/vens/{ven_id}"))["registered"])


async def _telemetry(vtn: VtnServer, ven_id: str, r_id: str, value: float | None = None) -> bool:
    points = await vtn.api("GET", f"/vens/{ven_id}/telemetry")
    return any(p["r_id"] == r_id and (value is None or abs(p["value"] - value) < 1.0) for p in points)
