"""Lightweight simulated VENs for `flexvpp bench load`: many per process, real OpenADR 2.0b messages.

Each simulated VEN registers (oadrCreatePartyRegistration), drains its first poll (the VTN's
METADATA), registers a TELEMETRY_USAGE report (oadrRegisterReport, answered with the
reportRequestID), then, from a common start time, polls every `poll_s` and sends one
oadrUpdateReport value every `telemetry_s`, each at its own phase so the load is spread evenly.
A report that fails (transport error, non-200 answer) stays pending and is re-sent with the next
one, as a real VEN's buffer would; at the end the pending ones are flushed. Every VEN has its own
TLS client certificate (so its own connection) when TLS is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from ven.agent.vtn_client import PULL_REGISTRATION
from vtn.tls import limit_tls_read_buffers

log = logging.getLogger(__name__)

XML = {"Content-Type": "application/xml"}
OPENADR_PATH = "/OpenADR2/Simple/2.0b"
SPECIFIER_ID = "spec-usage"
R_ID = "power"
_CODE = re.compile(rb"responseCode>(\d{3})<")
_REQUEST_ID = re.compile(rb"reportRequestID>([^<]+)<")
_TYPE = re.compile(rb"<oadr:(oadr\w+)[ >]")
FLUSH_ATTEMPTS = 10
SETUP_ATTEMPTS = 3  # a setup step that times out or loses its connection is tried again
BUSY_ATTEMPTS = 60  # a VTN that answers 503 (busy) is asked again after its Retry-After, this often


@dataclass(frozen=True, slots=True)
class SimVen:
    """One VEN as the orchestrator hands it to a worker process."""

    index: int
    ven_name: str
    ven_id: str
    cert_file: str | None = None
    key_file: str | None = None


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    base_url: str
    vens: tuple[SimVen, ...]
    ca_file: str | None
    poll_s: float
    telemetry_s: float
    duration_s: float
    setup_concurrency: int = 50


@dataclass(slots=True)
class WorkerResult:
    poll_latencies_s: list[float] = field(default_factory=list)
    report_latencies_s: list[float] = field(default_factory=list)
    poll_errors: int = 0
    report_errors: int = 0
    setup_errors: list[str] = field(default_factory=list)
    setup_busy: int = 0  # setup steps the VTN answered 503 (busy, try again) and that were retried
    unexpected_messages: int = 0
    # (ven_id, dtstart ISO, value) of every value generated: the ground truth for "sent"
    sent: list[tuple[str, str, float]] = field(default_factory=list)
    unflushed: int = 0  # values still pending after the final flush


class VenRefused(Exception):
    """The VTN refused a setup step (registration, report registration)."""


class VtnBusy(Exception):
    """The VTN answered 503: overloaded, try again after `retry_after_s` (as a real VEN does)."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"VTN busy, retry after {retry_after_s:g} s")
        self.retry_after_s = retry_after_s


def _code_ok(status: int, body: bytes) -> bool:
    return status == 200 and all(code == b"200" for code in _CODE.findall(body))


def _message_type(body: bytes) -> str | None:
    found = _TYPE.search(body.split(b"oadrSignedObject", 2)[-1])
    return found.group(1).decode() if found else None


