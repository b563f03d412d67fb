"""The lengths of the VTN's string columns, for the edges that refuse over-long values up front."""

from __future__ import annotations

from sqlalchemy import String

from vtn.db.tables import Base


def string_length(table: str, column: str) -> int:
    """The declared length of a VARCHAR column, e.g. `string_length("vens", "ven_id")` -> 64."""
    kind = Base.metadata.tables[table].columns[column].type
    assert isinstance(kind, String) and kind.length, f"{table}.{column} has no length"
    return int(kind.length)
