"""`flexvpp bench load`: thousands of simulated VENs against our VTN on PostgreSQL.

The VTN runs as a subprocess (`flexvpp vtn serve`) on a fresh PostgreSQL database that is dropped
afterwards; with TLS, `vtn.certs` makes a test CA, the VTN's RSA and ECDSA certificates and one
ECDSA client certificate per VEN (ECDSA: 5,000 RSA keys would take minutes to generate), and each
VEN is provisioned with its fingerprint. The VENs are simulated by worker processes
(flexvpp/bench/load_ven.py). The figures cover the measurement window only (after every VEN
registered); the stored-versus-sent check covers every value, including the final flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import queue
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flexvpp.bench.load_ven import SimVen, WorkerPlan, WorkerResult, worker_main
from flexvpp.bench.servers import BenchFailed, free_port, fresh_pg_database, stop_process
from flexvpp.child_process import python_module

log = logging.getLogger(__name__)
SETUP_WAIT_S = 3600.0  # for every VEN to register: 20,000 took 24 min on the 2-core machine
RESULTS_WAIT_S = 900.0  # for the load processes' figures once the window has ended
LIVENESS_CHECK_S = 5.0  # how often the load processes are checked for life while waiting
PROGRESS_S = 30.0  # how often the registration count is printed while the VENs set up


@dataclass(frozen=True, slots=True)
class LoadOptions:
    vens: int = 5000
    minutes: float = 10.0
    poll_s: float = 10.0
    telemetry_s: float = 60.0
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    tls: bool = False
    workers: int = 2  # load-generating processes
    vtn_workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # `vtn serve --workers`
    keep_logs: bool = False


@dataclass(frozen=True, slots=True)
class LoadResult:
    vens_ready: int
    window_s: float
    setup_s: float
    polls: int
    poll_p50_ms: float
    poll_p99_ms: float
    reports: int
    report_p50_ms: float
    report_p99_ms: float
    poll_errors: int
    report_errors: int
    setup_errors: list[str]
    setup_busy: int  # setup steps the VTN answered 503 (busy) and the VEN retried
    unexpected_messages: int
    values_sent: int
    values_stored: int
    values_missing: int
    values_wrong: int
    unflushed: int
    vtn_cpu_mean_pct: float
    vtn_cpu_max_pct: float
    vtn_rss_max_mb: float
    load_cpu_mean_pct: float
    loadavg_before: tuple[float, float, float]
    loadavg_after: tuple[float, float, float]
    log_dir: str | None

    @property
    def ok(self) -> bool:
        return (
            not self.setup_errors
            and self.values_missing == 0
            and self.values_wrong == 0
            and self.values_sent == self.values_stored
        )


def _percentile_ms(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _make_certs(directory: Path, names: list[str]) -> tuple[list[Any], list[Any]]:
    from vtn.certs import KeyType, init_certificates

    return init_certificates(directory, names, KeyType.ECDSA)


async def _provision(db_url: str, names: list[str], fingerprints: list[str | None]) -> list[str]:
    """Provision every VEN straight through the service layer (before the VTN starts)."""
    from aggregator.vens import NewVen, provision_ven
    from vtn.db.engine import open_database
    from vtn.db.uow import UnitOfWork

    async with open_database(db_url) as sessions:
        ids = []
        for name, fingerprint in zip(names, fingerprints, strict=True):
            new = NewVen(name, site_id=f"site-{name}", fingerprint=fingerprint)
            info = await provision_ven(UnitOfWork(sessions), new, datetime.now(UTC))
            ids.append(info.ven_id)
        return ids


async def _stored_values(db_url: str) -> dict[tuple[str, str], list[float]]:
    """The stored TELEMETRY_USAGE values per (venID, dtstart in ISO)."""
    from vtn.db.engine import open_database
    from vtn.db.uow import UnitOfWork

    async with open_database(db_url) as sessions, UnitOfWork(sessions) as uow:
        values = await uow.reports.values_named("TELEMETRY_USAGE")
    stored: dict[tuple[str, str], list[float]] = {}
    for value in values:
        stored.setdefault((value.ven_id, value.dtstart.isoformat()), []).append(value.value)
    return stored


class _VtnMonitor:
    """CPU and memory of the VTN (the process and its workers, summed) and CPU of the load
    processes, sampled once a second during the window."""

    def __init__(self, pid: int, load_pids: Sequence[int] = ()) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.load = [psutil.Process(p) for p in load_pids]
        self.cpu: list[float] = []
        self.rss_mb: list[float] = []
        self.load_cpu: list[float] = []
        self._times: dict[int, float] = {}
        self._known: dict[int, Any] = {}  # every VTN process seen (a worker may be restarted)

    def _cpu_seconds(self, processes: Sequence[Any]) -> float:
        import psutil

        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
                self._times[process.pid] = times.user + times.system
            except psutil.Error:
                pass  # gone: keep its last figure
            total += self._times.get(process.pid, 0.0)
        return total

    def _tree(self) -> list[Any]:
        import psutil

        try:
            return [self.process, *self.process.children(recursive=True)]
        except psutil.Error:
            return [self.process]

    def _sample(self) -> tuple[float, float, float]:
        import psutil

        tree = self._tree()
        rss = 0.0
        for process in tree:
            with contextlib.suppress(psutil.Error):
                rss += process.memory_info().rss / 1e6
        self._known.update((p.pid, p) for p in tree)
        return self._cpu_seconds(list(self._known.values())), self._cpu_seconds(self.load), rss

    async def run(self) -> None:
        vtn_before, load_before, _ = self._sample()
        at = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            vtn, load, rss = self._sample()
            now = time.monotonic()
            self.cpu.append((vtn - vtn_before) / (now - at) * 100)
            self.load_cpu.append((load - load_before) / (now - at) * 100)
            self.rss_mb.append(rss)
            vtn_before, load_before, at = vtn, load, now


@asynccontextmanager
async def vtn_process(
    argv: list[str], port: int, log_path: Path, env: dict[str, str] | None = None
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """Start the VTN, wait until its port accepts connections (TLS or not), SIGTERM it after."""
    with log_path.open("wb") as log_file:
        environment = {**os.environ, **(env or {})}
        process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, env=environment)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise BenchFailed(f"the VTN exited with {process.returncode}; see {log_path}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchFailed(f"the VTN did not listen on {port}; see {log_path}") from None
                await asyncio.sleep(0.2)
        yield process
    finally:
        stop_process(process)


def _vtn_argv(db_url: str, port: int, cert_dir: Path | None, workers: int = 1) -> list[str]:
    argv = python_module("flexvpp", "vtn", "serve", "--db", db_url, "--port", str(port))
    argv += ["--workers", str(workers)]
    if cert_dir is not None:
        for kind in ("rsa", "ecdsa"):
            argv += [
                "--tls-cert",
                str(cert_dir / f"vtn-{kind}.pem"),
                "--tls-key",
                str(cert_dir / f"vtn-{kind}.key"),
            ]
        argv += ["--tls-ca", str(cert_dir / "ca.pem")]
    return argv


async def _registered(db_url: str) -> int:
    from vtn.db.engine import open_database
    from vtn.db.uow import UnitOfWork

    async with open_database(db_url) as sessions, UnitOfWork(sessions) as uow:
        return len(await uow.vens.registrations())


async def _show_setup_progress(db_url: str, total: int) -> None:
    """A line every PROGRESS_S while the VENs register (20,000 take about half an hour)."""
    started, before = time.monotonic(), 0
    while True:
        await asyncio.sleep(PROGRESS_S)
        with contextlib.suppress(Exception):  # progress only: a failed count is skipped
            now = await _registered(db_url)
            print(f"  {time.monotonic() - started:5.0f} s: {now:,}/{total:,} VENs registered "
                  f"({(now - before) / PROGRESS_S:.1f}/s)", flush=True)  # fmt: skip
            before = now


async def _run_workers(
    plans: list[WorkerPlan], vtn_pid: int, duration_s: float, db_url: str
) -> tuple[list[WorkerResult], int, float, _VtnMonitor]:
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    go = context.Event()
    start_wall = context.Value("d", 0.0)
    processes = [
        context.Process(target=worker_main, args=(plan, ready, go, start_wall, results), daemon=True)
        for plan in plans
    ]
    for process in processes:
        process.start()
    setup_started = time.monotonic()
    progress = asyncio.create_task(_show_setup_progress(db_url, sum(len(p.vens) for p in plans)))
    try:
        vens_ready = 0
        for _ in processes:
            vens_ready += int(await _from_live(ready, processes, SETUP_WAIT_S, "registering its VENs"))
        setup_s = time.monotonic() - setup_started
        progress.cancel()
        log.info("%d VENs registered; measuring for %.0f s", vens_ready, duration_s)
        start_wall.value = time.time() + 2.0
        go.set()
        await asyncio.sleep(2.0)
        monitor = _VtnMonitor(vtn_pid, [p.pid for p in processes if p.pid is not None])
        sampler = asyncio.create_task(monitor.run())
        await asyncio.sleep(duration_s)
        sampler.cancel()
        collected = [await _from_live(results, processes, RESULTS_WAIT_S, "measuring") for _ in processes]
    finally:
        progress.cancel()
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    failures = [r for r in collected if not isinstance(r, WorkerResult)]
    if failures:
        raise BenchFailed("; ".join(str(f) for f in failures))
    return collected, vens_ready, setup_s, monitor


async def _from_live(channel: Any, processes: list[Any], timeout_s: float, doing: str) -> Any:
    """The next message on `channel`; BenchFailed as soon as a load process has died (the run
    used to wait out the whole timeout: an hour at setup, for a process killed in its first
    minutes) or when nothing came within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await asyncio.to_thread(channel.get, True, LIVENESS_CHECK_S)
        except queue.Empty:
            pass
        dead = [
            (i, p.exitcode) for i, p in enumerate(processes) if p.exitcode is not None and p.exitcode != 0
        ]
        if dead:
            which = ", ".join(f"{i} (exit code {code})" for i, code in dead)
            raise BenchFailed(f"load process {which} died while {doing}") from None
        if time.monotonic() > deadline:
            raise BenchFailed(f"the load processes said nothing for {timeout_s:.0f} s while {doing} "
                              "(the VTN stopped answering?)") from None  # fmt: skip


