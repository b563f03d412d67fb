"""Which VTN worker process this is (`vtn serve --workers N`, vtn/server.py).

Its own module, so the app's keys (vtn/keys.py) can name the type without importing the
server that starts the workers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Worker:
    """Which worker this process is: index 0 of `count` is the primary (runs background jobs)."""

    index: int = 0
    count: int = 1
    control_path: str | None = None  # the primary's Unix socket for forwarded planning calls

    @property
    def primary(self) -> bool:
        return self.index == 0
