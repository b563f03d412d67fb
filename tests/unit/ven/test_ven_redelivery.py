"""The agent's OpenADR client on messages the VTN sends again (at-least-once delivery, issue 10).

The VTN re-sends a message until the VEN acknowledges it, so the agent sees repeats: a
distribute with the same modificationNumbers, a stale copy, an oadrCreateReport or
oadrCancelReport again. A small HTTP server plays the VTN (its replies are openleadr's own
VTN-side messages); the agent's core runs on the simulated home of ven_rig.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from openleadr.messaging import create_message, parse_message
from ven_rig import Rig

from ven.agent.buffer import TelemetryBuffer
from ven.agent.openadr_mapping import STATUS_SPECIFIER, USAGE_SPECIFIER
from ven.agent.vtn_client import VenClient

OPENADR = "/OpenADR2/Simple/2.0b"
VEN_ID = "ven-repeat"


class FakeVtn:
    """Answers each oadrPoll with the next queued message; records every message the VEN sends."""

    def __init__(self) -> None:
        self.queue: list[str] = []
        self.received: list[tuple[str, dict[str, Any]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        kind, payload = parse_message(await request.read())
        self.received.append((kind, payload))
        if kind == "oadrPoll" and self.queue:
            body = self.queue.pop(0)
        elif kind == "oadrUpdateReport":  # stored: the VEN marks the samples sent
            ok = {"response_code": 200, "response_description": "OK", "request_id": payload["request_id"]}
            body = create_message("oadrUpdatedReport", response=ok, ven_id=VEN_ID)
        else:
            body = create_message(
                "oadrResponse",
                response={"response_code": 200, "response_description": "OK", "request_id": None},
                ven_id=VEN_ID,
            )
        return web.Response(body=body.encode(), content_type="application/xml")

    def sent(self, kind: str) -> list[dict[str, Any]]:
        return [payload for k, payload in self.received if k == kind]


@pytest.fixture
async def agent(aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[tuple[VenClient, FakeVtn, Rig]]:
    vtn = FakeVtn()
    app = web.Application()
    app.router.add_post(OPENADR + "/{service}", vtn.handle)
    server = await aiohttp_server(app)
    rig = Rig()
    client = VenClient(
        rig.core, TelemetryBuffer(tmp_path / "buffer.db"), "ven-test", f"{server.make_url(OPENADR)}"
    )
    client.ven_id = VEN_ID
    try:
        yield client, vtn, rig
    finally:
        await client.stop()


def event(event_id: str, number: int, status: str, level: float = 1.0) -> dict[str, Any]:
    """One event as a VTN renders it (vtn/openadr/render.py's shape), two hours from now."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    return {
        "event_descriptor": {
            "event_id": event_id,
            "modification_number": number,
            "modification_date_time": start - timedelta(hours=3),
            "priority": 0,
            "market_context": "http://mc.example",
            "created_date_time": start - timedelta(hours=3),
            "event_status": status,
            "test_event": False,
        },
        "active_period": {"dtstart": start, "duration": timedelta(hours=1)},
        "event_signals": [
            {
                "signal_name": "SIMPLE",
                "signal_type": "level",
                "signal_id": f"{event_id}-0",
                "intervals": [{"duration": timedelta(hours=1), "signal_payload": level, "uid": 0}],
            }
        ],
        "targets": [{"ven_id": VEN_ID}],
        "response_required": "always",
    }


def distribute(*events: dict[str, Any], request_id: str = "dist-1") -> str:
    return create_message(  # type: ignore[no-any-return]
        "oadrDistributeEvent", request_id=request_id, vtn_id="VTN", events=list(events)
    )


def answers(created: dict[str, Any]) -> list[tuple[str, int, str]]:
    return [(r["event_id"], int(r["modification_number"]), r["opt_type"]) for r in created["event_responses"]]


async def test_a_repeated_distribute_is_answered_as_before_and_not_applied_again(
    agent: tuple[VenClient, FakeVtn, Rig],
) -> None:
    client, vtn, rig = agent
    vtn.queue.append(distribute(event("live", 0, "far"), event("gone", 0, "far"), request_id="d-1"))
    cancelled = distribute(event("live", 0, "far"), event("gone", 1, "cancelled"), request_id="d-2")
    vtn.queue += [cancelled, cancelled]  # the VTN did not get our answer to it: it sends it again
    for _ in range(3):
        await client._poll()
    _, first, second = vtn.sent("oadrCreatedEvent")
    assert answers(first) == [("live", 0, "optIn"), ("gone", 1, "optIn")]
    # openleadr's own client raised KeyError on the repeated cancellation and answered optOut to all
    assert answers(second) == answers(first)
    assert {e.event_id for e in rig.core.events()} == {"live"}


