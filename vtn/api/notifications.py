"""REST routes of a household's notifications: its webhook, its secret, what was sent and whether it arrived.

A customer token reaches only its own site (another is 404, like a missing one); an operator's
reaches every site (aggregator/sites.py).
"""

from __future__ import annotations

from typing import Any

from aggregator import notifications
from aggregator.notification_records import DeliveryState, NotificationRecord, WebhookRecord
from vtn.api import notification_schemas as ns
from vtn.api.customer import HOUSEHOLD
from vtn.api.endpoints import Call
from vtn.api.routes import ROUTES, own_site
from vtn.db.errors import DuplicateKey
from vtn.db.uow import UnitOfWork
from vtn.errors import Conflict, NotFound


@ROUTES.route(
    "GET",
    "/sites/{site_id}/notifications",
    summary="The site's notifications and their delivery state",
    roles=HOUSEHOLD,
    query=ns.NotificationsQuery,
    response=list[ns.NotificationOut],
    errors=(404,),
)
async def list_site_notifications(call: Call[None, ns.NotificationsQuery]) -> Any:
    """Newest first. A pending one goes out at `next_attempt_at` (again, after `last_error`)."""
    found = await notifications.list_notifications(
        UnitOfWork(call.sessions), call.path["site_id"], own_site(call), call.query.limit, call.query.state
    )
    return [_notification_out(n) for n in found]


def _notification_out(n: NotificationRecord) -> ns.NotificationOut:
    pending = n.state == DeliveryState.PENDING
    return ns.NotificationOut(
        id=n.id,
        kind=n.kind,
        site_id=n.site_id,
        created_at=n.created_at,
        data=n.data,
        state=n.state,
        attempts=n.attempts,
        next_attempt_at=n.next_attempt_at if pending else None,
        last_error=n.last_error,
        delivered_at=n.delivered_at,
    )


@ROUTES.route(
    "PUT",
    "/sites/{site_id}/webhook",
    summary="Send the site's notifications to this URL",
    roles=HOUSEHOLD,
    body=ns.WebhookIn,
    response=ns.WebhookOut,
    status=201,
    errors=(404, 409),
)
async def put_site_webhook(call: Call[ns.WebhookIn, None]) -> Any:
    """The first time, the answer carries the signing `secret`, shown this once; later PUTs change
    the URL only (`secret` null; POST .../webhook/secret makes a new one)."""
    site_id = call.path["site_id"]
    uow = UnitOfWork(call.sessions)
    try:
        secret = await notifications.set_webhook(uow, site_id, call.body.url, call.now, own_site(call))
    except DuplicateKey as err:  # two first PUTs at once: the other made the secret
        raise Conflict(f"site {site_id!r} got a webhook meanwhile; PUT again to change its URL") from err
    return _webhook_out(await _webhook(call), secret)


@ROUTES.route(
    "GET",
    "/sites/{site_id}/webhook",
    summary="The site's webhook (without its secret)",
    roles=HOUSEHOLD,
    response=ns.WebhookOut,
    errors=(404,),
)
async def get_site_webhook(call: Call[None, None]) -> Any:
    return _webhook_out(await _webhook(call), None)


@ROUTES.route(
    "DELETE",
    "/sites/{site_id}/webhook",
    summary="Stop sending the site's notifications",
    roles=HOUSEHOLD,
    response=None,
    status=204,
    errors=(404,),
)
async def delete_site_webhook(call: Call[None, None]) -> None:
    """New notifications are no longer made; pending ones wait for a webhook set again."""
    await notifications.remove_webhook(UnitOfWork(call.sessions), call.path["site_id"], own_site(call))


@ROUTES.route(
    "POST",
    "/sites/{site_id}/webhook/secret",
    summary="A new signing secret for the site's webhook",
    roles=HOUSEHOLD,
    response=ns.WebhookSecretOut,
    status=201,
    errors=(404,),
)
async def rotate_site_webhook_secret(call: Call[None, None]) -> Any:
    """Shown this once; from now on every notification (retries too) is signed with it."""
    site_id = call.path["site_id"]
    secret = await notifications.rotate_secret(UnitOfWork(call.sessions), site_id, call.now, own_site(call))
    return ns.WebhookSecretOut(site_id=site_id, secret=secret)


async def _webhook(call: Call[Any, Any]) -> WebhookRecord:
    site_id = call.path["site_id"]
    hook = await notifications.get_webhook(UnitOfWork(call.sessions), site_id, own_site(call))
    if hook is None:
        raise NotFound("webhook", site_id)
    return hook


def _webhook_out(hook: WebhookRecord, secret: str | None) -> ns.WebhookOut:
    return ns.WebhookOut(site_id=hook.site_id, url=hook.url, created_at=hook.created_at, secret=secret)
