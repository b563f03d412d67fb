"""One state, two protocols: an event a BL client makes over OpenADR 3.1 reaches a stock
openleadr 2.0b VEN as oadrDistributeEvent, and the VEN's optIn is stored against it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from live_vtn import live_vtn
from openleadr import OpenADRClient
from spec_check import check_reply

from aggregator.events import get_event
from aggregator.vens import NewVen, provision_ven
from vtn.app import SESSIONS
from vtn.db.uow import UnitOfWork
from vtn.openadr3.clients import cli_create_client
from vtn.settings import VtnSettings

pytestmark = [pytest.mark.slow, pytest.mark.db_backends("postgresql")]


@pytest.fixture
async def server(db_url: str) -> AsyncIterator[tuple[str, Any]]:
    settings = VtnSettings.model_validate(
        {"db_url": db_url, "vtn_id": "FLEXVPP-OA3", "poll_interval_seconds": 1}
    )
    async with live_vtn(settings) as (base, app):
        yield base, app[SESSIONS]


async def _call(session: aiohttp.ClientSession, method: str, url: str, path: str, **kw: Any) -> Any:
    async with session.request(method, url + "/openadr3" + path, **kw) as resp:
        body = await resp.json()
        check_reply(method, path, resp.status, body)
        assert resp.status < 300, body
        return body


async def test_a_bl_event_over_3_1_reaches_a_stock_openleadr_ven(
    server: tuple[str, Any], db_url: str
) -> None:
    base, sessions = server
    ven = await provision_ven(UnitOfWork(sessions), NewVen("stock-ven", "site-1"), datetime.now(UTC))
    seen: list[dict[str, Any]] = []

    async def on_event(event: dict[str, Any]) -> str:
        seen.append(event)
        return "optIn"

    client = OpenADRClient(ven_name="stock-ven", vtn_url=f"{base}/OpenADR2/Simple/2.0b")
    client.add_handler("on_event", on_event)
    await client.run()
    try:
        bl = await cli_create_client(db_url, "bl", None)
        async with aiohttp.ClientSession() as http:
            form = {
                "grant_type": "client_credentials",
                "client_id": bl.client_id,
                "client_secret": bl.client_secret,
            }
            token = (await _call(http, "POST", base, "/auth/token", data=form))["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            program = await _call(
                http, "POST", base, "/programs", json={"programName": "urn:dso:grid-aware"}, headers=auth
            )
            start = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
            body = {
                "programID": program["id"],
                "targets": ["stock-ven"],
                "intervalPeriod": {"start": start.isoformat(), "duration": "PT30M"},
                "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.31]}]}],
            }
            event = await _call(http, "POST", base, "/events", json=body, headers=auth)

        deadline = asyncio.get_running_loop().time() + 30
        while not any(e["event_descriptor"]["event_id"] == event["id"] for e in seen):
            assert asyncio.get_running_loop().time() < deadline, "the VEN never received the 3.1 event"
            await asyncio.sleep(0.2)
        received = next(e for e in seen if e["event_descriptor"]["event_id"] == event["id"])
        assert received["event_descriptor"]["market_context"] == "urn:dso:grid-aware"
        signal = received["event_signals"][0]
        assert (signal["signal_name"], signal["signal_type"]) == ("ELECTRICITY_PRICE", "price")
        assert signal["intervals"][0]["signal_payload"] == pytest.approx(0.31)

        async def opted_in() -> bool:
            info = await get_event(UnitOfWork(sessions), event["id"], datetime.now(UTC))
            return info.responses.get(ven.ven_id) == "optIn"

        while not await opted_in():
            assert asyncio.get_running_loop().time() < deadline, "the VEN's optIn never arrived"
            await asyncio.sleep(0.2)
    finally:
        await client.stop()
