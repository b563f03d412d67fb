"""Every query lives in vtn/db (issue 11): no product module outside it builds or runs one.

The rule, checked on the source of every module of flexmodel, aggregator, vtn, ven and flexvpp
(vtn/db itself and migrations/ are the database adapter and may do all of this):

1. No `sqlalchemy` import, and no database driver (asyncpg, psycopg, aiosqlite, sqlite3). The
   session factory a use case receives is typed `vtn.db.uow.Sessions`, the failures it may catch
   are named in `vtn.db.errors`, engines come from `vtn.db.engine`. The VEN's own stores on the
   gateway (`OWN_STORES`) keep their sqlite3: they are the agent's storage, not the VTN's database.
2. No import of the tables (`vtn.db.tables`) or of a repository module (`vtn.db.repos`): the
   ORM classes are the vocabulary of queries, and repositories are reached through the unit of
   work (`vtn.db.uow.UnitOfWork`), which returns plain records.
3. No session opened or used: no call of a session factory (`sessions()`, no arguments), no
   `uow.session`, no `.execute()` / `.scalar()` / `.scalars()` / `.stream()` on a session.

`PENDING` is where a module that cannot move yet would be named, with what it still does; it may
only shrink, and is empty.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("flexmodel", "aggregator", "vtn", "ven", "flexvpp")
DATABASE_ADAPTER = ("vtn/db/",)
ORM_MODULES = ("vtn.db.tables", "vtn.db.repos")
DRIVERS = ("sqlalchemy", "asyncpg", "psycopg", "psycopg2", "aiosqlite", "sqlite3")
# The home agent's own SQLite files on the gateway (report buffer, received events).
OWN_STORES = ("ven/agent/buffer.py", "ven/agent/event_store.py")
SESSION_FACTORY_NAMES = frozenset({"sessions", "_sessions", "session_factory"})
SESSION_QUERY_METHODS = frozenset({"execute", "scalar", "scalars", "stream", "stream_scalars", "get_bind"})

# module path -> what it still does (to be emptied; never grown). Empty since every module moved.
PENDING: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _forbidden_module(name: str) -> bool:
    """sqlalchemy or a database driver, the tables or a repository module."""
    return any(name == d or name.startswith(d + ".") for d in DRIVERS) or _is_orm_module(name)


def _is_orm_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in ORM_MODULES)


def _name_of(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _import(node: ast.Import | ast.ImportFrom) -> list[str]:
    """What a forbidden import brings in, one entry per module or name."""
    if isinstance(node, ast.Import):
        return [f"imports {a.name}" for a in node.names if _forbidden_module(a.name)]
    if node.level != 0 or node.module is None:
        return []  # relative: within the package, which the scan checks itself
    if _forbidden_module(node.module):
        return [f"imports {', '.join(a.name for a in node.names)} from {node.module}"]
    if node.module == "vtn.db":
        return [f"imports vtn.db.{a.name}" for a in node.names if _is_orm_module(f"vtn.db.{a.name}")]
    return []


def _session_use(node: ast.AST) -> str | None:
    """A session opened from its factory, a query run on a session, the unit of work's session."""
    if isinstance(node, ast.Call):
        name = _name_of(node.func)
        if name in SESSION_FACTORY_NAMES and not node.args and not node.keywords:
            return f"opens a session: {ast.unparse(node.func)}()"
        on_session = isinstance(node.func, ast.Attribute) and "session" in (_name_of(node.func.value) or "")
        if on_session and name in SESSION_QUERY_METHODS:
            return f"runs a query: {ast.unparse(node.func)}()"
    if isinstance(node, ast.Attribute) and node.attr == "session" and _name_of(node.value) == "uow":
        return "uses the unit of work's session"
    return None


def violations(source: str, path: str) -> list[Violation]:
    """What the module at `path` (for messages) does that only vtn/db may do."""
    found: list[Violation] = []
    for node in ast.walk(ast.parse(source, path)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            found += [Violation(path, line, what) for what in _import(node)]
        elif (what := _session_use(node)) is not None:
            found.append(Violation(path, line, what))
    return found


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_no_module_outside_vtn_db_builds_or_runs_a_query() -> None:
    found: list[Violation] = []
    for path in _modules():
        relative = _relative(path)
        if relative.startswith(DATABASE_ADAPTER) or relative in PENDING or relative in OWN_STORES:
            continue
        found += violations(path.read_text(encoding="utf-8"), relative)
    assert not found, "SQL outside vtn/db (move it into a repository):\n" + "\n".join(map(str, found))


def test_exempted_modules_still_need_their_exemption() -> None:
    """An exemption that is no longer needed must be removed (a module gone needs none either)."""
    for relative in [*PENDING, *OWN_STORES]:
        path = ROOT / relative
        if path.is_file():
            assert violations(path.read_text(encoding="utf-8"), relative), f"{relative} needs no exemption"


def test_the_scan_sees_the_packages() -> None:
    scanned = {_relative(p).split("/")[0] for p in _modules()}
    assert scanned == set(PACKAGES)
    assert any(_relative(p).startswith("vtn/db/") for p in _modules())  # skipped, not missing


# ---- the checker itself: each kind of violation is caught, the adapter's own use is not ----------


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("from sqlalchemy import select", "imports select from sqlalchemy"),
        ("import sqlalchemy.exc", "imports sqlalchemy.exc"),
        ("import asyncpg", "imports asyncpg"),
        ("import sqlite3", "imports sqlite3"),
        (
            "from sqlalchemy.ext.asyncio import AsyncSession",
            "imports AsyncSession from sqlalchemy.ext.asyncio",
        ),
        ("def f():\n    from sqlalchemy import delete", "imports delete from sqlalchemy"),
        ("from vtn.db.tables import Ven", "imports Ven from vtn.db.tables"),
        ("from vtn.db import tables", "imports vtn.db.tables"),
        ("import vtn.db.repos.outbox", "imports vtn.db.repos.outbox"),
        ("from vtn.db.repos.vens import VenRepository", "imports VenRepository from vtn.db.repos.vens"),
        (
            "async def f(sessions):\n    async with sessions() as s:\n        pass",
            "opens a session: sessions()",
        ),
        ("async def f(self):\n    async with self._sessions() as s:\n        pass", "opens a session"),
        ("async def f(session, q):\n    await session.execute(q)", "runs a query: session.execute()"),
        ("async def f(self, q):\n    await self.session.scalars(q)", "runs a query: self.session.scalars()"),
        ("async def f(uow):\n    uow.session.add(1)", "uses the unit of work's session"),
    ],
)
def test_the_checker_catches(source: str, what: str) -> None:
    found = violations(source, "vtn/x.py")
    assert found and what in found[0].what, found


@pytest.mark.parametrize(
    "source",
    [
        "from vtn.db.uow import Sessions, UnitOfWork",
        "from vtn.db.errors import DatabaseBusy",
        "from vtn.db.engine import open_database",
        "async def f(sessions):\n    async with UnitOfWork(sessions) as uow:\n        await uow.vens.all()",
        "async def f(http):\n    async with http.session.get('https://x') as r:\n        pass",
        "def f(device):\n    return device.session",
    ],
)
def test_the_checker_lets_pass(source: str) -> None:
    assert violations(source, "vtn/x.py") == []