class VenSim:
    """One simulated VEN's state and its OpenADR exchanges."""

    def __init__(
        self, ven: SimVen, plan: WorkerPlan, ssl_ctx: ssl.SSLContext | bool, result: WorkerResult
    ) -> None:
        from openleadr.messaging import create_message

        self.ven, self.plan, self.ssl, self.result = ven, plan, ssl_ctx, result
        self.url = f"{plan.base_url}{OPENADR_PATH}"
        self.poll_body = create_message("oadrPoll", ven_id=ven.ven_id).encode()
        self.report_request_id = ""
        self.pending: list[tuple[datetime, float]] = []
        self.samples = 0
        self.last_poll_s: float | None = None  # loop time of the last poll before the window

    async def post(
        self, session: aiohttp.ClientSession, service: str, body: bytes, busy_raises: bool = False
    ) -> tuple[int, bytes]:
        """The answer's status and body; with `busy_raises` (a setup step), a 503 raises VtnBusy
        with the VTN's Retry-After."""
        async with session.post(f"{self.url}/{service}", data=body, headers=XML, ssl=self.ssl) as resp:
            if busy_raises and resp.status == 503:
                try:
                    retry_after_s = float(resp.headers.get("Retry-After", "5"))
                except ValueError:
                    retry_after_s = 5.0
                raise VtnBusy(retry_after_s)
            return resp.status, await resp.read()

    async def setup(self, session: aiohttp.ClientSession) -> None:
        from openleadr.messaging import create_message

        body = create_message(
            "oadrCreatePartyRegistration",
            request_id=f"reg-{self.ven.index}",
            ven_name=self.ven.ven_name,
            **PULL_REGISTRATION,
        ).encode()
        status, answer = await self.post(session, "EiRegisterParty", body, busy_raises=True)
        if not _code_ok(status, answer) or self.ven.ven_id.encode() not in answer:
            raise VenRefused(f"{self.ven.ven_name}: registration: HTTP {status} {answer[:300]!r}")
        for _ in range(20):  # the VTN's METADATA (and anything else queued) comes first
            status, answer = await self.post(session, "OadrPoll", self.poll_body, busy_raises=True)
            if _message_type(answer) == "oadrResponse":
                break
        status, answer = await self.post(session, "EiReport", self._register_report(), busy_raises=True)
        found = _REQUEST_ID.findall(answer)
        if not _code_ok(status, answer) or not found:
            raise VenRefused(f"{self.ven.ven_name}: oadrRegisterReport: HTTP {status} {answer[:300]!r}")
        self.report_request_id = found[0].decode()

    def _register_report(self) -> bytes:
        from openleadr.messaging import create_message

        description = {
            "r_id": R_ID, "report_type": "usage", "reading_type": "Direct Read",
            "report_data_source": {"resource_id": "meter"}, "measurement": None,
            "sampling_rate": {"min_period": timedelta(seconds=10), "max_period": timedelta(seconds=300),
                              "on_change": False},
        }  # fmt: skip
        report = {
            "report_specifier_id": SPECIFIER_ID, "report_name": "METADATA_TELEMETRY_USAGE",
            "created_date_time": datetime.now(UTC), "report_request_id": 0,
            "report_descriptions": [description],
        }  # fmt: skip
        return create_message(  # type: ignore[no-any-return]
            "oadrRegisterReport", request_id=f"rr-{self.ven.index}", ven_id=self.ven.ven_id, reports=[report]
        ).encode()

    async def poll(self, session: aiohttp.ClientSession) -> None:
        started = time.perf_counter()
        try:
            status, answer = await self.post(session, "OadrPoll", self.poll_body)
        except (aiohttp.ClientError, TimeoutError, OSError):
            self.result.poll_errors += 1
            return
        self.result.poll_latencies_s.append(time.perf_counter() - started)
        if not _code_ok(status, answer):
            self.result.poll_errors += 1
        elif _message_type(answer) != "oadrResponse":
            self.result.unexpected_messages += 1

    def sample(self, at: datetime) -> None:
        """A new telemetry value: unique per VEN and time, so stored values can be checked exactly."""
        self.samples += 1
        value = round(self.ven.index * 10_000 + self.samples + 0.25, 2)
        self.pending.append((at, value))
        self.result.sent.append((self.ven.ven_id, at.isoformat(), value))

    async def send_pending(self, session: aiohttp.ClientSession, record: bool = True) -> bool:
        if not self.pending:
            return True
        from openleadr.messaging import create_message

        intervals = [
            {"dtstart": at, "duration": timedelta(seconds=self.plan.telemetry_s),
             "report_payload": {"r_id": R_ID, "value": value}}
            for at, value in self.pending
        ]  # fmt: skip
        report = {
            "report_request_id": self.report_request_id, "report_specifier_id": SPECIFIER_ID,
            "report_name": "TELEMETRY_USAGE", "report_id": f"rep-{self.ven.index}-{self.samples}",
            "created_date_time": datetime.now(UTC), "dtstart": self.pending[0][0], "intervals": intervals,
        }  # fmt: skip
        body = create_message(
            "oadrUpdateReport", request_id=f"u-{self.samples}", ven_id=self.ven.ven_id, reports=[report]
        ).encode()
        started = time.perf_counter()
        try:
            status, answer = await self.post(session, "EiReport", body)
        except (aiohttp.ClientError, TimeoutError, OSError):
            self.result.report_errors += 1
            return False
        if record:
            self.result.report_latencies_s.append(time.perf_counter() - started)
        if not _code_ok(status, answer):
            self.result.report_errors += 1
            return False
        self.pending.clear()
        return True


def _ssl_context(ca_file: str | None, ven: SimVen) -> ssl.SSLContext | bool:
    if ven.cert_file is None:
        return False
    context = ssl.create_default_context(cafile=ca_file)
    context.load_cert_chain(ven.cert_file, ven.key_file)
    return context


async def _run_ven(
    sim: VenSim, session: aiohttp.ClientSession, start: float, end: float, rng: random.Random
) -> None:
    """Open loop: poll every poll_s and report every telemetry_s, each at this VEN's own phase."""
    loop = asyncio.get_running_loop()
    plan = sim.plan
    # The VEN goes on polling at its own cadence (a gap of more than the keep-alive would close
    # its connection: 20,000 VENs redrawing their phase at the window's start reconnected at once).
    last_poll_s = sim.last_poll_s if sim.last_poll_s is not None else start - rng.uniform(0, plan.poll_s)
    next_poll = last_poll_s + plan.poll_s
    while next_poll < start:
        next_poll += plan.poll_s
    next_report = start + rng.uniform(0, plan.telemetry_s)
    wall_offset = time.time() - loop.time()
    while min(next_poll, next_report) < end:
        due = min(next_poll, next_report)
        await asyncio.sleep(max(0.0, due - loop.time()))
        if due == next_report:
            at = datetime.fromtimestamp(round(due + wall_offset, 3), UTC)
            sim.sample(at)
            await sim.send_pending(session)
            next_report += plan.telemetry_s
        else:
            await sim.poll(session)
            next_poll += plan.poll_s
        # a late answer skips the slots it missed rather than bunching requests up
        now = loop.time()
        while next_poll < now:
            next_poll += plan.poll_s


