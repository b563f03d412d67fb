"""`flexvpp ven run` with OCPP and SunSpec devices and no MQTT broker: as a process, its bad
options in this process (tests/cli_in_process.py)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cli_in_process import run_flexvpp
from devices_rig import until
from ocpp_peer import RunningChargePoint
from sunspec_peer import free_port

from ven.simulators.s2_heat_pump import HeatPumpRM

FLEXVPP = [sys.executable, "-m", "flexvpp"]
RUN = ["ven", "run", "--vtn-url", "http://127.0.0.1:9/OpenADR2/Simple/2.0b", "--ven-name", "n", "--site", "s"]


def _config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "ven.toml"
    config.write_text(f'[ven]\nbuffer_path = "{tmp_path / "buffer.db"}"\ndiscovery_wait_s = 0\n{extra}')
    return config


@pytest.mark.parametrize(
    ("args", "extra", "needle"),
    [
        (["--sunspec", "inverter:x"], "", "HOST:PORT[/UNIT]"),
        (["--ocpp-listen", "9000"], "", "HOST:PORT"),
        (["--s2-listen", "localhost"], "", "HOST:PORT"),
    ],
)
def test_bad_device_options_exit_2_naming_the_problem(
    tmp_path: Path, args: list[str], extra: str, needle: str
) -> None:
    done = run_flexvpp(*RUN, "--config", str(_config(tmp_path, extra)), *args)
    assert done.returncode == 2 and needle in done.stderr, done.stderr


async def _listening(port: int) -> None:
    for _ in range(300):  # the process imports, then listens
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)


async def test_the_agent_serves_s2_resource_managers(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "agent.log").open("w")
    command = [*FLEXVPP, *RUN, "--config", str(_config(tmp_path)), "--s2-listen", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        await _listening(port)
        async with HeatPumpRM(f"ws://127.0.0.1:{port}/", step_s=0.2) as rm:
            await asyncio.wait_for(rm.connected.wait(), 20)  # handshake, details, FRBC selected
            await until(lambda: rm.sessions == 1 and rm.refused == [], what="its messages taken")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    assert f"S2 RM {rm.device_id} (heat pump) disconnected" in (tmp_path / "agent.log").read_text()


async def test_the_agent_serves_ocpp_without_a_broker(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "agent.log").open("w")
    command = [*FLEXVPP, *RUN, "--config", str(_config(tmp_path)), "--ocpp-listen", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):  # the process imports, then listens
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        async with RunningChargePoint(f"ws://127.0.0.1:{port}", "CP-CLI") as cp:
            assert cp.transaction_id is not None  # booted, and the transaction was accepted
            await until(lambda: "MeterValuesSampledData" in cp.configuration, what="the charger configured")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    assert "charger CP-CLI disconnected" in (tmp_path / "agent.log").read_text()  # the CLI logs warnings
