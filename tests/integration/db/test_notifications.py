"""NotificationRepository and WebhookRepository (vtn/db/repos/notifications.py) on SQLite and
PostgreSQL; and two delivery rounds on two engines at once, which send each notification once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import timedelta

import pytest

from aggregator.dispatch import EventDispatcher
from aggregator.notification_records import (
    DeliveryState,
    NotificationKind,
    NotificationRecord,
    SendResult,
    WebhookRecord,
)
from aggregator.notifications import DeliveryPolicy, deliver_due, enqueue_many
from aggregator.ports import NullNotifier, Schedule
from aggregator.vens import NewVen, provision_ven
from vtn.db.engine import open_database
from vtn.db.errors import DuplicateKey
from vtn.db.uow import Sessions, UnitOfWork

from .conftest import T0


def _note(i: int, site_id: str = "site-1", at_s: int = 0) -> NotificationRecord:
    at = T0 + timedelta(seconds=at_s)
    return NotificationRecord(
        f"n-{i}",
        site_id,
        NotificationKind.SCHEDULE_CHANGED,
        at,
        {"i": i, "ü": [1.5]},
        DeliveryState.PENDING,
        0,
        at,
    )


async def _add(sessions: Sessions, *notes: NotificationRecord) -> None:
    async with UnitOfWork(sessions) as uow:
        for note in notes:
            uow.notifications.add(note)
        await uow.commit()


async def test_a_notification_is_stored_as_given_listed_newest_first_and_due_oldest_first(
    sessions: Sessions,
) -> None:
    await _add(sessions, _note(1, at_s=0), _note(2, at_s=10), _note(3, "site-2", at_s=5))
    async with UnitOfWork(sessions) as uow:
        listed = await uow.notifications.of_site("site-1", 10)
        assert listed == [_note(2, at_s=10), _note(1, at_s=0)]  # times come back tz-aware UTC
        assert await uow.notifications.of_site("site-1", 1) == [_note(2, at_s=10)]
        assert await uow.notifications.of_site("site-1", 10, DeliveryState.DELIVERED) == []
        assert [n.id for n in await uow.notifications.due(T0 + timedelta(seconds=5), 10)] == ["n-1", "n-3"]
        assert [n.id for n in await uow.notifications.due(T0 + timedelta(seconds=60), 2)] == ["n-1", "n-3"]


async def test_a_claim_counts_the_attempt_holds_it_and_only_the_newest_attempt_records_a_failure(
    sessions: Sessions,
) -> None:
    await _add(sessions, _note(1))
    held = T0 + timedelta(seconds=30)
    async with UnitOfWork(sessions) as uow:
        claimed = await uow.notifications.claim("n-1", T0, held)
        assert claimed is not None and (claimed.attempts, claimed.next_attempt_at) == (1, held)
        assert await uow.notifications.claim("n-1", T0, held) is None  # held: not due
        assert await uow.notifications.due(T0 + timedelta(seconds=29), 10) == []
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        again = await uow.notifications.claim("n-1", held, held + timedelta(seconds=30))  # the claim ended
        assert again is not None and again.attempts == 2
        assert not await uow.notifications.mark_failed("n-1", 1, "late news", T0)  # attempt 1 is stale
        assert await uow.notifications.mark_failed("n-1", 2, "HTTP 503", held + timedelta(seconds=2))
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        (stored,) = await uow.notifications.of_site("site-1", 10)
        assert (stored.attempts, stored.last_error, stored.next_attempt_at) == (
            2,
            "HTTP 503",
            held + timedelta(seconds=2),
        )
        assert await uow.notifications.mark_delivered("n-1", held)
        assert not await uow.notifications.mark_delivered("n-1", held)
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        (done,) = await uow.notifications.of_site("site-1", 10, DeliveryState.DELIVERED)
        assert (done.state, done.delivered_at, done.last_error) == (DeliveryState.DELIVERED, held, None)
        assert await uow.notifications.due(held + timedelta(days=1), 10) == []
        assert await uow.notifications.claim("n-1", held + timedelta(days=1), held) is None


async def test_pruning_forgets_only_what_was_delivered_before_the_cut(sessions: Sessions) -> None:
    await _add(sessions, _note(1), _note(2), _note(3))
    async with UnitOfWork(sessions) as uow:
        assert await uow.notifications.mark_delivered("n-1", T0)
        assert await uow.notifications.mark_delivered("n-2", T0 + timedelta(days=2))
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.notifications.prune_delivered(T0 + timedelta(days=1)) == 1
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        left = {n.id: n.state for n in await uow.notifications.of_site("site-1", 10)}
    assert left == {"n-2": DeliveryState.DELIVERED, "n-3": DeliveryState.PENDING}  # pending stays


async def test_a_sites_webhook_is_added_once_changed_and_removed(sessions: Sessions) -> None:
    hook = WebhookRecord("site-1", "https://app.example/h", "secret-1", T0)
    async with UnitOfWork(sessions) as uow:
        uow.webhooks.add(hook)
        await uow.commit()
    with pytest.raises(DuplicateKey):
        async with UnitOfWork(sessions) as uow:
            uow.webhooks.add(hook)
            await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.webhooks.get("site-1") == hook
        assert await uow.webhooks.of_sites(["site-1", "site-2"]) == {"site-1": hook}
        assert await uow.webhooks.of_sites([]) == {}
        await uow.webhooks.save(WebhookRecord("site-1", "http://b.example/", "secret-2", T0))
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.webhooks.get("site-1") == WebhookRecord(
            "site-1", "http://b.example/", "secret-2", T0
        )
        assert await uow.webhooks.remove("site-1")
        assert not await uow.webhooks.remove("site-1")
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.webhooks.get("site-1") is None


class SlowReceiver:
    """Answers 200 after a pause, so that two rounds overlap; keeps the ids it got."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        await asyncio.sleep(0.05)
        self.ids.append(json.loads(body)["id"])
        return SendResult(200)


