"""Bearer-token auth: 401 with WWW-Authenticate for no/bad/expired/revoked tokens, 403 for a wrong
role, /health and /openapi.json open. Every secured route in the route table is checked."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vtn_api_client import CheckedApi

from vtn.api.routes import ROUTES
from vtn.api.tokens import Role, create_token, hash_token, insert_token, revoke_token
from vtn.db.tables import ApiToken

# Authorization is decided before any query: SQLite only, but for the token rows themselves
# (expiry and revocation times, the stored hash), which stay on both backends.
pytestmark = pytest.mark.db_backends("sqlite")

SECURED = [e for e in ROUTES.endpoints if e.roles]


def _concrete(path: str) -> str:
    """The route with each path parameter filled in (unknown IDs: auth comes before lookup)."""
    return re.sub(r"\{(\w+)\}", r"\1-x", path)


async def test_health_and_openapi_need_no_token(api: CheckedApi) -> None:
    health = await api.get("/health", token=None)
    assert health.status == 200
    assert health.json == {"status": "ok", "vtn_id": "FLEXVPP-VTN", "leader": True}
    doc = await api.get("/openapi.json", token=None)
    assert doc.status == 200
    assert doc.json["openapi"] == "3.1.0"


@pytest.mark.parametrize("endpoint", SECURED, ids=lambda e: f"{e.method} {e.path}")
async def test_every_secured_route_refuses_a_request_without_token(api: CheckedApi, endpoint) -> None:  # type: ignore[no-untyped-def]
    reply = await api.call(endpoint.method, _concrete(endpoint.path), token=None, json={})
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="flexvpp"'
    assert reply.json["error"] == "unauthorized"
    assert "bearer token is required" in reply.json["message"]


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "fvp_abc"])
async def test_a_malformed_authorization_header_is_401(api: CheckedApi, header: str) -> None:
    reply = await api.get("/vens", token=None, headers={"Authorization": header})
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("token", ["fvp_not-a-real-token", "nonsense", "fvp_" + "x" * 500])
async def test_an_unknown_token_is_401_invalid_token(api: CheckedApi, token: str) -> None:
    reply = await api.get("/vens", token=token)
    assert reply.status == 401
    assert 'error="invalid_token"' in reply.headers["WWW-Authenticate"]
    assert reply.json["message"] == "unknown token"


@pytest.mark.db_backends("sqlite", "postgresql")
async def test_an_expired_token_is_401(api: CheckedApi, sessions: async_sessionmaker[AsyncSession]) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=3)
    token = await insert_token(sessions, Role.OPERATOR, name="old", expires_days=1, now=long_ago)
    reply = await api.get("/vens", token=token)
    assert reply.status == 401
    assert reply.json["message"] == "token expired"
    assert 'error_description="token expired"' in reply.headers["WWW-Authenticate"]


@pytest.mark.db_backends("sqlite", "postgresql")
async def test_an_unexpired_token_with_a_lifetime_works(api: CheckedApi, db_url: str) -> None:
    token = await create_token(db_url, "operator", expires_days=1)
    assert (await api.get("/vens", token=token)).status == 200


@pytest.mark.db_backends("sqlite", "postgresql")
async def test_a_revoked_token_is_401(api: CheckedApi, sessions: async_sessionmaker[AsyncSession]) -> None:
    token = await insert_token(sessions, Role.OPERATOR)
    assert (await api.get("/vens", token=token)).status == 200
    assert await revoke_token(sessions, token, datetime.now(UTC))
    reply = await api.get("/vens", token=token)
    assert reply.status == 401
    assert reply.json["message"] == "token revoked"
    assert not await revoke_token(sessions, token, datetime.now(UTC))  # already revoked


FORBIDDEN = [
    (role, e) for role in (Role.MARKET, Role.CUSTOMER, Role.OPERATOR) for e in SECURED if role not in e.roles
]


@pytest.mark.parametrize(
    ("role", "endpoint"), FORBIDDEN, ids=lambda v: str(v) if isinstance(v, Role) else v.path
)
async def test_a_role_a_route_does_not_admit_is_403(  # type: ignore[no-untyped-def]
    api: CheckedApi, db_url: str, role: Role, endpoint
) -> None:
    token = await create_token(db_url, role, site_id="site-1")
    reply = await api.call(endpoint.method, _concrete(endpoint.path), token=token, json={})
    assert reply.status == 403
    assert reply.json["error"] == "forbidden"
    assert f"a {role} token may not use this route" in reply.json["message"]


def test_the_403_cases_cover_market_and_customer_tokens() -> None:
    assert {role for role, _ in FORBIDDEN} >= {Role.MARKET, Role.CUSTOMER}


@pytest.mark.db_backends("sqlite", "postgresql")
async def test_only_the_hash_is_stored(db_url: str, sessions: async_sessionmaker[AsyncSession]) -> None:
    token = await create_token(db_url, "operator", name="ops")
    async with sessions() as session:
        rows = (await session.scalars(select(ApiToken))).all()
    assert [(r.token_hash, r.role, r.name) for r in rows] == [(hash_token(token), "operator", "ops")]
    assert token not in {r.token_hash for r in rows}


async def test_create_token_refuses_a_bad_lifetime_and_role(db_url: str) -> None:
    with pytest.raises(ValueError, match="expires_days must be positive"):
        await create_token(db_url, "operator", expires_days=0)
    with pytest.raises(ValueError, match="'root' is not a valid Role"):
        await create_token(db_url, "root")
