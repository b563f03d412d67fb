"""The agent's OCPP 1.6J central system against a charge point of the `ocpp` library itself,
over a real WebSocket on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from devices_rig import AgentSide, until
from ocpp_peer import RunningChargePoint
from websockets.asyncio.client import connect

from ven.devices.config import OcppChargers
from ven.devices.ocpp_central import OcppCentralSystem
from ven.messages import DeviceType


def central(**options: object) -> OcppCentralSystem:
    from ven.clock import WallClock

    return OcppCentralSystem(OcppChargers(listen="127.0.0.1:0", **options), WallClock())  # type: ignore[arg-type]


async def answer(ws: Any, unique_id: str) -> list[Any]:
    """The reply to our call `unique_id` (the central system's own calls are skipped)."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if message[0] in (3, 4) and message[1] == unique_id:
            return message  # type: ignore[no-any-return]


def _url(cs: OcppCentralSystem) -> str:
    return f"ws://127.0.0.1:{cs.port}"


async def test_boot_telemetry_and_a_setpoint_in_amps() -> None:
    cs = central()
    async with AgentSide([cs]) as agent, RunningChargePoint(_url(cs), "CP-1") as cp:
        view = await until(lambda: agent.device("CP-1"), what="the charger's config")
        assert view.device_type == DeviceType.EV_CHARGER
        assert view.config.control("power_kw").max == pytest.approx(11.04)  # type: ignore[union-attr]
        # the car charges at full power (16 A x 230 V x 3) until told otherwise
        await until(lambda: (agent.device("CP-1").reading("power") or 0) > 11000, what="full power")
        state = agent.device("CP-1").state  # type: ignore[union-attr]
        assert state.online and state.plugged_in and state.model_extra["charging"]  # type: ignore[union-attr]
        assert state.ev_target_kwh == 30.0 and state.ev_departure is not None  # type: ignore[union-attr]
        await until(lambda: cs.sessions["CP-1"].configured.is_set(), what="configuration read")
        assert cp.configuration["MeterValuesSampledData"].startswith("Energy.Active.Import.Register")

        ack = await agent.ack(agent.send("CP-1", power_kw=6.9))
        assert ack.accepted, ack.reason
        profile = cp.received_profiles[-1]
        assert profile["charging_profile_purpose"] == "TxProfile"
        assert profile["transaction_id"] == cp.transaction_id
        assert profile["charging_schedule"]["charging_rate_unit"] == "A"
        assert profile["charging_schedule"]["charging_schedule_period"][0]["limit"] == 10.0  # 6.9 kW / 690 V
        assert profile["valid_to"]
        # the measured current follows, and so does the agent's view of it
        await until(lambda: agent.device("CP-1").reading("current") == 10.0, what="10 A measured")
        await until(lambda: agent.device("CP-1").reading("power") == 6900.0, what="6.9 kW measured")
        assert (agent.device("CP-1").reading("session_energy") or 0) > 0


async def test_a_charger_declaring_watts_gets_watts() -> None:
    cs = central()
    async with AgentSide([cs]) as agent, RunningChargePoint(_url(cs), "CP-W", unit="Power") as cp:
        await until(
            lambda: cs.sessions.get("CP-W") and cs.sessions["CP-W"].configured.is_set(), what="config"
        )
        ack = await agent.ack(agent.send("CP-W", power_kw=4.6))
        assert ack.accepted, ack.reason
        schedule = cp.received_profiles[-1]["charging_schedule"]
        assert (
            schedule["charging_rate_unit"] == "W" and schedule["charging_schedule_period"][0]["limit"] == 4600
        )
        await until(lambda: agent.device("CP-W").reading("power") == 4600.0, what="4.6 kW measured")


async def test_a_rejected_profile_is_a_rejected_ack() -> None:
    cs = central()
    async with AgentSide([cs]) as agent, RunningChargePoint(_url(cs), "CP-2") as cp:
        await until(
            lambda: cs.sessions.get("CP-2") and cs.sessions["CP-2"].configured.is_set(), what="config"
        )
        cp.reject_profiles = True
        ack = await agent.ack(agent.send("CP-2", power_kw=4.14))
        assert not ack.accepted and ack.reason == "charger answered SetChargingProfile with Rejected"
        assert agent.device("CP-2").state.model_extra.get("limit_kw") is None  # type: ignore[union-attr]
        # out of range: refused before anything is sent
        sent = len(cp.received_profiles)
        ack = await agent.ack(agent.send("CP-2", power_kw=50.0))
        assert not ack.accepted and "above max" in (ack.reason or "")
        assert len(cp.received_profiles) == sent


async def test_a_disconnect_marks_the_charger_offline_and_commands_are_refused() -> None:
    cs = central()
    async with AgentSide([cs]) as agent:
        peer = RunningChargePoint(_url(cs), "CP-3")
        await peer.__aenter__()
        await until(lambda: agent.device("CP-3") and agent.device("CP-3").online, what="online")
        await peer.close()
        await until(lambda: not agent.device("CP-3").online, what="offline")  # type: ignore[union-attr]
        ack = await agent.ack(agent.send("CP-3", power_kw=3.0))
        assert not ack.accepted and ack.reason == "charger CP-3 is offline"
        # it comes back: online again, with its transaction still known
        async with RunningChargePoint(_url(cs), "CP-3"):
            await until(lambda: agent.device("CP-3").online, what="online again")  # type: ignore[union-attr]


async def test_garbage_is_logged_and_the_central_system_stays_up(caplog: pytest.LogCaptureFixture) -> None:
    cs = central()
    caplog.set_level(logging.WARNING)
    async with AgentSide([cs]) as agent:
        async with connect(f"{_url(cs)}/CP-X", subprotocols=["ocpp1.6"]) as raw:  # type: ignore[list-item]
            await raw.send("this is not OCPP")
            await raw.send('[2, "1", "FlyToTheMoon", {}]')
            assert (await answer(raw, "1"))[2] == "NotSupported"
            await raw.send('[2, "2", "Heartbeat", {}]')
            assert "currentTime" in (await answer(raw, "2"))[2]
        assert "charger CP-X: bad frame dropped" in caplog.text
        assert "charger CP-X: unknown message 'FlyToTheMoon'" in caplog.text
        # no chargePointId in the URL, or no ocpp1.6 subprotocol: refused before the WebSocket opens
        with pytest.raises(Exception, match="404"):
            await connect(f"{_url(cs)}/", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        with pytest.raises(Exception, match="400"):
            await connect(f"{_url(cs)}/CP-Y")
        # another charger is unaffected
        async with RunningChargePoint(_url(cs), "CP-4"):
            await until(lambda: agent.device("CP-4") and agent.device("CP-4").reading("power"), what="CP-4")


async def test_a_charger_that_reconnects_gets_the_last_valid_limit_again() -> None:
    cs = central()
    async with AgentSide([cs]) as agent:
        async with RunningChargePoint(_url(cs), "CP-5") as first:
            await until(lambda: cs.sessions["CP-5"].configured.is_set(), what="config")
            assert (await agent.ack(agent.send("CP-5", ttl_s=120, power_kw=6.9))).accepted
            assert (
                first.received_profiles[-1]["charging_schedule"]["charging_schedule_period"][0]["limit"]
                == 10.0
            )
        await until(lambda: not agent.device("CP-5").online, what="offline")  # type: ignore[union-attr]
        async with RunningChargePoint(_url(cs), "CP-5") as second:  # a reboot: no profile any more
            await until(
                lambda: any(
                    p.get("transaction_id") == second.transaction_id for p in second.received_profiles
                ),
                what="the limit sent again for the new transaction",
            )
            profile = second.received_profiles[-1]
            assert profile["charging_schedule"]["charging_schedule_period"][0]["limit"] == 10.0
            await until(lambda: second.current_a == 10.0, what="10 A after the reconnect")


async def test_clock_aligned_readings_are_stamped_with_their_edge() -> None:
    """A Sample.Clock reading holds the registers at its interval's edge, as the meter's reading at
    that edge does: it is stamped with the edge its timestamp names (the edge nearest to receipt
    when the charger's clock is far off), so the agent can set it against the meter's; the
    periodic ones are stamped on receipt."""
    from ocpp.v16 import call

    from ven.messages import TopicKind, parse_telemetry, topic

    cs = central(aligned_interval_s=900)
    async with AgentSide([cs]) as agent, RunningChargePoint(_url(cs), "CP-6", meter_s=3600) as cp:
        stamps: list[float] = []
        agent.router.subscribe(
            topic(agent.site, "CP-6", TopicKind.TELEMETRY),
            lambda name, payload: stamps.extend(
                m.time_s for m in parse_telemetry(name, payload) if m.name == "power"
            ),
        )
        await until(lambda: cs.sessions["CP-6"].configured.is_set(), what="configuration read")
        assert cp.configuration["ClockAlignedDataInterval"] == "900"
        assert cp.configuration["MeterValuesAlignedData"].startswith("Energy.Active.Import.Register")
        assert agent.device("CP-6").config.params["aligned_interval_s"] == 900  # type: ignore[union-attr]

        async def reading(timestamp: str, context: str) -> float:
            sent = len(stamps)
            sample = {"value": "4200.0", "measurand": "Power.Active.Import", "unit": "W", "context": context}
            await cp.call(
                call.MeterValues(
                    connector_id=1, meter_value=[{"timestamp": timestamp, "sampled_value": [sample]}]
                )
            )
            await until(lambda: len(stamps) > sent, what="the reading")
            return stamps[-1]

        now = time.time()
        edge = now - now % 900
        iso = datetime.fromtimestamp(edge + 0.4, UTC).isoformat()  # the charger's clock: nearly right
        assert await reading(iso, "Sample.Clock") == edge
        far_off = await reading("2001-01-01T00:00:00Z", "Sample.Clock")
        assert far_off % 900 == 0 and abs(far_off - time.time()) <= 450
        periodic = await reading(iso, "Sample.Periodic")
        assert periodic == pytest.approx(time.time(), abs=2.0)
