"""EiRegisterParty conformance: query, create, re-register, cancel from either side, 452/463."""

from __future__ import annotations

from aggregator.vens import cancel_ven_registration, request_reregistration
from vtn.db.uow import UnitOfWork

from .harness import Vtn
from .helpers import create_registration, drain, poll, provision, provision_and_register, ven_info


async def test_query_registration_offers_profile_and_poll_frequency(vtn: Vtn) -> None:
    reply = await vtn.send("EiRegisterParty", "oadrQueryRegistration", request_id="q-1")
    assert reply.message_type == "oadrCreatedPartyRegistration"
    assert reply.code == 200
    assert reply.text("ei:vtnID") == "FLEXVPP-TEST-VTN"
    assert reply.text("oadr:oadrProfiles/oadr:oadrProfile/oadr:oadrProfileName") == "2.0b"
    assert (
        reply.text("oadr:oadrRequestedOadrPollFreq/{urn:ietf:params:xml:ns:icalendar-2.0}duration") == "PT10S"
    )
    assert reply.text("ei:eiResponse/pyld:requestID") == "q-1"


async def test_preprovisioned_ven_registers_by_name_and_polls(vtn: Vtn) -> None:
    ven_id, registration_id = await provision_and_register(vtn, "ven-a")
    info = await ven_info(vtn, ven_id)
    assert info.registered and info.registration_id == registration_id
    assert await drain(vtn, ven_id) == []
    info = await ven_info(vtn, ven_id)
    assert info.last_poll_at == vtn.clock.now and info.online


async def test_unprovisioned_ven_is_refused_with_463(vtn: Vtn) -> None:
    reply = await create_registration(vtn, "stranger")
    assert reply.message_type == "oadrCreatedPartyRegistration"
    assert reply.code == 463
    assert reply.text("ei:registrationID") is None


async def test_unknown_ven_id_gets_452_and_ids_are_case_sensitive(vtn: Vtn) -> None:
    info = await provision(vtn, "ven-case", "site-1")
    reply = await create_registration(vtn, "ven-case", ven_id=info.ven_id.upper())
    assert reply.message_type == "oadrCreatedPartyRegistration" and reply.code == 452
    ok = await create_registration(vtn, "ven-case", ven_id=info.ven_id)
    assert ok.code == 200
    wrong_case_poll = await poll(vtn, info.ven_id.upper())
    assert wrong_case_poll.message_type == "oadrResponse" and wrong_case_poll.code == 452


async def test_ven_id_of_another_name_is_463(vtn: Vtn) -> None:
    first = await provision(vtn, "ven-x", "site-1")
    await provision(vtn, "ven-y", "site-1")
    reply = await create_registration(vtn, "ven-y", ven_id=first.ven_id)
    assert reply.code == 463


async def test_poll_before_registration_is_463(vtn: Vtn) -> None:
    info = await provision(vtn, "ven-early", "site-1")
    reply = await poll(vtn, info.ven_id)
    assert reply.message_type == "oadrResponse" and reply.code == 463


async def test_reregistration_keeps_registration_and_wrong_registration_id_is_452(vtn: Vtn) -> None:
    ven_id, registration_id = await provision_and_register(vtn, "ven-re")
    again = await create_registration(vtn, "ven-re", ven_id=ven_id, registration_id=registration_id)
    assert again.code == 200 and again.text("ei:registrationID") == registration_id
    wrong = await create_registration(vtn, "ven-re", ven_id=ven_id, registration_id=registration_id.upper())
    assert wrong.code == 452


async def test_ven_cancels_its_registration(vtn: Vtn) -> None:
    ven_id, registration_id = await provision_and_register(vtn, "ven-c")
    wrong = await vtn.send(
        "EiRegisterParty",
        "oadrCancelPartyRegistration",
        request_id="c-0",
        registration_id="nope",
        ven_id=ven_id,
    )
    assert wrong.message_type == "oadrCanceledPartyRegistration" and wrong.code == 452
    reply = await vtn.send(
        "EiRegisterParty",
        "oadrCancelPartyRegistration",
        request_id="c-1",
        registration_id=registration_id,
        ven_id=ven_id,
    )
    assert reply.message_type == "oadrCanceledPartyRegistration" and reply.code == 200
    assert not (await ven_info(vtn, ven_id)).registered
    assert (await poll(vtn, ven_id)).code == 463


async def test_vtn_cancels_registration_on_next_poll(vtn: Vtn) -> None:
    ven_id, registration_id = await provision_and_register(vtn, "ven-d")
    await cancel_ven_registration(UnitOfWork(vtn.sessions), ven_id, vtn.clock.now, vtn.cache)
    assert (await ven_info(vtn, ven_id)).registered  # until the VEN hears of it
    reply = await poll(vtn, ven_id)
    assert reply.message_type == "oadrCancelPartyRegistration"
    assert reply.text("ei:registrationID") == registration_id
    # at-least-once: the registration ends when the VEN acknowledges (it could resend otherwise)
    assert (await ven_info(vtn, ven_id)).registered
    ack = await vtn.send(
        "EiRegisterParty",
        "oadrCanceledPartyRegistration",
        response={"response_code": 200, "response_description": "OK", "request_id": "x"},
        registration_id=registration_id,
        ven_id=ven_id,
    )
    assert ack.message_type == "oadrResponse" and ack.code == 200
    assert not (await ven_info(vtn, ven_id)).registered
    assert (await poll(vtn, ven_id)).code == 463


async def test_request_reregistration_travels_through_the_outbox(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-rr")
    await request_reregistration(UnitOfWork(vtn.sessions), ven_id, vtn.clock.now, vtn.cache)
    reply = await poll(vtn, ven_id)
    assert reply.message_type == "oadrRequestReregistration"
    assert reply.text("ei:venID") == ven_id


async def test_poll_times_are_written_in_batches(vtn: Vtn) -> None:
    from vtn.db.tables import Ven, as_utc

    ids = [(await provision_and_register(vtn, f"ven-batch-{i}"))[0] for i in range(3)]
    for ven_id in ids:
        await poll(vtn, ven_id)
    cache = vtn.cache
    await cache.flush_polls(vtn.sessions)
    async with vtn.sessions() as session:
        for ven_id in ids:
            row = await session.get(Ven, ven_id)
            assert row is not None and as_utc(row.last_poll_at) == vtn.clock.now
    assert cache.take_polls() == {}
