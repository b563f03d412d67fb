"""Shared fixtures. Database tests run once on SQLite and once on PostgreSQL (a fresh database each)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("FLEXVPP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vtn.db'}"
        return
    name = f"flexvpp_t_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per backend, made once: tests get copies, not a migration each.

    A PostgreSQL template copy (CREATE DATABASE ... TEMPLATE) and a file copy for SQLite take
    milliseconds; running Alembic for each of hundreds of database tests took most of the suite.
    """
    from vtn.db.migrate import upgrade

    templates: dict[str, str] = {}
    sqlite_file = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{sqlite_file}")
    templates["sqlite"] = str(sqlite_file)
    pg_name = f"flexvpp_tmpl_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{pg_name}"')
    try:
        upgrade(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{pg_name}")
        templates["postgresql"] = pg_name
        yield templates
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: dict[str, str]
) -> Iterator[str]:
    """A fresh database migrated to the newest revision, on each backend."""
    if request.param == "sqlite":
        target = tmp_path / "vtn.db"
        shutil.copyfile(migrated_templates["sqlite"], target)
        yield f"sqlite:///{target}"
        return
    name = f"flexvpp_t_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_templates["postgresql"]}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data beside the repository (../shared/data); tests read, never copy it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