async def test_two_processes_delivering_at_once_send_each_notification_once(db_url: str) -> None:
    """Two engines (as two VTN workers have) run delivery rounds concurrently until nothing is due."""
    count = 40
    receiver = SlowReceiver()
    policy = DeliveryPolicy(batch=7)
    async with open_database(db_url) as a, open_database(db_url) as b:
        async with UnitOfWork(a) as uow:
            uow.webhooks.add(WebhookRecord("site-1", "https://app.example/h", "s", T0))
            await uow.flush()
            items = [("site-1", NotificationKind.SCHEDULE_CHANGED, {"i": i}) for i in range(count)]
            queued = await enqueue_many(uow, items, T0)
            await uow.commit()

        async def worker(sessions: Sessions) -> int:
            """Rounds until nothing is pending; how many of them sent something."""
            rounds = 0
            while True:
                if await deliver_due(UnitOfWork(sessions), receiver, T0, policy):
                    rounds += 1
                    continue
                async with UnitOfWork(sessions) as uow:
                    if not await uow.notifications.of_site("site-1", 1, DeliveryState.PENDING):
                        return rounds
                await asyncio.sleep(0.01)  # the other worker holds the rest

        rounds = await asyncio.gather(worker(a), worker(b))
        async with UnitOfWork(a) as uow:
            pending = await uow.notifications.of_site("site-1", 100, DeliveryState.PENDING)
    assert sorted(receiver.ids) == sorted(q.id for q in queued)  # every one, each once
    assert pending == []
    assert all(r > 0 for r in rounds), f"the rounds did not overlap: {rounds}"


async def test_a_dispatched_schedule_is_told_in_the_transaction_that_records_it(sessions: Sessions) -> None:
    """The dispatcher's record and its schedule_changed notification, on the database."""
    ven = await provision_ven(UnitOfWork(sessions), NewVen("gw-1", "home-1"), T0)
    async with UnitOfWork(sessions) as uow:
        uow.webhooks.add(WebhookRecord("home-1", "https://app.example/h", "s", T0))
        await uow.commit()
    dispatcher = EventDispatcher(UnitOfWork(sessions), NullNotifier(), 3600)
    schedule = Schedule(ven.ven_id, "home-1", T0, timedelta(minutes=15), (1.0, 2.0))
    (done,) = await dispatcher.dispatch_all([schedule], "run-1", T0)
    async with UnitOfWork(sessions) as uow:
        (note,) = await uow.notifications.of_site("home-1", 10)
        recorded = await uow.dispatches.get(ven.ven_id)
    assert (note.kind, note.state, note.data["event_id"], note.data["run_id"]) == (
        NotificationKind.SCHEDULE_CHANGED,
        DeliveryState.PENDING,
        done.event_id,
        "run-1",
    )
    assert recorded is not None and recorded.event_id == done.event_id
