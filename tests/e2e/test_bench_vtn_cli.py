"""`flexvpp bench vtn` runs both servers, prints its figures and leaves no database behind.

Speed is not asserted here (no timed tests): the figures are for people; this checks they exist.
"""

from __future__ import annotations

import os
import re

import pytest
from bench_databases import bench_databases
from e2e_support import flexvpp

# bench_databases: see tests/integration/faults/test_load_bench.py (they must not overlap).
pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.timeout(300),
    pytest.mark.xdist_group("bench_databases"),
]

ADMIN_URL = os.environ.get("FLEXVPP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def test_bench_vtn_prints_throughput_latency_and_ratio() -> None:
    before = bench_databases(ADMIN_URL)
    result = flexvpp(
        "bench", "vtn", "--vens", "5", "--seconds", "1", "--concurrency", "4", "--pg-url", ADMIN_URL
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("oadrPoll from 5 distinct registered VENs, 4 concurrent, 1 s per server")
    rows = {line.split("  ")[0]: line for line in lines[2:4]}
    assert set(rows) == {"flexvpp vtn (PostgreSQL)", "openleadr OpenADRServer (memory)"}
    for row in rows.values():
        requests, per_s, p50, p99, errors, cpu_us = row.split()[-6:]
        assert int(requests) > 0 and float(per_s) > 0 and 0 < float(p50) <= float(p99)
        assert errors == "0"
        assert float(cpu_us) > 0  # the server's CPU per poll, read from /proc
    assert re.match(
        r"ratio ours/stock: throughput \d+\.\d\dx \(target >= 1\.0\), p99 latency \d+\.\d\dx", lines[4]
    )
    assert re.match(r"server CPU per poll ours/stock: \d+\.\d\dx", lines[5])
    # The benchmark database was dropped.
    assert bench_databases(ADMIN_URL) - before == set()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vens", "0"], "--vens: must be a positive whole number, got '0'"),
        (["--seconds", "-1"], "--seconds: must be a positive number, got '-1'"),
        (["--seconds", "nan"], "--seconds: must be a positive number, got 'nan'"),
        (["--concurrency", "many"], "--concurrency: must be a positive whole number, got 'many'"),
    ],
)
def test_bench_vtn_refuses_bad_options(args: list[str], message: str) -> None:
    result = flexvpp("bench", "vtn", *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_bench_vtn_names_an_unreachable_database() -> None:
    result = flexvpp("bench", "vtn", "--vens", "2", "--pg-url", "postgresql://postgres@127.0.0.1:1/postgres")
    assert result.returncode == 1
    assert (
        "flexvpp bench vtn: error: cannot reach PostgreSQL at postgresql://postgres@127.0.0.1:1/postgres"
        in (result.stderr)
    )
