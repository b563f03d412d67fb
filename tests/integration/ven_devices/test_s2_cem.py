"""The agent's S2 CEM against resource managers built on `s2-python`'s own RM connection
classes (ven/simulators/s2_heat_pump.py, s2_washing_machine.py), over a real WebSocket."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

import pytest
from devices_rig import AgentSide, until
from websockets.asyncio.client import connect

from ven.clock import WallClock
from ven.devices.config import S2ResourceManagers
from ven.devices.s2_cem import S2Cem
from ven.devices.s2_frbc import RECOVERY_S
from ven.messages import ControlName, DeviceType
from ven.simulators.s2_heat_pump import HeatPumpRM
from ven.simulators.s2_washing_machine import WashingMachineRM


def cem(**options: Any) -> S2Cem:
    return S2Cem(S2ResourceManagers(listen="127.0.0.1:0", **options), WallClock())


def url(server: S2Cem) -> str:
    return f"ws://127.0.0.1:{server.port}/"


async def described(agent: AgentSide, rm: Any, key: str = "operation_mode") -> Any:
    """The RM's device once the agent knows its flexibility (`key` in its state: for FRBC its
    actuator's mode, the last of what the heat pump tells at the start)."""
    return await until(
        lambda: (
            (v := agent.device(rm.device_id)) is not None
            and v.config.controls
            and v.state is not None
            and key in (v.state.model_extra or {})
            and v
        ),
        what=f"{rm.device_id} described",
    )


async def test_handshake_details_and_the_heat_pumps_flexibility() -> None:
    server = cem()
    async with AgentSide([server]) as agent, HeatPumpRM(url(server), step_s=0.1) as rm:
        view = await described(agent, rm)
        assert view.device_type == DeviceType.HEAT_PUMP
        control = view.config.control(ControlName.POWER_KW)
        assert control is not None and (control.min, control.max) == (0.0, 2.0)
        params = view.config.params
        assert params["protocol"] == "s2" and params["control_type"] == "FILL_RATE_BASED_CONTROL"
        assert (params["fill_level_min"], params["fill_level_max"], params["fill_level_label"]) == (
            25.0,
            65.0,
            "°C",
        )
        assert params["name"] == "heat pump" and params["max_power_kw"] == 2.0
        state = await until(lambda: agent.device(rm.device_id).state, what="state")  # type: ignore[union-attr]
        extra = state.model_extra
        assert state.online and extra["fill_target_min"] == 40.0 and extra["fill_target_max"] == 50.0
        await until(lambda: agent.device(rm.device_id).reading("fill_level") is not None, what="fill level")  # type: ignore[union-attr]
        await until(lambda: agent.device(rm.device_id).reading("power") == 0.0, what="power measured")  # type: ignore[union-attr]
        # what holds the tank (its leakage and the house's use made up), for the plan's base load
        hold_w = (rm.leakage_rate(45.0) + rm.usage_rate()) * rm.capacity_kwh_per_k * 3.6e6 / rm.cop
        hold = await until(lambda: agent.device(rm.device_id).reading("hold_power"), what="hold power")  # type: ignore[union-attr]
        assert hold == pytest.approx(hold_w, abs=10.0)
        assert rm.refused == []  # every message of the RM was taken (ReceptionStatus OK)
        assert rm.sessions == 1


async def test_the_instruction_follows_the_agents_setpoint() -> None:
    server = cem()
    async with AgentSide([server]) as agent, HeatPumpRM(url(server), step_s=0.1) as rm:
        await described(agent, rm)
        ack = await agent.ack(agent.send(rm.device_id, power_kw=1.3))
        assert ack.accepted, ack.reason
        # 600 W + 0.5 x (2000 - 600) W (the RM acts once it has answered the instruction)
        await until(lambda: rm.power_w == 1300.0, what="the heat pump at 1.3 kW")
        instruction = rm.instructions[-1]
        assert instruction.operation_mode == rm.heating_id and instruction.operation_mode_factor == 0.5
        await until(lambda: agent.device(rm.device_id).reading("power") == 1300.0, what="1.3 kW measured")  # type: ignore[union-attr]
        state = agent.device(rm.device_id).state  # type: ignore[union-attr]
        assert state.model_extra["limit_kw"] == 1.3 and state.model_extra["operation_mode"] == "heating"  # type: ignore[union-attr]

        # 0 kW: the compressor off; 0.3 kW lies between off and its least power: the nearest (0.6 kW)
        assert (await agent.ack(agent.send(rm.device_id, power_kw=0.0))).accepted
        await until(lambda: rm.mode_id == rm.off_id and rm.power_w == 0.0, what="the compressor off")
        await until(lambda: agent.device(rm.device_id).reading("power") == 0.0, what="0 kW measured")  # type: ignore[union-attr]
        assert (await agent.ack(agent.send(rm.device_id, power_kw=0.35))).accepted
        await until(lambda: rm.power_w == 600.0, what="its least power")
        # out of its range: refused before anything is sent
        sent = len(rm.instructions)
        ack = await agent.ack(agent.send(rm.device_id, power_kw=5.0))
        assert not ack.accepted and "above max 2" in (ack.reason or "")
        assert len(rm.instructions) == sent


