"""OadrPoll: hand the VEN its oldest waiting outbox message, or an empty oadrResponse.

The empty answer is the common case and is served from memory: the poll cache knows which
VENs have undelivered messages, and poll times are written to the database in batches.
"""

from __future__ import annotations

from vtn.openadr.context import Context, Handler
from vtn.openadr.render import EmptyResponse, distribute_event, new_request_id, render, report_requests
from vtn.services import outbox
from vtn.services.delivery import Delivery, take_next

_EMPTY = EmptyResponse()


async def oadr_poll(ctx: Context) -> str | bytes:
    ven_id = ctx.ven_id or ""
    cache = ctx.cache
    cache.record_poll(ven_id, ctx.now)
    generation = cache.pending_generation(ven_id)
    if generation is None:
        return _EMPTY.for_ven(ven_id)
    delivery = await take_next(ctx.sessions, ven_id, ctx.now, ctx.settings.near_window_seconds)
    if delivery is None:
        cache.clear_pending(ven_id, generation)
        return _EMPTY.for_ven(ven_id)
    return render_delivery(ctx, ven_id, delivery)


def render_delivery(ctx: Context, ven_id: str, delivery: Delivery) -> str:
    kind, payload = delivery.message_type, delivery.payload
    request_id = new_request_id()
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
