"""The events the agent follows, kept on disk (stdlib sqlite3) so a restart while the VTN is
unreachable still follows the last schedule it received. Stored as received and randomised
(the offset is kept), so a restart does not draw again.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict
from pathlib import Path

from ven.agent.events import DrEvent, EventInterval

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    end_s REAL NOT NULL,
    signals TEXT NOT NULL
);
"""


def _to_json(signals: list[DrEvent]) -> str:
    return json.dumps([asdict(s) for s in signals])


def _from_json(text: str) -> list[DrEvent]:
    out = []
    for data in json.loads(text):
        data["intervals"] = tuple(EventInterval(**i) for i in data["intervals"])
        data["resource_ids"] = tuple(data["resource_ids"])
        out.append(DrEvent(**data))
    return out


class EventStore:
    def __init__(self, path: Path | str) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.executescript(SCHEMA)

    def save(self, signals: list[DrEvent]) -> None:
        end_s = max(s.end_s for s in signals)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO events (event_id, end_s, signals) VALUES (?, ?, ?)",
                (signals[0].event_id, end_s, _to_json(signals)),
            )

    def delete(self, event_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM events WHERE event_id = ?", (event_id,))

    def load(self, now_s: float) -> dict[str, list[DrEvent]]:
        """Events not yet over (older ones are dropped)."""
        with self._lock:
            self._db.execute("DELETE FROM events WHERE end_s < ?", (now_s,))
            rows = self._db.execute("SELECT event_id, signals FROM events").fetchall()
        return {event_id: _from_json(text) for event_id, text in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()
