"""A test client of the OpenADR 3.1 face that checks every reply against the spec (spec_check)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient
from spec_check import check_reply

BASE = "/openadr3"


@dataclass
class Reply:
    status: int
    json: Any
    headers: dict[str, str]


class Oa3Client:
    """Calls /openadr3 with a bearer token; asserts each reply is one the spec documents."""

    def __init__(self, client: TestClient, token: str | None) -> None:
        self.client = client
        self.token = token

    async def call(self, method: str, path: str, *, check: bool = True, **kwargs: Any) -> Reply:
        headers = dict(kwargs.pop("headers", {}))
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        async with self.client.request(method, BASE + path, headers=headers, **kwargs) as resp:
            body = await resp.json() if resp.content_type == "application/json" else await resp.text()
            reply = Reply(resp.status, body, dict(resp.headers))
        if check:
            check_reply(method, path, reply.status, reply.json)
        return reply

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: Any, **kw: Any) -> Reply:
        return await self.call("POST", path, json=body, **kw)

    async def put(self, path: str, body: Any, **kw: Any) -> Reply:
        return await self.call("PUT", path, json=body, **kw)

    async def delete(self, path: str, **kw: Any) -> Reply:
        return await self.call("DELETE", path, **kw)


async def token_for(client: TestClient, client_id: str, secret: str, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    if scope is not None:
        form["scope"] = scope
    async with client.post(f"{BASE}/auth/token", data=form) as resp:
        body = await resp.json()
        check_reply("POST", "/auth/token", resp.status, body)
        assert resp.status == 200, body
        return str(body["access_token"])


async def ven_client(client: TestClient, db_url: str, ven_name: str | None) -> Oa3Client:
    """A new VEN client (acting for `ven_name`) with its token. Here, not in conftest.py: a test
    module's `from conftest import ...` finds whichever conftest was imported first when the whole
    suite runs."""
    from vtn.openadr3.clients import cli_create_client

    made = await cli_create_client(db_url, "ven", ven_name)
    return Oa3Client(client, await token_for(client, made.client_id, made.client_secret))
