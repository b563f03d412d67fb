"""Repositories per aggregate, reached through the unit of work (vtn/db/uow.py).

Each takes the unit of work's session, writes the SQL, and returns plain records
(aggregator/records.py), never ORM rows. A record changed by a service goes back with
`save(record)`, which writes only the columns that differ from the record as this unit of work
read it (as the ORM would for a changed row), so a column that another transaction wrote
meanwhile, e.g. a VEN's last poll time, is not overwritten with the value read before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from vtn.db.tables import Base, as_utc

K = TypeVar("K")
R = TypeVar("R")


def insert_on_conflict(session: AsyncSession) -> Callable[..., Any]:
    """The session's database's own INSERT, which knows ON CONFLICT (PostgreSQL's or SQLite's):
    one atomic statement where a read, then an insert, races another transaction."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def utc(value: datetime | None) -> datetime:
    """A NOT NULL time column as tz-aware UTC (SQLite hands it back naive)."""
    out = as_utc(value)
    assert out is not None, "a NOT NULL time column read as NULL"
    return out


class Seen(Generic[K, R]):
    """The records a repository returned in this unit of work, as read (or as last saved), with
    their rows (held, so a save finds its row without reading it again)."""

    def __init__(self) -> None:
        self._seen: dict[K, tuple[Base, R]] = {}

    def remember(self, key: K, row: Base, record: R) -> R:
        self._seen[key] = (row, record)
        return record

    async def save(
        self,
        session: AsyncSession,
        table: type[Base],
        key: K,
        after: R,
        columns: Callable[[R], Mapping[str, Any]],
    ) -> None:
        """Write on the record's row (held, else read by `key`) the columns of the fields of
        `after` that differ from the record as read; every column when the record was not read
        here. `columns` maps a record to its columns."""
        seen = self._seen.get(key)
        row = seen[0] if seen is not None else await session.get(table, key)
        assert row is not None, f"{table.__tablename__} {key!r} is not stored"
        values = columns(after)
        for name in after.__dataclass_fields__:  # type: ignore[attr-defined]
            if seen is None or getattr(seen[1], name) != getattr(after, name):
                setattr(row, name, values[name])
        self._seen[key] = (row, after)
