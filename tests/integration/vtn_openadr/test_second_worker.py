"""Two VTN workers on one database: what one stores, the other serves (after its cache sync)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aggregator.event_rules import EventSpec, IntervalSpec
from aggregator.events import create_event, get_event
from vtn.app import CLOCK, POLL_CACHE, SESSIONS, create_app
from vtn.db.uow import UnitOfWork

from .harness import T0, Vtn, assert_valid
from .helpers import drain, poll, provision_and_register
from .test_events import created_event


async def test_second_worker_serves_registrations_and_outbox(vtn: Vtn, aiohttp_client: Any) -> None:
    other_app = create_app(vtn.settings)
    other_app[CLOCK] = vtn.clock  # type: ignore[misc]
    other = Vtn(await aiohttp_client(other_app), vtn.clock, other_app[SESSIONS], vtn.settings)

    ven_id, _ = await provision_and_register(vtn, "ven-w2")
    assert (await poll(other, ven_id)).code == 200, "registered through the first worker"

    spec = EventSpec([ven_id], "SIMPLE", "level", (IntervalSpec(T0 + timedelta(hours=1), 600, 1.0),))
    event = await create_event(
        UnitOfWork(vtn.sessions), spec, vtn.clock.now, vtn.cache
    )  # written by the first worker
    await other_app[POLL_CACHE].reload(other.sessions)  # what its sync loop does every few seconds
    [reply] = await drain(other, ven_id)
    assert reply.message_type == "oadrDistributeEvent"
    assert await drain(vtn, ven_id) == [], "delivered once, whichever worker the VEN reached"
    await created_event(other, ven_id, event.event_id, 0, "optIn")
    assert (await get_event(UnitOfWork(vtn.sessions), event.event_id, vtn.clock.now)).responses == {
        ven_id: "optIn"
    }
    vtn.replies.extend(other.replies)  # validated against the XSD at teardown


async def test_restart_keeps_registrations_outbox_and_report_requests(
    db_url: str, aiohttp_client: Any
) -> None:
    from vtn.settings import VtnSettings

    from .harness import FakeClock
    from .test_reports import register_reports, requests_of, update_report

    settings = VtnSettings.model_validate({"db_url": db_url, "vtn_id": "FLEXVPP-RESTART"})
    clock = FakeClock()

    async def start() -> Vtn:
        app = create_app(settings)
        app[CLOCK] = clock  # type: ignore[misc]
        return Vtn(await aiohttp_client(app), clock, app[SESSIONS], settings)

    first = await start()
    ven_id, _ = await provision_and_register(first, "ven-restart")
    request_id = requests_of(await register_reports(first, ven_id))["spec-usage"]["id"]
    spec = EventSpec([ven_id], "SIMPLE", "level", (IntervalSpec(T0 + timedelta(hours=1), 600, 1.0),))
    await create_event(UnitOfWork(first.sessions), spec, clock.now, first.cache)
    await first.client.close()  # the process goes away with a message still waiting

    second = await start()
    [reply] = await drain(second, ven_id)  # no re-registration needed
    assert reply.message_type == "oadrDistributeEvent"
    assert (await update_report(second, ven_id, request_id, [(0, "power", 4.0)])).code == 200
    for body in [*first.replies, *second.replies]:
        assert_valid(body)
