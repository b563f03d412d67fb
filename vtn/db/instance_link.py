"""A VTN instance's own PostgreSQL connection: the planning loop's advisory lock and the
notifications of the other instances (LISTEN).

One connection outside the pool (asyncpg, as the engine's driver), because both live as long as
the session: a session-level advisory lock is held until it is unlocked or the connection ends,
and a pooled connection is handed to others between uses. PostgreSQL drops the lock the moment
the holder's connection ends, so a killed leader's lock is free at once; a leader whose machine
vanished is found dead by the server's TCP keepalives, set here from the takeover bound.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# The planning loop's lock: one per database (advisory locks are per database).
LOOP_LOCK_KEY = 0x666C_6578_7670  # "flexvp"
# The channels the migration's triggers notify (migrations/versions/0012_several_instances.py).
OUTBOX_CHANNEL = "flexvpp_outbox"  # payload: a venID that has a new message
REGISTRATION_CHANNEL = "flexvpp_registration"  # payload: a venID whose registration changed
REPLAN_CHANNEL = "flexvpp_replan"  # payload: the id of a new re-plan request
CHANNELS = (OUTBOX_CHANNEL, REGISTRATION_CHANNEL, REPLAN_CHANNEL)

# What a lost or refused connection raises: the caller drops the connection and tries again.
LinkError = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def is_postgresql(db_url: str) -> bool:
    return make_url(db_url).get_backend_name() == "postgresql"


def sqlite_file(db_url: str) -> str | None:
    """The SQLite database's file (None for another backend or an in-memory database)."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


def keepalive_settings(takeover_s: float) -> dict[str, str]:
    """Server-side TCP settings of the lock's connection: the server gives up on a silent peer
    (its machine gone, the network cut) within about two thirds of `takeover_s`, which frees the
    lock; a follower's next attempt, every fifth of it, then takes the loop."""
    idle_s = max(1, math.floor(takeover_s / 3))
    interval_s = max(1, math.floor(takeover_s / 9))
    return {
        "application_name": "flexvpp-vtn",
        "tcp_keepalives_idle": str(idle_s),
        "tcp_keepalives_interval": str(interval_s),
        "tcp_keepalives_count": "3",
        # data sent and not acknowledged for this long ends the connection too
        "tcp_user_timeout": str(max(1000, math.floor(takeover_s * 1000 / 2))),
    }


class InstanceLink:
    """The connection, its lock and its listeners; `connect` again after any LinkError."""

    def __init__(self, db_url: str, takeover_s: float) -> None:
        self._dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._takeover_s = takeover_s
        self._conn: asyncpg.Connection | None = None

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def connect(self, on_notify: Callable[[str, str], None]) -> None:
        """Open the connection and LISTEN on every channel; `on_notify(channel, payload)`."""
        await self.close()
        conn = await asyncpg.connect(
            self._dsn, timeout=self._takeover_s, server_settings=keepalive_settings(self._takeover_s)
        )
        try:
            for channel in CHANNELS:
                await conn.add_listener(channel, lambda _c, _pid, ch, payload: on_notify(ch, payload))
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn

    async def try_lock(self) -> bool:
        """Take the planning loop's lock if no other session holds it."""
        held: bool = await self._live().fetchval(
            "SELECT pg_try_advisory_lock($1)", LOOP_LOCK_KEY, timeout=self._takeover_s / 5
        )
        return held

    async def check(self) -> None:
        """Raise a LinkError unless the connection (and so a lock it holds) answers in time."""
        await self._live().fetchval("SELECT 1", timeout=self._takeover_s / 5)

    async def close(self) -> None:
        """End the connection (its lock goes with it)."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()  # no goodbye: the server may be the one that is gone

    def _live(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            raise asyncpg.InterfaceError("the instance's connection is closed")
        return self._conn
