"""OpenADR 3.1 notifications as stored, and the ports they go out through.

ObjectType is the 3.1 face's (aggregator/openadr3_records.py), re-exported here.

Kept apart from the use cases (aggregator/openadr3_notifications.py) so that the repository
Protocol (aggregator/repositories.py) can name these records without importing the unit of work.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aggregator.notification_records import DeliveryState, SendResult
from aggregator.openadr3_records import ObjectType


class Operation(enum.StrEnum):
    """The operations a notification reports (READ is never notified: nothing changed)."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class RenderedObject:
    """A 3.1 object as a notification carries it, and what decides where it goes.

    `object` is the JSON the 3.1 API would return for it (id, objectType, ...). `program_id` is the
    program it belongs to (a program's own id; None for VENs, resources and subscriptions without
    one). `ven_ids` are the VENs it concerns: their per-VEN topics (vens/{venID}/...) carry it and
    a VEN client's subscription receives it only when its VEN is among them, unless `all_vens`
    (an event or program without targets: every VEN may read it, as the spec's read_targets says).
    """

    object: dict[str, Any]
    program_id: str | None = None
    ven_ids: tuple[str, ...] = ()
    all_vens: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "program_id": self.program_id,
            "ven_ids": list(self.ven_ids),
            "all_vens": self.all_vens,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RenderedObject:
        return cls(
            object=dict(data["object"]),
            program_id=data.get("program_id"),
            ven_ids=tuple(data.get("ven_ids") or ()),
            all_vens=bool(data.get("all_vens")),
        )

    @property
    def targets(self) -> list[str] | None:
        """The object's own targets (the notification's `targets`), None when it has none."""
        targets = self.object.get("targets")
        return [str(t) for t in targets] if isinstance(targets, list) and targets else None


class Channel(enum.StrEnum):
    MQTT = "mqtt"
    WEBHOOK = "webhook"


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one notification still has to go: the broker's topics, or one subscription's callback."""

    channel: Channel
    topics: tuple[str, ...] = ()  # MQTT
    url: str = ""  # WEBHOOK: the callbackUrl
    bearer_token: str | None = None  # WEBHOOK: sent as `Authorization: Bearer ...`
    subscription_id: str = ""  # WEBHOOK: which subscription asked (for the logs)

    def to_json(self) -> dict[str, Any]:
        if self.channel is Channel.MQTT:
            return {"channel": self.channel.value, "topics": list(self.topics)}
        return {
            "channel": self.channel.value,
            "url": self.url,
            "bearer_token": self.bearer_token,
            "subscription_id": self.subscription_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Destination:
        return cls(
            channel=Channel(data["channel"]),
            topics=tuple(data.get("topics") or ()),
            url=str(data.get("url") or ""),
            bearer_token=data.get("bearer_token"),
            subscription_id=str(data.get("subscription_id") or ""),
        )

    @property
    def label(self) -> str:
        if self.channel is Channel.MQTT:
            return "mqtt"
        return f"webhook {self.url} (subscription {self.subscription_id})"


@dataclass(frozen=True, slots=True)
class Oa3NotificationRecord:
    """One change of a 3.1 object in the durable outbox, until every destination has it.

    Queued in the transaction of the change with only the object's type, id and operation (and,
    for a delete, the object as it was: `rendered`). The first delivery round renders the object
    and resolves the destinations (the broker, the matching subscriptions' callbacks); both are
    stored, so retries send the same body to the same places. `destinations` then shrinks to
    those that have not acknowledged; empty: delivered.
    """

    id: str
    object_type: ObjectType
    operation: Operation
    object_id: str
    created_at: datetime
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    rendered: RenderedObject | None = None
    destinations: tuple[Destination, ...] | None = None  # None: not resolved yet
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ObjectOperations:
    """One entry of a subscription's objectOperations."""

    objects: frozenset[ObjectType]
    operations: frozenset[str]  # CREATE, UPDATE, DELETE (READ: accepted, never notified)
    callback_url: str
    bearer_token: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A stored 3.1 subscription as matching needs it. `ven_id`: the VEN of the VEN client that
    made it (it receives only what that VEN may read); None for a BL client's."""

    subscription_id: str
    program_id: str | None
    object_operations: tuple[ObjectOperations, ...]
    targets: frozenset[str] = field(default_factory=frozenset)
    ven_id: str | None = None


class MqttPublisher(Protocol):
    """Publishes one notification on the broker (vtn/openadr3/notifiers_mqtt.py over paho-mqtt)."""

    async def publish(self, topics: Sequence[str], payload: bytes) -> SendResult:
        """QoS 1 on every topic; acknowledged (status 200) once the broker has them all. Never
        raises for a broker's failure: that is the result."""
        ...
