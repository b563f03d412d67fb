"""What the OpenADR 3.1 face stores beside the 2.0b state: its OAuth2 clients and their access
tokens, and the 3.1 objects that have no 2.0b counterpart (or only part of one), as records.

`Oa3Object` keeps a 3.1 object's body as the spec's JSON (its field names), with the columns the
use cases look objects up by beside it. Which objects are stored this way, and how each maps to
the 2.0b state, is aggregator/openadr3.py's table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class ClientRole(StrEnum):
    """A 3.1 client: the business logic (programs, events) or a VEN (its own objects, reports)."""

    BL = "bl"
    VEN = "ven"


class Scope(StrEnum):
    """The spec's OAuth2 scopes (securitySchemes.oAuth2ClientCredentials)."""

    READ_ALL = "read_all"
    READ_TARGETS = "read_targets"
    READ_VEN_OBJECTS = "read_ven_objects"
    WRITE_PROGRAMS = "write_programs"
    WRITE_EVENTS = "write_events"
    WRITE_REPORTS = "write_reports"
    WRITE_SUBSCRIPTIONS = "write_subscriptions"
    WRITE_VENS = "write_vens"


# What each role may be granted, as the spec's scope descriptions say ("Only BL can write to
# programs", "only VENs can write to reports", "VENs and BL can write to ... vens").
ROLE_SCOPES: dict[ClientRole, frozenset[Scope]] = {
    ClientRole.BL: frozenset(
        {
            Scope.READ_ALL,
            Scope.READ_TARGETS,
            Scope.READ_VEN_OBJECTS,
            Scope.WRITE_PROGRAMS,
            Scope.WRITE_EVENTS,
            Scope.WRITE_SUBSCRIPTIONS,
            Scope.WRITE_VENS,
        }
    ),
    ClientRole.VEN: frozenset(
        {
            Scope.READ_TARGETS,
            Scope.READ_VEN_OBJECTS,
            Scope.WRITE_REPORTS,
            Scope.WRITE_SUBSCRIPTIONS,
            Scope.WRITE_VENS,
        }
    ),
}


class ObjectType(StrEnum):
    """The kinds of `Oa3Object` (EVENT and VEN hold only what 2.0b's event and VEN lack)."""

    PROGRAM = "PROGRAM"
    EVENT = "EVENT"
    VEN = "VEN"
    RESOURCE = "RESOURCE"
    REPORT = "REPORT"
    SUBSCRIPTION = "SUBSCRIPTION"


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """An OAuth2 client (`flexvpp client create`); only the SHA-256 of its secret is stored.

    A VEN client acts for the VEN named `ven_name` (set at creation, or by its first POST /vens)."""

    client_id: str
    secret_hash: str
    role: ClientRole
    created_at: datetime
    ven_name: str | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AccessTokenRecord:
    """An access token issued by POST /auth/token (its SHA-256), with the scopes it grants."""

    token_hash: str
    client_id: str
    scopes: tuple[Scope, ...]
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Oa3Object:
    """A stored 3.1 object: `body` is its JSON without the metadata (id, times, objectType).

    `unique_key`: unique per object type (a program's name, a resource's venID/resourceName);
    `market_context`: a program's 2.0b market context (unique)."""

    object_type: ObjectType
    object_id: str
    created_at: datetime
    modified_at: datetime
    body: dict[str, Any]
    client_id: str | None = None
    ven_id: str | None = None
    program_id: str | None = None
    event_id: str | None = None
    name: str | None = None
    unique_key: str | None = None
    market_context: str | None = None
