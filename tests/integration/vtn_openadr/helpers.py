"""Shared steps of the conformance tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aggregator.vens import NewVen, VenInfo, get_ven, provision_ven
from vtn.db.uow import UnitOfWork

from .harness import Reply, Vtn

REGISTRATION = dict(
    http_pull_model=True,
    xml_signature=False,
    report_only=False,
    profile_name="2.0b",
    transport_name="simpleHttp",
    transport_address=None,
)


async def create_registration(vtn: Vtn, ven_name: str, **extra: Any) -> Reply:
    payload = {**REGISTRATION, "ven_id": None, "registration_id": None, **extra}
    return await vtn.send(
        "EiRegisterParty", "oadrCreatePartyRegistration", request_id="req-1", ven_name=ven_name, **payload
    )


async def provision(vtn: Vtn, ven_name: str, site_id: str | None = None) -> VenInfo:
    """Provision over the service layer (site `site-{ven_name}` unless given)."""
    new = NewVen(ven_name, site_id or f"site-{ven_name}")
    return await provision_ven(UnitOfWork(vtn.sessions), new, datetime.now(UTC))


async def ven_info(vtn: Vtn, ven_id: str) -> VenInfo:
    """What an operator sees of the VEN now (by the VTN's clock)."""
    return await get_ven(UnitOfWork(vtn.sessions), ven_id, vtn.clock.now, vtn.cache)


async def provision_and_register(vtn: Vtn, ven_name: str = "ven-1") -> tuple[str, str]:
    """Provision over the service layer, register over OpenADR, drain the first poll (METADATA)."""
    info = await provision(vtn, ven_name)
    reply = await create_registration(vtn, ven_name)
    assert reply.code == 200, reply.body
    registration_id = reply.text("ei:registrationID")
    assert reply.text("ei:venID") == info.ven_id and registration_id
    first = await poll(vtn, info.ven_id)
    assert first.message_type == "oadrRegisterReport"
    return info.ven_id, registration_id


async def poll(vtn: Vtn, ven_id: str) -> Reply:
    return await vtn.send("OadrPoll", "oadrPoll", ven_id=ven_id)


async def drain(vtn: Vtn, ven_id: str) -> list[Reply]:
    """Poll until an empty oadrResponse; the messages received before it, in order."""
    received: list[Reply] = []
    for _ in range(50):
        reply = await poll(vtn, ven_id)
        if reply.message_type == "oadrResponse":
            assert reply.code == 200
            return received
        received.append(reply)
    raise AssertionError("the outbox never ran dry")
