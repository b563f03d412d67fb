"""Child processes that end when the process that started them is gone.

A pool worker blocks on its task queue, and holds that queue's writing end itself, so it never
sees end-of-file when its parent dies: after a SIGKILL or an OOM kill of `vtn serve` or
`flexvpp plan`, the solver processes (and the multiprocessing resource tracker, which waits for
them) stayed alive as orphans. A watcher thread checks instead, once a second, that the process
is still its parent's child and that the process that owns it still exists.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

POLL_SECONDS = 1.0


def watch_parent(
    when_orphaned: Callable[[], None], owner_pid: int | None = None, poll_seconds: float = POLL_SECONDS
) -> None:
    """Call `when_orphaned()` (in a daemon thread) once this process's parent has exited, or the
    process `owner_pid` (the pool's owner, when a forkserver is the parent) is gone.

    The owner is checked too because the parent may have died before this runs (a worker
    still starting up on a loaded machine): the kernel has then re-parented it already, and its
    parent pid does not change any more."""
    parent_pid = os.getppid()

    def watch() -> None:
        while os.getppid() == parent_pid and (owner_pid is None or _exists(owner_pid)):
            time.sleep(poll_seconds)
        when_orphaned()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def exit_with_parent(owner_pid: int) -> None:
    """A process pool's initializer (initargs: the owner's `os.getpid()`): the worker exits at
    once when the process that started the pool is gone (its tasks have nobody to return to)."""
    watch_parent(lambda: os._exit(1), owner_pid)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's process
        return True
    return True
