"""Which of the VEN's replies and stored answers acknowledge which outbox message
(aggregator/acknowledgement.py), on in-memory ports.

That the OpenADR edge acknowledges after the reply's own handler accepted it, and that a reply
written out counts, is tested in tests/integration/vtn_openadr/test_redelivery.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from fakes import FakeNotifier, FakeUnitOfWork
from samples import EVENT_AHEAD, REGISTERED_VEN, T0

from aggregator import outbox
from aggregator.acknowledgement import ACTIONS, REPLIES, acknowledge, mark_written, settle
from aggregator.records import EventResponseRecord, OutboxRecord, ReportRequestRecord

LATER = T0 + timedelta(seconds=30)
VEN = REGISTERED_VEN
KINDS = [
    outbox.DISTRIBUTE_EVENT,
    outbox.CREATE_REPORT,
    outbox.CANCEL_REPORT,
    outbox.REGISTER_REPORT,
    outbox.CANCEL_PARTY_REGISTRATION,
    outbox.REQUEST_REREGISTRATION,
]
EVENT = EVENT_AHEAD


def _in_flight(
    message_id: int, kind: str, payload: dict[str, object] | None = None, **changes: object
) -> OutboxRecord:
    message = OutboxRecord(
        message_id,
        "ven-1",
        kind,
        dict(payload or {}),
        T0,
        request_id=f"req-{message_id}",
        sent_at=T0,
        send_count=1,
    )
    return replace(message, **changes)  # type: ignore[arg-type]


def _one_of_each_kind() -> list[OutboxRecord]:
    """An in-flight message of every kind, ids 1..6 in KINDS order, and a second cancel party
    registration (7) of an older registration."""
    messages = [_in_flight(i, kind) for i, kind in enumerate(KINDS, start=1)]
    messages[KINDS.index(outbox.CANCEL_PARTY_REGISTRATION)] = _in_flight(
        5, outbox.CANCEL_PARTY_REGISTRATION, {"registration_id": "reg-1"}
    )
    return [*messages, _in_flight(7, outbox.CANCEL_PARTY_REGISTRATION, {"registration_id": "reg-0"})]


def _acked(uow: FakeUnitOfWork) -> list[int]:
    return sorted(i for i, m in uow.stored.outbox.items() if m.acked_at is not None)


@pytest.mark.parametrize("reply_type", sorted(REPLIES))
async def test_a_reply_echoing_a_request_id_acknowledges_that_message_only(reply_type: str) -> None:
    uow = FakeUnitOfWork(vens=[VEN], outbox=_one_of_each_kind())
    message_id = KINDS.index(REPLIES[reply_type]) + 1

    found = await acknowledge(uow, "ven-1", reply_type, f"req-{message_id}", None, LATER, FakeNotifier())

    assert found and _acked(uow) == [message_id]
    assert uow.stored.outbox[message_id].delivered_at == LATER


@pytest.mark.parametrize("reply_type", sorted(REPLIES))
async def test_a_reply_echoing_another_request_id_acknowledges_nothing(reply_type: str) -> None:
    uow = FakeUnitOfWork(vens=[VEN], outbox=_one_of_each_kind())
    other = next(i for i, kind in enumerate(KINDS, start=1) if kind != REPLIES[reply_type])

    found = await acknowledge(uow, "ven-1", reply_type, f"req-{other}", None, LATER, FakeNotifier())

    assert not found and _acked(uow) == []


@pytest.mark.parametrize("action", sorted(ACTIONS))
async def test_an_action_acknowledges_the_message_that_asked_for_it(action: str) -> None:
    uow = FakeUnitOfWork(vens=[VEN], outbox=_one_of_each_kind())

    found = await acknowledge(uow, "ven-1", action, None, None, LATER, FakeNotifier())

    assert found and _acked(uow) == [KINDS.index(ACTIONS[action]) + 1]


async def test_a_message_that_has_not_gone_out_is_not_acknowledged() -> None:
    unsent = replace(_in_flight(1, outbox.REQUEST_REREGISTRATION), sent_at=None, send_count=0)
    uow = FakeUnitOfWork(vens=[VEN], outbox=[unsent])

    found = await acknowledge(uow, "ven-1", "oadrCreatePartyRegistration", None, None, LATER, FakeNotifier())

    assert not found and uow.stored.outbox[1] == unsent


async def test_a_repeated_reply_or_a_reply_of_no_outbox_message_acknowledges_nothing() -> None:
    uow = FakeUnitOfWork(vens=[VEN], outbox=[_in_flight(1, outbox.CANCEL_REPORT)])
    assert await acknowledge(uow, "ven-1", "oadrCanceledReport", "req-1", None, T0, FakeNotifier())

    assert not await acknowledge(uow, "ven-1", "oadrCanceledReport", "req-1", None, LATER, FakeNotifier())
    assert not await acknowledge(uow, "ven-1", "oadrUpdateReport", "req-1", None, LATER, FakeNotifier())
    assert uow.stored.outbox[1].acked_at == T0


async def test_a_canceled_party_registration_naming_the_registration_ends_it() -> None:
    report_request = ReportRequestRecord("rr-1", "ven-1", "spec-1", "TELEMETRY_USAGE", (), 60, 60, T0)
    waiting = replace(_in_flight(8, outbox.CANCEL_REPORT), sent_at=None, send_count=0)
    uow = FakeUnitOfWork(vens=[VEN], outbox=[*_one_of_each_kind(), waiting], report_requests=[report_request])
    notifier = FakeNotifier()

    found = await acknowledge(uow, "ven-1", "oadrCanceledPartyRegistration", None, "reg-1", LATER, notifier)

    assert found and _acked(uow) == [5]
    assert uow.stored.vens["ven-1"].registration_id is None
    assert uow.stored.report_requests["rr-1"].cancelled_at == LATER
    assert sorted(uow.stored.outbox) == [5]  # the VEN's pending messages are dropped with it
    assert notifier.registrations == {"ven-1": None}


async def test_a_canceled_party_registration_of_an_older_registration_leaves_the_current_one() -> None:
    uow, notifier = FakeUnitOfWork(vens=[VEN], outbox=_one_of_each_kind()), FakeNotifier()

    found = await acknowledge(uow, "ven-1", "oadrCanceledPartyRegistration", None, "reg-0", LATER, notifier)

    assert found and _acked(uow) == [7]
    assert uow.stored.vens["ven-1"] == VEN and notifier.registrations == {}


async def _settle(uow: FakeUnitOfWork, now: datetime) -> list[int]:
    async with uow:
        await settle(uow, "ven-1", now)
        await uow.commit()
    return _acked(uow)


def _answer(event_id: str, modification_number: int) -> EventResponseRecord:
    return EventResponseRecord("ven-1", event_id, modification_number, "optIn", "200", T0)


async def test_a_distribute_is_settled_when_every_event_it_awaits_is_answered_at_that_number_or_later() -> (
    None
):
    over = replace(EVENT, event_id="ev-over", dtstart=T0 - timedelta(hours=2))
    awaits = {
        1: {"ev-1": 2},
        2: {"ev-1": 2, "ev-2": 0},  # ev-2 is not answered
        3: {"ev-1": 1, "ev-over": 0, "ev-deleted": 5},  # an ended event, a deleted one: no answer due
        4: {"ev-1": 3},  # answered at 2 only
    }
    uow = FakeUnitOfWork(
        events=[EVENT, replace(EVENT, event_id="ev-2"), over],
        event_responses=[_answer("ev-1", 2), _answer("ev-1", 1)],
        outbox=[
            _in_flight(i, outbox.DISTRIBUTE_EVENT, {outbox.AWAITING_ANSWERS: a}) for i, a in awaits.items()
        ],
    )

    assert await _settle(uow, LATER) == [1, 3]
    assert uow.stored.outbox[1].delivered_at == LATER


async def test_a_send_no_answer_acknowledges_is_settled_once_its_reply_was_written_before_the_poll() -> None:
    uow = FakeUnitOfWork(
        outbox=[
            _in_flight(1, outbox.DISTRIBUTE_EVENT, {outbox.AWAITING_ANSWERS: {}}, written_at=T0),
            _in_flight(2, outbox.REGISTER_REPORT, written_at=T0),
            _in_flight(3, outbox.REGISTER_REPORT, written_at=LATER + timedelta(seconds=1)),
            _in_flight(4, outbox.REGISTER_REPORT),
        ]
    )

    assert await _settle(uow, LATER) == [1, 2]


async def test_a_create_report_is_settled_when_every_live_request_it_carried_is_acknowledged() -> None:
    def request(report_request_id: str, **changes: object) -> ReportRequestRecord:
        created = ReportRequestRecord(report_request_id, "ven-1", "spec-1", "TELEMETRY_USAGE", (), 60, 60, T0)
        return replace(created, **changes)  # type: ignore[arg-type]

    uow = FakeUnitOfWork(
        report_requests=[
            request("acked", acknowledged_at=T0),
            request("cancelled", cancelled_at=T0),
            request("waiting"),
        ],
        outbox=[
            _in_flight(1, outbox.CREATE_REPORT, {"report_request_ids": ["acked", "cancelled"]}),
            _in_flight(2, outbox.CREATE_REPORT, {"report_request_ids": ["acked", "waiting"]}),
            _in_flight(3, outbox.CREATE_REPORT, {"report_request_ids": ["cancelled"]}),
        ],
    )

    assert await _settle(uow, LATER) == [1]


async def test_messages_acknowledged_by_a_reply_only_are_not_settled_at_a_poll() -> None:
    kinds = [outbox.CANCEL_REPORT, outbox.CANCEL_PARTY_REGISTRATION, outbox.REQUEST_REREGISTRATION]
    uow = FakeUnitOfWork(outbox=[_in_flight(i, kind, written_at=T0) for i, kind in enumerate(kinds, start=1)])

    assert await _settle(uow, LATER) == []


async def test_mark_written_records_the_write_of_the_last_send_only() -> None:
    uow = FakeUnitOfWork(
        outbox=[
            _in_flight(1, outbox.REGISTER_REPORT, send_count=2),
            _in_flight(2, outbox.REGISTER_REPORT, send_count=2),
            _in_flight(3, outbox.REGISTER_REPORT, delivered_at=T0),
        ]
    )

    await mark_written(uow, 1, 2, LATER)
    await mark_written(uow, 2, 1, LATER)  # an earlier send's reply: the message went out again since
    await mark_written(uow, 3, 1, LATER)  # done already

    assert [m.written_at for m in uow.stored.outbox.values()] == [LATER, None, None]
