"""oadrCreatedEvent answers (aggregator/event_responses.py) on in-memory ports.

The OpenADR codes the edge answers with (452 for NotFound) are tested in
tests/integration/vtn_openadr/test_events.py and test_dropped_target.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes import FakeUnitOfWork
from samples import EVENT_AHEAD, T0

from aggregator import outbox
from aggregator.errors import InvalidInput, NotFound
from aggregator.event_responses import EventAnswer, record_event_responses
from aggregator.records import EventResponseRecord, OutboxRecord, VenRecord

LATER = T0 + timedelta(minutes=5)
VENS = [VenRecord(ven_id=v, ven_name=v, site_id=v, created_at=T0) for v in ("ven-1", "ven-2", "ven-3")]
EVENT = EVENT_AHEAD
# ven-2 was dropped from the event's targets, and a distribute told it modification 1 cancelled it.
TOLD_VEN_2 = OutboxRecord(
    1,
    "ven-2",
    outbox.DISTRIBUTE_EVENT,
    {"cancelled_event_ids": ["ev-1"], outbox.DELIVERED_CANCELLATIONS: {"ev-1": [1]}},
    T0,
    sent_at=T0,
)


def uow_with_event() -> FakeUnitOfWork:
    return FakeUnitOfWork(vens=VENS, events=[EVENT], event_targets=[("ev-1", ["ven-1"])], outbox=[TOLD_VEN_2])


async def test_answers_are_stored_and_a_later_one_replaces_an_earlier() -> None:
    uow = uow_with_event()

    await record_event_responses(
        uow, "ven-1", [EventAnswer("ev-1", 2, "optIn"), EventAnswer("ev-1", 1, "optOut")], T0
    )
    await record_event_responses(uow, "ven-1", [EventAnswer("ev-1", 2, "optOut", "200")], LATER)

    assert uow.stored.event_responses == {
        ("ven-1", "ev-1", 2): EventResponseRecord("ven-1", "ev-1", 2, "optOut", "200", LATER),
        ("ven-1", "ev-1", 1): EventResponseRecord("ven-1", "ev-1", 1, "optOut", "200", T0),
    }


async def test_a_dropped_ven_may_answer_the_cancellation_it_was_told() -> None:
    uow = uow_with_event()
    await record_event_responses(uow, "ven-2", [EventAnswer("ev-1", 1, "optIn")], T0)
    assert ("ven-2", "ev-1", 1) in uow.stored.event_responses

    with pytest.raises(NotFound) as err:
        await record_event_responses(uow, "ven-2", [EventAnswer("ev-1", 2, "optIn")], T0)
    assert err.value.kind == "modificationNumber"


@pytest.mark.parametrize(
    ("ven_id", "answer", "error", "kind"),
    [
        ("ven-1", EventAnswer("ev-1", 0, "maybe"), InvalidInput, "optType"),
        ("ven-1", EventAnswer("no-such-event", 0, "optIn"), NotFound, "event"),
        ("ven-1", EventAnswer("ev-1", 3, "optIn"), NotFound, "modificationNumber"),  # never had it
        ("ven-1", EventAnswer("ev-1", -1, "optIn"), NotFound, "modificationNumber"),
        ("ven-3", EventAnswer("ev-1", 2, "optIn"), NotFound, "event"),  # not its event
    ],
)
async def test_one_bad_answer_stores_none(
    ven_id: str, answer: EventAnswer, error: type[InvalidInput | NotFound], kind: str
) -> None:
    uow = uow_with_event()

    with pytest.raises(error) as err:
        await record_event_responses(uow, ven_id, [EventAnswer("ev-1", 2, "optIn"), answer], T0)

    assert (err.value.field if isinstance(err.value, InvalidInput) else err.value.kind) == kind
    assert not uow.committed and uow.stored.event_responses == {}
