"""The VTN is SIGKILLed between committing a send and the VEN reading its reply (issue 10):
stock openleadr VENs still end with every event's latest modificationNumber and status.

The VENs reach the VTN through a small proxy. Once the operator has cancelled one event and
modified another (while the proxy holds the VENs' polls, so one distribute carries both), the
proxy passes the first poll reply that carries the cancellation back only after SIGKILLing the
VTN, and drops it: the VTN committed that send and died before the VEN had it. Polls of the
other VENs in flight then die with it. After the restart, each VEN must come to know exactly
what the VTN knows.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from fault_rig import VtnProcess, free_port
from openleadr import OpenADRClient
from sim_vens import provision
from test_vtn_kill_dispatch import CLIENT_WAIT_S, CONVERGE_S, Operator, event_body

pytestmark = [pytest.mark.slow]
VENS = 12
OPENADR = "/OpenADR2/Simple/2.0b"


class KillingProxy:
    """Forwards the VENs' OpenADR requests to the VTN; once armed, kills the VTN on the first
    poll reply that carries a cancellation and drops that reply."""

    def __init__(self, vtn: VtnProcess) -> None:
        self.vtn = vtn
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{OPENADR}"
        self.armed = False
        self.gate = asyncio.Event()
        self.gate.set()
        self.dropped: list[bytes] = []
        self.session: aiohttp.ClientSession | None = None
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CLIENT_WAIT_S))
        app = web.Application()
        app.router.add_post(OPENADR + "/{service}", self.forward)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.session is not None:
            await self.session.close()

    async def forward(self, request: web.Request) -> web.StreamResponse:
        await self.gate.wait()
        body = await request.read()
        assert self.session is not None
        try:
            async with self.session.post(
                f"{self.vtn.openadr}/{request.match_info['service']}",
                data=body,
                headers={"Content-Type": "application/xml"},
            ) as reply:
                data, status = await reply.read(), reply.status
        except (aiohttp.ClientError, OSError):
            return web.Response(status=502)  # the VTN is down: the VEN tries again later
        poll = request.match_info["service"] == "OadrPoll"
        if self.armed and poll and b"oadrDistributeEvent" in data and b"cancelled" in data:
            self.armed = False
            self.vtn.kill()  # after its commit, before the VEN has the reply
            self.dropped.append(body)
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=502)  # never arrives: the connection is gone
        return web.Response(body=data, status=status, content_type="application/xml")


async def stock_ven(name: str, url: str) -> OpenADRClient:
    client = OpenADRClient(ven_name=name, vtn_url=url, allow_jitter=False)

    async def opt_in(_event: dict[str, Any]) -> str:
        return "optIn"

    client.add_handler("on_event", opt_in)
    client.add_handler("on_update_event", opt_in)
    await client.run()
    assert client.registration_id, f"{name} did not register"
    return client


def known(client: OpenADRClient) -> dict[str, tuple[int, str]]:
    return {
        e["event_descriptor"]["event_id"]: (
            int(e["event_descriptor"]["modification_number"]),
            str(e["event_descriptor"]["event_status"]),
        )
        for e in client.received_events
    }


async def test_killed_vtn_loses_no_cancellation_or_modification(
    empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vtn.api.tokens import create_token

    monkeypatch.setenv("FLEXVPP_POLL_INTERVAL_SECONDS", "1")
    monkeypatch.setenv("FLEXVPP_OUTBOX_RESEND_SECONDS", "1")
    names = [f"stock-{i}" for i in range(VENS)]
    ven_ids = await provision(empty_db_url, names)
    token = await create_token(empty_db_url, "operator", name="fault test")
    vtn = VtnProcess(empty_db_url, tmp_path)
    await vtn.start()
    proxy = KillingProxy(vtn)
    await proxy.start()
    operator = Operator(vtn, token)
    clients: list[OpenADRClient] = []
    loop = asyncio.get_running_loop()
    try:
        clients = list(await asyncio.gather(*(stock_ven(n, proxy.url) for n in names)))
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CLIENT_WAIT_S)) as session:

            async def truth() -> dict[str, tuple[int, str]]:
                events = await operator.call(session, "GET", "/events")
                return {e["event_id"]: (e["modification_number"], e["status"]) for e in events}

            async def converged(timeout_s: float) -> dict[str, tuple[int, str]]:
                deadline = loop.time() + timeout_s
                while True:
                    want = await truth()
                    if all(known(c) == want for c in clients) or loop.time() > deadline:
                        return want
                    await asyncio.sleep(0.25)

            created = [
                await operator.call(session, "POST", "/events", event_body(ven_ids, n)) for n in range(3)
            ]
            before = await converged(CONVERGE_S)
            assert all(known(c) == before for c in clients), "the events did not reach every VEN"

            proxy.gate.clear()  # hold the polls: one distribute then carries both changes
            await operator.call(session, "DELETE", f"/events/{created[0]['event_id']}")
            await operator.call(session, "PATCH", f"/events/{created[1]['event_id']}", {"priority": 1})
            proxy.armed = True
            proxy.gate.set()
            for _ in range(100):
                if proxy.dropped:
                    break
                await asyncio.sleep(0.05)
            assert proxy.dropped, "no poll reply carried the cancellation"
            await vtn.start()
            want = await converged(CONVERGE_S)  # returns as soon as every VEN has it
    finally:
        for client in clients:
            await client.stop()
        await proxy.stop()
        vtn.stop()
    assert want == {
        created[0]["event_id"]: (1, "cancelled"),
        created[1]["event_id"]: (1, "far"),
        created[2]["event_id"]: (0, "far"),
    }
    wrong = {c.ven_name: known(c) for c in clients if known(c) != want}
    assert not wrong, f"{len(wrong)} of {VENS} VENs do not know what the VTN knows ({want}): {wrong}"
