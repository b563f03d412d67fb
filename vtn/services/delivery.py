"""oadrPoll and oadrRequestEvent on stored state: the next outbox message, the events of a VEN."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vtn.db.uow import UnitOfWork
from vtn.services import outbox
from vtn.services.event_rules import DEFAULT_NEAR_WINDOW_SECONDS, distribution_key
from vtn.services.events import load_infos
from vtn.services.poll_cache import notify_registration
from vtn.services.registration import end_registration
from vtn.services.reports import report_requests_payload
from vtn.services.types import EventInfo, EventStatus

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One VTN-initiated message for a VEN: its type, the stored payload, and for a distribute its events."""

    message_type: str
    payload: dict[str, Any]
    events: tuple[EventInfo, ...] = field(default_factory=tuple)


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
            info = _as_cancelled(info)
        elif info.status == EventStatus.COMPLETED:
            continue
        shown.append(info)
    shown.sort(key=lambda i: distribution_key(i.status, i.priority, i.intervals[0].start))
    return tuple(shown)


def _as_cancelled(info: EventInfo) -> EventInfo:
    from dataclasses import replace

    return replace(info, status=EventStatus.CANCELLED)


async def take_next(
    sessions: Sessions, ven_id: str, now: datetime, near_window_seconds: int = DEFAULT_NEAR_WINDOW_SECONDS
) -> Delivery | None:
    """Take the VEN's oldest undelivered message (marking it delivered), or None if there is none."""
    ended = False
    async with UnitOfWork(sessions) as uow:
        while True:
            message = await uow.outbox.next_pending(ven_id)
            if message is None:
                await uow.commit()
                return None
            if not await uow.outbox.claim(message, now):  # another worker delivered it
                continue
            delivery = await _build(
                uow, ven_id, message.message_type, dict(message.payload), now, near_window_seconds
            )
            if delivery is None:  # stale: skip it and look at the next one
                continue
            if delivery.message_type == outbox.DISTRIBUTE_EVENT:
                message.payload = {**message.payload, **_delivered_cancellations(delivery.events)}
            if delivery.message_type == outbox.CANCEL_PARTY_REGISTRATION:
                ven = await uow.vens.get(ven_id)
                assert ven is not None
                await end_registration(uow, ven, now)
                ended = True
            await uow.commit()
            break
    if ended:
        notify_registration(sessions, ven_id, None)
    return delivery


def _delivered_cancellations(events: tuple[EventInfo, ...]) -> dict[str, dict[str, int]]:
    """What the VEN was told is cancelled (event -> modificationNumber), kept on the delivered
    message so that a VEN dropped from an event's targets may still answer that cancellation."""
    told = {e.event_id: e.modification_number for e in events if e.status == EventStatus.CANCELLED}
    return {outbox.DELIVERED_CANCELLATIONS: told} if told else {}


async def _build(
    uow: UnitOfWork, ven_id: str, message_type: str, payload: dict[str, Any], now: datetime, near: int
) -> Delivery | None:
    if message_type == outbox.DISTRIBUTE_EVENT:
        events = await events_for_ven(uow, ven_id, now, near, payload.get("cancelled_event_ids", []))
        return Delivery(message_type, payload, events)
    if message_type == outbox.CANCEL_PARTY_REGISTRATION:
        ven = await uow.vens.get(ven_id)
        if ven is None or ven.registration_id != payload.get("registration_id"):
            return None  # the VEN re-registered since; this cancel no longer applies
    if message_type == outbox.CREATE_REPORT:
        requests = [await uow.reports.get_request(i) for i in payload.get("report_request_ids", [])]
        live = [r for r in requests if r is not None and r.cancelled_at is None]
        if not live:
            return None
        payload = {**payload, "report_requests": report_requests_payload(live)}
    return Delivery(message_type, payload)


async def request_events(
    sessions: Sessions, ven_id: str, now: datetime, near_window_seconds: int = DEFAULT_NEAR_WINDOW_SECONDS
) -> tuple[EventInfo, ...]:
    """oadrRequestEvent: the VEN's events as a distribute would carry them now."""
    async with UnitOfWork(sessions) as uow:
        return await events_for_ven(uow, ven_id, now, near_window_seconds)
