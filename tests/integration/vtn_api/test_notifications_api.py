"""The households' webhooks through the real VTN app: a real aiohttp receiver that fails each
notification's first attempt and deduplicates by id gets every notification exactly once, signed
with the secret the household was shown; a customer reaches its own site only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from vtn_api_client import CheckedApi

from aggregator.notification_records import NotificationKind
from aggregator.notifications import notify
from aggregator.webhook_signature import SIGNATURE_HEADER, verify
from vtn.api.tokens import create_token
from vtn.db.uow import Sessions, UnitOfWork
from vtn.settings import VtnSettings

pytestmark = pytest.mark.db_backends("sqlite")  # the database's part is in tests/integration/db
WAIT_S = 30.0  # only stops a hang


@pytest.fixture
def settings(db_url: str) -> VtnSettings:
    return VtnSettings(
        db_url=db_url, webhook_poll_seconds=0.05, webhook_first_retry_seconds=0.1, portfolio_loop=False
    )


@dataclass
class Receiver:
    """The household's app backend: answers 503 to the first attempt of each id, then 200, and
    processes each id once (the dedup the id is for)."""

    secret: str = ""
    attempts: dict[str, int] = field(default_factory=dict)
    processed: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()  # the raw bytes: the signature covers them, not a re-encoding
        if not verify(self.secret, body, request.headers.get(SIGNATURE_HEADER)):
            self.bad_signatures += 1
            return web.Response(status=401)
        note = json.loads(body)
        self.attempts[note["id"]] = self.attempts.get(note["id"], 0) + 1
        if self.attempts[note["id"]] == 1:
            return web.Response(status=503)
        if all(p["id"] != note["id"] for p in self.processed):
            self.processed.append(note)
        return web.Response(status=204)


@pytest.fixture
async def receiver(aiohttp_server: Any) -> AsyncIterator[tuple[Receiver, str]]:
    got = Receiver()
    app = web.Application()
    app.router.add_post("/hook", got.hook)
    server = await aiohttp_server(app)
    yield got, str(server.make_url("/hook"))


async def _provision(api: CheckedApi, *sites: str) -> None:
    for site in sites:
        reply = await api.call("POST", "/vens", json={"ven_name": f"gw-{site}", "site_id": site})
        assert reply.status == 201, reply.json


async def _settled(api: CheckedApi, site: str, token: str, count: int) -> list[dict[str, Any]]:
    """The site's notifications once `count` of them are delivered (or WAIT_S passed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        listed = (await api.call("GET", f"/sites/{site}/notifications", token=token)).json
        if sum(n["state"] == "delivered" for n in listed) >= count or loop.time() > deadline:
            return listed
        await asyncio.sleep(0.05)


async def test_a_failed_attempt_is_retried_and_each_notification_arrives_once_signed(
    api: CheckedApi, sessions: Sessions, db_url: str, receiver: tuple[Receiver, str]
) -> None:
    got, url = receiver
    await _provision(api, "site-a", "site-b")
    customer = await create_token(db_url, "customer", name="household a", site_id="site-a")
    put = await api.call("PUT", "/sites/site-a/webhook", token=customer, json={"url": url})
    assert put.status == 201 and put.json["url"] == url
    got.secret = put.json["secret"]
    assert got.secret
    shown = await api.call("GET", "/sites/site-a/webhook", token=customer)
    assert shown.json["secret"] is None  # shown once
    again = await api.call("PUT", "/sites/site-a/webhook", token=customer, json={"url": url})
    assert again.json["secret"] is None  # the URL only: the secret stays

    now = datetime.now(UTC)
    queued = [
        await notify(UnitOfWork(sessions), "site-a", kind, {"n": i}, now)
        for i, kind in enumerate([NotificationKind.CHARGING_STARTED, NotificationKind.CAPACITY_PEAK_RISK])
    ]
    assert await notify(UnitOfWork(sessions), "site-b", NotificationKind.CHARGING_STOPPED, {}, now) is None
    listed = await _settled(api, "site-a", customer, 2)

    ids = sorted(q.id for q in queued if q is not None)
    assert sorted(p["id"] for p in got.processed) == ids  # each exactly once after dedup
    assert got.attempts == {i: 2 for i in ids}  # the first failed, the retry was acknowledged
    assert got.bad_signatures == 0
    assert {p["kind"] for p in got.processed} == {"charging_started", "capacity_peak_risk"}
    assert all(set(p) == {"id", "kind", "site_id", "created_at", "data"} for p in got.processed)
    assert [(n["state"], n["attempts"], n["last_error"], n["next_attempt_at"]) for n in listed] == [
        ("delivered", 2, None, None)
    ] * 2

    rotated = await api.call("POST", "/sites/site-a/webhook/secret", token=customer)
    assert rotated.status == 201 and rotated.json["secret"] != got.secret
    old, got.secret = got.secret, rotated.json["secret"]
    late = await notify(
        UnitOfWork(sessions), "site-a", NotificationKind.TARGET_AT_RISK, {}, datetime.now(UTC)
    )
    await _settled(api, "site-a", customer, 3)
    assert late is not None and got.attempts[late.id] == 2 and got.bad_signatures == 0
    assert old != got.secret


