"""A household's notifications: queued in a durable outbox, sent to its webhook, retried until acknowledged.

Delivery is at least once, and the notification's `id` is the receiver's idempotency key: a
receiver that remembers the ids it has processed sees each notification exactly once. A
notification is sent until the receiver answers 2xx, with exponential backoff between attempts
(`DeliveryPolicy`); it is never given up (the list shows its attempts and last error).

Claiming. The delivery step (`deliver_due`) first claims the due notifications in one
transaction: each claim is a conditional UPDATE (pending, due) that counts the attempt and moves
`next_attempt_at` to the end of the claim (`DeliveryPolicy.claim`), and it commits before
anything is sent. Two workers delivering at once therefore never send one id concurrently: the
second's claim finds it not due. A worker killed after its claim and before recording the
outcome leaves the notification pending; it is due again when the claim ends, and goes out again
(hence at least once, not exactly once, on the wire). The claim outlasts the sender's timeout,
so a send still in flight is never claimed twice.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from aggregator.errors import InvalidInput, NotFound
from aggregator.ids import new_id
from aggregator.notification_records import (
    DeliveryState,
    NotificationKind,
    NotificationRecord,
    SendResult,
    WebhookRecord,
    WebhookSender,
)
from aggregator.sites import check_visible, site_ven
from aggregator.uow import UnitOfWork
from aggregator.webhook_signature import ID_HEADER, SIGNATURE_HEADER, body_bytes, sign

log = logging.getLogger(__name__)

MAX_URL_LENGTH = 2048  # the column's
MAX_ERROR_LENGTH = 300
NO_WEBHOOK = "the site has no webhook"


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How the delivery step claims and backs off (VtnSettings.webhook_*).

    The backoff doubles from `first_retry` up to `max_retry`: 1 s answers a receiver's brief
    hiccup (a restart, a deploy) at once, and an hour bounds both the load an absent receiver
    costs us (24 attempts a day per notification) and how late a notification arrives once it is
    back. No jitter: the attempts of different notifications are spread by their creation times.
    """

    batch: int = 50  # notifications claimed per round
    send_timeout: timedelta = timedelta(seconds=10)  # the sender's whole-request timeout
    first_retry: timedelta = timedelta(seconds=1)
    max_retry: timedelta = timedelta(hours=1)

    @property
    def claim(self) -> timedelta:
        """How long a claimed notification is held: longer than any send may take."""
        return self.send_timeout * 2 + timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One send of a notification and its outcome (`next_attempt_at` None: delivered)."""

    notification_id: str
    site_id: str
    attempt: int
    result: SendResult
    next_attempt_at: datetime | None


def backoff(attempts: int, policy: DeliveryPolicy) -> timedelta:
    """The wait after the `attempts`-th failed attempt (1, 2, ...): first_retry·2^(n-1), capped."""
    exponent = min(max(attempts, 1) - 1, 40)  # 2**40 s is far past any cap; avoids huge ints
    return min(policy.first_retry * (1 << exponent), policy.max_retry)


def check_url(url: str) -> str:
    """The URL, stripped, if a webhook may go there (http or https, with a host); else InvalidInput('url')."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidInput("url", f"must be 1 to {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise InvalidInput("url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError as exc:
        raise InvalidInput("url", f"is not a valid URL ({exc})") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput("url", "must be an http or https URL")
    if not parts.hostname:
        raise InvalidInput("url", "must name a host")
    return url


def new_secret() -> str:
    """256 random bits, URL-safe text: what the household's receiver keys the HMAC with."""
    return secrets.token_urlsafe(32)


# ---- queueing --------------------------------------------------------------------------------


async def enqueue_many(
    uow: UnitOfWork,
    items: Iterable[tuple[str, NotificationKind, Mapping[str, Any]]],
    now: datetime,
) -> list[NotificationRecord]:
    """On an entered unit of work: queue each (site_id, kind, data) whose site has a webhook; the
    others are dropped (nobody listens). The caller commits, with whatever caused them."""
    items = list(items)
    hooks = await uow.webhooks.of_sites({site_id for site_id, _, _ in items})
    queued = []
    for site_id, kind, data in items:
        if site_id not in hooks:
            continue
        record = NotificationRecord(
            id=new_id(),
            site_id=site_id,
            kind=NotificationKind(kind),
            created_at=now,
            data=dict(data),
            state=DeliveryState.PENDING,
            attempts=0,
            next_attempt_at=now,
        )
        uow.notifications.add(record)
        queued.append(record)
    return queued


async def notify(
    uow: UnitOfWork, site_id: str, kind: NotificationKind, data: Mapping[str, Any], now: datetime
) -> NotificationRecord | None:
    """Queue one notification for the site (sent by the next delivery round); None when the site
    has no webhook. In a transaction of its own: for a producer with none (the producers in
    aggregator/notification_sources.py and preferences.py queue in theirs, with enqueue_many)."""
    async with uow:
        queued = await enqueue_many(uow, [(site_id, kind, data)], now)
        await uow.commit()
    return queued[0] if queued else None


# ---- the household's webhook -----------------------------------------------------------------


async def set_webhook(
    uow: UnitOfWork, site_id: str, url: str, now: datetime, own_site: str | None = None
) -> str | None:
    """Send the site's notifications to `url`. Returns the new secret when the site had no webhook
    (shown this once); None when only the URL changed (the secret stays: rotate_secret changes it).
    NotFound for a site the caller may not see or no VEN serves; InvalidInput('url')."""
    url = check_url(url)
    async with uow:
        await site_ven(uow, site_id, own_site)
        secret = await put_webhook(uow, site_id, url, now)
        await uow.commit()
    return secret


async def put_webhook(uow: UnitOfWork, site_id: str, url: str, now: datetime) -> str | None:
    """On an entered unit of work (the caller checked the site and the URL, and commits): the
    webhook to `url`; the new secret when the site had none, else None."""
    current = await uow.webhooks.get(site_id)
    if current is None:
        secret = new_secret()
        uow.webhooks.add(WebhookRecord(site_id, url, secret, now))
        return secret
    if current.url != url:
        await uow.webhooks.save(replace(current, url=url))
    return None


async def get_webhook(uow: UnitOfWork, site_id: str, own_site: str | None = None) -> WebhookRecord | None:
    """The site's webhook (its secret is for signing, never for showing), None if it has none."""
    check_visible(site_id, own_site)
    async with uow:
        return await uow.webhooks.get(site_id)


async def rotate_secret(uow: UnitOfWork, site_id: str, now: datetime, own_site: str | None = None) -> str:
    """A new secret for the site's webhook (shown this once); notifications sent from now on are
    signed with it, retries of older ones included. NotFound when the site has no webhook."""
    check_visible(site_id, own_site)
    async with uow:
        current = await uow.webhooks.get(site_id)
        if current is None:
            raise NotFound("webhook", site_id)
        secret = new_secret()
        await uow.webhooks.save(replace(current, secret=secret))
        await uow.commit()
    return secret


async def remove_webhook(uow: UnitOfWork, site_id: str, own_site: str | None = None) -> None:
    """Stop notifying the site. What is pending stays and goes out if a webhook is set again."""
    check_visible(site_id, own_site)
    async with uow:
        if not await uow.webhooks.remove(site_id):
            raise NotFound("webhook", site_id)
        await uow.commit()


async def list_notifications(
    uow: UnitOfWork,
    site_id: str,
    own_site: str | None,
    limit: int = 100,
    state: DeliveryState | None = None,
) -> list[NotificationRecord]:
    """The site's newest notifications with their delivery state, newest first."""
    async with uow:
        await site_ven(uow, site_id, own_site)
        return await uow.notifications.of_site(site_id, limit, state)


# ---- delivery --------------------------------------------------------------------------------


async def deliver_due(
    uow: UnitOfWork, sender: WebhookSender, now: datetime, policy: DeliveryPolicy = DeliveryPolicy()
) -> list[Attempt]:
    """One delivery round: claim the due notifications (committed), send them at once, then record
    each outcome: delivered on 2xx, else the next attempt after the backoff."""
    async with uow:
        claimed: list[NotificationRecord] = []
        for due in await uow.notifications.due(now, policy.batch):
            taken = await uow.notifications.claim(due.id, now, now + policy.claim)
            if taken is not None:  # else another worker has it
                claimed.append(taken)
        hooks = await uow.webhooks.of_sites({n.site_id for n in claimed})
        await uow.commit()
    if not claimed:
        return []
    results = await asyncio.gather(*(_send(sender, n, hooks.get(n.site_id)) for n in claimed))
    attempts = []
    async with uow:
        for notification, result in zip(claimed, results, strict=True):
            attempts.append(await _record(uow, notification, result, now, policy))
        await uow.commit()
    return attempts


async def _send(
    sender: WebhookSender, notification: NotificationRecord, hook: WebhookRecord | None
) -> SendResult:
    if hook is None:
        return SendResult(None, NO_WEBHOOK)
    body = body_bytes(notification)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(hook.secret, body),
        ID_HEADER: notification.id,
    }
    try:
        return await sender.send(hook.url, body, headers)
    except Exception as exc:  # a sender's bug must not leave the claim unrecorded
        log.exception("webhook sender failed on notification %s", notification.id)
        return SendResult(None, f"{type(exc).__name__}: {exc}")


async def _record(
    uow: UnitOfWork,
    notification: NotificationRecord,
    result: SendResult,
    now: datetime,
    policy: DeliveryPolicy,
) -> Attempt:
    n = notification
    if result.acknowledged:
        await uow.notifications.mark_delivered(n.id, now)
        return Attempt(n.id, n.site_id, n.attempts, result, None)
    error = result.error or f"HTTP {result.status}"
    next_at = now + backoff(n.attempts, policy)
    await uow.notifications.mark_failed(n.id, n.attempts, error[:MAX_ERROR_LENGTH], next_at)
    log.info("webhook %s of site %s, attempt %d: %s; next at %s", n.id, n.site_id, n.attempts, error, next_at)
    return Attempt(n.id, n.site_id, n.attempts, result, next_at)


# ---- housekeeping ---------------------------------------------------------------------------

# How long a delivered notification stays listed (GET /sites/{site_id}/notifications): a month,
# what a household's app shows of its history; pending ones stay until delivered.
NOTIFICATION_RETENTION = timedelta(days=31)


async def prune_delivered(uow: UnitOfWork, now: datetime) -> int:
    """Forget the notifications delivered more than NOTIFICATION_RETENTION ago; how many."""
    async with uow:
        removed = await uow.notifications.prune_delivered(now - NOTIFICATION_RETENTION)
        await uow.commit()
    return removed
