"""The OpenADR side of at-least-once delivery (vtn/services/acknowledgement.py has the rules).

- `acknowledging(handlers)`: a VEN's reply to a VTN-initiated message (oadrCreatedReport,
  oadrCanceledReport, oadrRegisteredReport, oadrCanceledPartyRegistration) acknowledges the
  outbox message whose requestID it echoes, and a re-registration an oadrRequestReregistration,
  once the message's own handler accepted it.
- `reply_written`: a middleware that writes a reply out itself when the handler asked to hear
  of it (`after_reply_written`), and then tells it when. A send that no reply will acknowledge
  (only responseRequired=never events, the VTN's METADATA) counts once its reply was handed to
  the connection whole and a later poll came; a connection that closed first does not count.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import datetime

from aiohttp import web

from vtn.keys import CLOCK, utc_now
from vtn.openadr.context import Context, Handler
from vtn.openadr.xml import text
from vtn.services.acknowledgement import ACTIONS, REPLIES, acknowledge

log = logging.getLogger(__name__)

WrittenCallback = Callable[[datetime], Awaitable[None]]
_AFTER_WRITE: ContextVar[list[WrittenCallback] | None] = ContextVar("after_reply_written", default=None)


def acknowledging(handlers: dict[str, Handler]) -> dict[str, Handler]:
    """`handlers`, each reply that answers an outbox message also acknowledging that message."""
    answers = REPLIES.keys() | ACTIONS.keys()
    return {kind: _acknowledges(h, kind) if kind in answers else h for kind, h in handlers.items()}


def _acknowledges(handler: Handler, reply_type: str) -> Handler:
    async def handle(ctx: Context) -> str | bytes:
        reply = await handler(ctx)  # a refused message (VtnError) acknowledges nothing
        if ctx.ven_id:
            registration_id = text(ctx.message, "ei:registrationID")
            await acknowledge(ctx.sessions, ctx.ven_id, reply_type, ctx.request_id, registration_id, ctx.now)
        return reply

    return handle


def after_reply_written(callback: WrittenCallback) -> bool:
    """Call `callback(at)` once the current request's reply is written out whole (never if the
    connection fails first); False outside a request served through `reply_written`."""
    callbacks = _AFTER_WRITE.get()
    if callbacks is None:
        return False
    callbacks.append(callback)
    return True


@web.middleware
async def reply_written(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    callbacks: list[WrittenCallback] = []
    token = _AFTER_WRITE.set(callbacks)
    try:
        response = await handler(request)
    finally:
        _AFTER_WRITE.reset(token)
    if not callbacks or not isinstance(response, web.Response):
        return response
    try:
        # aiohttp would write it right after we return; doing it here tells us it went out.
        await response.prepare(request)
        await response.write_eof()
    except ConnectionError:
        log.info("the reply to %s was not written: the connection closed first", request.path)
        return response
    at = request.config_dict.get(CLOCK, utc_now)()
    for callback in callbacks:
        try:
            await callback(at)
        except Exception:  # the message then goes out again: at least once still holds
            log.exception("could not record that a reply was written")
    return response