def keeping_w(rm: HeatPumpRM) -> float:
    """The CEM's own point for a tank under its target: its leakage and usage made up and the
    tank back at the lower bound within RECOVERY_S (ven/devices/s2_frbc.py) [W]."""
    t = rm.temperature_c
    rate = rm.leakage_rate(t) + rm.usage_rate() + (rm.target_c[0] - t) / RECOVERY_S
    return rate * rm.capacity_kwh_per_k * 3.6e6 / rm.cop


async def test_the_fill_level_guard_and_the_cems_own_keeping() -> None:
    server = cem()
    # The tank is above its target (50 °C): full power would heat it further.
    async with (
        AgentSide([server]) as agent,
        HeatPumpRM(url(server), step_s=0.1, start_c=52.0, min_power_w=300.0) as rm,
    ):
        await described(agent, rm)
        ack = await agent.ack(agent.send(rm.device_id, power_kw=2.0, ttl_s=1.0))
        assert ack.accepted, ack.reason
        # the most it may draw without raising the fill level: heat in = leakage + usage
        hold_w = (rm.leakage_rate(52.0) + rm.usage_rate()) * rm.capacity_kwh_per_k * 3.6e6 / rm.cop
        await until(lambda: rm.power_w > 0, what="heating")
        assert rm.power_w == pytest.approx(hold_w, abs=5.0) and 300.0 < rm.power_w < 600.0
        state = agent.device(rm.device_id).state  # type: ignore[union-attr]
        assert "at or above 50" in state.model_extra["guard"]  # type: ignore[union-attr]
    # Below its target without a command: the CEM heats it back by itself, with the least power
    # that does it (what the site entry counts), not a thermostat's full power.
    server = cem()
    async with AgentSide([server]) as agent, HeatPumpRM(url(server), step_s=0.1, start_c=38.0) as rm:
        await described(agent, rm)
        rm.instructed = True  # from now on only the CEM decides (the RM's thermostat is off)
        rm.mode_id, rm.factor = rm.off_id, 0.0
        await rm.tell(rm.actuator_status())  # the compressor stopped (say, its own protection)
        await until(lambda: rm.power_w > 0, what="the CEM heating the tank back")
        assert rm.instructions[-1].operation_mode == rm.heating_id
        assert rm.power_w == pytest.approx(keeping_w(rm), abs=10.0) and 600.0 < rm.power_w < 2000.0


async def test_an_expired_command_hands_the_heat_pump_back_to_the_cems_own_keeping() -> None:
    server = cem()
    async with AgentSide([server]) as agent, HeatPumpRM(url(server), step_s=0.1, start_c=39.0) as rm:
        await described(agent, rm)
        # 0 kW although the tank is under its target: the guard keeps the tank from cooling further
        assert (await agent.ack(agent.send(rm.device_id, power_kw=0.0, ttl_s=1.5))).accepted
        held = await until(lambda: 0.0 < rm.power_w < 2000.0 and rm.power_w, what="the guard's least heating")
        assert held == pytest.approx(rm.min_power_w)  # its least: more than holding the tank needs
        # past the command, the CEM brings the tank back to its target by itself
        await until(lambda: rm.power_w > held + 5.0, what="the CEM's own keeping after the expiry")
        assert rm.power_w == pytest.approx(keeping_w(rm), abs=10.0)
        assert agent.device(rm.device_id).state.model_extra.get("limit_kw") is None  # type: ignore[union-attr]


