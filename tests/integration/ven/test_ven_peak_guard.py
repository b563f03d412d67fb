"""The capacity-peak guard end to end: a simulated home (base load and a car put on the charger
with `plug_in_now`) and the agent process (HomeAgent) on a real Mosquitto, on an accelerated
clock. No VTN answers: the schedule comes as the event the VTN would send, and the control loop
runs whatever the VTN does. What is checked is the meter's own reading of the quarter."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from ven_broker import Mosquitto, Recorder, free_port

from ven.agent.events import DrEvent, EventInterval, OptType
from ven.agent.runner import HomeAgent
from ven.clock import AcceleratedClock
from ven.device_bus import BrokerAddress
from ven.messages import parse_set, parse_telemetry
from ven.settings import AgentSettings
from ven.simulators.ev_charger import PlugIn
from ven.simulators.home import HomeSpec
from ven.simulators.run import mqtt_home

pytestmark = pytest.mark.mqtt

SPEED = 100.0  # simulated seconds per real second: a quarter hour in 9 s
# The meter reads every 30 s (a home's tick up to 4 readings late, 1.2 s real, still publishes
# the edge's reading); commands live 30 min, so a stalled test machine never lets one expire
# (the charger would fall back to full power: not what is tested here).
PREVIOUS_PEAK_KW = 4.0  # the month's peak so far
BASE_KW = 1.5


def meter_counter_wh(rec: Recorder, topic: str, at_s: float) -> float | None:
    """The meter's `energy_import` counter in its telemetry record at `at_s` (None: not yet)."""
    for payload in rec.on(topic):
        for m in parse_telemetry(topic, payload):
            if m.name == "energy_import" and abs(m.time_s - at_s) < 1e-6:
                return m.value
    return None


async def until(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    """The bound only stops a hang; it is not what is tested."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_home_heading_for_a_new_month_peak_sheds_its_charger(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    site = f"peak-{uuid.uuid4().hex[:8]}"
    clock = AcceleratedClock(SPEED, origin_s=(time.time() // 900) * 900 + 10)  # 10 s into a quarter
    spec = HomeSpec(
        site_id=site, base_load_kw=BASE_KW, pv_kw=None, battery_kwh=None, heat_pump=False, smart_plug_kw=None,
        import_limit_kw=17.0, telemetry_interval_s=30, plug_in_now=PlugIn(10.0, 10.0),
    )  # fmt: skip
    home = mqtt_home(spec, BrokerAddress.parse(mosquitto.url), clock)
    meter_topic, set_topic = f"flexvpp/{site}/meter-1/telemetry", f"flexvpp/{site}/evse-1/set"
    rec = Recorder(mosquitto.url, f"flexvpp/{site}/+/+")
    settings = AgentSettings(
        vtn_url=f"http://127.0.0.1:{free_port()}/OpenADR2/Simple/2.0b",  # nobody there
        ven_name=f"ven-{site}", site_id=site, broker_url=mosquitto.url, speed=SPEED,
        import_limit_kw=17.0, month_peak_kw=PREVIOUS_PEAK_KW, peak_guard=True, peak_guard_period_s=5,
        command_ttl_s=1800, buffer_path=tmp_path / "ven.db", discovery_wait_s=0.05,
    )  # fmt: skip
    agent = HomeAgent(settings, clock=clock)
    try:
        # The agent first, so the car (charging at full power on its own until commanded) is shed
        # as soon as it appears rather than after a discovery wait.
        starting = asyncio.create_task(agent.start())
        await asyncio.sleep(0.1)
        home.start()
        await starting
        # the charger's retained config may follow the meter's: an event for an unknown device is opted out
        await until(lambda: "evse-1" in agent.core.snapshot().devices, 30, "the charger discovered")
        # The quarter measured: the next one that starts at least 2 minutes after the agent runs.
        edge = (clock.now() // 900 + 1) * 900
        edge += 900 if edge - clock.now() < 120 else 0
        # the schedule (what a VTN plan would send): the charger at 11 kW from a minute into the quarter
        opt, reason = agent.core.set_event(
            [
                DrEvent(
                    "full-power",
                    0,
                    "LOAD_DISPATCH",
                    "setpoint",
                    (EventInterval(edge + 60, 3600, 11.0),),
                    ("evse-1",),
                )
            ]
        )
        assert opt == OptType.OPT_IN, reason
        # The month's peak before it, as the agent knows it: the configured 4 kW, or more if the
        # car's full-power start before the agent's first command made the first quarter's so.
        await until(lambda: clock.now() >= edge - 20, 60, "the quarter before the one measured")
        previous_peak_kw = agent.core.current_limits().month_peak_kw
        assert PREVIOUS_PEAK_KW <= previous_peak_kw < 6.0

        checks = []  # the guard's looks at the quarters, as the test polls

        def quarter_read() -> bool:
            checks.append(agent.core.peak_guard.last)
            return meter_counter_wh(rec, meter_topic, edge + 900) is not None

        await until(quarter_read, 60, "the meter at the quarter's end")
        start_wh = meter_counter_wh(rec, meter_topic, edge)
        end_wh = meter_counter_wh(rec, meter_topic, edge + 900)
        assert start_wh is not None and end_wh is not None, "the meter's reading at an edge is missing"
        quarter_mean_kw = (end_wh - start_wh) / 1000.0 / 0.25
        assert quarter_mean_kw <= previous_peak_kw, quarter_mean_kw  # no new month peak
        assert quarter_mean_kw > BASE_KW  # and the car charged meanwhile (its promise kept)

        # the schedule headed for a new peak, and the guard shed the charger inside the quarter
        measured = [c for c in checks if c is not None and c.quarter_start_s == edge]
        assert max(c.projected_kw for c in measured) > 10.0 and all(c.shedding for c in measured)
        commands = [parse_set(set_topic, p) for p in rec.on(set_topic)]
        in_quarter = [c for c in commands if edge <= c.ts < edge + 900]
        assert in_quarter and all(float(c.value) < 3.0 for c in in_quarter), [
            (c.ts, c.value) for c in commands
        ]
        # the agent saw no new peak either, and tells the VTN it sheds (TELEMETRY_STATUS agent.*)
        assert agent.core.agent_status() == {"peak_guard": 1.0, "month_peak_kw": previous_peak_kw}
    finally:
        await agent.stop()
        home.stop()
        rec.bus.stop()
