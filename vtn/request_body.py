"""A request body read whole, within a size limit and a deadline (the OpenADR and REST edges).

aiohttp's `request.content.read(n)` returns what has arrived so far, not n bytes: a body that
came in several TCP segments or TLS records (a slow link, a large report, chunked encoding) was
cut short and refused as malformed XML (issue 10). `request.read()` reads to the end but waits
forever for a client that stops sending. `read_body` reads to the end of the body (its
Content-Length or its last chunk), stops as soon as the body passes `max_bytes` (413) and gives
up when the whole body has not arrived within `timeout_seconds` (408).

A refused body is answered with `send_and_close`: the reply, then the connection is closed.
Otherwise aiohttp would go on reading (and discarding) the rest of the body for up to 10 s
before closing, e.g. most of a 100 MB upload, or wait that long on a client that sends nothing.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

log = logging.getLogger(__name__)


class BodyRefused(Exception):
    """The body was too large, too slow or cut off; `status` is the HTTP status to answer."""

    def __init__(self, status: int, error: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.error = error  # a short machine-readable name for the REST error body


async def read_body(request: web.Request, max_bytes: int, timeout_seconds: float) -> bytes:
    """The whole body of `request`, of at most `max_bytes` bytes, all arrived within `timeout_seconds`.

    Raises BodyRefused (413 too large, 408 not all sent in time, 400 the connection closed
    before the body ended), after logging one line that names the client and the request.
    """
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise _refused(request, 413, "request_entity_too_large", f"the body is larger than {max_bytes} bytes")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_seconds):
            while chunk := await request.content.readany():
                body += chunk
                if len(body) > max_bytes:  # chunked (no Content-Length): stop here, read no more
                    raise _refused(
                        request, 413, "request_entity_too_large", f"the body is larger than {max_bytes} bytes"
                    )
    except TimeoutError:
        raise _refused(
            request,
            408,
            "request_timeout",
            f"the body did not arrive within {timeout_seconds:g} s ({len(body)} bytes came)",
        ) from None
    except ConnectionError:
        raise _refused(
            request, 400, "bad_request", f"the connection closed after {len(body)} bytes of the body"
        ) from None
    return bytes(body)


def _refused(request: web.Request, status: int, error: str, reason: str) -> BodyRefused:
    log.warning("refused the body of %s %s from %s: %s", request.method, request.path, request.remote, reason)
    return BodyRefused(status, error, reason)


async def send_and_close(request: web.Request, response: web.Response) -> web.Response:
    """Send `response` to a refused body, then close the connection without reading the rest."""
    response.force_close()
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionError:
        pass  # the client has gone: nobody to tell
    finally:
        request.protocol.force_close()  # the transport closes once the reply written above is sent
    return response