async def test_a_stale_copy_does_not_roll_an_event_back(agent: tuple[VenClient, FakeVtn, Rig]) -> None:
    client, vtn, rig = agent
    vtn.queue += [
        distribute(event("ev", 1, "far", level=2.0), request_id="new"),
        distribute(event("ev", 0, "far", level=1.0), request_id="old"),
    ]
    await client._poll()
    await client._poll()
    [signal] = rig.core.events()
    assert (signal.modification_number, signal.intervals[0].value) == (1, 2.0)
    assert [answers(c) for c in vtn.sent("oadrCreatedEvent")] == [[("ev", 1, "optIn")]]


def create_report(request_id: str = "create-1") -> str:
    request = {
        "report_request_id": "rr-1",
        "report_specifier": {
            "report_specifier_id": STATUS_SPECIFIER,
            "granularity": timedelta(seconds=60),
            "report_back_duration": timedelta(seconds=60),
            "specifier_payloads": [{"r_id": "evse-1.online", "reading_type": "x-notApplicable"}],
        },
    }
    return create_message(  # type: ignore[no-any-return]
        "oadrCreateReport", request_id=request_id, ven_id=VEN_ID, report_requests=[request]
    )


async def test_a_repeated_create_report_keeps_one_reporting_job(
    agent: tuple[VenClient, FakeVtn, Rig],
) -> None:
    client, vtn, _ = agent
    client.offer_reports()
    vtn.queue += [create_report(), create_report()]
    await client._poll()
    await client._poll()
    assert [r["report_request_id"] for r in client.report_requests] == ["rr-1"]
    created = vtn.sent("oadrCreatedReport")
    assert [c["response"]["request_id"] for c in created] == ["create-1", "create-1"], "answered each time"


async def test_a_repeated_cancel_report_is_answered_again(agent: tuple[VenClient, FakeVtn, Rig]) -> None:
    client, vtn, _ = agent
    cancel = create_message(
        "oadrCancelReport",
        request_id="cancel-1",
        ven_id=VEN_ID,
        report_request_id="rr-gone",
        report_to_follow=False,
    )
    vtn.queue.append(cancel)  # a request this agent no longer has (its first answer was lost)
    await client._poll()
    [canceled] = vtn.sent("oadrCanceledReport")
    assert canceled["response"]["request_id"] == "cancel-1"


def create_usage_report(report_request_id: str, request_id: str) -> str:
    request = {
        "report_request_id": report_request_id,
        "report_specifier": {
            "report_specifier_id": USAGE_SPECIFIER,
            "granularity": timedelta(seconds=60),
            "report_back_duration": timedelta(seconds=60),
            "specifier_payloads": [{"r_id": "meter-1.power", "reading_type": "Direct Read"}],
        },
    }
    return create_message(  # type: ignore[no-any-return]
        "oadrCreateReport", request_id=request_id, ven_id=VEN_ID, report_requests=[request]
    )


def usage_sent(vtn: FakeVtn) -> list[tuple[str, str, datetime]]:
    """(reportRequestID, rID, dtstart) of every usage sample the VEN sent."""
    return [
        (report["report_request_id"], interval["report_payload"]["r_id"], interval["dtstart"])
        for message in vtn.sent("oadrUpdateReport")
        for report in message["reports"]
        for interval in report["intervals"]
    ]


async def test_the_buffered_telemetry_goes_out_once_whoever_sends_it(
    agent: tuple[VenClient, FakeVtn, Rig],
) -> None:
    """Two sends of the buffer at once (two report jobs, or one still sending when a newer request
    replaced its own) read the same unsent samples: each went out twice."""
    client, vtn, _ = agent
    client.offer_reports()
    client.batch = 2  # a send takes several messages
    vtn.queue.append(create_usage_report("rr-old", "create-old"))
    await client._poll()
    now_s = time.time() // 60 * 60
    client.buffer.add_many(("meter-1.power", now_s - 60 * i, 1000.0 + i) for i in range(6))
    await asyncio.gather(client.update_report("rr-old"), client.update_report("rr-old"))
    sent = usage_sent(vtn)
    assert len(sent) == 6 and len(set(sent)) == 6, sent

    client.buffer.add_many(("meter-1.power", now_s + 60 * i, 2000.0 + i) for i in range(1, 7))
    vtn.queue.append(create_usage_report("rr-new", "create-new"))
    # the old request's job sends while the newer request arrives (a poll between its messages)
    await asyncio.gather(client.update_report("rr-old"), client._poll())
    await client.update_report("rr-new")
    later = usage_sent(vtn)[6:]
    assert len(later) == 6 and len({(r, t) for _, r, t in later}) == 6, later
