"""The VTN is SIGKILLed with webhook notifications pending (issue 12): some failed and waiting for
their retry, some in flight (the receiver has processed them, its 2xx never reaches the VTN).
Restarted on the same database, the VTN delivers every one: none is lost, each id arrives at least
once, and the receiver, deduplicating by id, processes each exactly once.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from fault_rig import VtnProcess, free_port
from sim_vens import provision

from aggregator.notification_records import NotificationKind
from aggregator.notifications import notify
from aggregator.webhook_signature import SIGNATURE_HEADER, verify
from vtn.db.engine import open_database
from vtn.db.uow import UnitOfWork

pytestmark = [pytest.mark.slow]
NOTIFICATIONS = 20
HELD = 5  # in flight at the kill: processed by the receiver, never acknowledged to the VTN
WAIT_S = 60.0  # only stops a hang


@dataclass
class Receiver:
    """The household's app backend. Before the kill: holds the first HELD ids' requests open once
    it has processed them, answers 503 to the others. After: 200 to all, processing each id once."""

    secret: str = ""
    healthy: bool = False
    attempts: dict[str, int] = field(default_factory=dict)
    processed: list[str] = field(default_factory=list)
    held: set[str] = field(default_factory=set)
    bad_signatures: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def hook(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if not verify(self.secret, body, request.headers.get(SIGNATURE_HEADER)):
            self.bad_signatures += 1
            return web.Response(status=401)
        note_id = json.loads(body)["id"]
        self.attempts[note_id] = self.attempts.get(note_id, 0) + 1
        if not self.healthy and note_id not in self.held and len(self.held) >= HELD:
            return web.Response(status=503)
        if note_id not in self.processed:
            self.processed.append(note_id)
        if not self.healthy and note_id not in self.held:
            self.held.add(note_id)
            await self.release.wait()  # the VTN dies meanwhile: this 2xx reaches nobody
        return web.Response(status=200)


async def _until(condition: Any, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_killed_vtn_loses_no_notification(
    empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vtn.api.tokens import create_token

    # A claim lasts 2 timeouts + 5 s (aggregator/notifications.py): the in-flight ones are due
    # again 13 s after their send. Retries of the failed ones come within a second.
    monkeypatch.setenv("FLEXVPP_WEBHOOK_TIMEOUT_SECONDS", "4")
    monkeypatch.setenv("FLEXVPP_WEBHOOK_POLL_SECONDS", "0.1")
    monkeypatch.setenv("FLEXVPP_WEBHOOK_FIRST_RETRY_SECONDS", "0.2")
    monkeypatch.setenv("FLEXVPP_WEBHOOK_MAX_RETRY_SECONDS", "1")
    await provision(empty_db_url, ["home"])  # a VEN for site "site-home"
    token = await create_token(empty_db_url, "operator", name="fault test")
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    vtn = VtnProcess(empty_db_url, tmp_path)
    try:
        await vtn.start()
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as client:
            async with client.put(
                f"{vtn.base}/api/v1/sites/site-home/webhook", json={"url": f"http://127.0.0.1:{port}/hook"}
            ) as reply:
                assert reply.status == 201, await reply.text()
                receiver.secret = (await reply.json())["secret"]
            async with open_database(empty_db_url) as sessions:
                queued = [
                    await notify(
                        UnitOfWork(sessions),
                        "site-home",
                        NotificationKind.SCHEDULE_CHANGED,
                        {"n": i},
                        datetime.now(UTC),
                    )
                    for i in range(NOTIFICATIONS)
                ]
            ids = {q.id for q in queued if q is not None}
            assert len(ids) == NOTIFICATIONS
            await _until(
                lambda: len(receiver.held) == HELD and set(receiver.attempts) == ids, "every id sent"
            )
            vtn.kill()
            receiver.release.set()
            receiver.healthy = True
            held = set(receiver.held)
            await vtn.start()

            async def delivered() -> list[dict[str, Any]]:
                async with client.get(f"{vtn.base}/api/v1/sites/site-home/notifications?limit=1000") as reply:
                    assert reply.status == 200
                    listed: list[dict[str, Any]] = await reply.json()
                    return [n for n in listed if n["state"] == "delivered"]

            done: list[dict[str, Any]] = []

            async def all_delivered() -> bool:
                done[:] = await delivered()
                return len(done) == NOTIFICATIONS

            loop = asyncio.get_running_loop()
            deadline = loop.time() + WAIT_S
            while not await all_delivered():
                assert loop.time() < deadline, f"{len(done)} of {NOTIFICATIONS} delivered: {vtn.log_text()}"
                await asyncio.sleep(0.2)
    finally:
        receiver.release.set()
        vtn.stop()
        await runner.cleanup()
    assert sorted(receiver.processed) == sorted(ids)  # none lost, each processed exactly once
    assert all(receiver.attempts[i] >= 2 for i in held), "an in-flight one was not sent again"
    assert all(receiver.attempts[i] >= 2 for i in ids - held), "a failed one was not retried"
    assert receiver.bad_signatures == 0
    assert {n["id"] for n in done} == ids