async def _keep_warm(sim: VenSim, session: aiohttp.ClientSession, poll_s: float, stop: asyncio.Event) -> None:
    """Poll every poll_s, recording nothing (the window has not started), until `stop`; a poll in
    flight then finishes (cancelled, it would close the VEN's connection)."""
    loop = asyncio.get_running_loop()
    if await _stopped_within(stop, random.Random(sim.ven.index).uniform(0, poll_s)):
        return
    while True:
        sim.last_poll_s = loop.time()
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
            await sim.post(session, "OadrPoll", sim.poll_body)
        if await _stopped_within(stop, sim.last_poll_s + poll_s - loop.time()):
            return


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max(0.0, seconds))
    return stop.is_set()


async def _flush(sim: VenSim, session: aiohttp.ClientSession) -> None:
    for attempt in range(FLUSH_ATTEMPTS):
        if await sim.send_pending(session, record=False):
            return
        await asyncio.sleep(min(5.0, 0.5 * 2**attempt))
    sim.result.unflushed += len(sim.pending)


async def run_worker(plan: WorkerPlan, ready: Any, go: Any, start_wall: Any) -> WorkerResult:
    """Set every VEN up, report ready, wait for `go`, run until the common end, flush, return."""
    result = WorkerResult()
    # Each VEN keeps its TLS connection from one poll to the next (the VTN keeps an idle one
    # poll_s + 20 s, load.py): closed after 60 s idle, a 60 s poll found it closed, and the VTN
    # spent 44 % of its CPU on the full TLS handshakes of VENs reconnecting every minute.
    keepalive_s = plan.poll_s + 10.0
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=keepalive_s)
    timeout = aiohttp.ClientTimeout(total=30)  # a longer wait counts as an error
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sims = [VenSim(v, plan, _ssl_context(plan.ca_file, v), result) for v in plan.vens]
        semaphore = asyncio.Semaphore(plan.setup_concurrency)
        warm: list[asyncio.Task[None]] = []
        stop_warm = asyncio.Event()

        async def setup(sim: VenSim) -> VenSim | None:
            async with semaphore:
                attempt = busy = 0
                while True:  # a real VEN retries its registration
                    try:
                        await sim.setup(session)
                        break
                    except VtnBusy as exc:
                        busy += 1
                        result.setup_busy += 1
                        if busy == BUSY_ATTEMPTS:
                            result.setup_errors.append(f"{sim.ven.ven_name}: {exc} ({busy} times)")
                            return None
                        await asyncio.sleep(exc.retry_after_s * random.uniform(1.0, 1.5))
                    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                        attempt += 1
                        if attempt == SETUP_ATTEMPTS:
                            result.setup_errors.append(f"{sim.ven.ven_name}: {exc!r}"[:300])
                            return None
                        await asyncio.sleep(2.0 * attempt)
                    except VenRefused as exc:
                        result.setup_errors.append(str(exc)[:300])
                        return None
                # Real VENs keep their (TLS) connection alive by polling; without this, the
                # connections of VENs set up early would time out while the rest are set up
                # and all would reconnect at the start at once.
                warm.append(asyncio.create_task(_keep_warm(sim, session, plan.poll_s, stop_warm)))
                return sim

        ready_sims = [s for s in await asyncio.gather(*(setup(s) for s in sims)) if s is not None]
        ready.put(len(ready_sims))
        await asyncio.to_thread(go.wait)
        stop_warm.set()
        await asyncio.gather(*warm, return_exceptions=True)
        loop = asyncio.get_running_loop()
        start = loop.time() + (start_wall.value - time.time())
        end = start + plan.duration_s
        await asyncio.gather(
            *(_run_ven(s, session, start, end, random.Random(s.ven.index)) for s in ready_sims)
        )
        await asyncio.gather(*(_flush(s, session) for s in ready_sims))
    return result


def worker_main(plan: WorkerPlan, ready: Any, go: Any, start_wall: Any, results: Any) -> None:
    """Entry point of a worker process (multiprocessing, spawn)."""
    logging.basicConfig(level=logging.WARNING)
    # thousands of simulated gateways share this process: asyncio's 256 KiB read buffer per TLS
    # connection would cost 2.5 GB a 10,000 VENs (a real gateway has one connection)
    limit_tls_read_buffers()
    try:
        results.put(asyncio.run(run_worker(plan, ready, go, start_wall)))
    except Exception as exc:  # report, so the orchestrator does not wait forever
        log.exception("load worker failed")
        ready.put(0)
        results.put(f"worker failed: {exc!r}")
