"""The per-VEN outbox: VTN-initiated messages wait here for the VEN's polls.

Delivery is at least once (aggregator/acknowledgement.py says when a message is acknowledged):
a message that went out stays pending, and goes out again, until the VEN acknowledges it.

Payloads hold what rendering needs at send time. oadrDistributeEvent is rendered from the
events as they are when the VEN polls (so it always carries every live event); its payload
names the events cancelled since, which it must carry once more, and after a send what that
send asked the VEN to answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from aggregator.uow import UnitOfWork

DISTRIBUTE_EVENT = "oadrDistributeEvent"
CREATE_REPORT = "oadrCreateReport"
CANCEL_REPORT = "oadrCancelReport"
REGISTER_REPORT = "oadrRegisterReport"
CANCEL_PARTY_REGISTRATION = "oadrCancelPartyRegistration"
REQUEST_REREGISTRATION = "oadrRequestReregistration"
# Set on a distribute when it goes out: {eventID: [modificationNumber, ...]} it carried as cancelled
# (an int in messages sent before at-least-once delivery).
DELIVERED_CANCELLATIONS = "delivered_cancellations"
# Set on a distribute when it goes out: {eventID: modificationNumber} the VEN must answer.
AWAITING_ANSWERS = "awaiting_answers"


async def queue_distribute(
    uow: UnitOfWork, ven_ids: Iterable[str], now: datetime, cancelled_event_ids: Iterable[str] = ()
) -> None:
    """Queue an oadrDistributeEvent for each VEN, folding into one at the queue's end that has not
    gone out yet (one that went out may be acknowledged for what it carried then)."""
    cancelled = sorted(set(cancelled_event_ids))
    for ven_id in ven_ids:
        last = await uow.outbox.last_pending(ven_id)
        if last is not None and last.message_type == DISTRIBUTE_EVENT:
            merged = sorted(set(last.payload.get("cancelled_event_ids", [])) | set(cancelled))
            if await uow.outbox.merge_payload(last.id, {**last.payload, "cancelled_event_ids": merged}):
                continue
        uow.outbox.enqueue(ven_id, DISTRIBUTE_EVENT, {"cancelled_event_ids": cancelled}, now)


def told(payload: dict[str, Any]) -> dict[str, list[int]]:
    """What the sends of a distribute carried as cancelled: eventID -> modificationNumbers."""
    found: dict[str, list[int]] = {}
    for event_id, numbers in (payload.get(DELIVERED_CANCELLATIONS) or {}).items():
        values = numbers if isinstance(numbers, list) else [numbers]
        found[event_id] = sorted({n for n in values if isinstance(n, int)})
    return found


async def told_cancelled(uow: UnitOfWork, ven_id: str, event_id: str, since: datetime) -> set[int]:
    """The modificationNumbers of `event_id` that distributes sent to the VEN since `since`
    carried as cancelled (a VEN dropped from the targets is told so, and may answer)."""
    numbers: set[int] = set()
    for message in await uow.outbox.sent_since(ven_id, DISTRIBUTE_EVENT, since):
        numbers.update(told(message.payload).get(event_id, []))
    return numbers


async def prune_delivered(uow: UnitOfWork, before: datetime) -> int:
    """Delete messages done before `before` (the outbox keeps them a while for inspection)."""
    async with uow:
        removed = await uow.outbox.prune_delivered(before)
        await uow.commit()
    return removed
