"""`flexvpp bench vtn`: oadrPoll throughput and p99 latency, ours against the stock openleadr server.

Both servers run as subprocesses on this machine: ours (`flexvpp vtn serve`) on a fresh
PostgreSQL database that is dropped afterwards, the stock in-memory `openleadr.OpenADRServer`
from flexvpp/bench/stock_vtn.py. Each gets the same number of distinct registered VENs (on ours:
provisioned over REST, then oadrCreatePartyRegistration; on the stock one: registration only),
then, in one run, each is driven for the same time by the same closed-loop load generator:
`concurrency` workers, each sending oadrPoll for the next VEN in turn as soon as its previous
answer arrived (in the order ours, stock, stock, ours, so drifting machine load cancels out).
Polls that carry a pending message are drained before the clock starts, so
both servers answer the steady-state case: an empty oadrResponse.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from flexvpp.bench.servers import BenchFailed, free_port, fresh_pg_database, subprocess_server
from flexvpp.child_process import python_module

log = logging.getLogger(__name__)

XML = {"Content-Type": "application/xml"}
OPENADR_PATH = "/OpenADR2/Simple/2.0b"
_RESPONSE_CODE = re.compile(rb"responseCode>(\d{3})<")


@dataclass(frozen=True, slots=True)
class BenchOptions:
    vens: int = 1000
    seconds: float = 10.0
    concurrency: int = 50
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    keep_logs: bool = False


@dataclass(frozen=True, slots=True)
class PollStats:
    server: str
    requests: int
    errors: int
    elapsed_s: float
    p50_ms: float
    p99_ms: float
    cpu_s: float | None = None  # CPU time the server process used while driven (None: not on Linux)

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def cpu_us_per_request(self) -> float | None:
        """Server CPU per poll: unlike req/s, it does not depend on how busy the machine is."""
        if self.cpu_s is None or not self.requests:
            return None
        return self.cpu_s / self.requests * 1e6


@dataclass(frozen=True, slots=True)
class BenchResult:
    ours: PollStats
    stock: PollStats
    vens: int
    concurrency: int
    log_dir: str | None = None  # the servers' logs, when kept

    @property
    def throughput_ratio(self) -> float:
        return self.ours.requests_per_s / self.stock.requests_per_s if self.stock.requests_per_s else 0.0

    @property
    def p99_ratio(self) -> float:
        return self.ours.p99_ms / self.stock.p99_ms if self.stock.p99_ms else 0.0


# ---- messages -----------------------------------------------------------------------------------


def poll_message(ven_id: str) -> bytes:
    from openleadr.messaging import create_message

    return create_message("oadrPoll", ven_id=ven_id).encode()  # type: ignore[no-any-return]


def registration_message(ven_name: str) -> bytes:
    from openleadr.messaging import create_message

    from ven.agent.vtn_client import PULL_REGISTRATION

    return create_message(  # type: ignore[no-any-return]
        "oadrCreatePartyRegistration", request_id=uuid.uuid4().hex, ven_name=ven_name, **PULL_REGISTRATION
    ).encode()


def answer_is_ok(status: int, body: bytes) -> bool:
    """HTTP 200 and every OpenADR responseCode in the body is 200."""
    return status == 200 and all(code == b"200" for code in _RESPONSE_CODE.findall(body))


# ---- load ---------------------------------------------------------------------------------------


async def post(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, bytes]:
    async with session.post(url, data=body, headers=XML) as resp:
        return resp.status, await resp.read()


async def gather_bounded(coros: Sequence[object], limit: int) -> list[object]:
    semaphore = asyncio.Semaphore(limit)

    async def run(coro: object) -> object:
        async with semaphore:
            return await coro  # type: ignore[misc]

    return list(await asyncio.gather(*(run(c) for c in coros)))


async def register_vens(
    session: aiohttp.ClientSession, base_url: str, names: Sequence[str], limit: int
) -> list[str]:
    """oadrCreatePartyRegistration for each name; the venIDs the server assigned, in order."""
    from openleadr.messaging import parse_message

    url = f"{base_url}{OPENADR_PATH}/EiRegisterParty"

    async def register(name: str) -> str:
        status, body = await post(session, url, registration_message(name))
        if status != 200:
            raise BenchFailed(f"registering {name} at {base_url}: HTTP {status}: {body[:300]!r}")
        message_type, payload = parse_message(body)
        if message_type != "oadrCreatedPartyRegistration" or not payload.get("registration_id"):
            raise BenchFailed(f"registering {name} at {base_url} was refused: {body[:500]!r}")
        return str(payload["ven_id"])

    return [str(v) for v in await gather_bounded([register(n) for n in names], limit)]


async def drain_polls(
    session: aiohttp.ClientSession, base_url: str, bodies: Sequence[bytes], limit: int
) -> int:
    """Poll each VEN until it gets an empty oadrResponse; the number of messages drained."""
    url = f"{base_url}{OPENADR_PATH}/OadrPoll"

    async def drain(body: bytes) -> int:
        for drained in range(20):
            status, answer = await post(session, url, body)
            if status != 200:
                raise BenchFailed(f"warm-up poll at {base_url}: HTTP {status}: {answer[:300]!r}")
            if b"oadrResponse" in answer:
                return drained
        raise BenchFailed(f"warm-up at {base_url}: a VEN still had messages after 20 polls")

    return sum(int(n) for n in await gather_bounded([drain(b) for b in bodies], limit))  # type: ignore[call-overload]


@dataclass
class PollSamples:
    """Raw results of one or more polling phases against one server."""

    latencies_s: list[float]
    errors: int = 0
    elapsed_s: float = 0.0
    cpu_s: float | None = 0.0

    def summary(self, server: str) -> PollStats:
        ordered = sorted(self.latencies_s)
        return PollStats(
            server=server,
            requests=len(ordered),
            errors=self.errors,
            elapsed_s=self.elapsed_s,
            p50_ms=_percentile(ordered, 0.50) * 1000,
            p99_ms=_percentile(ordered, 0.99) * 1000,
            cpu_s=self.cpu_s,
        )


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a running process (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive_polls(
    session: aiohttp.ClientSession,
    base_url: str,
    bodies: Sequence[bytes],
    seconds: float,
    concurrency: int,
    samples: PollSamples,
) -> None:
    """Closed loop: `concurrency` workers poll round-robin over the VENs for `seconds`."""
    url = f"{base_url}{OPENADR_PATH}/OadrPoll"
    turn = itertools.count()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def worker() -> None:
        while loop.time() < deadline:
            body = bodies[next(turn) % len(bodies)]
            started = time.perf_counter()
            status, answer = await post(session, url, body)
            samples.latencies_s.append(time.perf_counter() - started)
            if not answer_is_ok(status, answer):
                samples.errors += 1

    started = loop.time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    samples.elapsed_s += loop.time() - started


@dataclass(frozen=True, slots=True)
class Target:
    """A server under test: its base URL, its process id and one oadrPoll body per VEN."""

    url: str
    pid: int
    bodies: Sequence[bytes]


async def compare(
    session: aiohttp.ClientSession, ours: Target, stock: Target, options: BenchOptions
) -> tuple[PollStats, PollStats]:
    """Drive both in the order ours, stock, stock, ours (half the time each), so a load change on
    the machine during the run (other processes) weighs on both alike."""
    ours_samples, stock_samples = PollSamples([]), PollSamples([])
    half = options.seconds / 2
    for target, samples in (
        (ours, ours_samples), (stock, stock_samples), (stock, stock_samples), (ours, ours_samples)
    ):  # fmt: skip
        cpu_before = process_cpu_s(target.pid)
        await drive_polls(session, target.url, target.bodies, half, options.concurrency, samples)
        cpu_after = process_cpu_s(target.pid)
        if cpu_before is None or cpu_after is None or samples.cpu_s is None:
            samples.cpu_s = None
        else:
            samples.cpu_s += cpu_after - cpu_before
    return ours_samples.summary("flexvpp vtn (PostgreSQL)"), stock_samples.summary(
        "openleadr OpenADRServer (memory)"
    )


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


# ---- the run ------------------------------------------------------------------------------------


async def run_bench(options: BenchOptions) -> BenchResult:
    log_dir = Path(tempfile.mkdtemp(prefix="flexvpp-bench-"))
    names = [f"bench-ven-{i:05d}" for i in range(options.vens)]
    connector_limit = max(options.concurrency, 10)
    async with fresh_pg_database(options.pg_url) as db_url:
        ours_port, stock_port = free_port(), free_port()
        ours_url, stock_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{stock_port}"
        ours_argv = [
            *python_module("flexvpp"),
            "vtn",
            "serve",
            "--db",
            db_url,
            "--port",
            str(ours_port),
            "--migrate",
        ]
        stock_argv = python_module("flexvpp.bench.stock_vtn", "--port", str(stock_port))
        async with (
            subprocess_server("ours", ours_argv, f"{ours_url}/api/v1/health", log_dir) as ours_process,
            subprocess_server(
                "stock", stock_argv, f"{stock_url}{OPENADR_PATH}/OadrPoll", log_dir
            ) as stock_process,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connector_limit)) as session,
        ):
            ours_ids = await _prepare_ours(session, ours_url, db_url, names, options)
            stock_ids = await register_vens(session, stock_url, names, options.concurrency)
            ours_polls = [poll_message(v) for v in ours_ids]
            stock_polls = [poll_message(v) for v in stock_ids]
            drained = await drain_polls(session, ours_url, ours_polls, options.concurrency)
            drained += await drain_polls(session, stock_url, stock_polls, options.concurrency)
            log.info("registered %d VENs on each server; drained %d pending messages", len(names), drained)
            ours, stock = await compare(
                session,
                Target(ours_url, ours_process.pid, ours_polls),
                Target(stock_url, stock_process.pid, stock_polls),
                options,
            )
    kept = str(log_dir) if options.keep_logs else None
    if not options.keep_logs:
        for path in log_dir.iterdir():
            path.unlink()
        log_dir.rmdir()
    return BenchResult(
        ours=ours, stock=stock, vens=options.vens, concurrency=options.concurrency, log_dir=kept
    )


async def _prepare_ours(
    session: aiohttp.ClientSession, base_url: str, db_url: str, names: Sequence[str], options: BenchOptions
) -> list[str]:
    """Pre-provision every VEN over the REST API, then register each over OpenADR."""
    from vtn.api.tokens import create_token

    token = await create_token(db_url, "operator", name="flexvpp bench vtn")
    headers = {"Authorization": f"Bearer {token}"}

    async def provision(name: str) -> str:
        async with session.post(
            f"{base_url}/api/v1/vens", json={"ven_name": name, "site_id": f"site-{name}"}, headers=headers
        ) as resp:
            body = await resp.json()
            if resp.status != 201:
                raise BenchFailed(f"provisioning {name}: HTTP {resp.status}: {body}")
            return str(body["ven_id"])

    provisioned = [str(v) for v in await gather_bounded([provision(n) for n in names], options.concurrency)]
    registered = await register_vens(session, base_url, names, options.concurrency)
    if registered != provisioned:
        raise BenchFailed("our VTN registered VENs under other venIDs than it provisioned")
    return registered


def format_result(result: BenchResult, seconds: float) -> str:
    lines = [
        f"oadrPoll from {result.vens} distinct registered VENs, {result.concurrency} concurrent, "
        f"{seconds:g} s per server",
        f"{'server':<34}{'requests':>10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"
        f"{'CPU us/req':>12}",
    ]
    for stats in (result.ours, result.stock):
        cpu = stats.cpu_us_per_request
        lines.append(
            f"{stats.server:<34}{stats.requests:>10}{stats.requests_per_s:>10.0f}{stats.p50_ms:>10.2f}"
            f"{stats.p99_ms:>10.2f}{stats.errors:>8}{'n/a' if cpu is None else f'{cpu:.0f}':>12}"
        )
    lines.append(
        f"ratio ours/stock: throughput {result.throughput_ratio:.2f}x (target >= 1.0), "
        f"p99 latency {result.p99_ratio:.2f}x (lower is better)"
    )
    ours_cpu, stock_cpu = result.ours.cpu_us_per_request, result.stock.cpu_us_per_request
    if ours_cpu and stock_cpu:
        lines.append(
            f"server CPU per poll ours/stock: {ours_cpu / stock_cpu:.2f}x (lower is better; independent "
            "of other load on the machine)"
        )
    if result.log_dir:
        lines.append(f"server logs: {result.log_dir}")
    return "\n".join(lines)