async def test_a_customer_reaches_only_its_own_sites_notifications_and_webhook(
    api: CheckedApi, db_url: str, receiver: tuple[Receiver, str]
) -> None:
    _, url = receiver
    await _provision(api, "site-a", "site-b")
    customer = await create_token(db_url, "customer", name="household a", site_id="site-a")
    assert (await api.call("PUT", "/sites/site-b/webhook", json={"url": url})).status == 201  # operator
    for method, path, body in [
        ("GET", "/sites/site-b/notifications", None),
        ("PUT", "/sites/site-b/webhook", {"url": url}),
        ("GET", "/sites/site-b/webhook", None),
        ("POST", "/sites/site-b/webhook/secret", None),
        ("DELETE", "/sites/site-b/webhook", None),
        ("GET", "/sites/site-x/notifications", None),  # a site that does not exist: the same answer
        ("PUT", "/sites/site-x/webhook", {"url": url}),
    ]:
        reply = await api.call(method, path, token=customer, json=body)
        assert reply.status == 404, (method, path, reply.json)
    assert (await api.call("GET", "/sites/site-b/notifications")).status == 200  # the operator sees it
    assert (await api.call("GET", "/sites/site-a/webhook", token=customer)).status == 404  # none yet


@pytest.mark.parametrize(
    "body",
    [{"url": "ftp://app.example/h"}, {"url": "https://"}, {"url": "not a url"}, {"url": ""}, {}, {"url": 5},
     {"url": "https://a.example/", "secret": "mine"}],
)  # fmt: skip
async def test_a_bad_webhook_is_a_422_naming_the_field(api: CheckedApi, body: dict[str, Any]) -> None:
    await _provision(api, "site-a")
    reply = await api.call("PUT", "/sites/site-a/webhook", json=body)
    assert reply.status == 422, reply.json
    assert any(e["field"] in ("url", "secret") for e in reply.json["errors"]), reply.json
    assert (await api.call("GET", "/sites/site-a/webhook")).status == 404


async def test_the_list_takes_a_state_and_a_limit(api: CheckedApi, sessions: Sessions) -> None:
    await _provision(api, "site-a")
    assert (await api.call("PUT", "/sites/site-a/webhook", json={"url": "http://127.0.0.1:9/"})).status == 201
    for _ in range(3):
        await notify(UnitOfWork(sessions), "site-a", NotificationKind.SCHEDULE_CHANGED, {}, datetime.now(UTC))
    listed = await api.call("GET", "/sites/site-a/notifications?state=pending&limit=2")
    assert listed.status == 200 and len(listed.json) == 2 and {n["state"] for n in listed.json} == {"pending"}
    for query in ("state=lost", "limit=0", "limit=x", "colour=red"):
        assert (await api.call("GET", f"/sites/site-a/notifications?{query}")).status == 422, query
