"""EiEvent: a VEN dropped from an event's targets by a modification learns it as a cancellation.

It receives the event once, with status `cancelled` and the raised modificationNumber, and its
oadrCreatedEvent answer to that modification is accepted (not 452); after that the event is no
longer its own: it is not in later distributes, and answers to other modifications are refused.
"""

from __future__ import annotations

from aggregator.events import EventPatch, create_event, get_event, modify_event
from vtn.db.uow import UnitOfWork

from .harness import Vtn
from .helpers import drain, provision_and_register
from .test_events import H, created_event, events_of, request_event, spec


async def test_dropped_ven_gets_the_event_cancelled_once_and_may_answer(vtn: Vtn) -> None:
    kept, _ = await provision_and_register(vtn, "ven-d1")
    dropped, _ = await provision_and_register(vtn, "ven-d2")
    info = await create_event(
        UnitOfWork(vtn.sessions), spec([kept, dropped], 2 * H), vtn.clock.now, vtn.cache
    )
    for ven_id in (kept, dropped):
        [first] = await drain(vtn, ven_id)
        assert events_of(first) == [{"id": info.event_id, "mod": "0", "status": "far"}]
        assert (await created_event(vtn, ven_id, info.event_id, 0, "optIn")).code == 200

    changed = await modify_event(
        UnitOfWork(vtn.sessions), info.event_id, EventPatch(ven_ids=(kept,)), vtn.clock.now, vtn.cache
    )
    assert changed.modification_number == 1 and changed.ven_ids == (kept,)

    [to_kept] = await drain(vtn, kept)
    assert events_of(to_kept) == [{"id": info.event_id, "mod": "1", "status": "far"}]
    [to_dropped] = await drain(vtn, dropped)
    assert events_of(to_dropped) == [{"id": info.event_id, "mod": "1", "status": "cancelled"}]

    answer = await created_event(vtn, dropped, info.event_id, 1, "optIn")
    assert answer.message_type == "oadrResponse" and answer.code == 200, answer.body.decode()
    assert await drain(vtn, dropped) == [], "the cancellation is delivered once"
    assert events_of(await request_event(vtn, dropped)) == []
    # the dropped VEN is no longer among the event's VENs, so its answers are not shown
    assert (await get_event(UnitOfWork(vtn.sessions), info.event_id, vtn.clock.now)).responses == {}
    assert (await created_event(vtn, kept, info.event_id, 1, "optOut")).code == 200
    assert (await get_event(UnitOfWork(vtn.sessions), info.event_id, vtn.clock.now)).responses == {
        kept: "optOut"
    }


async def test_dropped_ven_may_not_answer_a_later_modification(vtn: Vtn) -> None:
    kept, _ = await provision_and_register(vtn, "ven-d3")
    dropped, _ = await provision_and_register(vtn, "ven-d4")
    info = await create_event(
        UnitOfWork(vtn.sessions), spec([kept, dropped], 2 * H), vtn.clock.now, vtn.cache
    )
    await modify_event(
        UnitOfWork(vtn.sessions), info.event_id, EventPatch(ven_ids=(kept,)), vtn.clock.now, vtn.cache
    )
    await drain(vtn, dropped)
    await modify_event(
        UnitOfWork(vtn.sessions), info.event_id, EventPatch(priority=2), vtn.clock.now, vtn.cache
    )
    assert await drain(vtn, dropped) == [], "a VEN no longer targeted hears nothing of later changes"
    refused = await created_event(vtn, dropped, info.event_id, 2, "optIn")
    assert refused.code == 452
    # an answer to the cancellation it did receive (modification 1) is still accepted
    assert (await created_event(vtn, dropped, info.event_id, 1, "optIn")).code == 200


async def test_a_ven_never_targeted_still_gets_452(vtn: Vtn) -> None:
    kept, _ = await provision_and_register(vtn, "ven-d5")
    stranger, _ = await provision_and_register(vtn, "ven-d6")
    info = await create_event(UnitOfWork(vtn.sessions), spec([kept], 2 * H), vtn.clock.now, vtn.cache)
    await modify_event(
        UnitOfWork(vtn.sessions), info.event_id, EventPatch(priority=2), vtn.clock.now, vtn.cache
    )
    assert (await created_event(vtn, stranger, info.event_id, 1, "optIn")).code == 452
