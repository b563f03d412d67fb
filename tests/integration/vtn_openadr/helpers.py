"""Shared steps of the conformance tests."""

from __future__ import annotations

from typing import Any

from vtn.services import provision_ven

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


async def provision_and_register(vtn: Vtn, ven_name: str = "ven-1") -> tuple[str, str]:
    """Provision over the service layer, register over OpenADR, drain the first poll (METADATA)."""
    info = await provision_ven(vtn.sessions, ven_name, site_id=f"site-{ven_name}")
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
