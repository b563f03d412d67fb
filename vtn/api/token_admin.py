"""Token administration: list tokens and revoke one by id (REST for operators, and the CLI).

Revocation takes effect on the next request: every request verifies its token in the database.
Neither the tokens nor their hashes are ever returned or logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vtn.api.endpoints import OPERATOR, Call
from vtn.api.routes import ROUTES
from vtn.db.tables import ApiToken, as_utc
from vtn.errors import NotFound

log = logging.getLogger(__name__)
Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    role: str
    name: str | None
    site_id: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def _info(row: ApiToken) -> TokenInfo:
    created = as_utc(row.created_at)
    assert created is not None  # the column is NOT NULL
    return TokenInfo(
        row.id, row.role, row.name, row.site_id, created, as_utc(row.expires_at), as_utc(row.revoked_at)
    )


async def list_tokens(sessions: Sessions) -> list[TokenInfo]:
    async with sessions() as session:
        rows = (await session.scalars(select(ApiToken).order_by(ApiToken.id))).all()
        return [_info(row) for row in rows]


async def revoke_token_id(sessions: Sessions, token_id: int, now: datetime) -> TokenInfo:
    """Revoke the token (idempotent: an already revoked one keeps its time). NotFound if no such id."""
    async with sessions() as session:
        row = await session.get(ApiToken, token_id)
        if row is None:
            raise NotFound("token", str(token_id))
        if row.revoked_at is None:
            row.revoked_at = now
            await session.commit()
            log.info("token %d (%s) revoked", row.id, row.role)
        return _info(row)


def parse_token_id(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise NotFound("token", value)
    return int(value)


class TokenOut(BaseModel):
    """A REST token's metadata (never the token or its hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    role: str
    name: str | None
    site_id: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@ROUTES.route(
    "GET", "/tokens", summary="List REST tokens (metadata only)", roles=OPERATOR, response=list[TokenOut]
)
async def list_api_tokens(call: Call[None, None]) -> list[TokenInfo]:
    return await list_tokens(call.sessions)


@ROUTES.route(
    "DELETE",
    "/tokens/{token_id}",
    summary="Revoke a REST token",
    roles=OPERATOR,
    response=TokenOut,
    errors=(404,),
)
async def revoke_api_token(call: Call[None, None]) -> TokenInfo:
    """The token is refused (401) from its next request on. Revoking twice keeps the first time."""
    return await revoke_token_id(call.sessions, parse_token_id(call.path["token_id"]), call.now)


async def cli_list(db_url: str) -> list[TokenInfo]:
    from vtn.db.engine import create_engine

    engine = create_engine(db_url)
    try:
        return await list_tokens(async_sessionmaker(engine, expire_on_commit=False))
    finally:
        await engine.dispose()


async def cli_revoke(db_url: str, token_id: int) -> TokenInfo:
    from vtn.db.engine import create_engine

    engine = create_engine(db_url)
    try:
        return await revoke_token_id(
            async_sessionmaker(engine, expire_on_commit=False), token_id, datetime.now(UTC)
        )
    finally:
        await engine.dispose()
