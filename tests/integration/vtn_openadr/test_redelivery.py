"""At-least-once outbox (issue 10): a message whose poll reply is lost goes out again.

A "lost" poll is a real HTTP request over its own socket to the test server, whose connection
the client closes without reading the reply: right after sending (the VTN sees the close before
it writes), or once the VTN has written the reply (an HTTP client that timed out). Either way
the next poll after `outbox_resend_seconds` carries the message again, with the same requestID,
until the VEN acknowledges it; after that, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from openleadr.messaging import create_message
from sqlalchemy import text
from sqlalchemy.engine import make_url

from aggregator.events import EventPatch, cancel_event, create_event, modify_event
from aggregator.reports import cancel_report_request, request_telemetry
from aggregator.vens import cancel_ven_registration, request_reregistration
from vtn.app import CLOCK, POLL_CACHE, SESSIONS, create_app
from vtn.db.uow import UnitOfWork

from .harness import OPENADR, Reply, Vtn
from .helpers import create_registration, drain, poll, provision_and_register
from .test_events import H, created_event, events_of, spec
from .test_reports import register_reports, requests_of

OK = {"response_code": 200, "response_description": "OK"}


def serve_like_vtn_serve(vtn: Vtn) -> Vtn:
    """As `vtn serve` (web.run_app) does, and unlike aiohttp's test server: a client that goes
    away does not cancel the handler of its request."""
    vtn.client.server.runner.server.handler_cancellation = False
    return vtn


@pytest.fixture(autouse=True)
def _served(vtn: Vtn) -> Vtn:
    return serve_like_vtn_serve(vtn)


async def _outbox_rows(vtn: Vtn, ven_id: str) -> list[tuple[Any, ...]]:
    async with vtn.sessions() as session:
        rows = await session.execute(
            text("SELECT * FROM outbox WHERE ven_id = :v ORDER BY id"), {"v": ven_id}
        )
        return [tuple(r) for r in rows.all()]


@contextlib.asynccontextmanager
async def writes_held(db_url: str) -> AsyncIterator[None]:
    """Hold the outbox's write lock from another connection: a poll the VTN is handling waits
    inside its transaction, after it read the request.

    The lock is tried without waiting and tried again after yielding to the event loop: the
    VTNs under test run on this loop, and a blocking wait would stop one of them from finishing
    a transaction it had begun (a background job's), which then holds the lock we wait for.
    """
    deadline = time.monotonic() + 30.0
    if db_url.startswith("sqlite"):
        lite = sqlite3.connect(make_url(db_url).database or "", isolation_level=None, timeout=0)
        while True:
            try:
                lite.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.02)
        try:
            yield
        finally:
            lite.execute("ROLLBACK")
            lite.close()
    else:
        with psycopg.connect(db_url) as pg:
            while True:
                try:
                    pg.execute("LOCK TABLE outbox IN EXCLUSIVE MODE NOWAIT")
                    break
                except psycopg.errors.LockNotAvailable:
                    pg.rollback()
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.02)
            try:
                yield
            finally:
                pg.rollback()


async def lost_poll(vtn: Vtn, ven_id: str, close: str = "before_reply") -> None:
    """An oadrPoll whose reply the VEN never reads; returns once the VTN has handled it.

    before_reply: the connection closes while the VTN is inside its transaction (held up by
    `writes_held`), so the VTN finds it closed when it writes. after_reply_unread: the VTN
    writes the reply into a connection that nobody reads, then it closes (a client timeout).
    """
    before = await _outbox_rows(vtn, ven_id)
    body = create_message("oadrPoll", ven_id=ven_id).encode()
    head = (
        f"POST {OPENADR}/OadrPoll HTTP/1.1\r\nHost: vtn\r\nContent-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    server = vtn.client.server
    held = writes_held(vtn.settings.db_url) if close == "before_reply" else contextlib.nullcontext()
    async with held:
        _, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(head + body)
        await writer.drain()
        if close == "before_reply":
            await asyncio.sleep(0.3)  # the VTN has read the request and waits for the lock
            writer.close()
            await writer.wait_closed()
            await asyncio.sleep(0.1)
    for _ in range(200):  # until the VTN has taken the message out
        if await _outbox_rows(vtn, ven_id) != before:
            break
        await asyncio.sleep(0.025)
    else:
        raise AssertionError("the VTN never handled the lost poll")
    if close != "before_reply":
        await asyncio.sleep(0.2)  # the reply is written now, into a connection nobody reads
        writer.close()
        await writer.wait_closed()


def resend(vtn: Vtn) -> None:
    """Let the resend time pass on the VTN's clock (a VEN polling every 10 s waits longer)."""
    vtn.clock.advance(vtn.settings.outbox_resend_seconds)


def request_id_of(reply: Reply) -> str | None:
    return reply.text("pyld:requestID")


@pytest.mark.parametrize("close", ["before_reply", "after_reply_unread"])
@pytest.mark.parametrize("change", ["cancel", "modify"])
async def test_command_whose_reply_is_lost_is_delivered_again_until_acknowledged(
    vtn: Vtn, change: str, close: str
) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-lost")
    info = await create_event(UnitOfWork(vtn.sessions), spec([ven_id], 2 * H), vtn.clock.now, vtn.cache)
    [first] = await drain(vtn, ven_id)
    assert events_of(first) == [{"id": info.event_id, "mod": "0", "status": "far"}]
    assert (await created_event(vtn, ven_id, info.event_id, 0, "optIn")).code == 200
    if change == "cancel":
        await cancel_event(UnitOfWork(vtn.sessions), info.event_id, vtn.clock.now, vtn.cache)
        expected = [{"id": info.event_id, "mod": "1", "status": "cancelled"}]
    else:
        await modify_event(
            UnitOfWork(vtn.sessions), info.event_id, EventPatch(priority=4), vtn.clock.now, vtn.cache
        )
        expected = [{"id": info.event_id, "mod": "1", "status": "far"}]

    await lost_poll(vtn, ven_id, close)
    assert await drain(vtn, ven_id) == [], "not due again yet: the VEN may still answer"
    resend(vtn)
    [again] = await drain(vtn, ven_id)
    assert again.message_type == "oadrDistributeEvent"
    assert events_of(again) == expected, "the next poll carries the current state again"

    resend(vtn)
    [third] = await drain(vtn, ven_id)  # still not answered: once more, under the same requestID
    assert events_of(third) == expected and request_id_of(third) == request_id_of(again)
    assert (await created_event(vtn, ven_id, info.event_id, 1, "optIn")).code == 200
    resend(vtn)
    assert await drain(vtn, ven_id) == [], "acknowledged: nothing more"


async def test_a_never_event_counts_once_its_reply_was_written_and_the_ven_polled_again(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-never")
    info = await create_event(
        UnitOfWork(vtn.sessions), spec([ven_id], 2 * H, response_required="never"), vtn.clock.now, vtn.cache
    )
    await lost_poll(vtn, ven_id, "before_reply")  # the connection closed before the reply went out
    resend(vtn)
    [again] = await drain(vtn, ven_id)  # written out this time; the drain's next poll finishes it
    assert events_of(again) == [{"id": info.event_id, "mod": "0", "status": "far"}]
    resend(vtn)
    assert await drain(vtn, ven_id) == []
    await cancel_event(UnitOfWork(vtn.sessions), info.event_id, vtn.clock.now, vtn.cache)
    await lost_poll(vtn, ven_id, "before_reply")
    resend(vtn)
    [cancelled] = await drain(vtn, ven_id)
    assert events_of(cancelled) == [{"id": info.event_id, "mod": "1", "status": "cancelled"}]
    resend(vtn)
    assert await drain(vtn, ven_id) == []


async def test_unanswered_message_is_resent_at_most_max_sends_times_and_holds_nothing_up(
    vtn: Vtn, caplog: pytest.LogCaptureFixture
) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-mute")
    await create_event(UnitOfWork(vtn.sessions), spec([ven_id], 2 * H), vtn.clock.now, vtn.cache)
    sent = [await poll(vtn, ven_id)]
    await request_reregistration(UnitOfWork(vtn.sessions), ven_id, vtn.clock.now, vtn.cache)
    behind = await poll(vtn, ven_id)  # the distribute is not due again: the next message goes
    assert behind.message_type == "oadrRequestReregistration"
    await create_registration(vtn, "ven-mute", ven_id=ven_id)  # the answer to it
    for _ in range(vtn.settings.outbox_max_sends + 3):
        resend(vtn)
        sent += [r for r in await drain(vtn, ven_id) if r.message_type == "oadrDistributeEvent"]
    assert len(sent) == vtn.settings.outbox_max_sends
    assert len({request_id_of(r) for r in sent}) == 1
    assert "did not acknowledge oadrDistributeEvent" in caplog.text


async def test_new_change_while_unacknowledged_goes_out_in_one_distribute(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-fold2")
    one = await create_event(UnitOfWork(vtn.sessions), spec([ven_id], 2 * H), vtn.clock.now, vtn.cache)
    [first] = await drain(vtn, ven_id)
    two = await create_event(UnitOfWork(vtn.sessions), spec([ven_id], 4 * H), vtn.clock.now, vtn.cache)
    await cancel_event(UnitOfWork(vtn.sessions), one.event_id, vtn.clock.now, vtn.cache)
    [second] = await drain(vtn, ven_id)  # the new message, though the first is unanswered
    assert events_of(second) == [
        {"id": two.event_id, "mod": "0", "status": "far"},
        {"id": one.event_id, "mod": "1", "status": "cancelled"},
    ]
    resend(vtn)
    [again] = await drain(vtn, ven_id)  # one distribute in flight: it took over the first
    assert events_of(again) == events_of(second)
    for event_id, mod in ((two.event_id, 0), (one.event_id, 1)):
        assert (await created_event(vtn, ven_id, event_id, mod, "optIn")).code == 200
    resend(vtn)
    assert await drain(vtn, ven_id) == []
    assert first.message_type == "oadrDistributeEvent"


async def _create_report(vtn: Vtn, ven_id: str) -> tuple[str, dict[str, Any]]:
    usage = requests_of(await register_reports(vtn, ven_id))["spec-usage"]["id"]
    await cancel_report_request(UnitOfWork(vtn.sessions), vtn.cache, ven_id, usage, vtn.clock.now)
    [cancel] = await drain(vtn, ven_id)
    response = {**OK, "request_id": request_id_of(cancel)}
    await vtn.send("EiReport", "oadrCanceledReport", response=response, pending_reports=[], ven_id=ven_id)
    await request_telemetry(UnitOfWork(vtn.sessions), vtn.cache, ven_id, 60, vtn.clock.now)
    return "oadrCreateReport", {"service": "EiReport", "reply": "oadrCreatedReport", "pending_reports": []}


async def _cancel_report(vtn: Vtn, ven_id: str) -> tuple[str, dict[str, Any]]:
    usage = requests_of(await register_reports(vtn, ven_id))["spec-usage"]["id"]
    await cancel_report_request(UnitOfWork(vtn.sessions), vtn.cache, ven_id, usage, vtn.clock.now)
    return "oadrCancelReport", {"service": "EiReport", "reply": "oadrCanceledReport", "pending_reports": []}


async def _register_report(vtn: Vtn, ven_id: str) -> tuple[str, dict[str, Any]]:
    await create_registration(vtn, "ven-type", ven_id=ven_id, registration_id=None)  # queues METADATA
    return "oadrRegisterReport", {
        "service": "EiReport",
        "reply": "oadrRegisteredReport",
        "report_requests": [],
    }


async def _cancel_registration(vtn: Vtn, ven_id: str) -> tuple[str, dict[str, Any]]:
    await cancel_ven_registration(UnitOfWork(vtn.sessions), ven_id, vtn.clock.now, vtn.cache)
    return "oadrCancelPartyRegistration", {
        "service": "EiRegisterParty",
        "reply": "oadrCanceledPartyRegistration",
        "registration_id": None,  # filled in: the VEN names the registration it gives up
    }


async def _request_reregistration(vtn: Vtn, ven_id: str) -> tuple[str, dict[str, Any]]:
    await request_reregistration(UnitOfWork(vtn.sessions), ven_id, vtn.clock.now, vtn.cache)
    return "oadrRequestReregistration", {"reply": None}


@pytest.mark.parametrize(
    "make",
    [_create_report, _cancel_report, _register_report, _cancel_registration, _request_reregistration],
    ids=[
        "createReport",
        "cancelReport",
        "registerReport",
        "cancelPartyRegistration",
        "requestReregistration",
    ],
)
async def test_every_message_type_goes_out_again_until_its_reply(vtn: Vtn, make: Any) -> None:
    ven_id, registration_id = await provision_and_register(vtn, "ven-type")
    kind, answer = await make(vtn, ven_id)
    await lost_poll(vtn, ven_id, "before_reply")
    resend(vtn)
    [again] = await drain(vtn, ven_id)
    assert again.message_type == kind, again.body.decode()
    reply_type = answer.pop("reply")
    if reply_type is None:  # oadrRequestReregistration: the VEN registering again answers it
        assert (
            await create_registration(vtn, "ven-type", ven_id=ven_id, registration_id=registration_id)
        ).code == 200
        await drain(vtn, ven_id)  # the METADATA that comes with a registration
    else:
        service = answer.pop("service")
        if "registration_id" in answer:
            answer["registration_id"] = registration_id
        response = {**OK, "request_id": request_id_of(again)}
        acked = await vtn.send(service, reply_type, response=response, ven_id=ven_id, **answer)
        assert acked.code == 200, acked.body.decode()
    resend(vtn)
    after = await poll(vtn, ven_id)
    if kind == "oadrCancelPartyRegistration":
        assert after.code == 463, "acknowledged: the registration ended"
    else:
        assert after.message_type == "oadrResponse", f"{kind} went out again after its reply"


async def test_a_second_worker_sends_again_what_the_first_lost(vtn: Vtn, aiohttp_client: Any) -> None:
    other_app = create_app(vtn.settings)
    other_app[CLOCK] = vtn.clock  # type: ignore[misc]
    other = Vtn(await aiohttp_client(other_app), vtn.clock, other_app[SESSIONS], vtn.settings)
    serve_like_vtn_serve(other)
    ven_id, _ = await provision_and_register(vtn, "ven-2w")
    info = await create_event(UnitOfWork(vtn.sessions), spec([ven_id], 2 * H), vtn.clock.now, vtn.cache)
    await other_app[POLL_CACHE].reload(other.sessions)
    await lost_poll(other, ven_id)
    resend(vtn)
    [again] = await drain(vtn, ven_id)
    assert events_of(again) == [{"id": info.event_id, "mod": "0", "status": "far"}]
    assert (await created_event(other, ven_id, info.event_id, 0, "optIn")).code == 200
    resend(vtn)
    await other_app[POLL_CACHE].reload(other.sessions)
    assert await drain(other, ven_id) == [] and await drain(vtn, ven_id) == []
    vtn.replies.extend(other.replies)
