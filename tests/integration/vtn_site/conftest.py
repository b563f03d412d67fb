"""Site-entry fixtures: the whole VTN app on each backend (SQLite and PostgreSQL) on a real
port, an operator token, and the REST API suite's client that checks every reply against the
served OpenAPI document."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from vtn.api.tokens import create_token
from vtn.app import SESSIONS, create_app
from vtn.settings import VtnSettings

# The OpenAPI-checking client lives with the REST API's tests; reuse it rather than copy it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "vtn_api"))
from site_messages import OPENADR, SiteVtn
from vtn_api_client import API, CheckedApi


@pytest.fixture
async def vtn(db_url: str, aiohttp_client: Any) -> SiteVtn:
    settings = VtnSettings.model_validate(
        {"db_url": db_url, "poll_interval_seconds": 1, "report_interval_seconds": 60}
    )
    app = create_app(settings)
    client = await aiohttp_client(app)
    token = await create_token(db_url, "operator", name="site tests")
    async with client.get(f"{API}/openapi.json") as resp:
        assert resp.status == 200
        doc = await resp.json()
    return SiteVtn(CheckedApi(client, doc, token), app[SESSIONS], str(client.make_url(OPENADR)), db_url)
