"""REST bearer tokens: created by `flexvpp token create`, verified on every API request.

A token is `fvp_` + 43 URL-safe random characters; only its SHA-256 (hex) is stored, so a
database leak does not leak usable tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from vtn.db.engine import open_database
from vtn.db.uow import Sessions, UnitOfWork

TOKEN_PREFIX = "fvp_"


class Role(StrEnum):
    """Who a token speaks for; each REST route declares the roles it admits."""

    OPERATOR = "operator"
    MARKET = "market"
    CUSTOMER = "customer"


class TokenRejected(Exception):
    """The bearer token is unknown, expired or revoked (HTTP 401); the message says which."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified holder of a token."""

    token_id: int
    role: Role
    name: str | None
    site_id: str | None  # the only site a customer token may see


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def insert_token(
    sessions: Sessions,
    role: Role | str,
    name: str | None = None,
    site_id: str | None = None,
    expires_days: float | None = None,
    now: datetime | None = None,
) -> str:
    """Store the hash of a new token and return the token itself (shown once)."""
    role = Role(role)
    if expires_days is not None and expires_days <= 0:
        raise ValueError(f"expires_days must be positive, got {expires_days}")
    created = now or datetime.now(UTC)
    expires = created + timedelta(days=expires_days) if expires_days is not None else None
    token = new_token()
    async with UnitOfWork(sessions) as uow:
        await uow.tokens.add(hash_token(token), role.value, name, site_id, created, expires)
        await uow.commit()
    return token


async def create_token(
    db_url: str,
    role: Role | str,
    name: str | None = None,
    site_id: str | None = None,
    expires_days: float | None = None,
) -> str:
    """`flexvpp token create`: open the database, store a new token's hash, return the token."""
    async with open_database(db_url) as sessions:
        return await insert_token(sessions, role, name=name, site_id=site_id, expires_days=expires_days)


async def verify_token(sessions: Sessions, token: str, now: datetime) -> Principal:
    """The principal a token stands for; TokenRejected if unknown, expired or revoked."""
    # Reject garbage before touching the database (also keeps NUL bytes away from PostgreSQL).
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128 or not token.isascii():
        raise TokenRejected("unknown token")
    return await verify_token_hash(sessions, hash_token(token), now)


async def verify_token_hash(sessions: Sessions, token_hash: str, now: datetime) -> Principal:
    """The principal of the token with this hash (a dashboard session holds the hash, never the
    token); TokenRejected if unknown, expired or revoked."""
    async with UnitOfWork(sessions) as uow:
        record = await uow.tokens.by_hash(token_hash)
    if record is None:
        raise TokenRejected("unknown token")
    if record.revoked_at is not None:
        raise TokenRejected("token revoked")
    if record.expires_at is not None and record.expires_at <= now:
        raise TokenRejected("token expired")
    return Principal(token_id=record.id, role=Role(record.role), name=record.name, site_id=record.site_id)


async def revoke_token(sessions: Sessions, token: str, now: datetime) -> bool:
    """Mark a token revoked; False if no such (unrevoked) token."""
    async with UnitOfWork(sessions) as uow:
        revoked = await uow.tokens.revoke_by_hash(hash_token(token), now)
        await uow.commit()
    return revoked
