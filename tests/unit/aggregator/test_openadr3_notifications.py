"""aggregator/openadr3_notifications.py: queue with the change, resolve once, send to every
destination, retry only those that failed, topics and subscription matching as the spec says."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fakes import FakeNotifier, FakeRecentPolls, FakeUnitOfWork
from samples import T0

from aggregator import openadr3_notifications as n3
from aggregator.event_rules import EventSpec, IntervalSpec
from aggregator.events import EventPatch, cancel_event, create_event, modify_event, modify_events
from aggregator.notification_records import DeliveryState, SendResult
from aggregator.notifications import DeliveryPolicy
from aggregator.openadr3_notification_records import (
    Channel,
    ObjectOperations,
    Operation,
    RenderedObject,
    SubscriptionView,
)
from aggregator.openadr3_records import ObjectType
from aggregator.records import VenRecord
from aggregator.uow import UnitOfWork
from aggregator.vens import NewVen, provision_ven, update_ven

POLICY = DeliveryPolicy(batch=10, send_timeout=timedelta(seconds=5))
EVENT = RenderedObject(
    {"id": "ev1", "objectType": "EVENT", "programID": "p1", "targets": ["ven-a"]},
    program_id="p1",
    ven_ids=("ven-a",),
)


def _sub(
    sub_id: str,
    url: str,
    objects: Sequence[ObjectType] = (ObjectType.EVENT,),
    operations: Sequence[str] = ("CREATE", "UPDATE", "DELETE"),
    program_id: str | None = None,
    ven_id: str | None = None,
    targets: Sequence[str] = (),
    token: str | None = "tok",
) -> SubscriptionView:
    entry = ObjectOperations(frozenset(objects), frozenset(operations), url, token)
    return SubscriptionView(sub_id, program_id, (entry,), frozenset(targets), ven_id)


@dataclass
class Renderer:
    objects: dict[tuple[ObjectType, str], RenderedObject] = field(default_factory=dict)
    subs: list[SubscriptionView] = field(default_factory=list)
    renders: int = 0

    async def render(self, uow: UnitOfWork, object_type: ObjectType, object_id: str) -> RenderedObject | None:
        self.renders += 1
        return self.objects.get((object_type, object_id))

    async def subscriptions(self, uow: UnitOfWork) -> Sequence[SubscriptionView]:
        return list(self.subs)


@dataclass
class Broker:
    answers: list[int | None] = field(default_factory=list)
    got: list[tuple[tuple[str, ...], dict[str, Any]]] = field(default_factory=list)

    async def publish(self, topics: Sequence[str], payload: bytes) -> SendResult:
        self.got.append((tuple(topics), json.loads(payload)))
        status = self.answers.pop(0) if self.answers else 200
        return SendResult(status, None if status else "broker away")


@dataclass
class Hooks:
    answers: dict[str, list[int | None]] = field(default_factory=dict)
    got: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        self.got.append((url, json.loads(body), dict(headers)))
        queue = self.answers.get(url) or []
        status = queue.pop(0) if queue else 200
        return SendResult(status, None if status else "refused")


async def _queue(uow: FakeUnitOfWork, *changes: tuple[ObjectType, Operation, str]) -> list[str]:
    async with uow:
        ids = [n3.record_change(uow, t, op, oid, T0).id for t, op, oid in changes]
        await uow.commit()
    return ids


def test_topics_of_an_event_reach_its_program_and_its_vens() -> None:
    topics = n3.topics_for("openadr3", ObjectType.EVENT, Operation.CREATE, "ev1", EVENT)
    assert topics == (
        "openadr3/events/create",
        "openadr3/programs/p1/events/create",
        "openadr3/vens/ven-a/events/create",
    )


def test_topics_of_a_program_update_include_its_own() -> None:
    program = RenderedObject({"id": "p1"}, program_id="p1", ven_ids=("v1", "v2"))
    assert n3.topics_for("x", ObjectType.PROGRAM, Operation.UPDATE, "p1", program) == (
        "x/programs/update",
        "x/programs/p1/update",
        "x/vens/v1/programs/update",
        "x/vens/v2/programs/update",
    )
    assert "x/programs/p1/create" not in n3.topics_for(
        "x", ObjectType.PROGRAM, Operation.CREATE, "p1", program
    )


def test_operation_topics_as_the_spec_lists_them() -> None:
    assert n3.operation_topics("o/programs") == {
        "CREATE": "o/programs/create",
        "UPDATE": "o/programs/update",
        "DELETE": "o/programs/delete",
        "ALL": "o/programs/+",
    }
    assert "CREATE" not in n3.operation_topics("o/programs/p1", with_create=False)


def test_matching_by_program_ven_targets_object_and_operation() -> None:
    subs = [
        _sub("all", "http://a/"),
        _sub("other-program", "http://b/", program_id="p2"),
        _sub("same-program", "http://c/", program_id="p1"),
        _sub("other-ven", "http://d/", ven_id="ven-b"),
        _sub("my-ven", "http://e/", ven_id="ven-a"),
        _sub("other-targets", "http://f/", targets=["group-9"]),
        _sub("my-targets", "http://g/", targets=["ven-a", "x"]),
        _sub("programs-only", "http://h/", objects=[ObjectType.PROGRAM]),
        _sub("deletes-only", "http://i/", operations=["DELETE"]),
        _sub("duplicate-of-all", "http://a/"),
    ]
    got = n3.webhook_destinations(subs, ObjectType.EVENT, Operation.CREATE, EVENT)
    assert [d.subscription_id for d in got] == ["all", "same-program", "my-ven", "my-targets"]
    untargeted = RenderedObject({"id": "ev2"}, program_id="p1", all_vens=True)
    got = n3.webhook_destinations(subs, ObjectType.EVENT, Operation.CREATE, untargeted)
    assert "other-ven" in [d.subscription_id for d in got]
    assert "other-targets" in [d.subscription_id for d in got]


async def test_a_change_goes_to_the_broker_and_each_matching_callback_once() -> None:
    uow = FakeUnitOfWork()
    (nid,) = await _queue(uow, (ObjectType.EVENT, Operation.CREATE, "ev1"))
    renderer = Renderer(
        {(ObjectType.EVENT, "ev1"): EVENT}, [_sub("s1", "http://a/"), _sub("s2", "http://b/")]
    )
    broker, hooks = Broker(), Hooks()
    out = await n3.deliver_due(uow, renderer, n3.Senders(broker, hooks), T0, POLICY)
    assert [o.next_attempt_at for o in out] == [None]
    assert broker.got[0][0][0] == "openadr3/events/create"
    body = broker.got[0][1]
    assert body == {
        "objectType": "EVENT",
        "operation": "CREATE",
        "object": EVENT.object,
        "targets": ["ven-a"],
    }
    assert sorted(url for url, _, _ in hooks.got) == ["http://a/", "http://b/"]
    assert all(h["Authorization"] == "Bearer tok" and b == body for _, b, h in hooks.got)
    assert uow.stored.oa3_notifications[nid].state == DeliveryState.DELIVERED
    assert (
        await n3.deliver_due(uow, renderer, n3.Senders(broker, hooks), T0 + timedelta(hours=1), POLICY) == []
    )
    assert len(broker.got) == 1 and len(hooks.got) == 2


async def test_only_failed_destinations_are_retried_with_the_same_body() -> None:
    uow = FakeUnitOfWork()
    (nid,) = await _queue(uow, (ObjectType.EVENT, Operation.UPDATE, "ev1"))
    renderer = Renderer(
        {(ObjectType.EVENT, "ev1"): EVENT}, [_sub("s1", "http://a/"), _sub("s2", "http://b/")]
    )
    broker, hooks = Broker(answers=[None]), Hooks(answers={"http://b/": [500]})
    first = await n3.deliver_due(uow, renderer, n3.Senders(broker, hooks), T0, POLICY)
    assert [d.channel for d, _ in first[0].failed] == [Channel.MQTT, Channel.WEBHOOK]
    stored = uow.stored.oa3_notifications[nid]
    assert stored.state == DeliveryState.PENDING and stored.next_attempt_at == T0 + timedelta(seconds=1)
    assert "broker away" in (stored.last_error or "") and "HTTP 500" in (stored.last_error or "")
    # the object changed meanwhile: the retry still sends what the first round rendered
    renderer.objects[(ObjectType.EVENT, "ev1")] = RenderedObject(
        {"id": "ev1", "changed": True}, "p1", ("ven-a",)
    )
    await n3.deliver_due(uow, renderer, n3.Senders(broker, hooks), T0 + timedelta(seconds=1), POLICY)
    assert renderer.renders == 1
    assert [url for url, _, _ in hooks.got] in (
        ["http://a/", "http://b/", "http://b/"],
        ["http://b/", "http://a/", "http://b/"],
    )
    assert hooks.got[-1][1]["object"] == EVENT.object and broker.got[-1][1]["object"] == EVENT.object
    assert uow.stored.oa3_notifications[nid].state == DeliveryState.DELIVERED


async def test_a_delete_carries_the_object_as_it_was() -> None:
    uow = FakeUnitOfWork()
    gone = RenderedObject({"id": "v1", "objectType": "VEN", "venName": "x"}, ven_ids=("v1",))
    async with uow:
        n3.record_change(uow, ObjectType.VEN, Operation.DELETE, "v1", T0, deleted=gone)
        await uow.commit()
    broker = Broker()
    await n3.deliver_due(uow, Renderer(), n3.Senders(broker, Hooks()), T0, POLICY)
    assert broker.got == [
        (
            ("openadr3/vens/delete", "openadr3/vens/v1/delete"),
            {"objectType": "VEN", "operation": "DELETE", "object": gone.object},
        )
    ]


async def test_an_object_gone_before_its_first_round_is_settled_without_sending() -> None:
    uow = FakeUnitOfWork()
    (nid,) = await _queue(uow, (ObjectType.EVENT, Operation.CREATE, "nowhere"))
    broker = Broker()
    assert (await n3.deliver_due(uow, Renderer(), n3.Senders(broker, Hooks()), T0, POLICY))[0].sent == ()
    assert broker.got == []
    stored = uow.stored.oa3_notifications[nid]
    assert stored.state == DeliveryState.DELIVERED and stored.last_error == n3.OBJECT_GONE


async def test_without_a_broker_only_callbacks_are_sent() -> None:
    uow = FakeUnitOfWork()
    await _queue(uow, (ObjectType.EVENT, Operation.CREATE, "ev1"))
    hooks = Hooks()
    renderer = Renderer({(ObjectType.EVENT, "ev1"): EVENT}, [_sub("s1", "http://a/", token=None)])
    await n3.deliver_due(uow, renderer, n3.Senders(None, hooks), T0, POLICY)
    assert [(url, "Authorization" in h) for url, _, h in hooks.got] == [("http://a/", False)]


async def test_a_change_not_committed_is_not_notified() -> None:
    uow = FakeUnitOfWork()
    async with uow:
        n3.record_change(uow, ObjectType.EVENT, Operation.CREATE, "ev1", T0)  # and no commit
    assert uow.stored.oa3_notifications == {}


async def test_a_notification_claimed_elsewhere_is_not_sent_twice() -> None:
    uow = FakeUnitOfWork()
    (nid,) = await _queue(uow, (ObjectType.EVENT, Operation.CREATE, "ev1"))
    async with uow:
        assert await uow.oa3_notifications.claim(nid, T0, T0 + POLICY.claim) is not None
        await uow.commit()
    broker = Broker()
    renderer = Renderer({(ObjectType.EVENT, "ev1"): EVENT})
    assert await n3.deliver_due(uow, renderer, n3.Senders(broker, Hooks()), T0, POLICY) == []
    # the other worker died: once its claim ends the notification goes out
    await n3.deliver_due(uow, renderer, n3.Senders(broker, Hooks()), T0 + POLICY.claim, POLICY)
    assert len(broker.got) == 1


async def test_delivered_notifications_are_pruned_after_the_retention() -> None:
    uow = FakeUnitOfWork()
    await _queue(uow, (ObjectType.EVENT, Operation.CREATE, "nowhere"))
    await n3.deliver_due(uow, Renderer(), n3.Senders(Broker(), Hooks()), T0, POLICY)
    assert await n3.prune_delivered(uow, T0 + n3.RETENTION) == 0
    assert await n3.prune_delivered(uow, T0 + n3.RETENTION + timedelta(seconds=1)) == 1


# ---- the trigger sits in the use cases: every path that changes an event or a VEN queues one --------


def _queued(uow: FakeUnitOfWork) -> list[tuple[ObjectType, Operation, str]]:
    ordered = sorted(uow.stored.oa3_notifications.values(), key=lambda n: n.created_at)
    return [(n.object_type, n.operation, n.object_id) for n in ordered]


async def test_event_use_cases_queue_a_notification_with_each_change() -> None:

    uow = FakeUnitOfWork(vens=[VenRecord("ven-1", "home 1", "site-1", T0)])
    start = T0 + timedelta(hours=2)
    spec = EventSpec(("ven-1",), "SIMPLE", "level", (IntervalSpec(start, 3600, 1.0),))
    event_id = (await create_event(uow, spec, T0, FakeNotifier())).event_id
    await modify_event(uow, event_id, EventPatch(priority=2), T0, FakeNotifier())
    await modify_events(
        uow, [(event_id, EventPatch(priority=3)), ("nope", EventPatch(priority=1))], T0, FakeNotifier()
    )
    await cancel_event(uow, event_id, T0, FakeNotifier())
    assert [(t, op) for t, op, oid in _queued(uow) if oid == event_id] == [
        (ObjectType.EVENT, Operation.CREATE),
        (ObjectType.EVENT, Operation.UPDATE),
        (ObjectType.EVENT, Operation.UPDATE),
        (ObjectType.EVENT, Operation.DELETE),
    ]
    others = [(t, op) for t, op, oid in _queued(uow) if oid != event_id]
    assert others == [(ObjectType.PROGRAM, Operation.CREATE)]  # its market context's program, made for it


async def test_ven_use_cases_queue_a_notification_with_each_change() -> None:
    uow = FakeUnitOfWork()
    ven_id = (await provision_ven(uow, NewVen("home 1", "site-1"), T0)).ven_id
    await update_ven(uow, ven_id, T0, FakeRecentPolls(), fingerprint="ab:cd")
    assert _queued(uow) == [
        (ObjectType.VEN, Operation.CREATE, ven_id),
        (ObjectType.VEN, Operation.UPDATE, ven_id),
    ]
