"""OutboxRepository (vtn/db/repos/outbox.py) and the reads acknowledgement needs of the events
and report requests (EventRepository.answered/windows, ReportRepository.request_states)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from vtn.db.uow import Sessions, UnitOfWork

from .conftest import T0, add_ven
from .test_vens_events_opts import _event


async def _queue(sessions: Sessions, ven_id: str, *kinds: str) -> None:
    async with UnitOfWork(sessions) as uow:
        for kind in kinds:
            uow.outbox.enqueue(ven_id, kind, {"kind": kind}, T0)
        await uow.commit()


async def test_a_message_is_claimed_once_sent_again_when_due_and_finished(sessions: Sessions) -> None:
    await add_ven(sessions, "v1")
    await _queue(sessions, "v1", "oadrDistributeEvent", "oadrCreateReport")
    later = T0 + timedelta(seconds=10)
    async with UnitOfWork(sessions) as uow:
        first = await uow.outbox.next_due("v1", sent_before=T0)
        assert first is not None and (first.message_type, first.send_count, first.sent_at) == (
            "oadrDistributeEvent",
            0,
            None,
        )
        claimed = await uow.outbox.claim(first.id, T0, sent_before=T0)
        assert claimed is not None and (claimed.send_count, claimed.sent_at) == (1, T0)
        assert await uow.outbox.claim(first.id, T0, sent_before=T0 - timedelta(seconds=1)) is None  # not due
        await uow.outbox.save(replace(claimed, request_id="req-1", payload={"kind": "changed"}))
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        [in_flight] = await uow.outbox.in_flight("v1")
        [unsent] = await uow.outbox.unsent("v1")
        assert (in_flight.request_id, in_flight.payload) == ("req-1", {"kind": "changed"})
        assert unsent.message_type == "oadrCreateReport"
        assert (await uow.outbox.next_due("v1", sent_before=T0 - timedelta(seconds=1))) == unsent
        again = await uow.outbox.claim(in_flight.id, later, sent_before=T0)  # due again
        assert again is not None and (again.send_count, again.sent_at) == (2, later)
        await uow.outbox.mark_written(in_flight.id, 2, later)
        assert await uow.outbox.finish(in_flight.id, later, acknowledged=True)
        assert not await uow.outbox.finish(in_flight.id, later, acknowledged=True)
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        [done] = await uow.outbox.sent_since("v1", "oadrDistributeEvent", T0)
        assert (done.delivered_at, done.acked_at, done.written_at) == (later, later, later)
        assert await uow.outbox.in_flight("v1") == []
        assert await uow.outbox.pending_ven_ids() == {"v1"}
        assert await uow.outbox.prune_delivered(later + timedelta(seconds=1)) == 1
        await uow.outbox.discard_pending("v1")
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.outbox.pending_ven_ids() == set()


async def test_folding_and_absorbing_distributes(sessions: Sessions) -> None:
    await add_ven(sessions, "v1")
    await _queue(sessions, "v1", "oadrDistributeEvent", "oadrDistributeEvent")
    async with UnitOfWork(sessions) as uow:
        last = await uow.outbox.last_pending("v1")
        assert last is not None
        assert await uow.outbox.merge_payload(last.id, {"cancelled_event_ids": ["e1"]})
        first = await uow.outbox.next_due("v1", sent_before=T0)
        assert first is not None and first.id != last.id
        claimed = await uow.outbox.claim(first.id, T0, sent_before=T0)
        assert claimed is not None
        assert not await uow.outbox.merge_payload(first.id, {"x": 1})  # it went out
        assert await uow.outbox.absorb("v1", "oadrDistributeEvent", first.id, T0) == [
            {"cancelled_event_ids": ["e1"]}
        ]
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert [m.id for m in await uow.outbox.in_flight("v1")] == [first.id]
        assert await uow.outbox.unsent("v1") == []


async def test_what_acknowledgement_reads_of_events_and_requests(sessions: Sessions) -> None:
    await add_ven(sessions, "v1")
    async with UnitOfWork(sessions) as uow:
        uow.events.add(_event("e1", T0))
        await uow.flush()
        await uow.events.record_response("v1", "e1", 0, "optIn", "200", T0)
        await uow.events.record_response("v1", "e1", 2, "optIn", "200", T0)
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.events.answered("v1", ["e1", "e2"]) == {"e1": 2}
        assert await uow.events.windows(["e1", "e2"]) == {"e1": (T0, 1800)}
        assert await uow.events.answered("v1", []) == {} and await uow.events.windows([]) == {}
        assert await uow.reports.request_states(["nope"]) == {}
