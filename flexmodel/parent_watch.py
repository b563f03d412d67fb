"""Child processes that end when the process that started them is gone.

A pool worker blocks on its task queue, and holds that queue's writing end itself, so it never
sees end-of-file when its parent dies: after a SIGKILL or an OOM kill of `vtn serve` or
`flexvpp plan`, the solver processes (and the multiprocessing resource tracker, which waits for
them) stayed alive as orphans. A watcher thread polls the parent's pid instead: the kernel
re-parents an orphan, so a changed parent pid means the parent is gone.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

POLL_SECONDS = 1.0


def watch_parent(when_orphaned: Callable[[], None], poll_seconds: float = POLL_SECONDS) -> None:
    """Call `when_orphaned()` (in a daemon thread) once this process's parent has exited."""
    parent_pid = os.getppid()

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        when_orphaned()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def exit_with_parent() -> None:
    """A process pool's initializer: the worker exits at once when its parent is gone (its tasks
    have nobody to return to)."""
    watch_parent(lambda: os._exit(1))
