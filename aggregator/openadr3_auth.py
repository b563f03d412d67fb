"""OAuth2 client credentials for the OpenADR 3.1 face: clients, access tokens, their scopes.

A client's secret and each access token are 32 random bytes (URL-safe base64); only their
SHA-256 is stored. A slow password hash (argon2, bcrypt) protects guessable passwords, and costs
tens of milliseconds per token request; for 256 random bits a plain hash is as safe (as for the
REST tokens, vtn/api/tokens.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from aggregator.errors import DomainError, InvalidInput
from aggregator.ids import new_id
from aggregator.openadr3_common import Caller
from aggregator.openadr3_records import ROLE_SCOPES, AccessTokenRecord, ClientRecord, ClientRole, Scope
from aggregator.uow import UnitOfWork

TOKEN_LIFETIME = timedelta(hours=1)
MAX_CREDENTIAL_LENGTH = 4096  # the spec's clientCredentialRequest


class AuthFailed(DomainError):
    """A token request or a token refused: `error` is RFC 6749's code (invalid_client, ...), or
    invalid_token for a request's bearer token (RFC 6750)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class NewClient:
    client_id: str
    client_secret: str  # shown once


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in_s: int
    scopes: tuple[Scope, ...]


async def create_client(
    uow: UnitOfWork, role: ClientRole, now: datetime, ven_name: str | None = None
) -> NewClient:
    """A new client of the role; a VEN client may name its VEN now or by its first POST /vens."""
    if ven_name is not None and not 1 <= len(ven_name) <= 128:
        raise InvalidInput("ven_name", "must have 1 to 128 characters")
    if role == ClientRole.BL and ven_name is not None:
        raise InvalidInput("ven_name", "only a ven client acts for a VEN")
    client = NewClient("client-" + new_id(), secrets.token_urlsafe(32))
    async with uow:
        uow.clients.add(
            ClientRecord(client.client_id, hash_secret(client.client_secret), role, now, ven_name)
        )
        await uow.commit()
    return client


def _granted(role: ClientRole, scope: str | None) -> tuple[Scope, ...]:
    allowed = ROLE_SCOPES[role]
    if not scope or not scope.strip():
        return tuple(sorted(allowed))
    asked = scope.split()
    unknown = [s for s in asked if s not in {x.value for x in allowed}]
    if unknown:
        raise AuthFailed("invalid_scope", f"a {role.value} client may not have the scope {unknown[0]}")
    return tuple(sorted({Scope(s) for s in asked}))


async def issue_token(
    uow: UnitOfWork,
    grant_type: str | None,
    client_id: str | None,
    client_secret: str | None,
    scope: str | None,
    now: datetime,
) -> IssuedToken:
    """POST /auth/token: an access token for the client's credentials (AuthFailed says why not)."""
    if grant_type != "client_credentials":
        raise AuthFailed("unsupported_grant_type", "grant_type must be client_credentials")
    if not client_id or not client_secret:
        missing = "client_id" if not client_id else "client_secret"
        raise AuthFailed("invalid_request", f"the request lacks {missing}")
    if len(client_id) > MAX_CREDENTIAL_LENGTH or len(client_secret) > MAX_CREDENTIAL_LENGTH:
        raise AuthFailed("invalid_request", "client_id and client_secret have at most 4096 characters")
    async with uow:
        client = await uow.clients.get(client_id)
        if (
            client is None
            or client.revoked_at is not None
            or not hmac.compare_digest(client.secret_hash, hash_secret(client_secret))
        ):
            raise AuthFailed("invalid_client", "unknown client or wrong secret")
        scopes = _granted(client.role, scope)
        token = secrets.token_urlsafe(32)
        uow.clients.add_token(
            AccessTokenRecord(hash_secret(token), client.client_id, scopes, now, now + TOKEN_LIFETIME)
        )
        await uow.clients.prune_tokens(now)
        await uow.commit()
    return IssuedToken(token, int(TOKEN_LIFETIME.total_seconds()), scopes)


async def authenticate(uow: UnitOfWork, token: str, now: datetime) -> Caller:
    """The caller a bearer token stands for; AuthFailed(invalid_token) if unknown or expired."""
    if not token or len(token) > 128 or not token.isascii():
        raise AuthFailed("invalid_token", "unknown access token")
    async with uow:
        record = await uow.clients.token(hash_secret(token))
        client = None if record is None else await uow.clients.get(record.client_id)
    if record is None or client is None or client.revoked_at is not None:
        raise AuthFailed("invalid_token", "unknown access token")
    if record.expires_at <= now:
        raise AuthFailed("invalid_token", "the access token expired; ask /auth/token for a new one")
    return Caller(client.client_id, client.role, frozenset(record.scopes), client.ven_name)
