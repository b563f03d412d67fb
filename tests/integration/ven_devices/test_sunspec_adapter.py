"""The agent's SunSpec adapter against pymodbus's own Modbus TCP server on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from devices_rig import AgentSide, until
from sunspec_peer import SunspecServer, SunspecSim, battery, common, inverter, pv_inverter, signed

from ven.clock import WallClock
from ven.devices.config import SunspecDevice
from ven.devices.sunspec import SunspecAdapter
from ven.messages import DeviceType


def adapter(port: int, unit: int, device_id: str, **options: object) -> SunspecAdapter:
    settings = SunspecDevice(address=f"127.0.0.1:{port}/{unit}", device_id=device_id, poll_s=0.1, **options)  # type: ignore[arg-type]
    return SunspecAdapter(settings, WallClock())


@pytest.fixture
async def pv_and_battery() -> AsyncIterator[tuple[SunspecServer, SunspecSim, SunspecSim]]:
    pv, bat = pv_inverter(unit=1), battery(unit=2)
    server = SunspecServer(pv, bat)
    await server.start()
    try:
        yield server, pv, bat
    finally:
        await server.stop()


async def test_pv_inverter_readings_and_curtailment(
    pv_and_battery: tuple[SunspecServer, SunspecSim, SunspecSim],
) -> None:
    server, pv, _ = pv_and_battery
    async with AgentSide([adapter(server.port, 1, "pv-1")]) as agent:
        view = await until(lambda: agent.device("pv-1"), what="the inverter's config")
        assert view.device_type == DeviceType.PV_INVERTER
        assert view.config.params["nominal_kw"] == 8.0 and view.config.params["serial"] == "PV-0001"
        await until(lambda: agent.device("pv-1").reading("power") == -6000.0, what="6 kW produced")
        assert agent.device("pv-1").reading("energy_export") == 123450.0  # WH 12345 x 10^1
        assert agent.device("pv-1").state.model_extra["curtail_percent"] == 100.0  # type: ignore[union-attr]

        ack = await agent.ack(agent.send("pv-1", ttl_s=120, curtail_percent=37.5))
        assert ack.accepted, ack.reason
        assert pv.written(123, 3) == [375]  # WMaxLimPct in 0.1 % (WMaxLimPct_SF -1)
        assert pv.written(123, 7) == [1]  # WMaxLim_Ena
        assert 118 <= pv.written(123, 5)[0] <= 120  # WMaxLimPct_RvrtTms: until valid_until
        await until(lambda: agent.device("pv-1").reading("power") == -3000.0, what="37.5 % of 8 kW")
        assert agent.device("pv-1").state.model_extra["curtail_percent"] == 37.5  # type: ignore[union-attr]


async def test_a_curtailment_expires_to_full_output(
    pv_and_battery: tuple[SunspecServer, SunspecSim, SunspecSim],
) -> None:
    server, pv, _ = pv_and_battery
    async with AgentSide([adapter(server.port, 1, "pv-1")]) as agent:
        await until(lambda: agent.device("pv-1"), what="config")
        assert (await agent.ack(agent.send("pv-1", ttl_s=0.5, curtail_percent=50.0))).accepted
        await until(lambda: agent.device("pv-1").reading("power") == -4000.0, what="curtailed")
        await until(lambda: agent.device("pv-1").reading("power") == -6000.0, what="back to full output")
        assert pv.written(123, 7) == [1, 0]


async def test_battery_readings_and_setpoints(
    pv_and_battery: tuple[SunspecServer, SunspecSim, SunspecSim],
) -> None:
    server, _, bat = pv_and_battery
    async with AgentSide([adapter(server.port, 2, "bat-1")]) as agent:
        view = await until(lambda: agent.device("bat-1"), what="the battery's config")
        assert view.device_type == DeviceType.BATTERY
        control = view.config.control("power_kw")
        assert control is not None and (control.min, control.max) == (-5.0, 5.0)
        assert view.config.params["capacity_kwh"] == 10.0 and view.config.params["min_soc_kwh"] == 1.0
        await until(lambda: agent.device("bat-1").reading("soc") == 55.5, what="SoC")
        assert agent.device("bat-1").reading("stored_energy") == 5550.0

        assert (await agent.ack(agent.send("bat-1", power_kw=2.5))).accepted
        # 2.5 kW of 5 kW = 50 % in 0.01 % (InOutWRte_SF -2): InWRte 5000, OutWRte -5000
        assert signed(bat.written(124, 11)[-1]) == 5000 and signed(bat.written(124, 10)[-1]) == -5000
        assert bat.written(124, 3)[-1] == 3  # StorCtl_Mod: both limits
        await until(lambda: agent.device("bat-1").reading("power") == 2500.0, what="charging at 2.5 kW")

        assert (await agent.ack(agent.send("bat-1", power_kw=-4.0))).accepted
        assert signed(bat.written(124, 11)[-1]) == -8000 and signed(bat.written(124, 10)[-1]) == 8000
        await until(lambda: agent.device("bat-1").reading("power") == -4000.0, what="discharging at 4 kW")

        ack = await agent.ack(agent.send("bat-1", power_kw=7.0))
        assert not ack.accepted and ack.reason == "power_kw 7 above max 5"


async def test_unimplemented_values_and_bad_registers_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    odd = SunspecSim(
        3,
        [
            (1, common("ODD-1")),
            (120, [0] * 26),
            (103, inverter(123, 0x8000, 0, 0)),  # W_SF not implemented, WH = 0 (acc32: not implemented)
        ],
    )
    odd.holes.append((odd.address[120], 26))  # the nameplate answers ILLEGAL ADDRESS
    not_sunspec = SunspecSim(4, [])
    not_sunspec.image[0:2] = [0x1234, 0x5678]
    server = SunspecServer(odd, not_sunspec)
    await server.start()
    try:
        async with AgentSide(
            [adapter(server.port, 3, "odd-1", nominal_kw=4.0), adapter(server.port, 4, "x-1")]
        ) as agent:
            view = await until(lambda: agent.device("odd-1"), what="the odd device's config")
            assert view.config.params["nominal_kw"] == 4.0  # from the configuration
            await until(
                lambda: "W: its scale factor W_SF is not implemented" in caplog.text, what="the W_SF log"
            )
            assert "model 103: WH: not implemented" in caplog.text
            assert "model 120 unreadable" in caplog.text
            assert "no SunSpec marker 'SunS' at 40000, 0, 50000" in caplog.text
            assert agent.device("odd-1").reading("power") is None  # never a wrongly scaled value
            assert agent.device("x-1") is None
    finally:
        await server.stop()


async def test_a_device_that_goes_away_is_offline_and_refuses_commands() -> None:
    pv = pv_inverter(unit=1)
    server = SunspecServer(pv)
    await server.start()
    async with AgentSide([adapter(server.port, 1, "pv-1")]) as agent:
        await until(lambda: agent.device("pv-1") and agent.device("pv-1").reading("power"), what="readings")
        await server.stop()
        await until(lambda: not agent.device("pv-1").online, what="offline")  # type: ignore[union-attr]
        ack = await agent.ack(agent.send("pv-1", curtail_percent=10.0))
        assert not ack.accepted and ack.reason == "sunspec device pv-1 is offline"
        restarted = SunspecServer(pv_inverter(unit=1), port=server.port)
        await restarted.start()
        try:
            await until(lambda: agent.device("pv-1").online, timeout_s=10, what="online again")  # type: ignore[union-attr]
        finally:
            await restarted.stop()


async def test_the_device_is_also_read_at_the_meters_edges_stamped_with_them(
    pv_and_battery: tuple[SunspecServer, SunspecSim, SunspecSim],
) -> None:
    """Besides its polls (none here after the first), a reading at each aligned edge of the agent's
    clock, stamped with the edge: the agent sets it against the meter's reading of that edge."""
    from ven.clock import AcceleratedClock
    from ven.messages import TopicKind, parse_telemetry, topic

    server, _, _ = pv_and_battery
    clock = AcceleratedClock(30.0)  # an edge of 60 s every 2 s
    settings = SunspecDevice(
        address=f"127.0.0.1:{server.port}/2", device_id="bat-1", poll_s=60.0, aligned_interval_s=60
    )
    async with AgentSide([SunspecAdapter(settings, clock)], clock) as agent:
        stamps: list[float] = []
        agent.router.subscribe(
            topic(agent.site, "bat-1", TopicKind.TELEMETRY),
            lambda name, payload: stamps.extend(
                m.time_s for m in parse_telemetry(name, payload) if m.name == "power"
            ),
        )
        view = await until(lambda: agent.device("bat-1"), what="the battery's config")
        assert view.config.params["aligned_interval_s"] == 60
        await until(lambda: any(t % 60 == 0 for t in stamps), timeout_s=10, what="a reading of an edge")
