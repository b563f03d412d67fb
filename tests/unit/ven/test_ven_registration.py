"""The agent's registration with the VTN (EiRegisterParty): first registration, the VTN asking
it to register again, and the VTN ending it. A small HTTP server plays the VTN with openleadr's
VTN-side messages; the agent's core runs on the simulated home of ven_rig."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from openleadr.messaging import create_message, parse_message
from ven_rig import Rig

from ven.agent.buffer import TelemetryBuffer
from ven.agent.vtn_client import VenClient

OPENADR = "/OpenADR2/Simple/2.0b"
OK = {"response_code": 200, "response_description": "OK"}


class RegisteringVtn:
    """Registers the VEN as ven-1 / reg-N; answers each oadrPoll with the next queued message."""

    def __init__(self) -> None:
        self.queue: list[str] = []
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.registrations = 0

    async def handle(self, request: web.Request) -> web.Response:
        kind, payload = parse_message(await request.read())
        self.received.append((kind, payload))
        if kind == "oadrCreatePartyRegistration":
            self.registrations += 1
            body = create_message(
                "oadrCreatedPartyRegistration",
                response={**OK, "request_id": payload["request_id"]},
                ven_id="ven-1",
                registration_id=f"reg-{self.registrations}",
                profiles=[{"profile_name": "2.0b", "transports": [{"transport_name": "simpleHttp"}]}],
                requested_oadr_poll_freq=timedelta(seconds=5),
                vtn_id="VTN",
            )
        elif kind == "oadrPoll" and self.queue:
            body = self.queue.pop(0)
        else:
            body = create_message("oadrResponse", response={**OK, "request_id": None}, ven_id="ven-1")
        return web.Response(body=body.encode(), content_type="application/xml")

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.received]


@pytest.fixture
async def agent(aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[tuple[VenClient, RegisteringVtn]]:
    vtn = RegisteringVtn()
    app = web.Application()
    app.router.add_post(OPENADR + "/{service}", vtn.handle)
    server = await aiohttp_server(app)
    client = VenClient(
        Rig().core, TelemetryBuffer(tmp_path / "buffer.db"), "ven-test", f"{server.make_url(OPENADR)}"
    )
    try:
        yield client, vtn
    finally:
        await client.stop()


async def test_registration_keeps_the_vtns_ids_and_poll_frequency(
    agent: tuple[VenClient, RegisteringVtn],
) -> None:
    client, vtn = agent
    await client._register_with_retry()
    assert (client.ven_id, client.registration_id) == ("ven-1", "reg-1")
    assert client.poll_frequency == timedelta(seconds=5) and client.registered.is_set()
    assert vtn.kinds() == ["oadrQueryRegistration", "oadrCreatePartyRegistration"]
    assert vtn.received[1][1]["ven_name"] == "ven-test"


async def test_a_reregistration_request_registers_offers_and_syncs_again(
    agent: tuple[VenClient, RegisteringVtn],
) -> None:
    client, vtn = agent
    await client._register_with_retry()
    client.offer_reports()
    vtn.queue.append(create_message("oadrRequestReregistration", ven_id="ven-1"))
    vtn.received.clear()
    await client._poll()
    assert vtn.kinds() == [
        "oadrPoll",
        "oadrResponse",
        "oadrCreatePartyRegistration",
        "oadrRegisterReport",
        "oadrRequestEvent",
    ]
    assert vtn.received[2][1]["registration_id"] == "reg-1"  # registering again under its id
    assert client.registration_id == "reg-2"


async def test_the_vtn_ending_the_registration_is_answered_and_stops_it(
    agent: tuple[VenClient, RegisteringVtn],
) -> None:
    client, vtn = agent
    await client._register_with_retry()
    cancel = "oadrCancelPartyRegistration"
    vtn.queue += [
        create_message(cancel, request_id="c-0", registration_id="reg-other", ven_id="ven-1"),
        create_message(cancel, request_id="c-1", registration_id="reg-1", ven_id="ven-1"),
    ]
    await client._poll()
    assert client.registration_id == "reg-1", "another registration's cancellation is refused"
    await client._poll()
    answers = [p for k, p in vtn.received if k == "oadrCanceledPartyRegistration"]
    assert [(a["response"]["request_id"], a["response"]["response_code"]) for a in answers] == [
        ("c-0", 452),
        ("c-1", 200),
    ]
    assert client.registration_id is None and not client.registered.is_set()
