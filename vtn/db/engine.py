"""Engines from user-facing URLs: `sqlite:///f.db` and `postgresql://...` get async drivers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

Engine = AsyncEngine  # the type callers hold an engine by (so they need no SQLAlchemy import)
SQLITE_BUSY_TIMEOUT_MS = 30_000


def async_url(url: str) -> str:
    """The same database with an asyncio driver (aiosqlite, asyncpg)."""
    parsed = make_url(url)
    driver = parsed.drivername
    if driver in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif driver in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def display_url(url: str) -> str:
    """The URL to show in a message: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL has no password we could find
        return url


@dataclass(frozen=True, slots=True)
class PoolLimits:
    """A PostgreSQL engine's connection pool (SQLite keeps SQLAlchemy's defaults: one writer anyway).

    SQLAlchemy's default (5 + 10) ran out in a registration storm of thousands of VENs: a
    transaction holds its connection across every await of a busy event loop, so the connections
    in use grow with the loop's latency, not with the database's work."""

    size: int = 10
    overflow: int = 20
    timeout_s: float = 5.0


def create_engine(url: str, pool: PoolLimits | None = None) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout so two processes can share it."""
    # No pool_pre_ping (a round trip per checkout): a connection found dead (the database
    # restarted) fails its request and invalidates the whole pool, so the next ones reconnect.
    options: dict[str, Any] = {}
    if make_url(url).get_backend_name() in ("postgresql", "postgres"):
        limits = pool or PoolLimits()
        options = {
            "pool_size": limits.size,
            "max_overflow": limits.overflow,
            "pool_timeout": limits.timeout_s,
        }
    engine = create_async_engine(async_url(url), **options)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # A writer waits this long for another's commit. 5 s was too short on a loaded machine
            # (the demo beside other work: a transaction's awaits stretch while it holds the lock,
            # and the waiting polls and reports failed with "database is locked"); 30 s is as long
            # as the pool waits for a free connection.
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()

    return engine


def sessions_for(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory units of work open (rows stay readable after a commit)."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def open_database(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on `url` for one command (CLI), its engine disposed afterwards."""
    engine = create_engine(url)
    try:
        yield sessions_for(engine)
    finally:
        await engine.dispose()
