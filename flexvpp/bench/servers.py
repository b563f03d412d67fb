"""Processes and databases for `flexvpp bench vtn`: each started for the run and cleaned up after."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")


class BenchFailed(RuntimeError):
    """The benchmark could not run (database unreachable, a server did not start, a VEN was refused)."""


class BenchStopped(RuntimeError):
    """SIGTERM stopped the benchmark; its clean-up ran."""


def run_stoppable(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, with SIGTERM cancelling `main` as Ctrl-C does, so that its clean-up
    runs before the process ends: the scratch database is dropped, the VTN and the load
    processes are stopped. Killed by SIGTERM without it, a run left its database behind.
    Raises BenchStopped after a SIGTERM."""

    async def stoppable() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        terminated = False

        def terminate() -> None:
            nonlocal terminated
            terminated = True
            task.cancel()

        # Signal handlers belong to the main thread (a test runs the command in another).
        handled = threading.current_thread() is threading.main_thread()
        if handled:
            loop.add_signal_handler(signal.SIGTERM, terminate)
        try:
            return await main
        except asyncio.CancelledError:
            if terminated:
                raise BenchStopped("stopped by SIGTERM; its database was dropped") from None
            raise
        finally:
            if handled:
                loop.remove_signal_handler(signal.SIGTERM)

    return asyncio.run(stoppable())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def subprocess_server(
    name: str, argv: list[str], health_url: str, log_dir: Path, env: dict[str, str] | None = None
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """Start a server process, wait until `health_url` answers (any HTTP status), stop it after."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            argv, stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    try:
        await _wait_answering(process, health_url, log_path)
        yield process
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM a server the benchmark started (if still running); SIGKILL it after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _wait_answering(
    process: subprocess.Popen[bytes], url: str, log_path: Path, timeout_s: float = 60
) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BenchFailed(f"{process.args!r} exited with {process.returncode}; see {log_path}")
            try:
                async with session.get(url) as resp:
                    await resp.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
    raise BenchFailed(f"{process.args!r} did not answer {url} within {timeout_s}s; see {log_path}")


@asynccontextmanager
async def fresh_pg_database(admin_url: str) -> AsyncIterator[str]:
    """CREATE a uniquely named database on the server of `admin_url`; DROP it afterwards."""
    from vtn.db.admin import ServerUnreachable, scratch_postgres_database

    try:
        async with scratch_postgres_database(admin_url, prefix="flexvpp_bench_") as db_url:
            yield db_url
    except ServerUnreachable as exc:
        raise BenchFailed(str(exc)) from exc
