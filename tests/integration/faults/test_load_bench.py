"""`flexvpp bench load` end to end at a tiny size: it runs over mutual TLS, prints its figures,
and its stored-versus-sent check holds (the figures themselves are for the closing note)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from bench_databases import bench_databases
from cli_in_process import run_flexvpp

# bench_databases: `bench load` and `bench vtn` make flexvpp_bench_* databases on the shared server,
# and test_bench_vtn_cli checks that none is left behind: never at the same time (pytest-xdist).
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("bench_databases")]
# the server tests/conftest.py uses (the benchmark makes and drops its own database on it)
PG_ADMIN_URL = os.environ.get("FLEXVPP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def test_bench_load_runs_small_over_tls_and_loses_nothing() -> None:
    done = run_flexvpp(
        "bench", "load", "--vens", "6", "--minutes", "0.15",
        "--poll-s", "1", "--telemetry-s", "2", "--tls", "--pg-url", PG_ADMIN_URL,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "6/6 simulated VENs over HTTPS, mutual TLS" in out
    sent, stored = map(int, re.search(r"sent (\d+)\s+stored (\d+)", out).groups())  # type: ignore[union-attr]
    assert sent == stored and sent >= 6 * 3, out
    polls = int(re.search(r"oadrPoll:\s+(\d+)", out).group(1))  # type: ignore[union-attr]
    assert polls >= 6 * 5 and "errors 0" in out, out
    assert "result: OK" in out


def test_bench_load_refuses_bad_arguments() -> None:
    done = run_flexvpp("bench", "load", "--vens", "0")
    assert done.returncode == 2 and "--vens" in done.stderr and "positive" in done.stderr


def test_bench_load_stopped_by_sigterm_drops_its_database() -> None:
    """Killed by SIGTERM, a run left its flexvpp_bench_* database behind; now its clean-up runs."""
    before = bench_databases(PG_ADMIN_URL)
    process = subprocess.Popen(
        [sys.executable, "-m", "flexvpp", "bench", "load", "--vens", "4", "--minutes", "10",
         "--poll-s", "1", "--pg-url", PG_ADMIN_URL],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not bench_databases(PG_ADMIN_URL) - before:  # the run has made its database
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.2)
        time.sleep(2)  # into the run: the VTN and the load processes starting or running
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, out + err
    assert "stopped by SIGTERM" in err, err
    assert bench_databases(PG_ADMIN_URL) - before == set()
