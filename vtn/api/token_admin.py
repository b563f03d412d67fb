"""Token administration: list tokens and revoke one by id (REST for operators, and the CLI).

Revocation takes effect on the next request: every request verifies its token in the database.
Neither the tokens nor their hashes are ever returned or logged.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from aggregator.records import TokenRecord
from vtn.api.endpoints import OPERATOR, Call
from vtn.api.routes import ROUTES
from vtn.db.engine import open_database
from vtn.db.uow import Sessions, UnitOfWork
from vtn.errors import NotFound

log = logging.getLogger(__name__)

TokenInfo = TokenRecord  # a token's metadata, as listed and revoked here


async def list_tokens(sessions: Sessions) -> list[TokenInfo]:
    async with UnitOfWork(sessions) as uow:
        return await uow.tokens.all()


async def revoke_token_id(sessions: Sessions, token_id: int, now: datetime) -> TokenInfo:
    """Revoke the token (idempotent: an already revoked one keeps its time). NotFound if no such id."""
    async with UnitOfWork(sessions) as uow:
        token = await uow.tokens.get(token_id)
        if token is None:
            raise NotFound("token", str(token_id))
        if token.revoked_at is not None:
            return token
        if not await uow.tokens.revoke(token_id, now):  # revoked meanwhile: report that time
            token = await uow.tokens.get(token_id)
            assert token is not None  # tokens are never deleted
            return token
        await uow.commit()
    log.info("token %d (%s) revoked", token.id, token.role)
    return replace(token, revoked_at=now)


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
    async with open_database(db_url) as sessions:
        return await list_tokens(sessions)


async def cli_revoke(db_url: str, token_id: int) -> TokenInfo:
    async with open_database(db_url) as sessions:
        return await revoke_token_id(sessions, token_id, datetime.now(UTC))
