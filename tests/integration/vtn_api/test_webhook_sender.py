"""vtn/notifications.py's aiohttp sender against a real server: what counts as an answer."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from vtn.notifications import AiohttpWebhookSender, delivery_policy
from vtn.settings import VtnSettings


async def _server(aiohttp_server: Any) -> tuple[str, list[str]]:
    hits: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        if request.path == "/moved":
            raise web.HTTPFound("/elsewhere")
        if request.path == "/slow":
            await asyncio.sleep(5)
        return web.Response(status=202 if request.path == "/ok" else 500)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/"), hits


async def test_a_2xx_acknowledges_a_redirect_is_not_followed_and_a_silence_is_an_error(
    aiohttp_server: Any,
) -> None:
    base, hits = await _server(aiohttp_server)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as client:
        sender = AiohttpWebhookSender(client)
        ok = await sender.send(f"{base}/ok", b"{}", {"Content-Type": "application/json"})
        moved = await sender.send(f"{base}/moved", b"{}", {})
        failed = await sender.send(f"{base}/fail", b"{}", {})
        slow = await sender.send(f"{base}/slow", b"{}", {})
        refused = await sender.send("http://127.0.0.1:9/", b"{}", {})
    assert (ok.status, ok.acknowledged, ok.error) == (202, True, None)
    assert (moved.status, moved.acknowledged) == (302, False)
    assert "/elsewhere" not in hits  # the signed body went nowhere else
    assert (failed.status, failed.error) == (500, "HTTP 500")
    assert (slow.status, slow.error) == (None, "no answer within the timeout")
    assert refused.status is None and refused.error and "Connect" in refused.error


def test_the_policy_follows_the_settings_on_the_vtn_clock() -> None:
    policy = delivery_policy(
        VtnSettings(webhook_timeout_seconds=3, webhook_first_retry_seconds=2, clock_speed=10)
    )
    assert (policy.send_timeout.total_seconds(), policy.first_retry.total_seconds()) == (30, 20)
    assert policy.claim > policy.send_timeout
