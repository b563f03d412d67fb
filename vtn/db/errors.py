"""The database failures a caller may handle, named here so that no module outside vtn/db
imports SQLAlchemy to catch them. They are SQLAlchemy's own classes (not wrappers): the
attributes callers read, e.g. `DatabaseError.connection_invalidated`, stay as documented there.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

DatabaseError = SQLAlchemyError  # anything the database layer raises
DriverError = DBAPIError  # raised by the driver; `.connection_invalidated` after a lost connection
DatabaseBusy = OperationalError  # e.g. SQLite's "database is locked", a refused connection
DuplicateKey = IntegrityError  # a unique or primary key already taken (a concurrent writer)
# no pooled connection came free within the pool's timeout: the instance is overloaded (a
# registration storm), not broken, so the caller is told to come back rather than failed
PoolExhausted = PoolTimeout

__all__ = [
    "DatabaseBusy",
    "DatabaseError",
    "DriverError",
    "DuplicateKey",
    "PoolExhausted",
    "describe",
    "log_failure",
]


def describe(exc: BaseException) -> str:
    """One line for a database failure: the driver's own message where there is one, without
    SQLAlchemy's SQL echo and background link."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    if isinstance(original, OSError) and original.strerror:
        text = original.strerror
    return text


def log_failure(logger: logging.Logger, message: str, exc: BaseException) -> None:
    """`message` with the traceback; one warning line when the pool was only exhausted (an
    overloaded instance, e.g. a registration storm, not a fault to trace, and it fills logs)."""
    if isinstance(exc, PoolExhausted):
        logger.warning("%s: no database connection came free in time", message)
    else:
        logger.error(message, exc_info=exc)
