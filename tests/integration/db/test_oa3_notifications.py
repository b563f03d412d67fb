"""Oa3NotificationRepository (vtn/db/repos/oa3_notifications.py) on SQLite and PostgreSQL: stored
as given, claimed once, resolved, retried with what is left, delivered, pruned; and a change that
rolls back takes its notification with it."""

from __future__ import annotations

from datetime import timedelta

from aggregator.notification_records import DeliveryState
from aggregator.openadr3_notification_records import (
    Channel,
    Destination,
    Oa3NotificationRecord,
    Operation,
    RenderedObject,
)
from aggregator.openadr3_notifications import record_change
from aggregator.openadr3_records import ObjectType
from vtn.db.uow import Sessions, UnitOfWork

from .conftest import T0

GONE = RenderedObject({"id": "v1", "objectType": "VEN", "ü": [1.5]}, None, ("v1",), False)
MQTT = Destination(Channel.MQTT, ("openadr3/vens/delete", "openadr3/vens/v1/delete"))
HOOK = Destination(Channel.WEBHOOK, (), "http://127.0.0.1:9/cb", "tok", "sub-1")


async def _queue(sessions: Sessions, *changes: tuple[str, int, RenderedObject | None]) -> list[str]:
    async with UnitOfWork(sessions) as uow:
        ids = [
            record_change(uow, ObjectType.VEN, Operation.DELETE, oid, T0 + timedelta(seconds=s), r).id
            for oid, s, r in changes
        ]
        await uow.commit()
    return ids


async def test_stored_as_given_and_due_oldest_first(sessions: Sessions) -> None:
    late, early = await _queue(sessions, ("v2", 10, None), ("v1", 0, GONE))
    async with UnitOfWork(sessions) as uow:
        got = await uow.oa3_notifications.get(early)
        assert got == Oa3NotificationRecord(
            early, ObjectType.VEN, Operation.DELETE, "v1", T0, DeliveryState.PENDING, 0, T0, GONE
        )
        assert [n.id for n in await uow.oa3_notifications.due(T0 + timedelta(seconds=5), 10)] == [early]
        assert [n.id for n in await uow.oa3_notifications.due(T0 + timedelta(seconds=60), 10)] == [
            early,
            late,
        ]
        assert [n.id for n in await uow.oa3_notifications.due(T0 + timedelta(seconds=60), 1)] == [early]


async def test_claimed_once_resolved_retried_with_what_is_left_then_delivered(sessions: Sessions) -> None:
    (nid,) = await _queue(sessions, ("v1", 0, None))
    held = T0 + timedelta(seconds=30)
    async with UnitOfWork(sessions) as uow:
        claimed = await uow.oa3_notifications.claim(nid, T0, held)
        assert claimed is not None and (claimed.attempts, claimed.destinations) == (1, None)
        assert await uow.oa3_notifications.claim(nid, T0, held) is None  # held
        await uow.oa3_notifications.resolve(nid, GONE, (MQTT, HOOK))
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        again = await uow.oa3_notifications.claim(nid, held, held + timedelta(seconds=30))
        assert again is not None and again.attempts == 2
        assert (again.rendered, again.destinations) == (GONE, (MQTT, HOOK))
        assert not await uow.oa3_notifications.mark_failed(nid, 1, "stale", T0, ())  # attempt 1 is stale
        assert await uow.oa3_notifications.mark_failed(
            nid, 2, "HTTP 503", held + timedelta(seconds=2), (HOOK,)
        )
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        left = await uow.oa3_notifications.get(nid)
        assert left is not None
        assert (left.destinations, left.last_error, left.next_attempt_at) == (
            (HOOK,),
            "HTTP 503",
            held + timedelta(seconds=2),
        )
        assert await uow.oa3_notifications.mark_delivered(nid, held)
        assert not await uow.oa3_notifications.mark_delivered(nid, held)  # once
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        done = await uow.oa3_notifications.get(nid)
        assert done is not None and (done.state, done.delivered_at, done.destinations) == (
            DeliveryState.DELIVERED,
            held,
            (),
        )
        assert await uow.oa3_notifications.due(held + timedelta(days=1), 10) == []
        assert await uow.oa3_notifications.prune_delivered(held) == 0
        assert await uow.oa3_notifications.prune_delivered(held + timedelta(seconds=1)) == 1
        await uow.commit()


async def test_a_change_rolled_back_takes_its_notification_with_it(sessions: Sessions) -> None:
    async with UnitOfWork(sessions) as uow:
        record_change(uow, ObjectType.EVENT, Operation.CREATE, "ev1", T0)  # no commit
    async with UnitOfWork(sessions) as uow:
        assert await uow.oa3_notifications.due(T0 + timedelta(days=1), 10) == []
