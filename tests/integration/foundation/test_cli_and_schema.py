"""The foundation: CLI help, settings precedence, migrations and the schema check at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from cli_in_process import run_flexvpp as flexvpp
from sqlalchemy.engine import Connection

from vtn.db.engine import create_engine
from vtn.db.migrate import SchemaOutOfDate, check_up_to_date, head_revision
from vtn.db.tables import Base
from vtn.settings import load_settings


@pytest.mark.parametrize(
    "command",
    [[], ["vtn"], ["vtn", "serve"], ["db"], ["db", "upgrade"], ["token"], ["token", "create"]],
)
def test_every_command_explains_itself(command: list[str]) -> None:
    result = flexvpp(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: flexvpp" in result.stdout
    # The description, not just the usage line.
    assert len(result.stdout.splitlines()) > 3


def test_unknown_command_is_a_usage_error() -> None:
    result = flexvpp("frobnicate")
    assert result.returncode == 2
    assert "invalid choice: 'frobnicate'" in result.stderr


def test_settings_precedence_file_then_env_then_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "flexvpp.toml"
    config.write_text('[vtn]\ndb_url = "sqlite:///from-file.db"\nport = 9001\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("FLEXVPP_PORT", "9002")
    settings = load_settings(config, host="127.0.0.2")
    assert settings.db_url == "sqlite:///from-file.db"  # file
    assert settings.port == 9002  # environment outranks the file
    assert settings.host == "127.0.0.2"  # command line outranks both


def test_settings_reject_unknown_keys_in_the_file(tmp_path: Path) -> None:
    config = tmp_path / "flexvpp.toml"
    config.write_text("[vtn]\nprot = 9001\n")
    with pytest.raises(ValueError, match="prot"):
        load_settings(config)


def test_serve_refuses_an_out_of_date_schema(empty_db_url: str) -> None:
    result = flexvpp("vtn", "serve", "--db", empty_db_url, "--port", "0")
    assert result.returncode == 1
    assert "flexvpp db upgrade" in result.stderr
    assert "none (empty database)" in result.stderr


def test_db_upgrade_reads_the_url_from_the_environment(empty_db_url: str) -> None:
    with pytest.raises(SchemaOutOfDate):
        check_up_to_date(empty_db_url)
    result = flexvpp("db", "upgrade", env={"FLEXVPP_DB_URL": empty_db_url})
    assert result.returncode == 0, result.stderr
    assert head_revision(empty_db_url) in result.stdout
    check_up_to_date(empty_db_url)


async def test_migrations_build_exactly_the_declared_tables(db_url: str) -> None:
    """No drift: the newest migration creates what vtn.db.tables declares, on each backend."""

    def diff(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []
