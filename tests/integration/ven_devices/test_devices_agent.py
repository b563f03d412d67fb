"""The home agent (HomeAgent: its policy, safety clip and control loop) with no MQTT at all: an
OCPP charger (the `ocpp` library's charge point) and a SunSpec PV inverter (pymodbus's server),
each over a real socket. A LOAD_DISPATCH event steers the charger, whose measured current
follows; when the charger pauses, the PV export passes the export limit and the agent writes
the inverter's WMaxLimPct. The VTN is not running: the agent keeps following its events.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from devices_rig import until
from ocpp_peer import RunningChargePoint
from sunspec_peer import SunspecServer, pv_inverter

from ven.agent.events import DrEvent, EventInterval
from ven.agent.runner import HomeAgent
from ven.devices.bus import DeviceRouter
from ven.devices.ocpp_central import OcppCentralSystem
from ven.settings import AgentSettings


@pytest.fixture
async def pv_server() -> AsyncIterator[SunspecServer]:
    server = SunspecServer(pv_inverter(unit=1, available_w=6000.0))  # 8 kW nominal, 6 kW of sun
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_an_event_steers_the_ocpp_charger_and_export_curtails_the_sunspec_inverter(
    tmp_path: Path, pv_server: SunspecServer
) -> None:
    pv = pv_server.devices[0]
    settings = AgentSettings(
        vtn_url="http://127.0.0.1:9/OpenADR2/Simple/2.0b",  # nobody there
        ven_name="ven-devices",
        site_id="devices-e2e",
        devices=[  # type: ignore[list-item]
            {"kind": "ocpp", "listen": "127.0.0.1:0"},
            {
                "kind": "sunspec",
                "address": f"127.0.0.1:{pv_server.port}/1",
                "device_id": "pv-1",
                "poll_s": 0.2,
            },
        ],
        export_limit_kw=1.0,
        dispatch_period_s=0.5,
        command_ttl_s=30,
        buffer_path=tmp_path / "buffer.db",
        discovery_wait_s=0,
    )
    agent = HomeAgent(settings)
    assert isinstance(agent.bus, DeviceRouter) and agent.bus.mqtt is None
    await agent.start()
    try:
        ocpp = next(a for a in agent.bus.adapters if isinstance(a, OcppCentralSystem))
        async with RunningChargePoint(f"ws://127.0.0.1:{ocpp.port}", "CP-1") as cp:
            await until(lambda: {"CP-1", "pv-1"} <= set(agent.core.snapshot().devices), what="both devices")
            await until(lambda: ocpp.sessions["CP-1"].configured.is_set(), what="the charger configured")
            now = time.time()
            agent.core.set_event(_dispatch("e2e", "CP-1", [(now, 6.0, 6.9), (now + 6.0, 120.0, 0.0)]))

            # 6.9 kW on three phases at 230 V: 10 A per phase, and the charger measures it
            await until(lambda: cp.current_a == 10.0, timeout_s=15, what="the car at 10 A")
            await until(lambda: _reading(agent, "CP-1", "current") == 10.0, what="10 A in the agent")
            assert pv.written(123, 7) == []  # 6.9 kW of charging takes all 6 kW of sun: no export
            # then 0 kW: the car pauses, 6 kW of sun would be exported against a 1 kW limit
            await until(lambda: cp.current_a == 0.0, timeout_s=15, what="the car paused")
            await until(lambda: pv.written(123, 7), timeout_s=15, what="WMaxLim_Ena written")
            await until(lambda: _reading(agent, "pv-1", "power") == -1000.0, what="PV output at 1 kW")
            assert pv.written(123, 3)[-1] == 125  # 1 kW of 8 kW = 12.5 % (WMaxLimPct_SF -1)
            profiles = [
                p["charging_schedule"]["charging_schedule_period"][0]["limit"] for p in cp.received_profiles
            ]
            assert 10.0 in profiles and profiles[-1] == 0.0
    finally:
        await agent.stop()


def _dispatch(event_id: str, device_id: str, intervals: list[tuple[float, float, float]]) -> list[DrEvent]:
    return [
        DrEvent(
            event_id=event_id,
            modification_number=0,
            signal_name="LOAD_DISPATCH",
            signal_type="setpoint",
            intervals=tuple(EventInterval(start, duration, value) for start, duration, value in intervals),
            resource_ids=(device_id,),
        )
    ]


def _reading(agent: HomeAgent, device_id: str, name: str) -> Any:
    view = agent.core.snapshot().devices.get(device_id)
    return None if view is None else view.reading(name)
