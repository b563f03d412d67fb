"""REST API fixtures: the whole VTN app on each backend, tokens, and a client that checks every
response it receives against the served OpenAPI document (documented status, schema-valid body)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vtn_api_client import API, CheckedApi

from vtn.api.tokens import create_token
from vtn.app import create_app
from vtn.db.engine import create_engine
from vtn.settings import VtnSettings


@pytest.fixture
def settings(db_url: str) -> VtnSettings:
    return VtnSettings(db_url=db_url)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Direct database access for checks the API does not expose."""
    engine = create_engine(db_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture
async def operator_token(db_url: str) -> str:
    return await create_token(db_url, "operator", name="test operator")


@pytest.fixture
async def api(aiohttp_client: Any, settings: VtnSettings, operator_token: str) -> CheckedApi:
    client = await aiohttp_client(create_app(settings))
    async with client.get(f"{API}/openapi.json") as resp:
        assert resp.status == 200
        doc = await resp.json()
    return CheckedApi(client, doc, operator_token)
