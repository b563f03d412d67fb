"""`vtn serve` killed outright (SIGKILL, as an OOM kill) leaves no process behind: its solver
process, the multiprocessing resource tracker and, with --workers, the workers all end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psutil
import pytest
from fault_rig import VtnProcess

# The processes are the point, not the database (PostgreSQL: several workers need it).
pytestmark = [pytest.mark.db_backends("postgresql"), pytest.mark.slow]

T = TypeVar("T")

SOLVER_STARTED_S = 60.0  # the solver process starts with the VTN; on a loaded machine, slowly
ORPHANS_GONE_S = 15.0  # each checks its parent once a second, a worker then stops gracefully


async def _poll(read: Callable[[], T], done: Callable[[T], bool], timeout_s: float) -> T:
    """`read()` every 0.2 s until `done` holds for it or `timeout_s` has passed; the last reading."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not done(found := read()) and loop.time() < deadline:
        await asyncio.sleep(0.2)
    return found


def _running(process: psutil.Process) -> bool:
    """Alive and not a zombie: an ended orphan stays a zombie until PID 1 reaps it, which some
    inits (this machine's) do late; it holds no resource, so it counts as gone."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())[-80:]
    except psutil.Error:
        return f"pid {process.pid}"


@pytest.mark.parametrize(
    ("workers", "expected"),
    [
        (1, 2),  # the solver process and the resource tracker
        (2, 4),  # two workers, the leader's solver process, the resource tracker
    ],
)
async def test_a_killed_vtn_leaves_no_process_behind(
    empty_db_url: str, tmp_path: Path, workers: int, expected: int
) -> None:
    vtn = VtnProcess(empty_db_url, tmp_path, "--workers", str(workers))
    await vtn.start()
    try:
        assert vtn.proc is not None
        vtn_process = psutil.Process(vtn.proc.pid)
        # The VTN's processes below it, once the solver process has started.
        below = await _poll(
            lambda: vtn_process.children(recursive=True),
            lambda found: len(found) >= expected,
            SOLVER_STARTED_S,
        )
        assert len(below) >= expected, [p.cmdline() for p in below]
        vtn.kill()
        alive = await _poll(
            lambda: [p for p in below if _running(p)], lambda running: not running, ORPHANS_GONE_S
        )
    finally:
        vtn.stop()
    for process in alive:
        process.kill()
    assert not alive, f"orphans: {[_command(p) for p in alive]}"
