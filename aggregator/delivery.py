"""oadrPoll and oadrRequestEvent on stored state: the next outbox message, the events of a VEN.

Delivery is at least once (aggregator/acknowledgement.py): a message that went out stays
pending until the VEN acknowledges it. A poll sends the oldest pending message that never went
out, or that went out at least `resend_seconds` ago and is still not acknowledged; one sent
`max_sends` times without an acknowledgement is given up (logged). A message sent and not yet
due again does not hold up the ones behind it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from aggregator import outbox
from aggregator.acknowledgement import end_cancelled_registration, settle
from aggregator.event_rules import DEFAULT_NEAR_WINDOW_SECONDS, EventStatus, distribution_key
from aggregator.events import EventInfo, load_infos
from aggregator.ids import new_id
from aggregator.ports import PollNotifier
from aggregator.records import OutboxRecord
from aggregator.reports import report_requests_payload
from aggregator.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Redelivery:
    """How often a message the VEN has not acknowledged goes out again (VtnSettings.outbox_*)."""

    resend_seconds: float = 5.0
    max_sends: int = 10


@dataclass(frozen=True, slots=True)
class Delivery:
    """One send of a VTN-initiated message: its type, payload, requestID, and for a distribute its events.

    `written_acknowledges`: no reply will acknowledge this send, writing its reply out whole
    does (with a later poll), so the poll reports the write (`acknowledgement.mark_written`).
    """

    message_type: str
    payload: dict[str, Any]
    events: tuple[EventInfo, ...] = field(default_factory=tuple)
    request_id: str | None = None
    message_id: int | None = None
    send_count: int = 0
    written_acknowledges: bool = False


@dataclass(frozen=True, slots=True)
class Taken:
    """What a poll takes: a delivery, or None with when an unacknowledged message is due again
    (`resend_at`; None when nothing at all is pending)."""

    delivery: Delivery | None
    resend_at: datetime | None = None


async def events_for_ven(
    uow: UnitOfWork,
    ven_id: str,
    now: datetime,
    near_window_seconds: int,
    cancelled_ids: list[str] | None = None,
) -> tuple[EventInfo, ...]:
    """Every far/near/active event of the VEN (and the named cancelled ones), in distribution order."""
    live = await uow.events.live_for_ven(ven_id)
    extra_ids = [i for i in cancelled_ids or [] if i not in {e.event_id for e in live}]
    extra = await uow.events.get_many(extra_ids)
    infos = await load_infos(uow, [*live, *extra], now, near_window_seconds)
    extra_set = set(extra_ids)
    shown = []
    for info in infos:
        if info.event_id in extra_set:
            info = replace(info, status=EventStatus.CANCELLED)
        elif info.status == EventStatus.COMPLETED:
            continue
        shown.append(info)
    shown.sort(key=lambda i: distribution_key(i.status, i.priority, i.intervals[0].start))
    return tuple(shown)


async def take_next(
    uow: UnitOfWork,
    ven_id: str,
    now: datetime,
    notifier: PollNotifier,
    near_window_seconds: int = DEFAULT_NEAR_WINDOW_SECONDS,
    redelivery: Redelivery = Redelivery(),
) -> Taken:
    """Send the VEN's next due message (counting the send), after finishing the acknowledged ones."""
    ended = False
    delivery = None
    sent_before = now - timedelta(seconds=redelivery.resend_seconds)
    async with uow:
        await settle(uow, ven_id, now)
        while (message := await uow.outbox.next_due(ven_id, sent_before)) is not None:
            if message.send_count >= redelivery.max_sends:
                ended = await _give_up(uow, message, now) or ended
                continue
            claimed = await uow.outbox.claim(message.id, now, sent_before)
            if claimed is None:  # another worker sent it
                continue
            message = claimed
            delivery = await _send(uow, message, now, near_window_seconds)
            if delivery is not None:
                break
            await uow.outbox.finish(message.id, now, acknowledged=False)  # no longer applies
        resend_at = None if delivery is not None else await _resend_at(uow, ven_id, now, redelivery)
        await uow.commit()
    if ended:
        notifier.set_registration(ven_id, None)
    return Taken(delivery, resend_at)


