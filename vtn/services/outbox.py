"""The per-VEN outbox: VTN-initiated messages wait here for the VEN's next oadrPoll.

Payloads hold what rendering needs at delivery time. oadrDistributeEvent is rendered from
the events as they are when the VEN polls (so it always carries every live event); its
payload only names events cancelled since, which it must carry once more.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vtn.db.uow import UnitOfWork

DISTRIBUTE_EVENT = "oadrDistributeEvent"
CREATE_REPORT = "oadrCreateReport"
CANCEL_REPORT = "oadrCancelReport"
REGISTER_REPORT = "oadrRegisterReport"
CANCEL_PARTY_REGISTRATION = "oadrCancelPartyRegistration"
REQUEST_REREGISTRATION = "oadrRequestReregistration"
# Set on a distribute when it is delivered: {eventID: modificationNumber} it carried as cancelled.
DELIVERED_CANCELLATIONS = "delivered_cancellations"


async def queue_distribute(
    uow: UnitOfWork, ven_ids: Iterable[str], now: datetime, cancelled_event_ids: Iterable[str] = ()
) -> None:
    """Queue an oadrDistributeEvent for each VEN, folding into one still waiting at the queue's end."""
    cancelled = sorted(set(cancelled_event_ids))
    for ven_id in ven_ids:
        last = await uow.outbox.last_pending(ven_id)
        if last is not None and last.message_type == DISTRIBUTE_EVENT:
            merged = sorted(set(last.payload.get("cancelled_event_ids", [])) | set(cancelled))
            if await uow.outbox.merge_payload(last.id, {**last.payload, "cancelled_event_ids": merged}):
                continue
        uow.outbox.enqueue(ven_id, DISTRIBUTE_EVENT, {"cancelled_event_ids": cancelled}, now)


async def told_cancelled(uow: UnitOfWork, ven_id: str, event_id: str, since: datetime) -> set[int]:
    """The modificationNumbers of `event_id` that distributes delivered to the VEN since `since`
    carried as cancelled (a VEN dropped from the targets is told so, and may answer)."""
    told: set[int] = set()
    for message in await uow.outbox.delivered_since(ven_id, DISTRIBUTE_EVENT, since):
        number = (message.payload.get(DELIVERED_CANCELLATIONS) or {}).get(event_id)
        if isinstance(number, int):
            told.add(number)
    return told


async def prune_delivered(sessions: async_sessionmaker[AsyncSession], before: datetime) -> int:
    """Delete messages delivered before `before` (the outbox keeps them a while for inspection)."""
    async with UnitOfWork(sessions) as uow:
        removed = await uow.outbox.prune_delivered(before)
        await uow.commit()
    return removed
