"""The scratch databases `flexvpp bench vtn` and `bench load` make on the shared PostgreSQL
server (flexvpp_bench_*): their tests check that a run leaves none behind."""

from __future__ import annotations

import psycopg


def bench_databases(admin_url: str) -> set[str]:
    with psycopg.connect(admin_url) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'flexvpp_bench_%'").fetchall()
    return {row[0] for row in rows}
