"""The households' webhooks on the wire: an aiohttp sender and the background delivery rounds.

The rounds run in the leading instance only (vtn/services/leadership.py), every `webhook_poll_seconds`, each
one `aggregator.notifications.deliver_due`. Claims are committed before sending, so even two
processes delivering at once would not send one notification concurrently; what a killed VTN
had claimed goes out again once its claim ends (at least once; the id is the receiver's dedup key).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sized
from datetime import datetime, timedelta

import aiohttp
from aiohttp import web

from aggregator.notification_records import SendResult
from aggregator.notifications import DeliveryPolicy, deliver_due, prune_delivered
from vtn.db.errors import log_failure
from vtn.db.uow import Sessions, UnitOfWork
from vtn.keys import CLOCK, LEADERSHIP, SESSIONS, SETTINGS, utc_now
from vtn.services.uninterrupted import uninterrupted
from vtn.settings import VtnSettings

log = logging.getLogger(__name__)
PRUNE_EVERY_S = 3600.0  # real seconds between prunings of delivered notifications

USER_AGENT = "flexvpp-webhooks/1"


class AiohttpWebhookSender:
    """The WebhookSender port (aggregator/notification_records.py) over one aiohttp client session.

    Redirects are not followed: a 3xx is not an acknowledgement, and following one would send the
    signed body wherever the receiver points. Proxy settings of the environment are ignored.
    """

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        try:
            async with self._session.post(
                url, data=body, headers={"User-Agent": USER_AGENT, **headers}, allow_redirects=False
            ) as reply:
                return SendResult(reply.status, None if 200 <= reply.status < 300 else f"HTTP {reply.status}")
        except TimeoutError:
            return SendResult(None, "no answer within the timeout")
        except (aiohttp.ClientError, OSError, ValueError) as exc:  # ValueError: a URL aiohttp refuses
            return SendResult(None, f"{type(exc).__name__}: {exc}"[:300])


def delivery_policy(settings: VtnSettings) -> DeliveryPolicy:
    """The settings (real seconds) on the VTN's clock, which runs clock_speed times faster in demos."""
    speed = settings.clock_speed

    def vtn_time(seconds: float) -> timedelta:
        return timedelta(seconds=seconds * speed)

    return DeliveryPolicy(
        send_timeout=vtn_time(settings.webhook_timeout_seconds),
        first_retry=vtn_time(settings.webhook_first_retry_seconds),
        max_retry=vtn_time(settings.webhook_max_retry_seconds),
    )


async def delivery_rounds(
    what: str,
    deliver: Callable[[], Awaitable[Sized]],
    prune: Callable[[], Awaitable[object]],
    batch: int,
    poll_seconds: float,
) -> None:
    """Delivery rounds until cancelled: at once again after a full batch (`deliver` answers the
    notifications it took up), else after a pause; about once an hour, the delivered
    notifications past their retention go. The households' webhooks and the 3.1 notifications."""
    pruned_at = float("-inf")  # the first round prunes
    while True:
        taken: Sized = ()
        try:
            # A stop waits for the round in flight (at most a send's timeout): cut short, its
            # queries could leave a connection mid-operation (vtn/services/uninterrupted.py).
            taken = await uninterrupted(deliver())
            if time.monotonic() - pruned_at >= PRUNE_EVERY_S:
                pruned_at = time.monotonic()
                await uninterrupted(prune())
        except Exception as exc:  # the database may be briefly away; the claims end, nothing is lost
            log_failure(log, f"{what} round failed", exc)
        if len(taken) < batch:
            await asyncio.sleep(poll_seconds)


async def deliver_forever(
    sessions: Sessions,
    sender: AiohttpWebhookSender,
    clock: Callable[[], datetime],
    policy: DeliveryPolicy,
    poll_seconds: float,
) -> None:
    await delivery_rounds(
        "webhook delivery",
        lambda: deliver_due(UnitOfWork(sessions), sender, clock(), policy),
        lambda: prune_delivered(UnitOfWork(sessions), clock()),
        policy.batch,
        poll_seconds,
    )


async def webhook_delivery(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the delivery rounds, a job of the leading instance, and their HTTP client."""
    settings = app[SETTINGS]
    timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout_seconds)
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as client:
        app[LEADERSHIP].add_job(
            "webhook-delivery",
            lambda: deliver_forever(
                app[SESSIONS],
                AiohttpWebhookSender(client),
                app.get(CLOCK) or utc_now,
                delivery_policy(settings),
                settings.webhook_poll_seconds,
            ),
        )
        yield
