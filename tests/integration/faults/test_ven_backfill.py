"""A VEN offline for a day backfills its telemetry: the agent's on-disk buffer holds a day of meter
samples it could not send; once the agent is up, the VTN ends with every sample exactly once, in
time order, and the live samples follow."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from home_rig import HomeRig, until
from ven_broker import Mosquitto

from ven.agent.buffer import TelemetryBuffer

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
R_ID = "meter-1.power"
DAY_S = 86400
STEP_S = 60


async def test_a_day_offline_is_backfilled_once_and_in_order(tmp_path: Path, mosquitto: Mosquitto) -> None:
    rig = HomeRig(tmp_path, mosquitto)
    # a day of one-a-minute samples measured while the VTN was out of reach (whole seconds, so
    # the comparison is exact), ending before the agent starts
    end = float(int(time.time()) - 120)
    day = [(end - DAY_S + i * STEP_S, 1000.0 + i) for i in range(DAY_S // STEP_S + 1)]
    buffer = TelemetryBuffer(rig.buffer_path)
    for ts, value in day:
        assert buffer.add(R_ID, ts, value)
    buffer.close()
    try:
        agent = await rig.start()
        await until(lambda: agent.buffer.pending_count(R_ID) < 50, 120, "the backfill")
        await until(lambda: len(rig.stored(R_ID)) > len(day) + 3, 60, "live samples after the backfill")
        stored = rig.stored(R_ID)
    finally:
        await rig.stop()
    times = [t for t, _ in stored]
    assert len(times) == len(set(times)), "a sample was stored twice"
    assert times == sorted(times), "the VTN received the samples out of order"
    assert stored[: len(day)] == day  # every buffered sample, once, oldest first, before the live ones
    assert all(t > end for t in times[len(day) :])
