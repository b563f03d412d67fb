"""OpenADR 3.1 notifications: every change of a program, event, report, subscription, VEN or
resource goes to the MQTT broker (the spec's topics) and to the callbacks of the subscriptions
that ask for it, at least once, surviving a VTN restart.

Queueing. `record_change` adds a row to the durable outbox (`uow.oa3_notifications`) in the
transaction of the change itself: whatever path made the change (the 3.1 API, the REST API, the
planner's dispatch, a 2.0b registration) calls it from its use case, so a change is stored with
its notification or not at all. Only the object's type, id and operation are stored then (the
aggregator does not know the 3.1 shape of its objects); a delete stores the object as it was.

Delivery. `deliver_due` runs as the households' webhooks do (aggregator/notifications.py):
claims committed before anything is sent, exponential backoff, never given up. A notification's
first round renders the object through the 3.1 face (`ObjectRenderer`) and resolves its
destinations: the broker's topics and the callbacks of the subscriptions that match; both are
stored, so every retry sends the same body to the same places. Each round sends to the
destinations still pending and keeps those that failed. A receiver sees a notification at least
once (the body is the spec's `notification` object: objectType, operation, object, targets).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from aggregator.ids import new_id
from aggregator.notification_records import DeliveryState, SendResult, WebhookSender
from aggregator.notifications import MAX_ERROR_LENGTH, DeliveryPolicy, backoff
from aggregator.openadr3_notification_records import (
    Channel,
    Destination,
    MqttPublisher,
    Oa3NotificationRecord,
    Operation,
    RenderedObject,
    SubscriptionView,
)
from aggregator.openadr3_records import ObjectType
from aggregator.uow import UnitOfWork

log = logging.getLogger(__name__)

DEFAULT_TOPIC_PREFIX = "openadr3"
RETENTION = timedelta(days=7)  # delivered notifications are kept this long (for inspection)
OBJECT_GONE = "the object no longer exists"


class ObjectRenderer(Protocol):
    """How the 3.1 face shows its objects (vtn/openadr3/notifiers_render.py over its repositories)."""

    async def render(self, uow: UnitOfWork, object_type: ObjectType, object_id: str) -> RenderedObject | None:
        """On an entered unit of work: the object as the 3.1 API shows it now; None if it is gone."""
        ...

    async def subscriptions(self, uow: UnitOfWork) -> Sequence[SubscriptionView]:
        """On an entered unit of work: every stored subscription."""
        ...


# ---- topics (the MQTT binding) ---------------------------------------------------------------

_COLLECTION = {
    ObjectType.PROGRAM: "programs",
    ObjectType.EVENT: "events",
    ObjectType.REPORT: "reports",
    ObjectType.SUBSCRIPTION: "subscriptions",
    ObjectType.VEN: "vens",
    ObjectType.RESOURCE: "resources",
}


def operation_topics(base: str, with_create: bool = True) -> dict[str, str]:
    """The spec's notifierOperationsTopics under `base`: one topic per operation and ALL (`+`).

    CREATE is left out for a single object's topics (nobody can ask to hear of an id's creation
    before it exists, as the spec notes)."""
    topics = {op.value: f"{base}/{op.value.lower()}" for op in Operation}
    if not with_create:
        del topics[Operation.CREATE.value]
    topics["ALL"] = f"{base}/+"
    return topics


def topic_base(prefix: str, *parts: str) -> str:
    """`prefix/part/...`, e.g. topic_base('openadr3', 'vens', ven_id, 'events')."""
    return "/".join((prefix, *parts))


def topics_for(
    prefix: str, object_type: ObjectType, operation: Operation, object_id: str, rendered: RenderedObject
) -> tuple[str, ...]:
    """Every topic a change is published on: its collection's, its own (programs and VENs), its
    program's events, and the per-VEN topics of the VENs it concerns."""
    op = operation.value.lower()
    collection = _COLLECTION[object_type]
    topics = [topic_base(prefix, collection, op)]
    if object_type in (ObjectType.PROGRAM, ObjectType.VEN) and operation is not Operation.CREATE:
        topics.append(topic_base(prefix, collection, object_id, op))
    if object_type is ObjectType.EVENT and rendered.program_id:
        topics.append(topic_base(prefix, "programs", rendered.program_id, "events", op))
    if object_type in (ObjectType.PROGRAM, ObjectType.EVENT, ObjectType.RESOURCE):
        topics += [topic_base(prefix, "vens", ven_id, collection, op) for ven_id in rendered.ven_ids]
    return tuple(dict.fromkeys(topics))


