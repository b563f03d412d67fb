"""Telemetry buffered on disk (stdlib sqlite3) until the VTN has acknowledged it.

Every measurement is stored once, keyed by (r_id, time): a repeated SenML record is ignored.
`flush()` hands the oldest unsent samples, in time order, to a sender and marks them sent only
when the sender confirms, so a VTN outage loses nothing and a retry repeats nothing that was
confirmed. Sent samples are pruned after `keep_sent_s`.

The file is in WAL mode with `synchronous=NORMAL`: a commit is not synced to disk by itself
(only at checkpoints), so a sample survives a crash of the agent but the last ones may be lost
on a power cut. A sample every few seconds per sensor, each synced, was most of the agent's I/O
(and a flash card's wear); what it guards against is a VTN outage, which this still covers.
Several samples (one telemetry message, one acknowledged batch) share one transaction.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    r_id TEXT NOT NULL,
    ts REAL NOT NULL,
    value REAL NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    UNIQUE (r_id, ts)
);
CREATE INDEX IF NOT EXISTS samples_unsent ON samples (sent, ts, id);
"""


@dataclass(frozen=True, slots=True)
class Sample:
    id: int
    r_id: str  # "{device_id}.{sensor}", e.g. "meter-1.power"
    ts: float  # seconds since the epoch
    value: float


Sender = Callable[[list[Sample]], bool]


class TelemetryBuffer:
    def __init__(self, path: Path | str, keep_sent_s: float = 86400.0) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._keep_sent_s = keep_sent_s

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, r_id: str, ts: float, value: float) -> bool:
        """Store a sample; False when (r_id, ts) is already there."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO samples (r_id, ts, value) VALUES (?, ?, ?)", (r_id, ts, value)
            )
            return cursor.rowcount == 1

    def add_many(self, samples: Iterable[tuple[str, float, float]]) -> int:
        """Store (r_id, ts, value) samples in one transaction; returns how many were new."""
        rows = list(samples)
        if not rows:
            return 0
        with self._lock, self._transaction():
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO samples (r_id, ts, value) VALUES (?, ?, ?)", rows)
            return self._db.total_changes - before

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction (the connection is in autocommit mode: each statement is its own)."""
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def pending(self, limit: int = 500, r_ids: set[str] | None = None) -> list[Sample]:
        """The oldest unsent samples (of `r_ids` only, when given)."""
        where, args = "sent = 0", []
        if r_ids is not None:
            where += f" AND r_id IN ({','.join('?' * len(r_ids))})"
            args = sorted(r_ids)
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, r_id, ts, value FROM samples WHERE {where} ORDER BY ts, id LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [Sample(*row) for row in rows]

    def pending_count(self, r_id: str | None = None) -> int:
        query, args = "SELECT count(*) FROM samples WHERE sent = 0", tuple[str, ...]()
        if r_id is not None:
            query, args = query + " AND r_id = ?", (r_id,)
        with self._lock:
            return int(self._db.execute(query, args).fetchone()[0])

    def mark_sent(self, samples: list[Sample]) -> None:
        with self._lock, self._transaction():
            self._db.executemany("UPDATE samples SET sent = 1 WHERE id = ?", [(s.id,) for s in samples])

    def prune(self, now_s: float) -> int:
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM samples WHERE sent = 1 AND ts < ?", (now_s - self._keep_sent_s,)
            )
            return cursor.rowcount

    def flush(self, send: Sender, batch: int = 500, max_batches: int = 100) -> int:
        """Send pending samples oldest first; stop at the first refusal. Returns how many were sent."""
        total = 0
        for _ in range(max_batches):
            samples = self.pending(batch)
            if not samples:
                break
            try:
                ok = send(samples)
            except Exception:  # the sender's failure is the VTN's, not the buffer's
                log.exception("sending %d buffered samples failed", len(samples))
                ok = False
            if not ok:
                break
            self.mark_sent(samples)
            total += len(samples)
        return total
