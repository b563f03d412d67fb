"""The outbox use cases (aggregator/outbox.py) on in-memory ports.

How messages go out and are acknowledged over OpenADR is tested at the edge
(tests/integration/vtn_openadr/test_delivery*.py, tests/integration/faults)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from fakes import FakeUnitOfWork

from aggregator import outbox
from aggregator.records import OutboxRecord

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)


def _distribute(message_id: int, ven_id: str = "ven-1", **changes: object) -> OutboxRecord:
    message = OutboxRecord(message_id, ven_id, outbox.DISTRIBUTE_EVENT, {"cancelled_event_ids": []}, T0)
    return replace(message, **changes)  # type: ignore[arg-type]


async def _queue(uow: FakeUnitOfWork, ven_ids: list[str], cancelled: tuple[str, ...] = ()) -> None:
    async with uow:
        await outbox.queue_distribute(uow, ven_ids, T0, cancelled_event_ids=cancelled)
        await uow.commit()


async def test_a_distribute_is_queued_for_each_ven() -> None:
    uow = FakeUnitOfWork()

    await _queue(uow, ["ven-1", "ven-2"], ("ev-9",))

    queued = sorted(uow.stored.outbox.values(), key=lambda m: m.ven_id)
    assert [(m.ven_id, m.message_type, m.payload) for m in queued] == [
        ("ven-1", outbox.DISTRIBUTE_EVENT, {"cancelled_event_ids": ["ev-9"]}),
        ("ven-2", outbox.DISTRIBUTE_EVENT, {"cancelled_event_ids": ["ev-9"]}),
    ]


async def test_a_distribute_folds_into_one_that_has_not_gone_out() -> None:
    uow = FakeUnitOfWork(outbox=[_distribute(1, payload={"cancelled_event_ids": ["ev-2"]})])

    await _queue(uow, ["ven-1"], ("ev-1",))

    assert list(uow.stored.outbox) == [1]
    assert uow.stored.outbox[1].payload == {"cancelled_event_ids": ["ev-1", "ev-2"]}


async def test_a_distribute_that_went_out_is_left_as_it_was_and_a_new_one_queued() -> None:
    sent = _distribute(1, payload={"cancelled_event_ids": ["ev-2"]}, sent_at=T0, send_count=1)
    uow = FakeUnitOfWork(outbox=[sent])

    await _queue(uow, ["ven-1"], ("ev-1",))

    assert uow.stored.outbox[1] == sent  # the VEN may acknowledge what it carried then
    assert uow.stored.outbox[2].payload == {"cancelled_event_ids": ["ev-1"]}


async def test_told_cancelled_reads_what_sends_since_then_carried_for_the_event() -> None:
    carried = {outbox.DELIVERED_CANCELLATIONS: {"ev-1": [2, 3], "ev-2": 7}}
    old = {outbox.DELIVERED_CANCELLATIONS: {"ev-1": [1]}}
    uow = FakeUnitOfWork(
        outbox=[
            _distribute(1, payload=old, sent_at=T0 - timedelta(hours=1)),
            _distribute(2, payload=carried, sent_at=T0 + timedelta(minutes=1)),
            _distribute(3, ven_id="ven-2", payload=carried, sent_at=T0 + timedelta(minutes=1)),
        ]
    )

    async with uow:
        told = await outbox.told_cancelled(uow, "ven-1", "ev-1", since=T0)

    assert told == {2, 3}
    assert outbox.told(carried) == {"ev-1": [2, 3], "ev-2": [7]}  # an int from before at-least-once


async def test_pruning_deletes_only_messages_done_before_the_time() -> None:
    done_long_ago = _distribute(1, delivered_at=T0 - timedelta(days=8))
    done_recently = _distribute(2, delivered_at=T0 - timedelta(hours=1))
    pending = _distribute(3)
    uow = FakeUnitOfWork(outbox=[done_long_ago, done_recently, pending])

    removed = await outbox.prune_delivered(uow, T0 - timedelta(days=7))

    assert removed == 1
    assert sorted(uow.stored.outbox) == [2, 3]