def is_topic_level(value: str) -> bool:
    """Can `value` (an object id) stand as one topic level: not empty, no `/`, no wildcard?"""
    return bool(value) and not any(c in value for c in "/+#\0")


# ---- matching subscriptions ------------------------------------------------------------------


def sees(subscription: SubscriptionView, rendered: RenderedObject) -> bool:
    """May the subscription's client read the object, and does the object fall in its program
    and targets? A program-bound subscription hears only of its program's objects; targets on
    both sides must share one (an object without targets reaches every subscription)."""
    if subscription.program_id is not None and rendered.program_id != subscription.program_id:
        return False
    if subscription.ven_id is not None and not (rendered.all_vens or subscription.ven_id in rendered.ven_ids):
        return False
    object_targets = rendered.targets
    return not (subscription.targets and object_targets and not subscription.targets & set(object_targets))


def webhook_destinations(
    subscriptions: Sequence[SubscriptionView],
    object_type: ObjectType,
    operation: Operation,
    rendered: RenderedObject,
) -> list[Destination]:
    """One destination per distinct (callbackUrl, bearerToken) of the entries that ask for this
    object type and operation, in subscriptions that see the object."""
    out: dict[tuple[str, str | None], Destination] = {}
    for sub in subscriptions:
        if not sees(sub, rendered):
            continue
        for entry in sub.object_operations:
            if object_type in entry.objects and operation.value in entry.operations:
                key = (entry.callback_url, entry.bearer_token)
                destination = Destination(
                    Channel.WEBHOOK, (), entry.callback_url, entry.bearer_token, sub.subscription_id
                )
                out.setdefault(key, destination)
    return list(out.values())


def notification_body(object_type: ObjectType, operation: Operation, rendered: RenderedObject) -> bytes:
    """The spec's `notification` object, as JSON."""
    body: dict[str, Any] = {
        "objectType": object_type.value,
        "operation": operation.value,
        "object": rendered.object,
    }
    if rendered.targets:
        body["targets"] = rendered.targets
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


# ---- queueing --------------------------------------------------------------------------------


def record_change(
    uow: UnitOfWork,
    object_type: ObjectType,
    operation: Operation,
    object_id: str,
    now: datetime,
    deleted: RenderedObject | None = None,
) -> Oa3NotificationRecord:
    """On an entered unit of work: queue the notification of a change (the caller commits, with
    the change). A DELETE passes the object as it was (`deleted`): it cannot be rendered later."""
    record = Oa3NotificationRecord(
        id=new_id(),
        object_type=ObjectType(object_type),
        operation=Operation(operation),
        object_id=object_id,
        created_at=now,
        state=DeliveryState.PENDING,
        attempts=0,
        next_attempt_at=now,
        rendered=deleted,
    )
    uow.oa3_notifications.add(record)
    return record


def record_changes(
    uow: UnitOfWork, object_type: ObjectType, operation: Operation, object_ids: Sequence[str], now: datetime
) -> None:
    """`record_change` for several objects of one type changed the same way."""
    for object_id in object_ids:
        record_change(uow, object_type, operation, object_id, now)


# ---- delivery --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """One notification's round: where it went, what is left (empty: delivered)."""

    notification_id: str
    sent: tuple[Destination, ...]
    failed: tuple[tuple[Destination, str], ...]
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class Senders:
    mqtt: MqttPublisher | None  # None: the VTN has no broker (GET /notifiers offers none)
    webhook: WebhookSender
    topic_prefix: str = DEFAULT_TOPIC_PREFIX


async def deliver_due(
    uow: UnitOfWork,
    renderer: ObjectRenderer,
    senders: Senders,
    now: datetime,
    policy: DeliveryPolicy = DeliveryPolicy(),
) -> list[Outcome]:
    """One delivery round: claim the due notifications (committed), resolve those seen for the
    first time (committed), send each to its pending destinations at once, record the outcomes."""
    async with uow:
        claimed = []
        for due in await uow.oa3_notifications.due(now, policy.batch):
            taken = await uow.oa3_notifications.claim(due.id, now, now + policy.claim)
            if taken is not None:  # else another worker has it
                claimed.append(taken)
        await uow.commit()
    if not claimed:
        return []
    if any(n.destinations is None for n in claimed):
        claimed = await _resolve(uow, renderer, senders, claimed, now)
    # those without destinations (nobody listens, or the object is gone) were settled by _resolve
    sending = [n for n in claimed if n.destinations]
    results = await asyncio.gather(*(_send_all(senders, n) for n in sending))
    outcomes = [Outcome(n.id, (), (), None) for n in claimed if not n.destinations]
    async with uow:
        for notification, result in zip(sending, results, strict=True):
            outcomes.append(await _record(uow, notification, result, now, policy))
        await uow.commit()
    return outcomes


