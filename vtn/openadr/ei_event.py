"""EiEvent: oadrRequestEvent (answered with every live event) and oadrCreatedEvent (opt answers)."""

from __future__ import annotations

from aggregator.delivery import request_events
from aggregator.event_responses import EventAnswer, record_event_responses
from vtn.db.uow import UnitOfWork
from vtn.errors import InvalidInput
from vtn.openadr.context import Context, Handler
from vtn.openadr.render import distribute_event, render, response
from vtn.openadr.xml import text


async def oadr_request_event(ctx: Context) -> str:
    ven_id = ctx.ven_id or ""
    events = await request_events(UnitOfWork(ctx.sessions), ven_id, ctx.now, ctx.settings.near_window_seconds)
    reply_limit = text(ctx.message, "pyld:eiRequestEvent/pyld:replyLimit")
    if reply_limit is not None and reply_limit.isdigit():
        events = events[: int(reply_limit)]
    return distribute_event(ctx.settings.vtn_id, ven_id, events, error=response(200, "OK", ctx.request_id))


def _answers(ctx: Context) -> list[EventAnswer]:
    answers = []
    for element in ctx.message.findall("pyld:eiCreatedEvent/ei:eventResponses/ei:eventResponse", _ns()):
        event_id = text(element, "ei:qualifiedEventID/ei:eventID")
        modification = text(element, "ei:qualifiedEventID/ei:modificationNumber")
        opt_type = text(element, "ei:optType")
        if event_id is None or modification is None or opt_type is None:
            raise InvalidInput("eventResponse", "needs eventID, modificationNumber and optType")
        answers.append(
            EventAnswer(event_id, int(modification), opt_type, text(element, "ei:responseCode") or "200")
        )
    return answers


def _ns() -> dict[str, str]:
    from vtn.openadr.xml import NS

    return NS


async def oadr_created_event(ctx: Context) -> str:
    ven_id = ctx.ven_id or ""
    await record_event_responses(UnitOfWork(ctx.sessions), ven_id, _answers(ctx), ctx.now)
    return render("oadrResponse", response=response(200, "OK", ctx.request_id), ven_id=ven_id)


HANDLERS: dict[str, Handler] = {
    "oadrRequestEvent": oadr_request_event,
    "oadrCreatedEvent": oadr_created_event,
}
