"""`flexvpp token create`: prints the token alone on its last line, stores only its hash."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cli_in_process import run_flexvpp as flexvpp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vtn.api.tokens import Role, hash_token, verify_token
from vtn.db.tables import ApiToken, as_utc

# The command line; the token rows are test_api_auth's on both backends.
pytestmark = pytest.mark.db_backends("sqlite")


async def test_token_create_prints_a_working_token_on_its_last_line(
    db_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    result = flexvpp(
        "token", "create", "--role", "operator", "--name", "ops", "--expires-days", "2", "--db", db_url
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.splitlines()[-1]
    assert token.startswith("fvp_") and len(token) > 40
    principal = await verify_token(sessions, token, datetime.now(UTC))
    assert (principal.role, principal.name) == (Role.OPERATOR, "ops")
    async with sessions() as session:
        row = (await session.scalars(select(ApiToken))).one()
    assert row.token_hash == hash_token(token)
    expires_at, created_at = as_utc(row.expires_at), as_utc(row.created_at)
    assert expires_at is not None and created_at is not None
    assert (expires_at - created_at).total_seconds() == 2 * 86400


async def test_a_customer_token_needs_a_site(db_url: str, sessions: async_sessionmaker[AsyncSession]) -> None:
    refused = flexvpp("token", "create", "--role", "customer", "--db", db_url)
    assert refused.returncode == 2
    assert "--site is required for a customer token" in refused.stderr
    made = flexvpp("token", "create", "--role", "customer", "--site", "site-7", "--db", db_url)
    assert made.returncode == 0, made.stderr
    principal = await verify_token(sessions, made.stdout.splitlines()[-1], datetime.now(UTC))
    assert (principal.role, principal.site_id) == (Role.CUSTOMER, "site-7")
