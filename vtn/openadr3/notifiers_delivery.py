"""The OpenADR 3.1 notifications on the wire: the broker connection and the delivery rounds.

The rounds run in the primary worker only, every `webhook_poll_seconds`, each one
`aggregator.openadr3_notifications.deliver_due` with the households' webhook policy (timeouts,
backoff: vtn/notifications.py). What a killed VTN had claimed goes out again once its claim
ends; what it had queued and not yet claimed goes out from the next VTN's first round.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import aiohttp
from aiohttp import web

from aggregator.openadr3_notifications import ObjectRenderer, Senders, deliver_due, prune_delivered
from vtn.db.uow import Sessions, UnitOfWork
from vtn.keys import CLOCK, LEADERSHIP, SESSIONS, SETTINGS, utc_now
from vtn.notifications import AiohttpWebhookSender, delivery_policy, delivery_rounds
from vtn.openadr3.notifiers_mqtt import BrokerAddress, PahoPublisher
from vtn.openadr3.notifiers_render import FaceRenderer
from vtn.settings import VtnSettings

log = logging.getLogger(__name__)
FIRST_CONNECT_WAIT_S = 5.0  # a broker that answers by then gets the first round's notifications


async def deliver_forever(
    sessions: Sessions,
    renderer: ObjectRenderer,
    senders: Senders,
    clock: Callable[[], datetime],
    settings: VtnSettings,
) -> None:
    policy = delivery_policy(settings)
    await delivery_rounds(
        "3.1 notification",
        lambda: deliver_due(UnitOfWork(sessions), renderer, senders, clock(), policy),
        lambda: prune_delivered(UnitOfWork(sessions), clock()),
        policy.batch,
        settings.webhook_poll_seconds,
    )


def publisher_for(settings: VtnSettings) -> PahoPublisher | None:
    if settings.openadr3_mqtt_broker is None:
        return None
    return PahoPublisher(BrokerAddress.parse(settings.openadr3_mqtt_broker), settings.webhook_timeout_seconds)


async def openadr3_notification_delivery(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context (of the parent app): the broker client and the HTTP client on every
    instance; the delivery rounds are a job of the leading instance (vtn/services/leadership.py)."""
    renderer = FaceRenderer()
    settings = app[SETTINGS]
    publisher = publisher_for(settings)
    if publisher is not None:
        publisher.start()
        if not await asyncio.to_thread(publisher.wait_connected, FIRST_CONNECT_WAIT_S):
            log.warning("3.1 notifications: broker %s not reachable yet", settings.openadr3_mqtt_broker)
    timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout_seconds)
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as client:
        senders = Senders(publisher, AiohttpWebhookSender(client), settings.openadr3_mqtt_topic_prefix)
        app[LEADERSHIP].add_job(
            "openadr3-notifications",
            lambda: deliver_forever(app[SESSIONS], renderer, senders, app.get(CLOCK) or utc_now, settings),
        )
        yield
    if publisher is not None:
        await asyncio.to_thread(publisher.stop)
