"""aggregator/notifications.py: queue, sign, claim, back off, deliver once; the household's webhook."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest
from fakes import FakeUnitOfWork
from samples import REGISTERED_VEN, T0

from aggregator import notifications as n
from aggregator.errors import InvalidInput, NotFound
from aggregator.notification_records import (
    DeliveryState,
    NotificationKind,
    NotificationRecord,
    SendResult,
    WebhookRecord,
)
from aggregator.webhook_signature import ID_HEADER, SIGNATURE_HEADER, body_bytes, sign, verify

HOOK = WebhookRecord("site-1", "https://app.example/hook", "s3cret", T0)
POLICY = n.DeliveryPolicy(batch=10, send_timeout=timedelta(seconds=5))


@dataclass
class Receiver:
    """A WebhookSender that answers with the next of `answers` (then 200) and keeps what came."""

    answers: list[int | None] = field(default_factory=list)
    got: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        self.got.append((url, body, dict(headers)))
        status = self.answers.pop(0) if self.answers else 200
        return SendResult(status, None if status else "connection refused")


async def _queued(uow: FakeUnitOfWork, count: int = 1) -> list[NotificationRecord]:
    out = []
    for i in range(count):
        record = await n.notify(uow, "site-1", NotificationKind.SCHEDULE_CHANGED, {"i": i}, T0)
        assert record is not None
        out.append(record)
    return out


def _stored(uow: FakeUnitOfWork, notification_id: str) -> NotificationRecord:
    return uow.stored.notifications[notification_id]


# ---- queueing ----------------------------------------------------------------------------------


async def test_notify_queues_only_for_a_site_with_a_webhook() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], webhooks=[HOOK])
    queued = await n.notify(uow, "site-1", NotificationKind.DEVICE_OFFLINE, {"ven_id": "ven-1"}, T0)
    assert await n.notify(uow, "site-2", NotificationKind.DEVICE_OFFLINE, {}, T0) is None
    assert queued is not None and list(uow.stored.notifications) == [queued.id]
    assert (queued.state, queued.attempts, queued.next_attempt_at) == (DeliveryState.PENDING, 0, T0)


# ---- the signature ------------------------------------------------------------------------------


async def test_the_body_is_the_documented_json_and_its_signature_verifies_with_the_secret() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], webhooks=[HOOK])
    (queued,) = await _queued(uow)
    receiver = Receiver()
    await n.deliver_due(uow, receiver, T0, POLICY)
    ((url, body, headers),) = receiver.got
    assert url == HOOK.url
    assert json.loads(body) == {
        "id": queued.id,
        "kind": "schedule_changed",
        "site_id": "site-1",
        "created_at": T0.isoformat(),
        "data": {"i": 0},
    }
    assert headers[ID_HEADER] == queued.id
    assert verify("s3cret", body, headers[SIGNATURE_HEADER])
    assert not verify("other secret", body, headers[SIGNATURE_HEADER])
    assert not verify("s3cret", body.replace(b'"i":0', b'"i":1'), headers[SIGNATURE_HEADER])


def test_the_signature_is_hmac_sha256_hex_of_the_exact_bytes() -> None:
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign("Jefe", b"what do ya want for nothing?") == "sha256=" + expected
    assert not verify("Jefe", b"what do ya want for nothing?", expected)  # the prefix is part of it
    assert not verify("Jefe", b"anything", None)


def test_every_attempt_sends_the_same_bytes() -> None:
    record = NotificationRecord(
        "id-1", "site-1", NotificationKind.TARGET_AT_RISK, T0, {"kwh": 2.5, "é": "x"}, DeliveryState.PENDING,
        0, T0,
    )  # fmt: skip
    assert body_bytes(record) == body_bytes(replace(record, attempts=7, last_error="HTTP 500"))


# ---- delivery, retries, backoff ----------------------------------------------------------------


def test_backoff_doubles_from_a_second_and_stops_at_an_hour() -> None:
    policy = n.DeliveryPolicy()
    waits = [n.backoff(a, policy).total_seconds() for a in (1, 2, 3, 4, 12, 13, 100, 10**9)]
    assert waits == [1, 2, 4, 8, 2048, 3600, 3600, 3600]


async def test_a_failed_attempt_is_retried_after_the_backoff_then_delivered_and_never_sent_again() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], webhooks=[HOOK])
    (queued,) = await _queued(uow)
    receiver = Receiver(answers=[500, None])
    first = await n.deliver_due(uow, receiver, T0, POLICY)
    assert [(a.attempt, a.result.status, a.next_attempt_at) for a in first] == [
        (1, 500, T0 + timedelta(seconds=1))
    ]
    stored = _stored(uow, queued.id)
    assert (stored.state, stored.attempts, stored.last_error) == (DeliveryState.PENDING, 1, "HTTP 500")
    assert await n.deliver_due(uow, receiver, T0 + timedelta(milliseconds=999), POLICY) == []  # not due yet
    second = await n.deliver_due(uow, receiver, T0 + timedelta(seconds=1), POLICY)
    assert second[0].next_attempt_at == T0 + timedelta(seconds=3)  # 1 s later + 2 s
    assert _stored(uow, queued.id).last_error == "connection refused"
    t3 = T0 + timedelta(seconds=3)
    third = await n.deliver_due(uow, receiver, t3, POLICY)
    assert [(a.attempt, a.result.status, a.next_attempt_at) for a in third] == [(3, 200, None)]
    stored = _stored(uow, queued.id)
    assert (stored.state, stored.delivered_at, stored.attempts, stored.last_error) == (
        DeliveryState.DELIVERED, t3, 3, None,
    )  # fmt: skip
    assert await n.deliver_due(uow, receiver, t3 + timedelta(days=1), POLICY) == []
    assert len(receiver.got) == 3
    assert len({body for _, body, _ in receiver.got}) == 1  # one id, one body


async def test_a_redirect_is_not_an_acknowledgement() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], webhooks=[HOOK])
    (queued,) = await _queued(uow)
    await n.deliver_due(uow, Receiver(answers=[302]), T0, POLICY)
    assert _stored(uow, queued.id).state == DeliveryState.PENDING


async def test_a_round_claims_at_most_a_batch_oldest_first() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], webhooks=[HOOK])
    queued = await _queued(uow, 3)
    receiver = Receiver()
    first = await n.deliver_due(uow, receiver, T0, replace(POLICY, batch=2))
    assert len(first) == 2
    rest = await n.deliver_due(uow, receiver, T0, replace(POLICY, batch=2))
    assert {a.notification_id for a in [*first, *rest]} == {q.id for q in queued}


async def test_a_claimed_notification_is_not_claimed_again_until_its_claim_ends() -> None:
    """What a second worker (or a restarted VTN) sees of a notification another has claimed:
    not due until the claim ends; then due again, which is why delivery is at least once."""
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], webhooks=[HOOK])
    (queued,) = await _queued(uow)
    async with uow:
        claimed = await uow.notifications.claim(queued.id, T0, T0 + POLICY.claim)
        assert claimed is not None and claimed.attempts == 1
        assert await uow.notifications.claim(queued.id, T0, T0 + POLICY.claim) is None
        await uow.commit()
    receiver = Receiver()
    assert await n.deliver_due(uow, receiver, T0 + POLICY.claim - timedelta(seconds=1), POLICY) == []
    again = await n.deliver_due(uow, receiver, T0 + POLICY.claim, POLICY)
    assert [a.attempt for a in again] == [2] and len(receiver.got) == 1
    assert POLICY.claim > POLICY.send_timeout  # a send in flight is never claimed twice


async def test_an_outcome_of_an_older_claim_does_not_overwrite_a_newer_one() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], webhooks=[HOOK])
    (queued,) = await _queued(uow)
    async with uow:
        await uow.notifications.claim(queued.id, T0, T0)  # attempt 1, its claim over at once
        await uow.notifications.claim(queued.id, T0, T0 + timedelta(minutes=1))  # attempt 2
        assert not await uow.notifications.mark_failed(queued.id, 1, "late", T0)
        assert await uow.notifications.mark_delivered(queued.id, T0)
        assert not await uow.notifications.mark_delivered(queued.id, T0)


async def test_two_rounds_at_once_send_each_notification_once() -> None:
    """Two delivery rounds overlapping (their sends interleave): each claim is committed before
    any send, so the second round finds nothing due."""
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], webhooks=[HOOK])
    queued = await _queued(uow, 3)
    gate = asyncio.Event()

    class SlowReceiver(Receiver):
        async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
            await gate.wait()
            return await super().send(url, body, headers)

    receiver = SlowReceiver()
    first = asyncio.create_task(n.deliver_due(uow, receiver, T0, POLICY))
    await asyncio.sleep(0)  # the first round has claimed and is sending
    assert await n.deliver_due(uow, receiver, T0, POLICY) == []
    gate.set()
    assert len(await first) == 3
    ids = [json.loads(body)["id"] for _, body, _ in receiver.got]
    assert sorted(ids) == sorted(q.id for q in queued)


async def test_without_a_webhook_a_pending_notification_waits_and_goes_out_once_one_is_set() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], webhooks=[HOOK])
    await _queued(uow)
    await n.remove_webhook(uow, "site-1")
    receiver = Receiver()
    (attempt,) = await n.deliver_due(uow, receiver, T0, POLICY)
    assert attempt.result.error == n.NO_WEBHOOK and receiver.got == []
    secret = await n.set_webhook(uow, "site-1", "http://new.example/h", T0)
    assert secret is not None
    (attempt,) = await n.deliver_due(uow, receiver, T0 + timedelta(seconds=1), POLICY)
    assert attempt.result.acknowledged and receiver.got[0][0] == "http://new.example/h"
    assert verify(secret, receiver.got[0][1], receiver.got[0][2][SIGNATURE_HEADER])


async def test_a_sender_that_raises_is_recorded_as_a_failed_attempt() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], webhooks=[HOOK])
    (queued,) = await _queued(uow)

    class Broken:
        async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
            raise RuntimeError("bug")

    (attempt,) = await n.deliver_due(uow, Broken(), T0, POLICY)
    assert attempt.next_attempt_at == T0 + timedelta(seconds=1)
    assert _stored(uow, queued.id).last_error == "RuntimeError: bug"


# ---- the household's webhook and list ------------------------------------------------------------


async def test_the_secret_is_shown_when_the_webhook_is_made_and_when_it_is_rotated_only() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN])
    secret = await n.set_webhook(uow, "site-1", " https://a.example/h ", T0, own_site="site-1")
    assert secret and len(secret) >= 40
    assert uow.stored.webhooks["site-1"] == WebhookRecord("site-1", "https://a.example/h", secret, T0)
    assert await n.set_webhook(uow, "site-1", "https://b.example/h", T0) is None  # the URL only
    assert uow.stored.webhooks["site-1"].secret == secret
    rotated = await n.rotate_secret(uow, "site-1", T0, own_site="site-1")
    assert rotated != secret and uow.stored.webhooks["site-1"].secret == rotated
    assert uow.stored.webhooks["site-1"].url == "https://b.example/h"


@pytest.mark.parametrize(
    "url",
    ["ftp://a.example/h", "javascript:alert(1)", "https://", "http://a b.example/", "", "https://a.example:99999/",
     "http://a.example/" + "x" * 2048],
)  # fmt: skip
async def test_a_webhook_url_that_is_not_http_or_https_is_refused_naming_url(url: str) -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN])
    with pytest.raises(InvalidInput) as raised:
        await n.set_webhook(uow, "site-1", url, T0)
    assert raised.value.field == "url"
    assert uow.stored.webhooks == {}


@pytest.mark.parametrize(("site_id", "own_site"), [("site-1", "site-2"), ("site-1", ""), ("site-9", None)])
async def test_another_customers_site_is_not_found(site_id: str, own_site: str | None) -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], webhooks=[HOOK])
    await _queued(uow)
    with pytest.raises(NotFound):
        await n.list_notifications(uow, site_id, own_site)
    with pytest.raises(NotFound):
        await n.set_webhook(uow, site_id, "https://x.example/", T0, own_site)
    with pytest.raises(NotFound):
        await n.rotate_secret(uow, site_id, T0, own_site)
    assert uow.stored.webhooks == {"site-1": HOOK}


async def test_the_list_is_the_sites_own_newest_first_with_their_state() -> None:
    other = replace(REGISTERED_VEN, ven_id="ven-2", ven_name="home 2", site_id="site-2")
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN, other], webhooks=[HOOK, replace(HOOK, site_id="site-2")])
    older = await n.notify(uow, "site-1", NotificationKind.DEVICE_OFFLINE, {}, T0)
    newer = await n.notify(uow, "site-1", NotificationKind.SCHEDULE_CHANGED, {}, T0 + timedelta(minutes=1))
    await n.notify(uow, "site-2", NotificationKind.SCHEDULE_CHANGED, {}, T0)
    assert older is not None and newer is not None
    async with uow:
        await uow.notifications.claim(older.id, T0, T0)
        await uow.notifications.mark_delivered(older.id, T0)
        await uow.commit()
    listed = await n.list_notifications(uow, "site-1", "site-1")
    assert [(x.id, x.state) for x in listed] == [(newer.id, "pending"), (older.id, "delivered")]
    assert [x.id for x in await n.list_notifications(uow, "site-1", None, state=DeliveryState.PENDING)] == [
        newer.id
    ]
    assert len(await n.list_notifications(uow, "site-1", None, limit=1)) == 1


async def test_delivered_notifications_go_after_a_month_pending_ones_never() -> None:
    from aggregator.notifications import NOTIFICATION_RETENTION, prune_delivered

    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], webhooks=[HOOK])
    first, second = await _queued(uow, 2)
    async with uow:
        await uow.notifications.mark_delivered(first.id, T0)
        await uow.commit()
    assert await prune_delivered(uow, T0 + NOTIFICATION_RETENTION) == 0  # not older than a month yet
    assert await prune_delivered(uow, T0 + NOTIFICATION_RETENTION + timedelta(seconds=1)) == 1
    assert list(uow.stored.notifications) == [second.id]
