"""What every OpenADR 3.1 use case shares: the caller, pagination, targets, object metadata.

A `Caller` is the client an access token speaks for (aggregator/openadr3_auth.py). A VEN client
sees only its own VEN's objects and the objects (programs, events) that target it or carry no
targets: its target names are its VEN's name and the targets a BL client gave its VEN.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from aggregator.errors import InvalidInput, Unauthorized
from aggregator.openadr3_records import ClientRole, Oa3Object, ObjectType, Scope
from aggregator.records import VenRecord
from aggregator.uow import UnitOfWork

MAX_SKIP = 2**31 - 1  # the spec's skip is an int32
MAX_LIMIT = 50  # the spec's `limit` maximum
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Caller:
    """The client behind a request's access token."""

    client_id: str
    role: ClientRole
    scopes: frozenset[Scope]
    ven_name: str | None = None

    @property
    def is_ven(self) -> bool:
        return self.role == ClientRole.VEN

    def require(self, scope: Scope) -> None:
        """Unauthorized (HTTP 403) unless the token grants `scope`."""
        if scope not in self.scopes:
            raise Unauthorized(f"this operation needs the scope {scope.value}, which the token lacks")


@dataclass(frozen=True, slots=True)
class Page:
    """The spec's skip and limit (limit at most 50)."""

    skip: int = 0
    limit: int = MAX_LIMIT

    def __post_init__(self) -> None:
        if not 0 <= self.skip <= MAX_SKIP:
            raise InvalidInput("skip", f"must be a whole number from 0 to {MAX_SKIP}")
        if not 0 <= self.limit <= MAX_LIMIT:
            raise InvalidInput("limit", f"must be a whole number from 0 to {MAX_LIMIT}")

    def of(self, items: Sequence[T]) -> list[T]:
        return list(items[self.skip : self.skip + self.limit])


def iso(when: datetime) -> str:
    """RFC 3339 in UTC with a Z."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def metadata(object_id: str, created: datetime, modified: datetime, object_type: str) -> dict[str, Any]:
    return {
        "id": object_id,
        "createdDateTime": iso(created),
        "modificationDateTime": iso(modified),
        "objectType": object_type,
    }


def as_json(obj: Oa3Object) -> dict[str, Any]:
    """A stored object as the API shows it: its metadata, then its body."""
    return {**metadata(obj.object_id, obj.created_at, obj.modified_at, obj.object_type.value), **obj.body}


def targets_of(body: dict[str, Any]) -> list[str]:
    return [t for t in body.get("targets") or [] if isinstance(t, str)]


def matches_targets(targets: Iterable[str], wanted: Sequence[str] | None) -> bool:
    """The `targets` query parameter: objects with at least one of the wanted targets."""
    return not wanted or bool(set(targets) & set(wanted))


def visible_to(targets: Iterable[str], names: set[str] | None) -> bool:
    """`read_targets`: None (a BL client) sees all; a VEN sees untargeted objects and its own."""
    found = set(targets)
    return names is None or not found or bool(found & names)


async def own_ven(uow: UnitOfWork, caller: Caller) -> VenRecord | None:
    """The VEN a VEN client acts for (by its client's venName, else by the clientID a BL client
    gave the VEN); None before it exists. Inside the caller's unit of work."""
    if caller.ven_name is not None:
        return await uow.vens.by_name(caller.ven_name)
    for meta in await uow.oa3.find(ObjectType.VEN, client_id=caller.client_id):
        return await uow.vens.get(meta.object_id)
    return None


async def ven_target_names(uow: UnitOfWork, ven: VenRecord | None) -> set[str]:
    """What a VEN answers to as a target: its name and the targets a BL client gave it."""
    if ven is None:
        return set()
    meta = await uow.oa3.get(ObjectType.VEN, ven.ven_id)
    return {ven.ven_name, *(targets_of(meta.body) if meta is not None else [])}


async def reader_names(uow: UnitOfWork, caller: Caller) -> set[str] | None:
    """None for a BL client (it reads all); a VEN client's target names."""
    if not caller.is_ven:
        return None
    return await ven_target_names(uow, await own_ven(uow, caller))
