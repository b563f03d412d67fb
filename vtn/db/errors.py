"""The database failures a caller may handle, named here so that no module outside vtn/db
imports SQLAlchemy to catch them. They are SQLAlchemy's own classes (not wrappers): the
attributes callers read, e.g. `DatabaseError.connection_invalidated`, stay as documented there.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

DatabaseError = SQLAlchemyError  # anything the database layer raises
DriverError = DBAPIError  # raised by the driver; `.connection_invalidated` after a lost connection
DatabaseBusy = OperationalError  # e.g. SQLite's "database is locked", a refused connection
DuplicateKey = IntegrityError  # a unique or primary key already taken (a concurrent writer)

__all__ = ["DatabaseBusy", "DatabaseError", "DriverError", "DuplicateKey", "describe"]


def describe(exc: BaseException) -> str:
    """One line for a database failure: the driver's own message where there is one, without
    SQLAlchemy's SQL echo and background link."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    if isinstance(original, OSError) and original.strerror:
        text = original.strerror
    return text
