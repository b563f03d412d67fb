"""What a VEN's oadrPoll takes from its outbox (aggregator/delivery.py) on in-memory ports.

How the message is rendered, when its reply counts as written and how two workers share a VEN
are tested at the edge (tests/integration/vtn_openadr/test_redelivery.py, tests/integration/faults)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from fakes import FakeNotifier, FakeUnitOfWork
from samples import EVENT_AHEAD, REGISTERED_VEN, T0

from aggregator import outbox
from aggregator.delivery import Delivery, Redelivery, Taken, request_events, take_next
from aggregator.event_rules import EventStatus
from aggregator.records import OutboxRecord, ReportRequestRecord

REDELIVERY = Redelivery(resend_seconds=5.0, max_sends=3)
VEN = REGISTERED_VEN
EVENT = EVENT_AHEAD


def _message(
    message_id: int, kind: str, payload: dict[str, object] | None = None, **changes: object
) -> OutboxRecord:
    message = OutboxRecord(message_id, "ven-1", kind, dict(payload or {}), T0)
    return replace(message, **changes)  # type: ignore[arg-type]


def _request(report_request_id: str, **changes: object) -> ReportRequestRecord:
    request = ReportRequestRecord(report_request_id, "ven-1", "spec-1", "TELEMETRY_USAGE", (), 60, 60, T0)
    return replace(request, **changes)  # type: ignore[arg-type]


async def _take(uow: FakeUnitOfWork, now: datetime, notifier: FakeNotifier | None = None) -> Taken:
    return await take_next(uow, "ven-1", now, notifier or FakeNotifier(), redelivery=REDELIVERY)


async def test_the_oldest_due_message_is_taken_and_its_send_counted() -> None:
    uow = FakeUnitOfWork(
        vens=[VEN],
        outbox=[
            _message(1, outbox.CANCEL_REPORT, {"report_request_id": "rr-1"}),
            _message(2, outbox.REQUEST_REREGISTRATION),
        ],
    )

    taken = await _take(uow, T0)

    sent = uow.stored.outbox[1]
    assert sent.sent_at == T0 and sent.send_count == 1 and sent.written_at is None
    assert sent.request_id is not None and len(sent.request_id) == 32  # fixed at the first send
    assert taken == Taken(
        Delivery(outbox.CANCEL_REPORT, {"report_request_id": "rr-1"}, (), sent.request_id, 1, 1)
    )
    assert uow.stored.outbox[2] == _message(2, outbox.REQUEST_REREGISTRATION)  # waits for the next poll


async def test_nothing_pending_is_empty_with_no_resend_time() -> None:
    uow = FakeUnitOfWork(vens=[VEN], outbox=[_message(1, outbox.REQUEST_REREGISTRATION, delivered_at=T0)])

    assert await _take(uow, T0) == Taken(None, None)


async def test_nothing_due_is_empty_with_when_the_unacknowledged_message_goes_out_again() -> None:
    in_flight = _message(1, outbox.CANCEL_REPORT, request_id="req-1", sent_at=T0, send_count=1)
    uow = FakeUnitOfWork(vens=[VEN], outbox=[in_flight])

    taken = await _take(uow, T0 + timedelta(seconds=4))

    assert taken == Taken(None, T0 + timedelta(seconds=5))
    assert uow.stored.outbox[1] == in_flight


async def test_an_unacknowledged_message_goes_out_again_after_the_resend_time_with_its_request_id() -> None:
    uow = FakeUnitOfWork(
        vens=[VEN], outbox=[_message(1, outbox.CANCEL_REPORT, {"report_request_id": "rr-1"})]
    )
    first = await _take(uow, T0)
    assert first.delivery is not None

    too_soon = await _take(uow, T0 + timedelta(seconds=4.9))
    again = await _take(uow, T0 + timedelta(seconds=5))

    assert too_soon == Taken(None, T0 + timedelta(seconds=5))
    assert again.delivery is not None
    assert again.delivery.request_id == first.delivery.request_id and again.delivery.send_count == 2
    assert uow.stored.outbox[1].sent_at == T0 + timedelta(seconds=5)


async def test_a_message_sent_and_not_yet_due_does_not_hold_up_the_ones_behind_it() -> None:
    uow = FakeUnitOfWork(
        vens=[VEN],
        outbox=[
            _message(1, outbox.CANCEL_REPORT, request_id="req-1", sent_at=T0, send_count=1),
            _message(2, outbox.REQUEST_REREGISTRATION),
        ],
    )

    taken = await _take(uow, T0 + timedelta(seconds=1))

    assert taken.delivery is not None and taken.delivery.message_id == 2


async def test_a_message_is_given_up_after_max_sends_and_the_next_one_goes_out() -> None:
    long_ago = T0 - timedelta(minutes=1)
    uow = FakeUnitOfWork(
        vens=[VEN],
        outbox=[
            _message(1, outbox.CANCEL_REPORT, request_id="req-1", sent_at=long_ago, send_count=3),
            _message(2, outbox.REQUEST_REREGISTRATION),
        ],
    )

    taken = await _take(uow, T0)

    given_up = uow.stored.outbox[1]
    assert given_up.delivered_at == T0 and given_up.acked_at is None and given_up.send_count == 3
    assert taken.delivery is not None and taken.delivery.message_id == 2


async def test_giving_up_a_cancel_party_registration_ends_the_registration() -> None:
    cancel = _message(
        1,
        outbox.CANCEL_PARTY_REGISTRATION,
        {"registration_id": "reg-1"},
        request_id="req-1",
        sent_at=T0 - timedelta(minutes=1),
        send_count=3,
    )
    uow, notifier = (
        FakeUnitOfWork(vens=[VEN], outbox=[cancel], report_requests=[_request("rr-1")]),
        FakeNotifier(),
    )

    taken = await _take(uow, T0, notifier)

    assert taken == Taken(None, None)
    assert uow.stored.vens["ven-1"].registration_id is None
    assert uow.stored.report_requests["rr-1"].cancelled_at == T0
    assert uow.stored.outbox[1].delivered_at == T0 and uow.stored.outbox[1].acked_at is None
    assert notifier.registrations == {"ven-1": None}


async def test_a_cancel_party_registration_of_a_replaced_registration_no_longer_applies() -> None:
    reregistered = replace(VEN, registration_id="reg-2")
    uow = FakeUnitOfWork(
        vens=[reregistered],
        outbox=[_message(1, outbox.CANCEL_PARTY_REGISTRATION, {"registration_id": "reg-1"})],
    )
    notifier = FakeNotifier()

    taken = await _take(uow, T0, notifier)

    assert taken == Taken(None, None)
    assert uow.stored.outbox[1].delivered_at == T0 and uow.stored.outbox[1].acked_at is None
    assert uow.stored.vens["ven-1"] == reregistered and notifier.registrations == {}


async def test_a_create_report_carries_its_live_requests_and_none_is_dropped() -> None:
    live, cancelled = _request("rr-1"), _request("rr-2", cancelled_at=T0)
    uow = FakeUnitOfWork(
        vens=[VEN],
        report_requests=[live, cancelled],
        outbox=[
            _message(1, outbox.CREATE_REPORT, {"report_request_ids": ["rr-2"]}),
            _message(2, outbox.CREATE_REPORT, {"report_request_ids": ["rr-1", "rr-2"]}),
        ],
    )

    taken = await _take(uow, T0)

    assert uow.stored.outbox[1].delivered_at == T0  # every request it carried is cancelled
    assert taken.delivery is not None and taken.delivery.message_id == 2
    assert taken.delivery.payload["report_requests"] == [
        {
            "report_request_id": "rr-1",
            "report_specifier_id": "spec-1",
            "granularity_seconds": 60,
            "report_back_seconds": 60,
            "created_at": T0,
            "specifier_payloads": [],
        }
    ]
    assert not taken.delivery.written_acknowledges


async def test_the_vtn_metadata_is_acknowledged_by_its_reply_written_out() -> None:
    uow = FakeUnitOfWork(vens=[VEN], outbox=[_message(1, outbox.REGISTER_REPORT)])

    taken = await _take(uow, T0)

    assert taken.delivery is not None and taken.delivery.written_acknowledges


async def test_a_distribute_carries_the_live_events_and_absorbs_the_other_pending_distributes() -> None:
    never = replace(EVENT, event_id="ev-2", response_required="never", dtstart=T0 + timedelta(hours=2))
    gone = replace(EVENT, event_id="ev-3", modification_number=4, cancelled=True)
    uow = FakeUnitOfWork(
        vens=[VEN],
        events=[EVENT, never, gone],
        event_targets=[("ev-1", ["ven-1"]), ("ev-2", ["ven-1"]), ("ev-3", ["ven-1"])],
        outbox=[
            _message(1, outbox.DISTRIBUTE_EVENT, {"cancelled_event_ids": []}),
            _message(2, outbox.DISTRIBUTE_EVENT, {"cancelled_event_ids": ["ev-3"]}),
            _message(3, outbox.DISTRIBUTE_EVENT, {"cancelled_event_ids": []}, ven_id="ven-2"),
        ],
    )

    taken = await _take(uow, T0)

    delivery = taken.delivery
    assert delivery is not None and delivery.message_id == 1
    assert [(e.event_id, e.status) for e in delivery.events] == [
        ("ev-1", EventStatus.NEAR),
        ("ev-2", EventStatus.FAR),
        ("ev-3", EventStatus.CANCELLED),
    ]
    assert delivery.payload == {
        "cancelled_event_ids": ["ev-3"],
        outbox.AWAITING_ANSWERS: {"ev-1": 2, "ev-3": 4},
        outbox.DELIVERED_CANCELLATIONS: {"ev-3": [4]},
    }
    assert uow.stored.outbox[1].payload == delivery.payload  # what the VEN's answers settle
    assert not delivery.written_acknowledges  # the VEN's oadrCreatedEvent does
    assert uow.stored.outbox[2].delivered_at == T0 and uow.stored.outbox[2].sent_at is None
    assert uow.stored.outbox[3].delivered_at is None  # another VEN's


async def test_a_distribute_no_answer_acknowledges_is_acknowledged_by_its_reply_written_out() -> None:
    never = replace(EVENT, response_required="never")
    uow = FakeUnitOfWork(
        vens=[VEN],
        events=[never],
        event_targets=[("ev-1", ["ven-1"])],
        outbox=[_message(1, outbox.DISTRIBUTE_EVENT, {"cancelled_event_ids": []})],
    )

    taken = await _take(uow, T0)

    assert taken.delivery is not None and taken.delivery.written_acknowledges
    assert taken.delivery.payload[outbox.AWAITING_ANSWERS] == {}


async def test_a_poll_first_settles_what_the_ven_acknowledged() -> None:
    written = _message(1, outbox.REGISTER_REPORT, request_id="req-1", sent_at=T0, send_count=1, written_at=T0)
    uow = FakeUnitOfWork(vens=[VEN], outbox=[written])

    taken = await _take(uow, T0 + timedelta(seconds=1))

    assert taken == Taken(None, None)
    assert uow.stored.outbox[1].acked_at == T0 + timedelta(seconds=1)


async def test_request_events_shows_the_live_events_in_distribution_order_without_completed_ones() -> None:
    active = replace(EVENT, event_id="ev-active", dtstart=T0 - timedelta(minutes=10))
    over = replace(EVENT, event_id="ev-over", dtstart=T0 - timedelta(hours=2))
    cancelled = replace(EVENT, event_id="ev-cancelled", cancelled=True)
    others = replace(EVENT, event_id="ev-others")
    uow = FakeUnitOfWork(
        events=[EVENT, active, over, cancelled, others],
        event_targets=[(e, ["ven-1"]) for e in ("ev-1", "ev-active", "ev-over", "ev-cancelled")]
        + [("ev-others", ["ven-2"])],
    )

    events = await request_events(uow, "ven-1", T0)

    assert [(e.event_id, e.status) for e in events] == [
        ("ev-active", EventStatus.ACTIVE),
        ("ev-1", EventStatus.NEAR),
    ]
