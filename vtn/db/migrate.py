"""Schema migrations: `flexvpp db upgrade`, and the check that `vtn serve` makes at start."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

import migrations
from vtn.db.engine import create_engine


class SchemaOutOfDate(Exception):
    """The database is not at the newest revision; `flexvpp db upgrade` fixes it."""


def alembic_config(db_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))
    return config


def upgrade(db_url: str, revision: str = "head") -> None:
    """Migrate the database to `revision` (creating the SQLite file if needed)."""
    command.upgrade(alembic_config(db_url), revision)


def head_revision(db_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()


async def current_revision(db_url: str) -> str | None:
    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_read)
    finally:
        await engine.dispose()


def check_up_to_date(db_url: str) -> None:
    """Raise SchemaOutOfDate naming both revisions when the database lags the code."""
    current = asyncio.run(current_revision(db_url))
    head = head_revision(db_url)
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at revision {current or 'none (empty database)'}, the code needs {head}; "
            "run `flexvpp db upgrade` (or start with `vtn serve --migrate`)"
        )
