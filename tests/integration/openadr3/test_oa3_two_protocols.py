"""One state, two protocols (issue 16, Done when 3): the same event, made by a BL client over
OpenADR 3.1, reaches a stock openleadr 2.0b VEN (oadrDistributeEvent) and a 3.1 VEN (a webhook
notification of its subscription, and the event object), and both VENs' reports come back in one
telemetry query of the REST API (GET /api/v1/telemetry)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from live_vtn import live_vtn
from openleadr import OpenADRClient
from spec_check import check_reply

from aggregator.vens import NewVen, provision_ven
from vtn.api.tokens import create_token
from vtn.db.engine import open_database
from vtn.db.uow import UnitOfWork
from vtn.openadr3.clients import cli_create_client
from vtn.settings import VtnSettings

pytestmark = [pytest.mark.slow, pytest.mark.db_backends("postgresql")]


async def wait_for(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 40.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (found := await check()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)
    return found


@pytest.fixture
async def server(db_url: str) -> AsyncIterator[str]:
    settings = VtnSettings.model_validate(
        {
            "db_url": db_url,
            "vtn_id": "FLEXVPP-TWO",
            "poll_interval_seconds": 1,
            "report_interval_seconds": 2,
            "webhook_poll_seconds": 0.2,
            "portfolio_loop": False,
        }
    )
    async with live_vtn(settings) as (base, _app):
        yield base


class Oa3:
    """A 3.1 client over HTTP with its token; every reply checked against the spec."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base, self.auth = http, base, {}

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        async with self.http.request(method, f"{self.base}/openadr3{path}", headers=self.auth, **kw) as resp:
            body = await resp.json()
            check_reply(method, path, resp.status, body)
            assert resp.status < 300, body
            return body

    async def login(self, client_id: str, secret: str) -> Oa3:
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        self.auth = {
            "Authorization": f"Bearer {(await self.call('POST', '/auth/token', data=form))['access_token']}"
        }
        return self


async def test_one_event_reaches_a_2_0b_and_a_3_1_ven_and_both_report_into_one_telemetry(
    server: str, db_url: str
) -> None:
    base = server
    now = datetime.now(UTC)
    async with open_database(db_url) as sessions:
        stock = await provision_ven(UnitOfWork(sessions), NewVen("stock-ven", "site-stock"), now)
    heard_2_0b: list[dict[str, Any]] = []

    async def on_event(event: dict[str, Any]) -> str:
        heard_2_0b.append(event)
        return "optIn"

    openleadr_ven = OpenADRClient(ven_name="stock-ven", vtn_url=f"{base}/OpenADR2/Simple/2.0b")
    openleadr_ven.add_handler("on_event", on_event)
    openleadr_ven.add_report(
        callback=lambda: 1.25,
        resource_id="meter",
        measurement="power",
        report_name="TELEMETRY_USAGE",
        sampling_rate=timedelta(seconds=2),
    )

    heard_3_1: list[tuple[str | None, dict[str, Any]]] = []

    async def callback(request: web.Request) -> web.Response:
        heard_3_1.append((request.headers.get("Authorization"), await request.json()))
        return web.Response()

    receiver_app = web.Application()
    receiver_app.router.add_post("/oa3-ven/notify", callback)
    receiver = web.AppRunner(receiver_app)
    await receiver.setup()
    receiver_site = web.TCPSite(receiver, "127.0.0.1", 0)
    await receiver_site.start()
    receiver_port = receiver_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    await openleadr_ven.run()
    try:
        bl_client = await cli_create_client(db_url, "bl", None)
        ven_client = await cli_create_client(db_url, "ven", "oa3-ven")
        async with aiohttp.ClientSession() as http:
            bl = await Oa3(http, base).login(bl_client.client_id, bl_client.client_secret)
            ven = await Oa3(http, base).login(ven_client.client_id, ven_client.client_secret)
            program = await bl.call("POST", "/programs", json={"programName": "urn:dso:two-protocols"})
            oa3_ven = await ven.call(
                "POST", "/vens", json={"objectType": "VEN_VEN_REQUEST", "venName": "oa3-ven"}
            )
            subscription = {
                "clientName": "oa3-ven",
                "programID": program["id"],
                "objectOperations": [
                    {
                        "objects": ["EVENT"],
                        "operations": ["CREATE", "UPDATE"],
                        "callbackUrl": f"http://127.0.0.1:{receiver_port}/oa3-ven/notify",
                        "bearerToken": "oa3-ven-secret",
                    }
                ],
            }
            await ven.call("POST", "/subscriptions", json=subscription)

            start = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
            event = await bl.call(
                "POST",
                "/events",
                json={
                    "programID": program["id"],
                    "targets": ["stock-ven", "oa3-ven"],
                    "intervalPeriod": {"start": start.isoformat(), "duration": "PT30M"},
                    "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.27]}]}],
                },
            )

            # 2.0b: the stock VEN receives it as oadrDistributeEvent.
            got = await wait_for(
                lambda: _first(heard_2_0b, lambda e: e["event_descriptor"]["event_id"] == event["id"]),
                "the 2.0b VEN's event",
            )
            assert got["event_signals"][0]["intervals"][0]["signal_payload"] == pytest.approx(0.27)
            # 3.1: the VEN's subscription is notified (with its bearer token) and it reads the event.
            token, note = await wait_for(
                lambda: _first(heard_3_1, lambda h: h[1]["object"]["id"] == event["id"]),
                "the 3.1 notification",
            )
            assert token == "Bearer oa3-ven-secret"
            assert (note["objectType"], note["operation"]) == ("EVENT", "CREATE")
            assert note["object"]["intervals"][0]["payloads"] == [{"type": "PRICE", "values": [0.27]}]
            seen = await ven.call("GET", f"/events?programID={program['id']}")
            assert [e["id"] for e in seen] == [event["id"]]

            # Both report: the 3.1 VEN over /reports, the 2.0b VEN its TELEMETRY_USAGE.
            report = {
                "programID": program["id"],
                "eventID": event["id"],
                "clientName": "oa3-ven",
                "resources": [
                    {
                        "resourceName": "meter-1",
                        "intervalPeriod": {"start": start.isoformat(), "duration": "PT15M"},
                        "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": [2.5]}]}],
                    }
                ],
            }
            await ven.call("POST", "/reports", json=report)

            operator = await create_token(db_url, "operator", name="two-protocols")
            query = f"{base}/api/v1/telemetry?ven_ids={stock.ven_id},{oa3_ven['id']}"

            async def both() -> list[dict[str, Any]] | None:
                async with http.get(query, headers={"Authorization": f"Bearer {operator}"}) as resp:
                    assert resp.status == 200, await resp.text()
                    points = await resp.json()
                return points if {p["ven_id"] for p in points} == {stock.ven_id, oa3_ven["id"]} else None

            points = await wait_for(both, "both VENs' reports in one telemetry query")
            by_ven = {p["ven_id"]: p for p in reversed(points)}
            assert (by_ven[oa3_ven["id"]]["r_id"], by_ven[oa3_ven["id"]]["value"]) == ("meter-1/USAGE", 2.5)
            assert by_ven[stock.ven_id]["value"] == 1.25
            assert by_ven[stock.ven_id]["report_name"] == "TELEMETRY_USAGE"
    finally:
        await openleadr_ven.stop()
        await receiver.cleanup()


async def _first(items: list[Any], match: Callable[[Any], bool]) -> Any:
    return next((item for item in items if match(item)), None)
