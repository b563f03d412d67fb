"""OadrPoll: hand the VEN its next outbox message, or an empty oadrResponse.

The empty answer is the common case and is served from memory: the poll cache knows which
VENs have pending messages (and when an unacknowledged one is due again), and poll times are
written to the database in batches. Delivery is at least once (aggregator/acknowledgement.py).
"""

from __future__ import annotations

from datetime import datetime

from aggregator import outbox
from aggregator.acknowledgement import mark_written
from aggregator.delivery import Delivery, Redelivery, take_next
from vtn.db.uow import UnitOfWork
from vtn.openadr.context import Context, Handler
from vtn.openadr.render import EmptyResponse, distribute_event, new_request_id, render, report_requests

_EMPTY = EmptyResponse()


async def oadr_poll(ctx: Context) -> str | bytes:
    ven_id = ctx.ven_id or ""
    cache = ctx.cache
    cache.record_poll(ven_id, ctx.now)
    generation = cache.pending_generation(ven_id)
    if generation is None or cache.nothing_due(ven_id, generation, ctx.now):
        return _EMPTY.for_ven(ven_id)
    settings = ctx.settings
    redelivery = Redelivery(settings.outbox_resend_seconds, settings.outbox_max_sends)
    taken = await take_next(
        UnitOfWork(ctx.sessions), ven_id, ctx.now, cache, settings.near_window_seconds, redelivery
    )
    delivery = taken.delivery
    if delivery is None:
        if taken.resend_at is None:
            cache.clear_pending(ven_id, generation)
        else:
            cache.wait_until(ven_id, generation, taken.resend_at)
        return _EMPTY.for_ven(ven_id)
    reply = render_delivery(ctx, ven_id, delivery)
    if delivery.written_acknowledges and delivery.message_id is not None:
        message_id, send_count = delivery.message_id, delivery.send_count

        async def written(at: datetime) -> None:
            await mark_written(UnitOfWork(ctx.sessions), message_id, send_count, at)

        ctx.after_written.append(written)  # dispatch writes the reply, then calls it
    return reply


def render_delivery(ctx: Context, ven_id: str, delivery: Delivery) -> str:
    kind, payload = delivery.message_type, delivery.payload
    request_id = delivery.request_id or new_request_id()  # the same on every send of the message
    if kind == outbox.DISTRIBUTE_EVENT:
        return distribute_event(ctx.settings.vtn_id, ven_id, delivery.events, request_id)
    if kind == outbox.CREATE_REPORT:
        return render(
            kind,
            request_id=request_id,
            ven_id=ven_id,
            report_requests=report_requests(payload["report_requests"]),
        )
    if kind == outbox.CANCEL_REPORT:
        return render(
            kind,
            request_id=request_id,
            ven_id=ven_id,
            report_request_id=payload["report_request_id"],
            report_to_follow=False,
        )
    if kind == outbox.REGISTER_REPORT:
        # The VTN offers no telemetry of its own: its METADATA report list is empty.
        return render(kind, request_id=request_id, ven_id=ven_id, reports=[])
    if kind == outbox.CANCEL_PARTY_REGISTRATION:
        return render(kind, request_id=request_id, ven_id=ven_id, registration_id=payload["registration_id"])
    if kind == outbox.REQUEST_REREGISTRATION:
        return render(kind, ven_id=ven_id)
    raise ValueError(f"outbox message type {kind!r} has no renderer")


HANDLERS: dict[str, Handler] = {"oadrPoll": oadr_poll}