async def _resolve(
    uow: UnitOfWork,
    renderer: ObjectRenderer,
    senders: Senders,
    claimed: list[Oa3NotificationRecord],
    now: datetime,
) -> list[Oa3NotificationRecord]:
    """Render each new notification's object and find where it goes; stored at once. One whose
    object is gone (deleted before its first round, and not a DELETE) or that nobody hears is
    delivered as it is: there is nothing to send."""
    subscriptions = await renderer.subscriptions(uow)
    out = []
    for n in claimed:
        if n.destinations is not None:
            out.append(n)
            continue
        rendered = n.rendered or await renderer.render(uow, n.object_type, n.object_id)
        destinations: list[Destination] = []
        if rendered is not None:
            destinations = webhook_destinations(subscriptions, n.object_type, n.operation, rendered)
            if senders.mqtt is not None:
                topics = topics_for(senders.topic_prefix, n.object_type, n.operation, n.object_id, rendered)
                destinations.insert(0, Destination(Channel.MQTT, topics))
        out.append(replace(n, rendered=rendered, destinations=tuple(destinations)))
    async with uow:
        for n in out:
            if n.rendered is None:
                log.info("3.1 notification %s: %s %s: %s", n.id, n.object_type, n.object_id, OBJECT_GONE)
                await uow.oa3_notifications.mark_delivered(n.id, now, note=OBJECT_GONE)
            elif not n.destinations:
                await uow.oa3_notifications.mark_delivered(n.id, now, note="no destination")
            else:
                assert n.destinations is not None
                await uow.oa3_notifications.resolve(n.id, n.rendered, n.destinations)
        await uow.commit()
    return out


async def _send_all(senders: Senders, n: Oa3NotificationRecord) -> list[SendResult]:
    assert n.rendered is not None and n.destinations is not None
    body = notification_body(n.object_type, n.operation, n.rendered)
    return list(await asyncio.gather(*(_send(senders, n.id, d, body) for d in n.destinations)))


async def _send(senders: Senders, notification_id: str, destination: Destination, body: bytes) -> SendResult:
    try:
        if destination.channel is Channel.MQTT:
            if senders.mqtt is None:
                return SendResult(None, "the VTN has no MQTT broker now")
            return await senders.mqtt.publish(destination.topics, body)
        headers = {"Content-Type": "application/json"}
        if destination.bearer_token:
            headers["Authorization"] = f"Bearer {destination.bearer_token}"
        return await senders.webhook.send(destination.url, body, headers)
    except Exception as exc:  # a sender's bug must not leave the claim unrecorded
        log.exception("3.1 notification %s to %s failed", notification_id, destination.label)
        return SendResult(None, f"{type(exc).__name__}: {exc}")


async def _record(
    uow: UnitOfWork,
    n: Oa3NotificationRecord,
    results: list[SendResult],
    now: datetime,
    policy: DeliveryPolicy,
) -> Outcome:
    assert n.destinations is not None
    sent = tuple(d for d, r in zip(n.destinations, results, strict=True) if r.acknowledged)
    failed = tuple(
        (d, r.error or f"HTTP {r.status}")
        for d, r in zip(n.destinations, results, strict=True)
        if not r.acknowledged
    )
    if not failed:
        await uow.oa3_notifications.mark_delivered(n.id, now)
        return Outcome(n.id, sent, (), None)
    error = "; ".join(f"{d.label}: {e}" for d, e in failed)[:MAX_ERROR_LENGTH]
    next_at = now + backoff(n.attempts, policy)
    await uow.oa3_notifications.mark_failed(n.id, n.attempts, error, next_at, tuple(d for d, _ in failed))
    log.info("3.1 notification %s, attempt %d: %s; next at %s", n.id, n.attempts, error, next_at)
    return Outcome(n.id, sent, failed, next_at)


async def prune_delivered(uow: UnitOfWork, now: datetime) -> int:
    """Forget the notifications delivered more than RETENTION ago; how many."""
    async with uow:
        removed = await uow.oa3_notifications.prune_delivered(now - RETENTION)
        await uow.commit()
    return removed
