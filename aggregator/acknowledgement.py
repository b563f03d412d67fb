"""When the VEN has a VTN-initiated message: the outbox delivers at least once (docs/vtn.md).

A message that went out in a poll reply stays pending, and goes out again on a later poll, until
it is acknowledged:

- oadrDistributeEvent: the VEN answered (oadrCreatedEvent) every responseRequired=always event
  the last send carried, at that modificationNumber or a later one; an event that has ended
  needs no answer. A send that carried no such event (only responseRequired=never events, or
  none) is acknowledged when its reply was written out whole and a later poll came.
- oadrCreateReport: oadrCreatedReport echoing its requestID, or naming every report request it
  carried (stored on the request as `acknowledged_at`).
- oadrCancelReport: oadrCanceledReport echoing its requestID.
- oadrRegisterReport (the VTN's empty METADATA): oadrRegisteredReport echoing its requestID, or
  its reply written out whole and a later poll.
- oadrCancelPartyRegistration: oadrCanceledPartyRegistration echoing its requestID or naming the
  registration; the registration ends then.
- oadrRequestReregistration: the VEN registering again (oadrCreatePartyRegistration) after it
  went out.

The message's requestID is fixed at its first send, so a reply to any send of it acknowledges it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aggregator import outbox
from aggregator.ports import PollNotifier
from aggregator.records import OutboxRecord
from aggregator.registration import end_registration
from aggregator.uow import UnitOfWork

# The VEN's reply -> the outbox message it acknowledges when it echoes that message's requestID.
REPLIES = {
    "oadrCreatedReport": outbox.CREATE_REPORT,
    "oadrCanceledReport": outbox.CANCEL_REPORT,
    "oadrRegisteredReport": outbox.REGISTER_REPORT,
    "oadrCanceledPartyRegistration": outbox.CANCEL_PARTY_REGISTRATION,
}
# What the VEN does when asked -> the outbox message it acknowledges (no requestID to echo).
ACTIONS = {"oadrCreatePartyRegistration": outbox.REQUEST_REREGISTRATION}


async def settle(uow: UnitOfWork, ven_id: str, now: datetime) -> None:
    """Finish the VEN's in-flight messages that its stored answers acknowledge (read at a poll)."""
    for message in await uow.outbox.in_flight(ven_id):
        if await _acknowledged(uow, message, now):
            await uow.outbox.finish(message.id, now, acknowledged=True)


async def _acknowledged(uow: UnitOfWork, message: OutboxRecord, now: datetime) -> bool:
    kind = message.message_type
    if kind == outbox.DISTRIBUTE_EVENT:
        awaiting = message.payload.get(outbox.AWAITING_ANSWERS) or {}
        if not awaiting:
            return _written_before(message, now)
        return await _answered(uow, message.ven_id, awaiting, now)
    if kind == outbox.CREATE_REPORT:
        states = await uow.reports.request_states(message.payload.get("report_request_ids", []))
        live = [acknowledged for cancelled, acknowledged in states.values() if not cancelled]
        return bool(live) and all(live)
    if kind == outbox.REGISTER_REPORT:
        return _written_before(message, now)
    return False  # acknowledged by the VEN's reply or action only (`acknowledge`)


def _written_before(message: OutboxRecord, now: datetime) -> bool:
    """The last send's reply was written out whole before this poll arrived."""
    return message.written_at is not None and message.written_at <= now


async def _answered(uow: UnitOfWork, ven_id: str, awaiting: dict[str, int], now: datetime) -> bool:
    # Columns only (no event rows in the session): a poll renders the events after this, fresh.
    answered = await uow.events.answered(ven_id, list(awaiting))
    windows = await uow.events.windows(list(awaiting))
    for event_id, number in awaiting.items():
        if event_id not in windows:
            continue  # deleted
        start, duration = windows[event_id]
        if duration > 0 and start + timedelta(seconds=duration) <= now:
            continue  # over: a VEN does not answer a completed event
        if answered.get(event_id, -1) < number:
            return False
    return True


async def acknowledge(
    uow: UnitOfWork,
    ven_id: str,
    reply_type: str,
    request_id: str | None,
    registration_id: str | None,
    now: datetime,
    notifier: PollNotifier,
) -> bool:
    """The VEN's message `reply_type` acknowledges the in-flight message it answers (REPLIES, by
    the echoed requestID) or does what it asked (ACTIONS); False when it acknowledges none (a
    repeated reply, or one to a message already given up)."""
    kind = REPLIES.get(reply_type) or ACTIONS.get(reply_type)
    if kind is None:
        return False
    found = ended = False
    async with uow:
        for message in await uow.outbox.in_flight(ven_id):
            if message.message_type != kind:
                continue
            cancels = message.payload.get("registration_id")
            echoed = request_id is not None and request_id == message.request_id
            named = kind == outbox.CANCEL_PARTY_REGISTRATION and registration_id == cancels
            done = reply_type in ACTIONS or echoed or named
            if not done or not await uow.outbox.finish(message.id, now, acknowledged=True):
                continue
            found = True
            if kind == outbox.CANCEL_PARTY_REGISTRATION:
                ended = await end_cancelled_registration(uow, ven_id, cancels, now) or ended
        await uow.commit()
    if ended:
        notifier.set_registration(ven_id, None)
    return found


async def end_cancelled_registration(
    uow: UnitOfWork, ven_id: str, registration_id: str | None, now: datetime
) -> bool:
    """End the registration an oadrCancelPartyRegistration cancelled, if it is still the VEN's.

    A step of a use case, in its open unit of work: the caller tells the poll path."""
    ven = await uow.vens.get(ven_id)
    if ven is None or registration_id is None or ven.registration_id != registration_id:
        return False
    await end_registration(uow, ven, now)
    return True


async def mark_written(uow: UnitOfWork, message_id: int, send_count: int, at: datetime) -> None:
    """The reply carrying send `send_count` of a message was written out whole at `at`."""
    async with uow:
        await uow.outbox.mark_written(message_id, send_count, at)
        await uow.commit()
