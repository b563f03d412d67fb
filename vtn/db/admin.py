"""Scratch PostgreSQL databases for benchmarks: created on a server, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url


class ServerUnreachable(Exception):
    """The PostgreSQL server of the admin URL does not answer; the message names it (no password)."""


@asynccontextmanager
async def scratch_postgres_database(admin_url: str, prefix: str = "flexvpp_scratch_") -> AsyncIterator[str]:
    """CREATE a uniquely named database on the server of `admin_url`, yield its URL, DROP it after."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin = make_url(admin_url).set(drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)
    try:
        connection = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise ServerUnreachable(f"cannot reach PostgreSQL at {admin.render_as_string()}: {exc}") from exc
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
