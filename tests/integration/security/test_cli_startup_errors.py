"""Startup and command-line errors are one clear line and a non-zero exit, never a traceback
(issue 17's hostile probe: each case below printed a traceback, or was accepted, on main at 2f5be58).

The commands run in the test's process (tests/cli_in_process.py): the subject is what they print."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli_in_process import CliResult, run_flexvpp

pytestmark = pytest.mark.db_backends("sqlite")  # the file databases are made here; PostgreSQL by URL


def _one_line(done: CliResult, code: int, *words: str) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", ["db_url", "is not a database URL"]),
        ("nonsense://x", ["'nonsense' databases are not supported"]),
        ("sqlite:", ["is not a database URL"]),
    ],
)
def test_a_bad_database_url_is_named(url: str, words: list[str]) -> None:
    _one_line(run_flexvpp("db", "upgrade", "--db", url), 2, *words)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://flexvpp:secret@127.0.0.1:1/test", "Connect call failed"),  # nothing listens
        (
            "postgresql://127.0.0.1:5432/no_such_database_here",
            'database "no_such_database_here" does not exist',
        ),
    ],
)
@pytest.mark.parametrize("command", [["db", "upgrade"], ["token", "list"], ["vtn", "serve"]])
def test_an_unreachable_database_is_one_line_naming_it(url: str, reason: str, command: list[str]) -> None:
    line = _one_line(run_flexvpp(*command, "--db", url), 1, "database postgresql://", reason)
    assert "secret" not in line  # the password is hidden


def test_a_database_without_the_schema_says_to_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    for command in (["token", "create", "--role", "operator"], ["token", "list"], ["vtn", "serve"]):
        _one_line(
            run_flexvpp(*command, "--db", url), 1, "revision none (empty database)", "flexvpp db upgrade"
        )


CONFIG_FILES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("missing", lambda d: d / "absent.toml", "no such file"),
    ("directory", lambda d: d, "is a directory"),
    ("bad TOML", lambda d: _write(d / "bad.toml", "[vtn\n"), "invalid TOML"),
    ("bad JSON", lambda d: _write(d / "bad.json", "{not json"), "invalid JSON"),
    ("JSON list", lambda d: _write(d / "list.json", "[1, 2]"), "must hold a table of settings"),
    ("vtn = 3", lambda d: _write(d / "three.toml", "vtn = 3\n"), "vtn must be a table of settings, not 3"),
    ("not UTF-8", lambda d: _write(d / "latin.toml", "", b"[vtn]\nvtn_id = '\xe9'\n"), "not UTF-8"),
    ("unknown zone", lambda d: _write(d / "tz.toml", '[vtn]\ntimezone = "Mars/X"\n'), "unknown time zone"),
    (
        "header with CR/LF",
        lambda d: _write(d / "hdr.toml", '[vtn]\nclient_cert_header = "X-Cert\\r\\nX-Evil: 1"\n'),
        "is not an HTTP header name",
    ),
]  # fmt: skip


def _write(path: Path, text: str, raw: bytes | None = None) -> Path:
    path.write_bytes(raw if raw is not None else text.encode())
    return path


@pytest.mark.parametrize(("case", "make", "reason"), CONFIG_FILES, ids=[c[0] for c in CONFIG_FILES])
def test_a_bad_config_file_is_named(
    tmp_path: Path, case: str, make: Callable[[Path], Path], reason: str
) -> None:
    url = f"sqlite:///{tmp_path / 'vtn.db'}"
    _one_line(run_flexvpp("db", "upgrade", "--db", url, "--config", str(make(tmp_path))), 2, reason)


def test_an_unreadable_config_file_is_named(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    config = _write(tmp_path / "secret.toml", "[vtn]\n")
    config.chmod(0)
    _one_line(run_flexvpp("db", "upgrade", "--config", str(config)), 2, "permission denied")


def test_an_environment_list_that_is_not_json_names_the_variable(tmp_path: Path) -> None:
    done = run_flexvpp(
        "db", "upgrade", "--db", f"sqlite:///{tmp_path / 'vtn.db'}",
        env={"FLEXVPP_TRUSTED_PROXY_ADDRESSES": "10.0.0.1"},
    )  # fmt: skip
    _one_line(done, 2, "FLEXVPP_TRUSTED_PROXY_ADDRESSES: not valid JSON")


@pytest.mark.parametrize("days", ["-1", "0", "nan", "inf", "1e308"])
def test_a_token_lifetime_outside_reason_is_refused(tmp_path: Path, days: str) -> None:
    url = f"sqlite:///{tmp_path / 'vtn.db'}"
    done = run_flexvpp("token", "create", "--role", "operator", "--expires-days", days, "--db", url)
    _one_line(done, 2, f"--expires-days {float(days):g}")


def test_certificates_into_an_impossible_directory(tmp_path: Path) -> None:
    blocker = _write(tmp_path / "a-file", "not a directory")
    _one_line(run_flexvpp("certs", "init", "--dir", str(blocker / "certs")), 2, "--dir", "cannot write")


def test_a_plan_into_a_missing_directory_is_refused_before_planning(tmp_path: Path) -> None:
    scenario = _write(tmp_path / "s.json", "{}")  # refused for the output before it is even parsed
    out = tmp_path / "no" / "such" / "plan.json"
    _one_line(run_flexvpp("plan", str(scenario), "-o", str(out)), 2, "no such directory")
