"""`flexvpp bench load` stops at once, saying which, when a load process dies (flexvpp/bench/load.py):
a 20,000-VEN run lost one mid-setup and waited out the hour-long setup timeout."""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import pytest

from flexvpp.bench import load
from flexvpp.bench.servers import BenchFailed


def _dies() -> None:
    raise SystemExit(3)


def _says_ready(ready: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    ready.put(5)


def test_a_dead_load_process_fails_the_run_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "LIVENESS_CHECK_S", 0.1)
    context = multiprocessing.get_context("fork")
    ready = context.Queue()
    processes = [context.Process(target=_says_ready, args=(ready,)), context.Process(target=_dies)]
    for process in processes:
        process.start()
    started = time.monotonic()
    assert asyncio.run(load._from_live(ready, processes, 3600, "registering its VENs")) == 5
    with pytest.raises(BenchFailed, match=r"load process 1 \(exit code 3\) died while registering"):
        asyncio.run(load._from_live(ready, processes, 3600, "registering its VENs"))
    assert time.monotonic() - started < 30
    for process in processes:
        process.join()


def test_silence_past_the_timeout_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "LIVENESS_CHECK_S", 0.05)
    with pytest.raises(BenchFailed, match="said nothing for 0 s while measuring"):
        asyncio.run(load._from_live(multiprocessing.get_context("fork").Queue(), [], 0.1, "measuring"))
