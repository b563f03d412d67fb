"""Run the VTN until interrupted: one process, or N worker processes sharing the port.

With `workers > 1` the parent reserves the port (bound with SO_REUSEPORT, never listening) and
spawns N workers; each binds the same port with SO_REUSEPORT (the kernel spreads connections over
them), runs its own event loop, database engine, poll cache and fingerprint cache. Each worker is
an instance as a separate machine's would be: the one that holds the planning loop's PostgreSQL
lock runs the loop and the once-only jobs, and the others reach it through the database
(vtn/services/leadership.py). So several workers, like several instances, need PostgreSQL; on
SQLite (the single-instance default) one process serves, and a second one on the same file is
refused. A worker that dies is started again; SIGTERM/SIGINT stop them all.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import time
from multiprocessing.connection import wait
from typing import IO, Any

from aiohttp import web
from aiohttp.log import access_logger

from flexmodel.parent_watch import watch_parent
from vtn.db.instance_link import is_postgresql, sqlite_file
from vtn.settings import VtnSettings
from vtn.tls import limit_tls_read_buffers, settings_ssl_context
from vtn.worker import Worker

log = logging.getLogger(__name__)

RESTART_PAUSE_S = 1.0  # before a worker that died is started again
STOP_TIMEOUT_S = 30.0


def run_server(settings: VtnSettings, workers: int = 1) -> None:
    """Serve until interrupted; TLS (mutual with tls_ca_file) when tls_cert_file is set.

    Raises vtn.tls.TlsConfigError when a certificate, key or CA file cannot be used,
    SeveralNeedPostgres for several workers on SQLite or an SQLite file another VTN serves, and
    ValueError for a worker count below 1.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    postgres = is_postgresql(settings.db_url)
    if workers > 1 and not postgres:
        raise SeveralNeedPostgres(
            f"--workers {workers} needs PostgreSQL (--db postgresql://...): on SQLite one VTN process serves"
        )
    ssl_context = settings_ssl_context(settings)  # fails here, once, on a bad file
    scheme = "https" if ssl_context is not None else "http"
    if workers == 1:
        lock = None if postgres else _sole_sqlite_instance(settings.db_url)
        try:
            log.info("VTN %s on %s://%s:%d", settings.vtn_id, scheme, settings.host, settings.port)
            _serve(settings, Worker(), ssl_context, reuse_port=False)
        finally:
            if lock is not None:
                lock.close()
        return
    with _ReservedPort(settings.host, settings.port) as port:
        settings = settings.model_copy(update={"port": port})
        log.info("VTN %s on %s://%s:%d, %d workers", settings.vtn_id, scheme, settings.host, port, workers)
        _supervise(settings, workers)


class SeveralNeedPostgres(OSError):
    """Several VTN processes on one SQLite database: they would each plan and dispatch."""


def _sole_sqlite_instance(db_url: str) -> IO[bytes] | None:
    """Lock `<file>.vtn-lock` beside the SQLite file for as long as this VTN serves (the lock ends
    with the process, however it ends); a second VTN on the same file is refused in one line."""
    import fcntl

    path = sqlite_file(db_url)
    if path is None:
        return None
    lock = open(f"{path}.vtn-lock", "wb")  # noqa: SIM115 (held open while serving)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise SeveralNeedPostgres(
            f"another VTN serves {path}: several VTN instances need PostgreSQL (--db postgresql://...)"
        ) from None
    return lock


def _serve(settings: VtnSettings, worker: Worker, ssl_context: Any, reuse_port: bool) -> None:
    from vtn.app import create_app

    app = create_app(settings, worker)
    if ssl_context is not None:
        limit_tls_read_buffers()
    app.on_startup.append(_warm_up_planner)  # after the app's cleanup contexts: the loop exists
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        ssl_context=ssl_context,
        reuse_port=reuse_port or None,
        access_log=access_logger if settings.access_log else None,
        keepalive_timeout=settings.keepalive_seconds,
        print=None,
    )


async def _warm_up_planner(app: web.Application) -> None:
    """A served VTN plans: the leader's solver process starts when it takes the loop, not in the
    first run. (An app built without serving it, as the tests do, starts one only if it plans.)"""
    from vtn.keys import LEADERSHIP
    from vtn.portfolio.loop import PORTFOLIO

    loop = app[PORTFOLIO]
    loop.warm_when_leading = True
    if app[LEADERSHIP].leading:  # it led from its start: the loop is already running
        loop.warm_up()


class _ReservedPort:
    """Bind host:port with SO_REUSEPORT without listening: holds the port (and picks one for
    port 0) for the workers, receives no connections itself."""

    def __init__(self, host: str, port: int) -> None:
        if not hasattr(socket, "SO_REUSEPORT"):
            raise OSError("several workers need SO_REUSEPORT, which this platform lacks")
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        self.sock = socket.socket(info[0], socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self.address = info[4]

    def __enter__(self) -> int:
        try:
            self.sock.bind(self.address)
        except OSError:
            self.sock.close()
            raise
        port: int = self.sock.getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def _worker_main(settings: VtnSettings, worker: Worker) -> None:
    """Entry point of a worker process (multiprocessing, spawn)."""
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s %(levelname)s [w{worker.index}] %(name)s: %(message)s"
    )
    # A supervisor killed outright (SIGKILL, OOM) must not leave its workers serving the port:
    # each then stops as on SIGTERM (its connections finish, its solver process goes with it).
    watch_parent(_stop_orphaned_worker)
    _serve(settings, worker, settings_ssl_context(settings), reuse_port=True)


def _stop_orphaned_worker() -> None:
    log.warning("the supervisor is gone: this worker stops")
    os.kill(os.getpid(), signal.SIGTERM)


def _supervise(settings: VtnSettings, count: int) -> None:
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start(index: int) -> Any:
        process = context.Process(
            target=_worker_main,
            args=(settings, Worker(index, count)),
            name=f"vtn-worker-{index}",
        )
        process.start()
        return process

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    processes = [start(i) for i in range(count)]
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping:
            wait([p.sentinel for p in processes], timeout=1.0)
            for index, process in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                log.error("VTN worker %d exited with %s; starting it again", index, process.exitcode)
                time.sleep(RESTART_PAUSE_S)
                if not stopping:
                    processes[index] = start(index)
    finally:
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
