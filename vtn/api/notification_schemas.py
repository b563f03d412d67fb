"""Request and response bodies of the households' notification routes (vtn/api/notifications.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aggregator.errors import InvalidInput
from aggregator.notification_records import DeliveryState, NotificationKind
from aggregator.notifications import MAX_URL_LENGTH, check_url


class WebhookIn(BaseModel):
    """Where the site's notifications go: an http or https URL."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1, max_length=MAX_URL_LENGTH, examples=["https://app.example.com/hooks/flexvpp"]
    )

    @field_validator("url")
    @classmethod
    def _webhook_url(cls, url: str) -> str:
        try:
            return check_url(url)
        except InvalidInput as exc:
            raise ValueError(exc.reason) from exc


class WebhookOut(BaseModel):
    """The site's webhook. `secret` only when it was made (by this request): it signs every
    notification (X-Flexvpp-Signature) and is never shown again."""

    site_id: str
    url: str
    created_at: datetime
    secret: str | None = None


class WebhookSecretOut(BaseModel):
    """The webhook's new secret, shown this once; the old one no longer signs."""

    site_id: str
    secret: str


class NotificationsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(100, ge=1, le=1000, description="at most this many, newest first")
    state: DeliveryState | None = Field(None, description="only those pending, or delivered")


class NotificationOut(BaseModel):
    """A notification as sent (id, kind, site_id, created_at, data) and its delivery state."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: NotificationKind
    site_id: str
    created_at: datetime
    data: dict[str, Any]
    state: DeliveryState
    attempts: int = Field(description="sends so far")
    next_attempt_at: datetime | None = Field(description="pending: when it goes out (again)")
    last_error: str | None = Field(description="what the last failed attempt met")
    delivered_at: datetime | None
