"""Which VTN worker process this is (`vtn serve --workers N`, vtn/server.py).

Its own module, so the app's keys (vtn/keys.py) can name the type without importing the
server that starts the workers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Worker:
    """Which worker this process is (index of `count`). Which one leads is elected, as between
    separate instances (vtn/services/leadership.py)."""

    index: int = 0
    count: int = 1
