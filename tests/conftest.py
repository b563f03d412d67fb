"""Shared fixtures. Database tests run once on SQLite and once on PostgreSQL (a fresh database each),
unless a `db_backends` marker names fewer backends (see pytest_generate_tests)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import hypothesis_profiles
import pytest

hypothesis_profiles.load()

PG_ADMIN_URL = os.environ.get("FLEXVPP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BACKENDS = ("sqlite", "postgresql")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first: xdist hands tests out in this order, and a slow test that starts
    last keeps one worker busy while the others have finished (the run's tail)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes `db_url` or `empty_db_url` runs on each backend: on both by default, on
    those a `@pytest.mark.db_backends(...)` marker names otherwise (the closest marker wins, so a
    module may say "sqlite" and one of its tests both).

    Both stay where the database is the point: repositories and the services' storage rules
    (uniqueness, ordering, upserts, time zones), migrations, locking and concurrency, what the
    fuzzers found to fail on PostgreSQL only, and the end-to-end paths. A test whose subject is
    elsewhere (authorization, TLS, XML parsing, signatures) runs on SQLite.
    """
    if "db_backend" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if isinstance(mark.args[0], str) else ",".join(mark.args[0])
        if {"db_url", "empty_db_url"} & {name.strip() for name in names.split(",")}:
            raise pytest.UsageError(
                f"{metafunc.definition.nodeid}: choose backends with @pytest.mark.db_backends(...), "
                "not by parametrizing db_url"
            )
    marker = metafunc.definition.get_closest_marker("db_backends")
    names = marker.args if marker is not None else BACKENDS
    unknown = set(names) - set(BACKENDS)
    if unknown or not names:
        raise pytest.UsageError(f"db_backends: expected some of {BACKENDS}, got {names}")
    metafunc.parametrize(
        "db_backend",
        [pytest.param(name, marks=pytest.mark.postgres) if name == "postgresql" else name for name in names],
    )


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture
def empty_db_url(db_backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database, on each backend."""
    if db_backend == "sqlite":
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


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path, migrated_templates: dict[str, str]) -> Iterator[str]:
    """A fresh database migrated to the newest revision, on each backend."""
    if db_backend == "sqlite":
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