async def test_a_disconnected_rm_is_offline_and_gets_the_last_command_again() -> None:
    server = cem()
    async with AgentSide([server]) as agent, HeatPumpRM(url(server), step_s=0.1) as rm:
        await described(agent, rm)
        assert (await agent.ack(agent.send(rm.device_id, power_kw=2.0, ttl_s=120))).accepted
        await until(lambda: rm.power_w == 2000.0, what="2 kW")
        before = len(rm.instructions)
        await rm.disconnect()
        await until(lambda: not agent.device(rm.device_id).online, what="offline")  # type: ignore[union-attr]
        assert not rm.instructed  # the RM runs on its own meanwhile
        ack = await agent.ack(agent.send(rm.device_id, power_kw=1.0))
        assert not ack.accepted and ack.reason == f"S2 RM {rm.device_id} is offline"
        # it comes back by itself (s2-python's client, a new connection), and is steered again
        await until(lambda: agent.device(rm.device_id).online, timeout_s=10, what="online again")  # type: ignore[union-attr]
        await until(lambda: len(rm.instructions) > before and rm.power_w == 2000.0, what="2 kW again")
        assert rm.sessions == 2


async def _frame(ws: Any, subject: uuid.UUID | None = None) -> dict[str, Any]:
    """The next ReceptionStatus (for `subject`, when given)."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if message["message_type"] == "ReceptionStatus" and (
            subject is None or message["subject_message_id"] == str(subject)
        ):
            return message  # type: ignore[no-any-return]


async def test_garbage_and_wrong_order_get_a_reception_status_and_the_cem_stays_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = cem()
    caplog.set_level(logging.WARNING)
    async with AgentSide([server]) as agent, HeatPumpRM(url(server), step_s=0.1) as rm:
        await described(agent, rm)
        async with connect(url(server)) as raw:
            await raw.send("this is not S2")
            assert (await _frame(raw))["status"] == "INVALID_DATA"
            storage = {
                "message_type": "FRBC.StorageStatus",
                "message_id": str(uuid.uuid4()),
                "present_fill_level": 3,
            }
            await raw.send(json.dumps(storage))
            status = await _frame(raw, uuid.UUID(storage["message_id"]))
            assert (
                status["status"] == "INVALID_CONTENT" and "before the Handshake" in status["diagnostic_label"]
            )
            unknown = {"message_type": "FlyToTheMoon", "message_id": str(uuid.uuid4())}
            await raw.send(json.dumps(unknown))
            assert (await _frame(raw, uuid.UUID(unknown["message_id"])))["status"] == "INVALID_MESSAGE"
            broken = {"message_type": "Handshake", "message_id": str(uuid.uuid4()), "role": "BOSS"}
            await raw.send(json.dumps(broken))
            status = await _frame(raw, uuid.UUID(broken["message_id"]))
            assert status["status"] == "INVALID_MESSAGE" and "role" in status["diagnostic_label"]
            hello = {"message_type": "Handshake", "message_id": str(uuid.uuid4()), "role": "RM",
                     "supported_protocol_versions": ["0.0.2-beta"]}  # fmt: skip
            await raw.send(json.dumps(hello))
            assert (await _frame(raw, uuid.UUID(hello["message_id"])))["status"] == "OK"
            select = {"message_type": "SelectControlType", "message_id": str(uuid.uuid4()),
                      "control_type": "FILL_RATE_BASED_CONTROL"}  # fmt: skip
            await raw.send(json.dumps(select))
            status = await _frame(raw, uuid.UUID(select["message_id"]))
            assert status["status"] == "INVALID_CONTENT" and "sent by a CEM" in status["diagnostic_label"]
        assert "INVALID_DATA answered not JSON" in caplog.text
        assert "FRBC.StorageStatus before the Handshake" in caplog.text
        # the heat pump was never disturbed
        assert (await agent.ack(agent.send(rm.device_id, power_kw=2.0))).accepted
        await until(lambda: rm.power_w == 2000.0, what="2 kW")
        assert rm.refused == []


@pytest.mark.slow  # about 10 s: one held programme runs to its deadline
async def test_the_washing_machine_starts_when_the_agent_lets_it() -> None:
    server = cem()
    async with AgentSide([server]) as agent:
        async with WashingMachineRM(url(server), window_s=600) as machine:
            view = await described(agent, machine, "latest_start")
            assert view.device_type == DeviceType.SMART_PLUG and view.config.control(ControlName.ON)
            assert view.config.params["control_type"] == "POWER_PROFILE_BASED_CONTROL"
            # 2 kW x 2 s + 0.3 kW x 2 s + 0.6 kW x 1 s
            assert view.config.params["energy_kwh"] == pytest.approx(5.2 / 3600, abs=1e-4)
            assert view.config.params["duration_s"] == 5.0 and view.config.params["max_power_kw"] == 2.0
            # no command: it starts as soon as its window opens, the containers back to back
            await until(lambda: len(machine.instructions) == 3, what="three schedule instructions")
            starts = [i.execution_time.timestamp() for i in machine.instructions]
            assert starts[1] - starts[0] == pytest.approx(2.0) and starts[2] - starts[1] == pytest.approx(2.0)
            await until(
                lambda: agent.device(machine.device_id).reading("power") == 2000.0, what="heating water"
            )  # type: ignore[union-attr]

        async with WashingMachineRM(url(server), window_s=8.0, start_after_s=0.5) as held:
            await until(lambda: agent.device(held.device_id), what="the machine known")
            # held (a shed event switches plugs off) before the user presses start: it waits
            # for its latest start (8 s - 5 s of programme after it was pressed)
            assert (await agent.ack(agent.send(held.device_id, on=False))).accepted
            await until(
                lambda: agent.device(held.device_id).state.model_extra.get("latest_start"), what="profile"
            )  # type: ignore[union-attr]
            await asyncio.sleep(1.0)
            assert held.instructions == []
            await until(lambda: held.instructions, timeout_s=10, what="started at its latest start")
            first = held.instructions[0].execution_time.timestamp()
            assert first == pytest.approx(held.start_time.timestamp() + 3.0, abs=0.5)
            await until(lambda: held.finished, timeout_s=10, what="the programme done")
            assert time.time() <= held.start_time.timestamp() + 8.0 + 1.0  # by its deadline

        async with WashingMachineRM(url(server), window_s=600, start_after_s=0.5) as released:
            await until(lambda: agent.device(released.device_id), what="the machine known")
            assert (await agent.ack(agent.send(released.device_id, on=False))).accepted
            await until(
                lambda: agent.device(released.device_id).state.model_extra.get("latest_start"), what="profile"
            )  # type: ignore[union-attr]
            await asyncio.sleep(0.5)
            assert released.instructions == []
            # let go: it starts now
            assert (await agent.ack(agent.send(released.device_id, on=True))).accepted
            await until(lambda: released.instructions, what="started when let go")
            await until(lambda: released.power_w == 2000.0, what="running")


async def test_the_agent_steers_the_s2_heat_pump_through_an_event(tmp_path: Any) -> None:
    """The whole agent (its policy and safety clip, no MQTT): a LOAD_DISPATCH event for the heat
    pump becomes an FRBC.Instruction, and the RM's measured power follows."""
    from ven.agent.events import DrEvent, EventInterval
    from ven.agent.runner import HomeAgent
    from ven.devices.bus import DeviceRouter
    from ven.settings import AgentSettings

    settings = AgentSettings(
        vtn_url="http://127.0.0.1:9/OpenADR2/Simple/2.0b",  # nobody there
        ven_name="ven-s2",
        site_id="s2-home",
        devices=[{"kind": "s2", "listen": "127.0.0.1:0"}],
        dispatch_period_s=0.5,
        command_ttl_s=30,
        buffer_path=tmp_path / "buffer.db",
        discovery_wait_s=0,
    )
    agent = HomeAgent(settings)
    await agent.start()
    try:
        assert isinstance(agent.bus, DeviceRouter)
        server = next(a for a in agent.bus.adapters if isinstance(a, S2Cem))
        async with HeatPumpRM(url(server), step_s=0.1) as rm:
            await until(lambda: rm.device_id in agent.core.snapshot().devices, what="the heat pump known")
            now = time.time()
            intervals = (EventInterval(now, 60.0, 1.3),)
            event = DrEvent("hp", 0, "LOAD_DISPATCH", "setpoint", intervals, resource_ids=(rm.device_id,))
            agent.core.set_event([event])
            await until(lambda: rm.power_w == 1300.0, timeout_s=15, what="the heat pump at 1.3 kW")
            view = agent.core.snapshot().devices[rm.device_id]
            await until(
                lambda: agent.core.snapshot().devices[rm.device_id].power_kw == 1.3, what="1.3 kW measured"
            )
            assert view.device_type == DeviceType.HEAT_PUMP
    finally:
        await agent.stop()
