"""Database work that a cancellation waits for instead of cutting short.

A task cancelled while its query is in flight leaves SQLAlchemy's connection mid-operation: it
invalidates the connection and closes the driver's end in a task of its own. On SQLite that
connection can keep the write lock meanwhile (CI: another write at shutdown failed with "database
is locked" after the 30 s busy timeout), and a close still pending when the event loop ends hangs
the loop's shutdown (a test's teardown waited 300 s). The periodic jobs (delivery rounds, the poll
cache's sync) are cancelled whenever an instance stops or steps down, so each of their rounds
runs through `uninterrupted`: the round ends first, then the cancellation takes effect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


async def uninterrupted(work: Awaitable[T]) -> T:
    """Run `work` to its end; a cancellation of the caller meanwhile is raised once it has ended."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait({task})  # unlike awaiting the task, a cancellation here spares it
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        if not task.cancelled() and task.exception() is not None:  # no caller is left to take it
            log.warning("work finished after its caller was cancelled failed: %r", task.exception())
        raise asyncio.CancelledError
    return task.result()
