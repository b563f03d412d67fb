"""Stopping the agent while a report is in flight: the scheduler's cancelled job ends quietly
(apscheduler logged each as a failed job with a traceback at the end of every demo)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from ven_rig import Rig

from ven.agent.buffer import TelemetryBuffer
from ven.agent.vtn_client import VenClient

OPENADR = "/OpenADR2/Simple/2.0b"


async def test_a_request_cancelled_by_stop_returns_nothing_instead_of_raising(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    arrived = asyncio.Event()

    async def slow_vtn(request: web.Request) -> web.Response:
        arrived.set()
        await asyncio.sleep(30)  # the VTN is busy: the request is still in flight at stop()
        return web.Response(status=500)

    app = web.Application()
    app.router.add_post(OPENADR + "/{service}", slow_vtn)
    server = await aiohttp_server(app)
    client = VenClient(
        Rig().core, TelemetryBuffer(tmp_path / "buffer.db"), "ven-test", f"{server.make_url(OPENADR)}"
    )
    request = asyncio.create_task(client.send("OadrPoll", "oadrPoll", ven_id="ven-test"))
    await asyncio.wait_for(arrived.wait(), timeout=10)

    stopping = asyncio.create_task(client.stop())
    await asyncio.sleep(0)  # stop() has begun: it shuts the scheduler down, which cancels its jobs
    request.cancel()

    assert await request == (None, {})
    await stopping
