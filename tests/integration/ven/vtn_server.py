"""The project's VTN in-process on a free port (a fresh SQLite database), for the VEN's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from ven_broker import free_port


class VtnServer:
    def __init__(self, tmp: Path, **settings: Any) -> None:
        from vtn.settings import VtnSettings

        self.port = free_port()
        self.db_url = f"sqlite:///{tmp / 'vtn.db'}"
        self.settings = VtnSettings(db_url=self.db_url, port=self.port, **settings)
        self.base = f"http://127.0.0.1:{self.port}"
        self.openadr_url = self.base + self.settings.openadr_path
        self.token = ""
        self._runner: web.AppRunner | None = None

    async def setup(self) -> None:
        import asyncio

        from vtn.api.tokens import create_token
        from vtn.db.migrate import upgrade

        await asyncio.to_thread(upgrade, self.db_url)  # it runs its own event loop
        self.token = await create_token(self.db_url, role="operator", name="ven-tests")

    async def start(self) -> None:
        from vtn.app import create_app

        self._runner = web.AppRunner(create_app(self.settings))
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def api(
        self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, f"{self.base}/api/v1{path}", json=body, params=params, headers=headers
            ) as reply,
        ):
            data = await reply.json()
            if reply.status >= 300:
                raise AssertionError(f"{method} {path}: {reply.status} {data}")
            return data