def _summarise(
    results: list[WorkerResult], stored: dict[tuple[str, str], list[float]], **extra: Any
) -> LoadResult:
    polls = [x for r in results for x in r.poll_latencies_s]
    reports = [x for r in results for x in r.report_latencies_s]
    sent = {(ven, at): value for r in results for ven, at, value in r.sent}
    missing = sum(1 for key in sent if key not in stored)
    wrong = sum(1 for key, value in sent.items() if key in stored and stored[key] != [value])
    monitor: _VtnMonitor = extra.pop("monitor")
    return LoadResult(
        polls=len(polls),
        poll_p50_ms=_percentile_ms(polls, 0.5),
        poll_p99_ms=_percentile_ms(polls, 0.99),
        reports=len(reports),
        report_p50_ms=_percentile_ms(reports, 0.5),
        report_p99_ms=_percentile_ms(reports, 0.99),
        poll_errors=sum(r.poll_errors for r in results),
        report_errors=sum(r.report_errors for r in results),
        setup_errors=[e for r in results for e in r.setup_errors],
        setup_busy=sum(r.setup_busy for r in results),
        unexpected_messages=sum(r.unexpected_messages for r in results),
        values_sent=len(sent),
        values_stored=sum(len(v) for v in stored.values()),
        values_missing=missing,
        values_wrong=wrong,
        unflushed=sum(r.unflushed for r in results),
        vtn_cpu_mean_pct=sum(monitor.cpu) / len(monitor.cpu) if monitor.cpu else 0.0,
        vtn_cpu_max_pct=max(monitor.cpu, default=0.0),
        vtn_rss_max_mb=max(monitor.rss_mb, default=0.0),
        load_cpu_mean_pct=sum(monitor.load_cpu) / len(monitor.load_cpu) if monitor.load_cpu else 0.0,
        **extra,
    )


