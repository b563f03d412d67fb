"""A stock openleadr.OpenADRClient, unmodified, against the VTN on a real port.

Setup goes through the service layer (the REST route tests live with the API); this checks
that what the stock client expects of a VTN holds: registration by a pre-provisioned name,
the VTN's METADATA, report requests and values, events with optIn, modify, cancel and opts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from live_vtn import live_vtn
from openleadr import OpenADRClient

from aggregator.event_rules import EventSpec, IntervalSpec
from aggregator.events import EventPatch, cancel_event, create_event, get_event, modify_event
from aggregator.opts import list_opts
from aggregator.telemetry import query_telemetry
from aggregator.vens import NewVen, get_ven, provision_ven
from vtn.app import POLL_CACHE, SESSIONS
from vtn.db.uow import UnitOfWork
from vtn.services.poll_cache import PollCache
from vtn.settings import VtnSettings

pytestmark = pytest.mark.slow


async def wait_for(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout_s`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.fixture
async def server(db_url: str) -> AsyncIterator[tuple[str, Any, PollCache]]:
    settings = VtnSettings.model_validate(
        {
            "db_url": db_url,
            "vtn_id": "FLEXVPP-SMOKE",
            "poll_interval_seconds": 1,
            "report_interval_seconds": 2,
        },
    )
    async with live_vtn(settings) as (base, app):
        yield f"{base}/OpenADR2/Simple/2.0b", app[SESSIONS], app[POLL_CACHE]


async def test_stock_client_full_cycle(server: tuple[str, Any, PollCache]) -> None:
    url, sessions, cache = server
    ven = await provision_ven(UnitOfWork(sessions), NewVen("smoke-ven", "site-smoke"), datetime.now(UTC))
    seen_events: list[tuple[str, int, str]] = []

    async def on_event(event: dict[str, Any]) -> str:
        d = event["event_descriptor"]
        seen_events.append((d["event_id"], d["modification_number"], d["event_status"]))
        return "optIn"

    client = OpenADRClient(ven_name="smoke-ven", vtn_url=url)
    client.add_handler("on_event", on_event)
    client.add_handler("on_update_event", on_event)
    client.add_report(
        callback=lambda: 1.25,
        resource_id="meter",
        measurement="power",
        report_name="TELEMETRY_USAGE",
        sampling_rate=timedelta(seconds=2),
    )
    await client.run()
    try:
        assert client.ven_id == ven.ven_id and client.registration_id
        points = await wait_for(
            lambda: query_telemetry(UnitOfWork(sessions), ven.ven_id, None, None), "telemetry"
        )
        assert points[0].value == 1.25 and points[0].report_name == "TELEMETRY_USAGE"

        now = datetime.now(UTC)
        spec = EventSpec(
            ven_ids=[ven.ven_id],
            signal_name="SIMPLE",
            signal_type="level",
            intervals=(IntervalSpec(now + timedelta(hours=1), 1800, 1.0),),
        )
        event = await create_event(UnitOfWork(sessions), spec, now, cache)

        async def opted_in() -> bool:
            info = await get_event(UnitOfWork(sessions), event.event_id, datetime.now(UTC))
            return info.responses.get(ven.ven_id) == "optIn"

        await wait_for(opted_in, "the optIn")
        await modify_event(
            UnitOfWork(sessions), event.event_id, EventPatch(priority=2), datetime.now(UTC), cache
        )
        await wait_for(lambda: _seen(seen_events, event.event_id, 1), "the modification")
        await cancel_event(UnitOfWork(sessions), event.event_id, datetime.now(UTC), cache)
        await wait_for(lambda: _seen(seen_events, event.event_id, 2), "the cancellation")

        opt_id = await client.create_opt(
            opt_type="optOut",
            opt_reason="participating",
            targets=[{"ven_id": ven.ven_id}],
            event_id=event.event_id,
            modification_number=2,
        )
        assert opt_id
        assert [o.opt_id for o in await list_opts(UnitOfWork(sessions), ven.ven_id)] == [opt_id]
        assert (await get_ven(UnitOfWork(sessions), ven.ven_id, datetime.now(UTC), cache)).online
    finally:
        await client.stop()


async def _seen(events: list[tuple[str, int, str]], event_id: str, modification: int) -> bool:
    return any(e[0] == event_id and e[1] == modification for e in events)