async def _give_up(uow: UnitOfWork, message: OutboxRecord, now: datetime) -> bool:
    """Stop sending a message the VEN never acknowledged; True if that ended its registration."""
    await uow.outbox.finish(message.id, now, acknowledged=False)
    log.warning(
        "VEN %s did not acknowledge %s (outbox message %d) after %d sends: giving up on it",
        message.ven_id,
        message.message_type,
        message.id,
        message.send_count,
    )
    if message.message_type != outbox.CANCEL_PARTY_REGISTRATION:
        return False
    # The operator's decision stands: the registration ends without the VEN's word.
    return await end_cancelled_registration(uow, message.ven_id, message.payload.get("registration_id"), now)


async def _resend_at(uow: UnitOfWork, ven_id: str, now: datetime, redelivery: Redelivery) -> datetime | None:
    """When the next of the VEN's pending messages may go out (now for one another worker holds)."""
    pending = [*await uow.outbox.in_flight(ven_id), *await uow.outbox.unsent(ven_id)]
    times = [
        now if m.sent_at is None else m.sent_at + timedelta(seconds=redelivery.resend_seconds)
        for m in pending
    ]
    return min(times, default=None)


async def _send(uow: UnitOfWork, message: OutboxRecord, now: datetime, near: int) -> Delivery | None:
    """Render-ready content of this send and what will acknowledge it; None if it no longer applies."""
    ven_id, kind, payload = message.ven_id, message.message_type, dict(message.payload)
    if message.request_id is None:  # the same on every send
        message = replace(message, request_id=new_id())
        await uow.outbox.save(message)
    if kind == outbox.DISTRIBUTE_EVENT:
        # Absorb the VEN's other pending distributes before reading the events: this one,
        # rendered now, carries all they would. An event change folding into one of them either
        # committed before (its change is read below) or finds it done and queues a new one.
        absorbed = await uow.outbox.absorb(ven_id, kind, message.id, now)
        cancelled = set(payload.get("cancelled_event_ids", []))
        for other in absorbed:
            cancelled.update(other.get("cancelled_event_ids", []))
        events = await events_for_ven(uow, ven_id, now, near, sorted(cancelled))
        awaiting = {e.event_id: e.modification_number for e in events if e.response_required == "always"}
        told = outbox.told(payload)
        for e in events:
            if e.status == EventStatus.CANCELLED:
                told[e.event_id] = sorted({*told.get(e.event_id, []), e.modification_number})
        message = replace(
            message,
            payload={
                **payload,
                "cancelled_event_ids": sorted(cancelled),
                outbox.AWAITING_ANSWERS: awaiting,
                outbox.DELIVERED_CANCELLATIONS: told,
            },
        )
        await uow.outbox.save(message)
        return _delivery(message, message.payload, events, written_acknowledges=not awaiting)
    if kind == outbox.CANCEL_PARTY_REGISTRATION:
        ven = await uow.vens.get(ven_id)
        if ven is None or ven.registration_id != payload.get("registration_id"):
            return None  # the VEN re-registered since; this cancel no longer applies
    if kind == outbox.CREATE_REPORT:
        requests = [await uow.reports.get_request(i) for i in payload.get("report_request_ids", [])]
        live = [r for r in requests if r is not None and r.cancelled_at is None]
        if not live:
            return None
        payload = {**payload, "report_requests": report_requests_payload(live)}
    return _delivery(message, payload, written_acknowledges=kind == outbox.REGISTER_REPORT)


def _delivery(
    message: OutboxRecord,
    payload: dict[str, Any],
    events: tuple[EventInfo, ...] = (),
    written_acknowledges: bool = False,
) -> Delivery:
    return Delivery(
        message.message_type,
        payload,
        events,
        message.request_id,
        message.id,
        message.send_count,
        written_acknowledges,
    )


async def request_events(
    uow: UnitOfWork, ven_id: str, now: datetime, near_window_seconds: int = DEFAULT_NEAR_WINDOW_SECONDS
) -> tuple[EventInfo, ...]:
    """oadrRequestEvent: the VEN's events as a distribute would carry them now."""
    async with uow:
        return await events_for_ven(uow, ven_id, now, near_window_seconds)
