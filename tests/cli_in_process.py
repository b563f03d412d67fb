"""`flexvpp ARGS` run in the test's process: `run_flexvpp(*args)` answers like `subprocess.run`.

A new interpreter for each command line cost about 20 s on the 2-core CI machine (Python, then
Pyomo, HiGHS, openleadr and SQLAlchemy imported again), for tests whose subject is the argument
handling and the command's work, not the process. Those tests call `flexvpp.cli.main` here:
the same parser, handler, exit status and output. Tests whose subject is the process (a server
stopped by a signal, a VEN's MQTT will, `vtn serve --workers`) still start one.

The command runs in a thread of its own, so a handler that calls `asyncio.run` works from an
async test too (the test's loop waits for it; nothing the command needs runs on that loop).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_flexvpp(*args: str, env: Mapping[str, str] | None = None) -> CliResult:
    """`flexvpp *args` with `env` added to the environment for the call, answered as the process
    would: the exit status (2 for a usage error, 1 and the traceback for an uncaught exception),
    stdout, and stderr with the warnings and errors logged meanwhile."""
    from flexvpp.cli import main

    out, err = io.StringIO(), io.StringIO()
    outcome: list[int] = []

    def call() -> None:
        try:
            outcome.append(main(list(args)))
        except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
            code = exc.code
            outcome.append(code if isinstance(code, int) else (0 if code is None else 1))
        except Exception:
            traceback.print_exc(file=err)
            outcome.append(1)

    # The process's root handler (logging.basicConfig in main) is a no-op under pytest, whose
    # handlers are already on the root logger: this one stands in for it.
    log_handler = logging.StreamHandler(err)
    log_handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(log_handler)
    level = root.level  # `vtn serve` lowers it to INFO for its own run
    try:
        with _environment(env or {}), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            thread = threading.Thread(target=call, name="flexvpp-cli")
            thread.start()
            thread.join()
    finally:
        root.removeHandler(log_handler)
        root.setLevel(level)
    return CliResult(outcome[0], out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _environment(extra: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
