"""A household's notifications and its webhook, as stored; the port a webhook goes out through.

Kept apart from the use cases (aggregator/notifications.py) so that the repository Protocols
(aggregator/repositories.py) can name these records without importing the unit of work.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class NotificationKind(enum.StrEnum):
    """What happened at the site (the webhook body's `kind`, docs/customer-api.md)."""

    CAPACITY_PEAK_RISK = "capacity_peak_risk"
    CHARGING_STOPPED = "charging_stopped"
    CHARGING_STARTED = "charging_started"
    TARGET_AT_RISK = "target_at_risk"  # the plan cannot reach the EV's target by departure
    SCHEDULE_CHANGED = "schedule_changed"
    DEVICE_OFFLINE = "device_offline"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # not acknowledged yet: (re)sent from next_attempt_at on
    DELIVERED = "delivered"  # the receiver answered 2xx


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """One notification in the durable outbox.

    `id` is the receiver's idempotency key: the same on every attempt. `attempts` counts the
    sends claimed so far; `next_attempt_at` is when the next may go out (while one is in flight,
    the end of its claim: see aggregator/notifications.py)."""

    id: str
    site_id: str
    kind: NotificationKind
    created_at: datetime
    data: dict[str, Any]
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """Where a site's notifications go and the secret that signs them (shown to the household
    once, when it is made)."""

    site_id: str
    url: str
    secret: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the receiver answered: its HTTP status, or None with `error` when no answer came
    (refused, timed out, TLS failure)."""

    status: int | None
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender(Protocol):
    """POSTs one webhook body (vtn/notifications.py over aiohttp; a fake in the unit tests)."""

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        """Never raises for a receiver's failure: that is the result."""
        ...