async def run_load(options: LoadOptions) -> LoadResult:
    from vtn.db.migrate import upgrade

    work = Path(tempfile.mkdtemp(prefix="flexvpp-load-"))
    names = [f"load-ven-{i:05d}" for i in range(options.vens)]
    cert_dir = work / "certs" if options.tls else None
    fingerprints: list[str | None] = [None] * len(names)
    certs: list[Any] = []
    if cert_dir is not None:
        _, certs = await asyncio.to_thread(_make_certs, cert_dir, names)
        fingerprints = [c.fingerprint for c in certs]
    loadavg_before = os.getloadavg()
    async with fresh_pg_database(options.pg_url) as db_url:
        await asyncio.to_thread(upgrade, db_url)
        ven_ids = await _provision(db_url, names, fingerprints)
        port = free_port()
        scheme = "https" if options.tls else "http"
        base_url = f"{scheme}://127.0.0.1:{port}"
        argv = _vtn_argv(db_url, port, cert_dir, options.vtn_workers)
        # the VTN keeps a VEN's idle connection past its poll period, so each poll reuses it
        keepalive = {"FLEXVPP_KEEPALIVE_SECONDS": str(max(75.0, options.poll_s + 20.0))}
        async with vtn_process(argv, port, work / "vtn.log", keepalive) as process:
            sims = [
                SimVen(
                    i,
                    name,
                    ven_id,
                    *((str(certs[i].cert_path), str(certs[i].key_path)) if certs else (None, None)),
                )
                for i, (name, ven_id) in enumerate(zip(names, ven_ids, strict=True))
            ]
            plans = [
                WorkerPlan(
                    base_url=base_url,
                    vens=tuple(sims[w :: options.workers]),
                    ca_file=str(cert_dir / "ca.pem") if cert_dir else None,
                    poll_s=options.poll_s,
                    telemetry_s=options.telemetry_s,
                    duration_s=options.minutes * 60,
                )
                for w in range(options.workers)
            ]
            results, vens_ready, setup_s, monitor = await _run_workers(
                plans, process.pid, options.minutes * 60, db_url
            )
        stored = await _stored_values(db_url)
    summary = _summarise(
        results, stored, monitor=monitor, vens_ready=vens_ready, setup_s=setup_s,
        window_s=options.minutes * 60,
        loadavg_before=loadavg_before, loadavg_after=os.getloadavg(),
        log_dir=str(work) if options.keep_logs else None,
    )  # fmt: skip
    if not options.keep_logs:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return summary


