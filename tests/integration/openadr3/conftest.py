"""OpenADR 3.1 fixtures: the whole VTN app on each backend, and BL and VEN clients with tokens."""

from __future__ import annotations

from typing import Any

import pytest
from oa3_client import Oa3Client, token_for

from vtn.app import create_app
from vtn.openadr3.clients import cli_create_client
from vtn.settings import VtnSettings


@pytest.fixture
def settings(db_url: str) -> VtnSettings:
    return VtnSettings(db_url=db_url)


@pytest.fixture
async def http(aiohttp_client: Any, settings: VtnSettings) -> Any:
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def bl(http: Any, db_url: str) -> Oa3Client:
    client = await cli_create_client(db_url, "bl", None)
    return Oa3Client(http, await token_for(http, client.client_id, client.client_secret))
