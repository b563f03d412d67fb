"""The VTN app served on a free local port, for tests whose client is a real one over TCP (a
stock openleadr VEN, a peer process): `async with live_vtn(settings) as (base_url, app)`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from vtn.app import create_app
from vtn.settings import VtnSettings


@asynccontextmanager
async def live_vtn(settings: VtnSettings) -> AsyncIterator[tuple[str, web.Application]]:
    """`http://127.0.0.1:PORT` and the app; stopped when the block ends."""
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        await runner.cleanup()
