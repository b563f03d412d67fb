"""The OpenADR side of at-least-once delivery (aggregator/acknowledgement.py has the rules).

- `acknowledging(handlers)`: a VEN's reply to a VTN-initiated message (oadrCreatedReport,
  oadrCanceledReport, oadrRegisteredReport, oadrCanceledPartyRegistration) acknowledges the
  outbox message whose requestID it echoes, and a re-registration an oadrRequestReregistration,
  once the message's own handler accepted it.
- `write_then_tell`: dispatch writes a reply out itself when the handler asked to hear of it
  (`Context.after_written`, only a poll reply carrying such a send), and then tells it when. A
  send that no reply will acknowledge (only responseRequired=never events, the VTN's METADATA)
  counts once its reply was handed to the connection whole and a later poll came; a connection
  that closed first does not count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from aggregator.acknowledgement import ACTIONS, REPLIES, acknowledge
from vtn.db.uow import UnitOfWork
from vtn.openadr.context import Context, Handler, WrittenCallback
from vtn.openadr.xml import text

log = logging.getLogger(__name__)


def acknowledging(handlers: dict[str, Handler]) -> dict[str, Handler]:
    """`handlers`, each reply that answers an outbox message also acknowledging that message."""
    answers = REPLIES.keys() | ACTIONS.keys()
    return {kind: _acknowledges(h, kind) if kind in answers else h for kind, h in handlers.items()}


def _acknowledges(handler: Handler, reply_type: str) -> Handler:
    async def handle(ctx: Context) -> str | bytes:
        reply = await handler(ctx)  # a refused message (VtnError) acknowledges nothing
        if ctx.ven_id:
            registration_id = text(ctx.message, "ei:registrationID")
            await acknowledge(
                UnitOfWork(ctx.sessions),
                ctx.ven_id,
                reply_type,
                ctx.request_id,
                registration_id,
                ctx.now,
                ctx.cache,
            )
        return reply

    return handle


async def write_then_tell(
    request: web.Request,
    response: web.Response,
    callbacks: list[WrittenCallback],
    clock: Callable[[], datetime],
) -> None:
    """Write `response` out now, then call each callback with the time it went out whole (never
    if the connection failed first)."""
    try:
        # aiohttp would write it right after the handler returns; doing it here tells us it went out.
        await response.prepare(request)
        await response.write_eof()
    except ConnectionError:
        log.info("the reply to %s was not written: the connection closed first", request.path)
        return
    at = clock()
    for callback in callbacks:
        try:
            await callback(at)
        except Exception:  # the message then goes out again: at least once still holds
            log.exception("could not record that a reply was written")
