"""`flexvpp bench ven`: how many simulated homes (agent + devices) one machine runs against one VTN.

The bench starts its own Mosquitto and VTN (`flexvpp vtn serve`, SQLite in a temporary
directory), pre-provisions the VENs over the REST API, then runs the homes in worker processes
(`python -m flexvpp.bench.ven worker`: each process hosts many homes, every home = six device MQTT
clients + one agent with its own OpenADR client). After the VENs have registered it measures
CPU and memory of every process over a window and prints the figures per home, plus how many
homes the machine's cores would carry at 80 % load (CPU-bound estimate) and in its free memory.
Needs the dev install (the VTN, psutil) and /usr/sbin/mosquitto (or --broker).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flexvpp.child_process import python_module

log = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port}")


@dataclass
class Stack:
    tmp: Path
    broker_url: str
    vtn_base: str
    token: str
    processes: dict[str, subprocess.Popen[bytes]]

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.vtn_base}/api/v1{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read())

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def start_stack(tmp: Path, broker_url: str | None, report_s: float) -> Stack:
    processes: dict[str, subprocess.Popen[bytes]] = {}
    if broker_url is None:
        mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        port = _free_port()
        conf = tmp / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\n"
        )
        processes["mosquitto"] = subprocess.Popen(
            [mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_port(port, "mosquitto")
        broker_url = f"mqtt://127.0.0.1:{port}"
    db = f"sqlite:///{tmp / 'vtn.db'}"
    flexvpp = python_module("flexvpp")
    subprocess.run([*flexvpp, "db", "upgrade", "--db", db], check=True, capture_output=True)
    made = subprocess.run(
        [*flexvpp, "token", "create", "--db", db, "--role", "operator", "--name", "bench"],
        check=True,
        capture_output=True,
        text=True,
    )
    token = made.stdout.strip().splitlines()[-1]
    vtn_port = _free_port()
    config = tmp / "vtn.toml"  # the VTN asks for telemetry reports at the devices' period
    config.write_text(f"[vtn]\nreport_interval_seconds = {max(1, round(report_s))}\n")
    processes["vtn"] = subprocess.Popen(
        [*flexvpp, "vtn", "serve", "--db", db, "--port", str(vtn_port), "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "vtn.log", "wb"),  # noqa: SIM115  (the child writes it until the bench ends)
    )
    _wait_port(vtn_port, "the VTN")
    return Stack(tmp, broker_url, f"http://127.0.0.1:{vtn_port}", token, processes)


def _cpu_s(proc: Any) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except Exception:  # a child that ended
            continue
    return total


def _rss_mb(proc: Any) -> float:
    try:
        return float(proc.memory_info().rss) / 1e6
    except Exception:
        return 0.0


def run_bench(args: argparse.Namespace) -> int:
    import psutil

    homes, per_proc = args.homes, max(1, args.homes_per_process)
    with tempfile.TemporaryDirectory(prefix="flexvpp-bench-ven-") as tmp_name:
        tmp = Path(tmp_name)
        stack = start_stack(tmp, args.broker, args.telemetry_s)
        try:
            names = [f"bench-{i:04d}" for i in range(homes)]
            vens = [stack.api("POST", "/vens", {"ven_name": f"ven-{n}", "site_id": n}) for n in names]
            vtn_url = f"{stack.vtn_base}/OpenADR2/Simple/2.0b"
            for first in range(0, homes, per_proc):
                count = min(per_proc, homes - first)
                stack.processes[f"worker-{first}"] = subprocess.Popen(
                    [
                        *python_module("flexvpp.bench.ven"),
                        "worker",
                        "--first",
                        str(first),
                        "--count",
                        str(count),
                        "--broker",
                        stack.broker_url,
                        "--vtn-url",
                        vtn_url,
                        "--telemetry-s",
                        str(args.telemetry_s),
                        "--dir",
                        str(tmp),
                    ],
                    stderr=open(tmp / f"worker-{first}.log", "wb"),  # noqa: SIM115  (as for the VTN's log)
                )
            registered = _wait_registered(stack, len(vens), args.warmup_s)
            procs = {name: psutil.Process(p.pid) for name, p in stack.processes.items()}
            cpu0 = {name: _cpu_s(p) for name, p in procs.items()}
            started = time.monotonic()
            time.sleep(args.seconds)
            wall = time.monotonic() - started
            cpu = {name: (_cpu_s(p) - cpu0[name]) / wall for name, p in procs.items()}
            rss = {name: _rss_mb(p) for name, p in procs.items()}
            points = len(stack.api("GET", f"/vens/{vens[0]['ven_id']}/telemetry"))
            _print(homes, registered, wall, cpu, rss, points, args.telemetry_s, psutil)
        finally:
            stack.stop()
    return 0


def _wait_registered(stack: Stack, wanted: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    count = 0
    while time.monotonic() < deadline:
        count = sum(1 for v in stack.api("GET", "/vens") if v["registered"])
        if count >= wanted:
            break
        time.sleep(1.0)
    return count


def _print(
    homes: int,
    registered: int,
    wall: float,
    cpu: dict[str, float],
    rss: dict[str, float],
    points: int,
    telemetry_s: float,
    psutil: Any,
) -> None:
    workers = [n for n in cpu if n.startswith("worker-")]
    agents_cpu = sum(cpu[n] for n in workers)
    agents_rss = sum(rss[n] for n in workers)
    total_cpu = agents_cpu + cpu.get("vtn", 0.0) + cpu.get("mosquitto", 0.0)
    cores = psutil.cpu_count() or 1
    per_home = total_cpu / homes
    vtn_cpu, broker_cpu = cpu.get("vtn", 0.0), cpu.get("mosquitto", 0.0)
    print(
        f"homes: {homes} (registered {registered}), measured over {wall:.0f} s, "
        f"telemetry every {telemetry_s:g} s"
    )
    print(
        f"CPU per home: {100 * agents_cpu / homes:.2f} % of a core (agent + 6 devices); "
        f"VTN {100 * vtn_cpu / homes:.2f} %, broker {100 * broker_cpu / homes:.2f} %"
    )
    print(
        f"memory per home: {agents_rss / homes:.1f} MB RSS (agent + devices); "
        f"VTN {rss.get('vtn', 0.0):.0f} MB, broker {rss.get('mosquitto', 0.0):.0f} MB"
    )
    print(f"report values (usage, status, flexibility) the VTN stored for the first home: {points}")
    if per_home > 0:
        by_cpu = int(0.8 * cores / per_home)
        by_mem = int(psutil.virtual_memory().available / 1e6 / max(agents_rss / homes, 1e-3))
        print(
            f"estimate for this machine ({cores} cores at 80 %): {min(by_cpu, by_mem)} homes "
            f"(CPU-bound {by_cpu}, memory-bound {by_mem})"
        )


# ---------------------------------------------------------------------------------- the worker


async def _worker(
    first: int, count: int, broker: str, vtn_url: str, telemetry_s: float, folder: Path
) -> None:
    from ven.agent.runner import HomeAgent
    from ven.clock import WallClock
    from ven.device_bus import BrokerAddress
    from ven.settings import AgentSettings
    from ven.simulators.home import HomeSpec
    from ven.simulators.run import mqtt_home

    address = BrokerAddress.parse(broker)
    homes, agents = [], []
    for i in range(first, first + count):
        site = f"bench-{i:04d}"
        home = mqtt_home(
            HomeSpec(site_id=site, seed=i, telemetry_interval_s=telemetry_s), address, WallClock()
        )
        home.start()
        homes.append(home)
        agents.append(
            HomeAgent(
                AgentSettings.model_validate(
                    {
                        "vtn_url": vtn_url,
                        "ven_name": f"ven-{site}",
                        "site_id": site,
                        "broker_url": broker,
                        "buffer_path": folder / f"{site}.db",
                        "discovery_wait_s": 10,
                    }
                )
            )
        )
    await asyncio.gather(*(a.start() for a in agents))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await asyncio.gather(*(a.stop() for a in agents), return_exceptions=True)
    # each stop joins a few threads: stop the homes side by side, not one after the other
    await asyncio.gather(*(asyncio.to_thread(home.stop) for home in homes))


def _worker_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m flexvpp.bench.ven worker")
    parser.add_argument("--first", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--broker", required=True)
    parser.add_argument("--vtn-url", required=True)
    parser.add_argument("--telemetry-s", type=float, default=60.0)
    parser.add_argument("--dir", type=Path, required=True)
    a = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_worker(a.first, a.count, a.broker, a.vtn_url, a.telemetry_s, a.dir))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        raise SystemExit(_worker_main(sys.argv[2:]))
    raise SystemExit(f"usage: {os.path.basename(sys.executable)} -m flexvpp.bench.ven worker ...")
