"""`flexvpp demo`: the whole closed loop on one machine, one simulated day, one report.

A private Mosquitto, the VTN on SQLite (in a temporary directory), N simulated homes with their
agents (`flexvpp.demo_homes`, two processes), all on one accelerated clock. The market side is
driven over the REST API with a `market` token: day-ahead prices, the day-ahead planning run
(the VTN's own, at its configured time), an evening DR request that caps the portfolio, and an
imbalance signal later in the evening. At the end the measured telemetry is turned into the
summary table and the HTML report (flexvpp/demo_report.py). The exit status is 1 when no planning
run planned or the VTN logged an error during the run (flexvpp/demo_check.py says why).
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flexvpp.child_process import python_module

log = logging.getLogger(__name__)

CLOCK_START = timedelta(hours=10)  # STARTUP_S after launch: homes have reported by 11:00
# The DSO announces the evening cap in the late morning; the imbalance signal comes in the afternoon
# for the night (hours ahead, so a busy machine's slower runs still land before the windows).
# The household whose app the demo uses: it confirms smart charging, and its view ends the report.
HOUSEHOLD_SITE = "home-001"
HOUSEHOLD_PREFERENCES = {"charge_mode": "smart"}
DR_AT, DR_FROM, DR_TO = timedelta(hours=12), timedelta(hours=17), timedelta(hours=21)
IMBALANCE_AT, IMBALANCE_FROM, IMBALANCE_TO = (
    timedelta(hours=16),
    timedelta(hours=22),
    timedelta(hours=26),
)
NOMINATED_KW_PER_HOME = 0.6
IMBALANCE_EUR_PER_KWH = 0.25
HOMES_PER_PROCESS = 10
# Real s from launch to the clock's CLOCK_START. Later than that, the day moves to the next one
# (skip_late_start), which costs a whole simulated day of real time (96 s at x900): 20 s was
# passed by a user's run beside an image build (25 s) and by CI's closed-loop tests (their runs
# took 75 s longer at x1200 in one CI run of two); 10 s more waited always costs less.
STARTUP_S = 30.0
REGISTER_TIMEOUT_S = 600.0  # real s for every home to register, however busy the machine
# Real s for the VTN to listen: its first start imports (and, from a fresh install, compiles)
# Pyomo, HiGHS and SQLAlchemy; beside a CI run that took more than 60 s.
VTN_START_TIMEOUT_S = 300.0


class DemoFailed(RuntimeError):
    """A part of the demo did not come up; the message says which and where its log is."""


@dataclass
class Demo:
    homes: int
    out: Path
    speed: float
    prices_file: Path | None = None
    pv_file: Path | None = None
    broker_url: str | None = None
    broker_kind: str = "none yet"  # Mosquitto, embedded amqtt or given (--broker): the report says which
    method: str = "decomposition"
    db_url: str | None = None  # default: SQLite in the work directory
    cap_kw_per_home: float = 1.5
    # Chargers on OCPP 1.6J and batteries on SunSpec instead of MQTT (flexvpp/demo_protocols.py).
    protocol_devices: bool = False
    result: Any = None  # (DemoData, Figures) once the report is written
    work: Path = Path()
    day: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    origin: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    anchor_s: float = 0.0
    vtn_base: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    vens: dict[str, str] = field(default_factory=dict)  # site_id -> ven_id
    started: float = field(default_factory=time.monotonic)

    # ---- time ---------------------------------------------------------------------------------
    def sim_now(self) -> datetime:
        return self.origin + timedelta(seconds=(time.time() - self.anchor_s) * self.speed)

    def wait_until(self, moment: datetime) -> None:
        while (left := (moment - self.sim_now()).total_seconds()) > 0:
            time.sleep(min(left / self.speed, 2.0))
            self.progress()

    # ---- REST ---------------------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, role: str = "market") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.vtn_base}/api/v1{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.tokens[role]}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as reply:
                return json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise DemoFailed(f"{method} {path}: HTTP {exc.code} {exc.read()[:300]!r}") from exc

    # ---- progress -----------------------------------------------------------------------------
    _last_progress: float = 0.0

    def say(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        clock = self.sim_now().strftime("%a %H:%M") if self.anchor_s else "--"
        print(f"[{elapsed:5.0f} s | sim {clock}] {text}", file=sys.stderr, flush=True)

    def progress(self) -> None:
        if time.monotonic() - self._last_progress < 8.0:
            return
        self._last_progress = time.monotonic()
        try:
            vens = self.api("GET", "/vens", role="operator")
            runs = self.api("GET", "/portfolio/runs")
        except (DemoFailed, OSError) as exc:
            self.say(f"(VTN busy: {exc})")
            return
        registered = sum(1 for v in vens if v.get("registered"))
        last = runs[0] if runs else None
        run_text = (
            f"last: {last['trigger'][:48]} -> {last['status']} in {last['seconds']:.1f} s" if last else ""
        )
        self.say(f"{registered}/{self.homes} homes registered, {len(runs)} planning runs {run_text}")
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise DemoFailed(
                    f"{name} stopped (exit {proc.returncode}); see {self.work / (name + '.log')}"
                )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, what: str, proc: subprocess.Popen[bytes] | None, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise DemoFailed(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise DemoFailed(f"{what} did not listen on port {port} within {timeout_s:.0f} s")


def _log(demo: Demo, name: str) -> Any:
    return open(demo.work / f"{name}.log", "wb")


def start_broker(demo: Demo) -> None:
    """A private Mosquitto when its binary is on the PATH, else the embedded broker (`flexvpp
    broker`, amqtt) in a process of its own, so that a machine with Python alone runs the demo."""
    if demo.broker_url is not None:
        demo.broker_kind = "given"
        return
    port = _free_port()
    mosquitto = shutil.which("mosquitto")
    if mosquitto is not None:
        conf = demo.work / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\n"
        )
        command, demo.broker_kind = [mosquitto, "-c", str(conf)], "Mosquitto"
    else:
        command, demo.broker_kind = _flexvpp("broker", "--listen", f"127.0.0.1:{port}"), "embedded amqtt"
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=_log(demo, "broker"))
    demo.processes["broker"] = proc
    _wait_port(port, f"the MQTT broker ({demo.broker_kind})", proc)
    demo.broker_url = f"mqtt://127.0.0.1:{port}"


def _flexvpp(*args: str) -> list[str]:
    return python_module("flexvpp", *args)


def start_vtn(demo: Demo) -> None:
    import asyncio

    from vtn.api.tokens import create_token
    from vtn.db.migrate import upgrade

    db = demo.db_url or f"sqlite:///{demo.work / 'vtn.db'}"
    upgrade(db)  # in this process: a second interpreter start costs seconds on a busy machine
    for role in ("operator", "market"):
        demo.tokens[role] = asyncio.run(create_token(db, role=role, name=f"demo-{role}"))
    # The household of the first home, through its app's door (docs/customer-api.md).
    demo.tokens["customer"] = asyncio.run(
        create_token(db, role="customer", name="demo-household", site_id=HOUSEHOLD_SITE)
    )
    port = _free_port()
    config = demo.work / "vtn.toml"
    config.write_text(
        "[vtn]\n"
        "poll_interval_seconds = 1\n"
        "report_interval_seconds = 3\n"
        f"clock_speed = {demo.speed}\n"
        f'clock_origin = "{demo.origin.isoformat()}"\n'
        f'clock_anchor = "{datetime.fromtimestamp(demo.anchor_s, UTC).isoformat()}"\n'
        'dayahead_time = "11:00"\n'
        'timezone = "UTC"\n'
        "replan_check_seconds = 1.0\n"
        "replan_every_minutes = 120\n"
        "offline_after_seconds = 30\n"
        "deviation_tolerance_kw = 4.0\n"
        f'planner_method = "{demo.method}"\n'
        'dispatch_target = "ev"\n'
        f"near_window_seconds = {(3600 * 24)}\n"
    )
    proc = subprocess.Popen(
        _flexvpp("vtn", "serve", "--db", db, "--port", str(port), "--config", str(config)),
        stdout=subprocess.DEVNULL,
        stderr=_log(demo, "vtn"),
    )
    demo.processes["vtn"] = proc
    _wait_port(port, "the VTN", proc, VTN_START_TIMEOUT_S)
    demo.vtn_base = f"http://127.0.0.1:{port}"


def start_homes(demo: Demo) -> None:
    sites = [f"home-{i + 1:03d}" for i in range(demo.homes)]
    for site in sites:
        ven = demo.api("POST", "/vens", {"ven_name": f"ven-{site}", "site_id": site}, role="operator")
        demo.vens[site] = ven["ven_id"]
    pv_json = None
    if demo.pv_file is not None:
        from flexvpp.demo_data import read_pv_shape

        pv_json = demo.work / "pv.json"
        pv_json.write_text(json.dumps(read_pv_shape(demo.pv_file)))
    for first in range(0, demo.homes, HOMES_PER_PROCESS):
        count = min(HOMES_PER_PROCESS, demo.homes - first)
        args = [
            *python_module("flexvpp.demo_homes"),
            "--first", str(first), "--count", str(count),
            "--broker", str(demo.broker_url),
            "--vtn-url", f"{demo.vtn_base}/OpenADR2/Simple/2.0b",
            "--speed", str(demo.speed),
            "--origin", str(demo.origin.timestamp()), "--anchor", str(demo.anchor_s),
            "--dir", str(demo.work),
        ]  # fmt: skip
        if pv_json is not None:
            args += ["--pv", str(pv_json)]
        if demo.protocol_devices:
            args.append("--protocol-devices")
        demo.processes[f"homes-{first}"] = subprocess.Popen(args, stderr=_log(demo, f"homes-{first}"))


def wait_for_homes(demo: Demo) -> None:
    """Until every home's agent has registered with the VTN."""
    deadline = time.monotonic() + REGISTER_TIMEOUT_S
    registered = 0
    while time.monotonic() < deadline:
        demo.progress()  # also: a part that stopped ends the demo
        try:
            vens = demo.api("GET", "/vens", role="operator")
        except (DemoFailed, OSError):
            vens = []  # busy: ask again
        registered = sum(1 for v in vens if v.get("registered"))
        if registered >= demo.homes:
            return
        time.sleep(0.5)
    raise DemoFailed(
        f"{registered} of {demo.homes} homes registered within {REGISTER_TIMEOUT_S:.0f} s; "
        f"see {demo.out / 'logs'}/homes-*.log"
    )


