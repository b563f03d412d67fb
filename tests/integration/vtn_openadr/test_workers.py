"""`flexvpp vtn serve --workers N`: processes sharing one port, one set of background jobs.

The first test runs the real command with two workers and sends real HTTP requests, picking the
worker by reconnecting until the `X-VTN-Worker` header names the one wanted. The second builds a
primary and a secondary worker's app in this process (as `vtn/server.py` does in each worker) and
checks that only the primary runs the portfolio loop, while the secondary forwards to it.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openleadr.messaging import create_message
from sqlalchemy import func, select

from flexvpp.bench.servers import free_port
from vtn.app import SESSIONS, create_app
from vtn.db.tables import PlanningRun
from vtn.portfolio.loop import PORTFOLIO, PortfolioLoop
from vtn.portfolio.remote import RemotePortfolio
from vtn.server import Worker
from vtn.settings import VtnSettings

OPENADR = "/OpenADR2/Simple/2.0b"
XML = {"Content-Type": "application/xml"}
pytestmark = pytest.mark.slow


@pytest.fixture
async def two_workers(db_url: str, tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    log = (tmp_path / "vtn.log").open("wb")
    argv = [
        sys.executable,
        "-m",
        "flexvpp",
        "vtn",
        "serve",
        "--db",
        db_url,
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # only stops a hang
        seen: set[str] = set()
        while seen != {"0", "1"}:  # both workers listen
            assert process.poll() is None, (tmp_path / "vtn.log").read_text()
            assert time.monotonic() < deadline, f"workers seen: {seen}"
            try:
                seen.add(await _worker_of_new_connection(base))
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert process.returncode == 0, (tmp_path / "vtn.log").read_text()


async def _worker_of_new_connection(base: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api/v1/health") as reply:
        return reply.headers["X-VTN-Worker"]


async def _session_on(base: str, worker: str) -> aiohttp.ClientSession:
    """A session whose one keep-alive connection is served by `worker`."""
    for _ in range(200):  # the kernel spreads new connections over the workers
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
        async with session.get(f"{base}/api/v1/health") as reply:
            if reply.headers["X-VTN-Worker"] == worker:
                return session
        await session.close()
    raise AssertionError(f"no connection reached worker {worker}")


async def _post(session: aiohttp.ClientSession, base: str, service: str, body: str) -> tuple[str, str]:
    async with session.post(f"{base}{OPENADR}/{service}", data=body.encode(), headers=XML) as reply:
        assert reply.status == 200
        return reply.headers["X-VTN-Worker"], await reply.text()


async def test_two_workers_share_the_port_and_see_each_others_registrations(
    db_url: str, two_workers: str
) -> None:
    from flexvpp.bench.load import _provision

    base = two_workers
    [ven_id] = await _provision(db_url, ["ven-two-workers"], [None])
    on_0, on_1 = await _session_on(base, "0"), await _session_on(base, "1")
    try:
        registration = create_message(
            "oadrCreatePartyRegistration", request_id="r1", ven_name="ven-two-workers",
            http_pull_model=True, xml_signature=False, report_only=False, profile_name="2.0b",
            transport_name="simpleHttp", transport_address=None,
        )  # fmt: skip
        worker, answer = await _post(on_0, base, "EiRegisterParty", registration)
        assert worker == "0" and ven_id in answer and "<ei:responseCode>200<" in answer

        # The other worker knows the registration at once (its cache falls back to the database):
        # the poll is answered, not refused with 463. Whether with an empty oadrResponse or already
        # with the VTN's oadrRegisterReport (queued at registration) depends on whether worker 1's
        # periodic cache reload came in between: both are right.
        worker, answer = await _post(on_1, base, "OadrPoll", create_message("oadrPoll", ven_id=ven_id))
        assert worker == "1" and "<ei:responseCode>463<" not in answer, answer
        assert "<ei:responseCode>200<" in answer or "oadrRegisterReport" in answer, answer
        report = create_message(
            "oadrRegisterReport", request_id="rr1", ven_id=ven_id, reports=[]
        )  # an empty METADATA: registered, so 200 (an unregistered VEN gets 463)
        worker, answer = await _post(on_1, base, "EiReport", report)
        assert worker == "1" and "<ei:responseCode>200<" in answer, answer
    finally:
        await on_0.close()
        await on_1.close()


async def test_only_the_primary_runs_background_jobs(db_url: str, aiohttp_client: Any) -> None:
    from vtn.api.tokens import create_token

    settings = VtnSettings.model_validate({"db_url": db_url})
    with tempfile.TemporaryDirectory() as tmp:  # short: a Unix socket path has a length limit
        control = str(Path(tmp) / "primary.sock")
        primary = create_app(settings, Worker(0, 2, control))
        secondary = create_app(settings, Worker(1, 2, control))
        await aiohttp_client(primary)
        client = await aiohttp_client(secondary)

        loop, remote = primary[PORTFOLIO], secondary[PORTFOLIO]
        assert type(loop) is PortfolioLoop and isinstance(remote, RemotePortfolio)
        assert {t.get_name() for t in loop._tasks} == {"portfolio-runs", "portfolio-watch"}
        assert remote._tasks == [] and remote._pool is None, "a secondary worker plans nothing itself"

        token = await create_token(db_url, role="operator")
        reply = await client.post("/api/v1/portfolio/plan", headers={"Authorization": f"Bearer {token}"})
        assert reply.status == 200, await reply.text()
        run_id = (await reply.json())["run_id"]
        assert loop.last_run is not None and loop.last_run.run_id == run_id, "the primary ran it"
        async with primary[SESSIONS]() as session:
            runs = await session.scalar(select(func.count()).select_from(PlanningRun))
        assert runs == 1
        assert re.fullmatch(r"[\w-]+", run_id)
        # The flexibility offer is read on any worker (that run had no homes: nothing to offer).
        auth = {"Authorization": f"Bearer {token}"}
        offer = await client.get("/api/v1/portfolio/flexibility", headers=auth)
        assert offer.status == 404, await offer.text()
