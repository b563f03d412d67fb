"""`flexvpp ven simulate` and `flexvpp ven run`: bad arguments (in this process), a home and the
agent's will (as processes: stopped by a signal, or killed)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from cli_in_process import run_flexvpp
from ven_broker import Mosquitto, Recorder, wait_for
from vtn_server import VtnServer

pytestmark = pytest.mark.mqtt

FLEXVPP = [sys.executable, "-m", "flexvpp"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ven", "simulate", "--site", "a/b", "--broker", "mqtt://127.0.0.1"], "--site"),
        (["ven", "simulate", "--site", "s", "--broker", "http://x"], "broker URL"),
        (["ven", "simulate", "--site", "s", "--broker", "mqtt://h", "--speed", "0"], "--speed"),
        *[
            (
                ["ven", "simulate", "--site", "s", "--broker", "mqtt://h", "--plug-in-now", bad],
                f"--plug-in-now: {why}",
            )
            for bad, why in [
                ("lots", "'lots' is not ENERGY_KWH[@HOURS]"),
                ("20@soon", "'20@soon' is not ENERGY_KWH[@HOURS]"),
                ("20@", "'20@' is not ENERGY_KWH[@HOURS]"),
                ("0", "ENERGY_KWH 0 must be above 0"),
                ("75", "ENERGY_KWH 75 must be above 0 and at most the car's 60 kWh"),
                ("nan", "ENERGY_KWH nan must be above 0"),
                ("20@-2", "HOURS -2 must be above 0"),
                ("20@500", "HOURS 500 must be above 0 and at most a week"),
            ]
        ],
        (
            [
                "ven",
                "run",
                "--vtn-url",
                "http://v",
                "--ven-name",
                "n",
                "--site",
                "s",
                "--broker",
                "mqtt://h",
                "--config",
                "/nonexistent.toml",
            ],
            "--config",
        ),
    ],
)
def test_bad_arguments_exit_2_naming_the_problem(args: list[str], needle: str) -> None:
    done = run_flexvpp(*args)
    assert done.returncode == 2 and needle in done.stderr


def test_plug_in_now_puts_a_car_on_the_charger_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    import ven.simulators.run
    from ven.simulators.ev_charger import EvCharger
    from ven.simulators.home import HomeSpec, build_devices

    specs: list[HomeSpec] = []
    monkeypatch.setattr(ven.simulators.run, "simulate", lambda spec, *_: specs.append(spec) or 0)
    for option, hours in (("20@8", 8.0), (" 12.5 ", 10.0)):
        done = run_flexvpp("ven", "simulate", "--site", "s", "--broker", "mqtt://h", "--plug-in-now", option)
        assert done.returncode == 0, done.stderr
        start = 1_000_000.0
        charger = next(d for d in build_devices(specs[-1], start) if isinstance(d, EvCharger))
        assert charger.session is not None and charger.plugged_in
        assert charger.session.target_kwh == float(option.split("@")[0])
        assert charger.session.arrival_s == start and charger.session.departure_s == start + hours * 3600
        assert (
            charger.soc_pct is not None and charger.soc_pct + 100 * charger.remaining_kwh / 60 <= 90.0 + 1e-9
        )


def test_simulate_runs_a_home_until_terminated(mosquitto: Mosquitto) -> None:
    site = f"cli-{uuid.uuid4().hex[:8]}"
    rec = Recorder(mosquitto.url, f"flexvpp/{site}/#")
    proc = subprocess.Popen(
        [
            *FLEXVPP,
            "ven",
            "simulate",
            "--site",
            site,
            "--broker",
            mosquitto.url,
            "--speed",
            "60",
            "--seed",
            "7",
        ],
        stderr=subprocess.PIPE,
    )
    try:
        devices = ("meter-1", "pv-1", "plug-1", "hp-1", "evse-1", "battery-1")
        wait_for(
            lambda: all(rec.on(f"flexvpp/{site}/{d}/config") for d in devices), timeout_s=30, what="configs"
        )
        wait_for(
            lambda: len(rec.on(f"flexvpp/{site}/meter-1/telemetry")) >= 2, timeout_s=30, what="telemetry"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        rec.bus.stop()


async def test_run_registers_and_its_will_reports_it_offline(tmp_path: Path, mosquitto: Mosquitto) -> None:
    site = f"run-{uuid.uuid4().hex[:8]}"
    vtn = VtnServer(tmp_path, poll_interval_seconds=1, report_interval_seconds=1)
    await vtn.setup()
    await vtn.start()
    rec = Recorder(mosquitto.url, f"flexvpp/{site}/agent/status")
    config = tmp_path / "ven.toml"
    config.write_text(
        f'[ven]\nimport_limit_kw = 7.5\nbuffer_path = "{tmp_path / "buf.db"}"\ndiscovery_wait_s = 0\n'
    )
    try:
        ven = await vtn.api("POST", "/vens", {"ven_name": f"ven-{site}", "site_id": site})
        proc = subprocess.Popen(
            [
                *FLEXVPP,
                "ven",
                "run",
                "--vtn-url",
                vtn.openadr_url,
                "--ven-name",
                f"ven-{site}",
                "--site",
                site,
                "--broker",
                mosquitto.url,
                "--config",
                str(config),
            ],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 60
        while not (await vtn.api("GET", f"/vens/{ven['ven_id']}"))["registered"]:
            assert time.monotonic() < deadline, "the agent did not register"
            await asyncio.sleep(0.2)
        wait_for(lambda: rec.on(f"flexvpp/{site}/agent/status"), what="status")
        assert json.loads(rec.on(f"flexvpp/{site}/agent/status")[-1]) == {"online": True}
        proc.kill()  # no clean shutdown: the broker publishes the will
        proc.wait(timeout=10)
        wait_for(
            lambda: json.loads(rec.on(f"flexvpp/{site}/agent/status")[-1]) == {"online": False},
            timeout_s=90,
            what="the will",
        )
    finally:
        rec.bus.stop()
        await vtn.stop()