def skip_late_start(demo: Demo) -> None:
    """A start-up slower than STARTUP_S (a busy machine, a fast clock) leaves the shared clock past
    the day's start, maybe past the whole day: simulate the next day that is still ahead instead."""
    late = demo.sim_now() - (demo.day + CLOCK_START)
    if late <= timedelta(0):
        return
    demo.day += timedelta(days=late // timedelta(days=1) + 1)
    demo.say(
        f"start-up took {time.monotonic() - demo.started:.0f} s, more than the clock's {STARTUP_S:.0f} s: "
        f"the simulated day is {demo.day:%a %d %b} instead"
    )


def stop_all(demo: Demo) -> None:
    order = [n for n in demo.processes if n.startswith("homes-")] + ["vtn", "broker"]
    for name in order:
        proc = demo.processes.get(name)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def put_prices(demo: Demo) -> dict[str, Any]:
    """The day-ahead prices from the demo's day on (three days: the cars charge overnight)."""
    from flexvpp.demo_data import generated_prices, read_prices

    slots = 3 * 96
    if demo.prices_file is not None:
        prices = read_prices(demo.prices_file, demo.day, slots)
    else:
        prices = generated_prices(demo.day, slots)
    demo.api("PUT", "/prices", prices)
    return prices


def market_day(demo: Demo) -> dict[str, Any]:
    """Prices before the day-ahead run; the DR request and the imbalance signal in the evening."""
    # Sent again: the day may have moved since start-up (skip_late_start).
    prices = put_prices(demo)
    mode = demo.api("PUT", f"/sites/{HOUSEHOLD_SITE}/preferences", HOUSEHOLD_PREFERENCES, role="customer")
    demo.say(f"{HOUSEHOLD_SITE}'s household chooses {mode['charge_mode']} charging in its app "
             f"(PUT /api/v1/sites/{HOUSEHOLD_SITE}/preferences, a customer token)")  # fmt: skip
    demo.say("day-ahead prices in (PUT /api/v1/prices); the VTN plans the day at 11:00")
    demo.wait_until(demo.day + DR_AT)
    cap_kw = round(demo.cap_kw_per_home * demo.homes, 1)
    request = {
        "kind": "cap",
        "start": (demo.day + DR_FROM).isoformat(),
        "end": (demo.day + DR_TO).isoformat(),
        "power_kw": cap_kw,
        "reason": "DSO congestion: evening cap",
    }
    demo.api("POST", "/portfolio/requests", request)
    demo.say(
        f"DR request: cap the portfolio at {cap_kw} kW from 17:00 to 21:00 (POST /api/v1/portfolio/requests)"
    )
    demo.wait_until(demo.day + IMBALANCE_AT)
    n = (IMBALANCE_TO - IMBALANCE_FROM) // timedelta(minutes=15)
    imbalance = {
        "start": (demo.day + IMBALANCE_FROM).isoformat(),
        "resolution_minutes": 15,
        "imbalance_eur_per_kwh": [IMBALANCE_EUR_PER_KWH] * n,
        "nominated_net_kw": [round(NOMINATED_KW_PER_HOME * demo.homes, 1)] * n,
        "reason": "system short: consumption above the nomination costs extra",
    }
    demo.api("PUT", "/imbalance", imbalance)
    demo.say("imbalance signal: 22:00-02:00 above the nomination costs 0.25 EUR/kWh (PUT /api/v1/imbalance)")
    return {"prices": prices, "request": request, "imbalance": imbalance}


def household_view(demo: Demo) -> dict[str, Any]:
    """What the first home's household sees in its app at the end of the day (its own token)."""
    site = f"/sites/{HOUSEHOLD_SITE}"
    start = demo.day + timedelta(hours=11)
    span = f"from={start.isoformat()}&to={(start + timedelta(days=1)).isoformat()}".replace("+", "%2B")
    return {
        "site": HOUSEHOLD_SITE,
        "preferences": demo.api("GET", f"{site}/preferences", role="customer"),
        "sessions": demo.api("GET", f"{site}/sessions?{span}", role="customer")["sessions"],
        "savings": demo.api("GET", f"{site}/savings?month={start:%Y-%m}", role="customer"),
    }


def run_demo(demo: Demo) -> int:
    from flexvpp.demo_check import failure, logged_errors
    from flexvpp.demo_report import DAY_START, collect, write_report

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    demo.day = tomorrow
    demo.origin = tomorrow + CLOCK_START
    demo.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="flexvpp-demo-") as tmp:
        demo.work = Path(tmp)
        try:
            demo.say(f"starting: {demo.homes} homes, clock x{demo.speed:g}, work dir {tmp}")
            start_broker(demo)
            # The clock reaches CLOCK_START when the VTN and the homes are expected to be up.
            demo.anchor_s = time.time() + STARTUP_S
            start_vtn(demo)
            database = "PostgreSQL" if (demo.db_url or "").startswith("postgresql") else "SQLite"
            demo.say(f"MQTT broker {demo.broker_url} ({demo.broker_kind}), VTN {demo.vtn_base} ({database})")
            demo.say(f"the operator's dashboard: {show_dashboard(demo)}")
            # Before the homes report: the VTN's first runs then plan, not fail on missing prices.
            put_prices(demo)
            start_homes(demo)
            wait_for_homes(demo)
            skip_late_start(demo)
            market = market_day(demo)
            demo.wait_until(demo.day + DAY_START + timedelta(days=1))
            demo.say("the simulated day is over; collecting telemetry")
            time.sleep(4.0)  # the last telemetry reports
            data = collect(demo, market)
            data.household = household_view(demo)
            data.dashboard_url = f"{demo.vtn_base}/dashboard/"
            # Read while the VTN runs: what it logs while being stopped is not the run's.
            vtn_errors = logged_errors((demo.work / "vtn.log").read_text(errors="replace"))
        except DemoFailed as exc:
            print(f"flexvpp demo: {exc}", file=sys.stderr)
            _keep_logs(demo)
            stop_all(demo)
            _keep_db(demo)
            return 1
        finally:
            stop_all(demo)
        data.sessions = _sessions(demo.work)
        _keep_db(demo)
        report = write_report(data, demo.out)
        demo.result = (data, report.figures)
        _keep_logs(demo)
    print(report.summary)
    print(f"\nreport: {report.html_path}")
    why = failure(data.runs, vtn_errors)
    if why is not None:
        print(f"flexvpp demo: failed: {why}; see {demo.out / 'logs' / 'vtn.log'}", file=sys.stderr)
        return 1
    demo.say("done")
    return 0


def show_dashboard(demo: Demo) -> str:
    """The dashboard's URL and where its login token is: the operator watches the day live."""
    token_file = demo.out / "operator-token"
    token_file.write_text(demo.tokens["operator"] + "\n")
    token_file.chmod(0o600)  # a credential: the owner's alone
    return f"{demo.vtn_base}/dashboard/ (log in with the token in {token_file})"


def _sessions(work: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted(work.glob("sessions-*.json")):
        out += json.loads(path.read_text())
    return out


def _keep_db(demo: Demo) -> None:
    """The SQLite database holds every run's inputs and plan: keep it beside the report."""
    if demo.db_url is None and (demo.work / "vtn.db").exists():
        shutil.copy(demo.work / "vtn.db", demo.out / "vtn.db")


def _keep_logs(demo: Demo) -> None:
    logs = demo.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for path in demo.work.glob("*.log"):
        shutil.copy(path, logs / path.name)
