"""`GET /health` writes: an instance whose database answers reads but refuses writes (a full disk,
a read-only database or a replica after a failover) answers 503, so a load balancer takes it out
(issue 17's probe: it answered 200 because it only ran SELECT 1).

PostgreSQL only: a read-only database is made there with one setting; SQLite's "disk full"
cannot be brought about from outside the VTN's process (root ignores file modes)."""

from __future__ import annotations

import os

import psycopg
import pytest
from vtn_api_client import CheckedApi

pytestmark = pytest.mark.db_backends("postgresql")
# The administrative connection tests/conftest.py makes the test databases with.
PG_ADMIN_URL = os.environ.get("FLEXVPP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _set_read_only(db_url: str, read_only: bool) -> None:
    """Make the database read-only (or writable again) for new sessions, and end the VTN's current
    ones so that its pool reconnects with the setting."""
    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        setting = (
            "SET default_transaction_read_only = on" if read_only else "RESET default_transaction_read_only"
        )
        admin.execute(f'ALTER DATABASE "{name}" {setting}')  # type: ignore[arg-type]
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))


async def _health(api: CheckedApi, tries: int = 3) -> tuple[int, str]:
    """/health until it answers other than 'unavailable' (the first request after the sessions were
    ended finds a dead connection, and the pool reconnects)."""
    for _ in range(tries):
        async with api.client.get("/api/v1/health") as resp:
            status, text = resp.status, await resp.text()
        if "database unavailable" not in text:
            break
    return status, text


async def test_a_read_only_database_makes_health_503_and_a_writable_one_200_again(
    api: CheckedApi, db_url: str
) -> None:
    assert (await _health(api))[0] == 200
    _set_read_only(db_url, True)
    try:
        status, text = await _health(api)
        assert status == 503, text
        assert "database unwritable" in text and "read-only transaction" in text, text
    finally:
        _set_read_only(db_url, False)
    assert (await _health(api))[0] == 200
