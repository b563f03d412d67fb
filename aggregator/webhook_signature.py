"""The webhook body and its signature: HMAC-SHA256 over the exact body bytes, with the site's secret.

A receiver verifies by computing the HMAC of the raw request body it received (before parsing
it) with its secret and comparing, in constant time, with the `X-Flexvpp-Signature` header:
`sha256=<lowercase hex>`. `verify` below is that check (docs/customer-api.md shows it standalone).
"""

from __future__ import annotations

import hashlib
import hmac
import json

from aggregator.notification_records import NotificationRecord

SIGNATURE_HEADER = "X-Flexvpp-Signature"
ID_HEADER = "X-Flexvpp-Notification-Id"  # the body's id, for receivers that dedup before parsing
_PREFIX = "sha256="


def body_bytes(notification: NotificationRecord) -> bytes:
    """The JSON body, the same bytes on every attempt (what the signature covers)."""
    body = {
        "id": notification.id,
        "kind": str(notification.kind),
        "site_id": notification.site_id,
        "created_at": notification.created_at.isoformat(),
        "data": notification.data,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=False).encode()


def sign(secret: str, body: bytes) -> str:
    """The header value: `sha256=` and the hex HMAC-SHA256 of `body` keyed with the secret's UTF-8."""
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` under `secret` (constant-time comparison)."""
    if header is None or not header.startswith(_PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body), header.strip())
