"""The home agent (HomeAgent: its policy, safety clip and control loop) with no MQTT at all: an
OCPP charger (the `ocpp` library's charge point) and a SunSpec PV inverter (pymodbus's server),
each over a real socket. A LOAD_DISPATCH event steers the charger, whose measured current
follows; when the charger pauses, the PV export passes the export limit and the agent writes
the inverter's WMaxLimPct. The VTN is not running: the agent keeps following its events.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from devices_rig import charger_and_pv_settings, ocpp_adapter, until
from ocpp_peer import RunningChargePoint
from sunspec_peer import SunspecServer

from ven.agent.events import DrEvent, EventInterval
from ven.agent.runner import HomeAgent
from ven.devices.bus import DeviceRouter


async def test_an_event_steers_the_ocpp_charger_and_export_curtails_the_sunspec_inverter(
    tmp_path: Path, pv_server: SunspecServer
) -> None:
    pv = pv_server.devices[0]
    settings = charger_and_pv_settings(
        tmp_path,
        pv_server.port,
        poll_s=0.2,
        vtn_url="http://127.0.0.1:9/OpenADR2/Simple/2.0b",  # nobody there
        ven_name="ven-devices",
        site_id="devices-e2e",
    )
    agent = HomeAgent(settings)
    assert isinstance(agent.bus, DeviceRouter) and agent.bus.mqtt is None
    await agent.start()
    try:
        ocpp = ocpp_adapter(agent)
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
