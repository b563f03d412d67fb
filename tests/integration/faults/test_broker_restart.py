"""The MQTT broker restarts: the devices and the agent reconnect by themselves; telemetry reaches
the VTN again and a command sent after the restart reaches the EV charger."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from home_rig import HomeRig, until
from ven_broker import Mosquitto

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
R_ID = "meter-1.power"


async def test_agent_and_devices_reconnect_after_a_broker_restart(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    rig = HomeRig(tmp_path, mosquitto)
    try:
        agent = await rig.start()
        await until(lambda: rig.stored(R_ID), 60, "meter telemetry at the VTN")
        mosquitto.stop()
        stopped_at = time.time()
        await until(lambda: time.time() > stopped_at + 3, 10, "a few seconds without a broker")
        mosquitto.start()
        restarted_at = time.time()
        await until(
            lambda: [t for t, _ in rig.stored(R_ID) if t > restarted_at + 1],
            60,
            "telemetry after the restart",
        )
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        await rig.vtn.api(
            "POST",
            "/events",
            {
                "ven_ids": [rig.ven_id],
                "signal_name": "LOAD_DISPATCH",
                "signal_type": "setpoint",
                "intervals": [{"start": start.isoformat(), "duration_seconds": 120, "value": 2.5}],
            },
        )
        await until(lambda: abs(rig.ev.power_kw - 2.5) < 1e-6, 60, "the charger at 2.5 kW after the restart")
        assert agent.client.reachable
    finally:
        await rig.stop()