def format_load(result: LoadResult, options: LoadOptions) -> str:
    transport = "HTTPS, mutual TLS (one ECDSA client certificate per VEN)" if options.tls else "plain HTTP"
    per_thousand = 1000 / max(1, result.vens_ready)
    lines = [
        f"{result.vens_ready}/{options.vens} simulated VENs over {transport}; "
        f"poll every {options.poll_s:g} s, telemetry every {options.telemetry_s:g} s; "
        f"{result.window_s / 60:g} min window; VTN workers {options.vtn_workers}; "
        f"{options.workers} load processes; "
        f"setting up (registration etc.) took {result.setup_s:.0f} s",
        f"oadrPoll:         {result.polls} ({result.polls / result.window_s:.1f}/s)  "
        f"p50 {result.poll_p50_ms:.1f} ms  p99 {result.poll_p99_ms:.1f} ms  errors {result.poll_errors}",
        f"oadrUpdateReport: {result.reports} ({result.reports / result.window_s:.1f}/s)  "
        f"p50 {result.report_p50_ms:.1f} ms  p99 {result.report_p99_ms:.1f} ms  "
        f"errors {result.report_errors}",
        f"report values:    sent {result.values_sent}  stored {result.values_stored}  "
        f"missing {result.values_missing}  wrong/duplicated {result.values_wrong}  "
        f"unflushed {result.unflushed}",
        f"VTN processes:    CPU mean {result.vtn_cpu_mean_pct:.0f} %  max {result.vtn_cpu_max_pct:.0f} % "
        f"(100 % = one core)  RSS max {result.vtn_rss_max_mb:.0f} MB (all workers)",
        f"load processes:   CPU mean {result.load_cpu_mean_pct:.0f} %",
        f"per 1,000 VENs:   VTN CPU {per_thousand * result.vtn_cpu_mean_pct:.1f} % of a core, "
        f"RSS {per_thousand * result.vtn_rss_max_mb:.0f} MB (the whole VTN's divided: its base included)",
        "load average:     before {:.2f} {:.2f} {:.2f}  after {:.2f} {:.2f} {:.2f}".format(
            *result.loadavg_before, *result.loadavg_after
        ),
    ]
    if result.unexpected_messages:
        lines.append(f"polls that carried a message: {result.unexpected_messages}")
    if result.setup_busy:
        lines.append(f"setup steps answered 503 (VTN busy) and retried: {result.setup_busy}")
    if result.setup_errors:
        lines.append(
            f"VENs that failed to set up: {len(result.setup_errors)}; first: {result.setup_errors[0]}"
        )
    lines.append("result: " + ("OK" if result.ok else "FAILED (lost, duplicated or wrong report values)"))
    if result.log_dir:
        lines.append(f"VTN log: {result.log_dir}/vtn.log")
    return "\n".join(lines)
