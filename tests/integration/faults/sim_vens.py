"""Simulated VENs for the fault tests (the load benchmark's) and checks of what the VTN stored."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import aiohttp

from flexvpp.bench.load_ven import SimVen, VenSim, WorkerPlan, WorkerResult


async def provision(db_url: str, names: list[str]) -> list[str]:
    """Migrate and provision straight through the service layer; the venIDs, in order."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from aggregator.vens import NewVen, provision_ven
    from vtn.db.engine import create_engine
    from vtn.db.migrate import upgrade
    from vtn.db.uow import UnitOfWork

    await asyncio.to_thread(upgrade, db_url)
    engine = create_engine(db_url)
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        new = [NewVen(n, site_id=f"site-{n}") for n in names]
        return [(await provision_ven(UnitOfWork(sessions), v, datetime.now(UTC))).ven_id for v in new]
    finally:
        await engine.dispose()


class Fleet:
    """A few VENs that register, then sample + report + poll in rounds."""

    def __init__(self, base_url: str, names: list[str], ven_ids: list[str]) -> None:
        self.plan = WorkerPlan(
            base_url=base_url, vens=(), ca_file=None, poll_s=1, telemetry_s=1, duration_s=0
        )
        self.result = WorkerResult()
        vens = [SimVen(i, n, v) for i, (n, v) in enumerate(zip(names, ven_ids, strict=True))]
        self.sims = [VenSim(v, self.plan, False, self.result) for v in vens]
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def close(self) -> None:
        await self.session.close()

    async def setup(self) -> None:
        await asyncio.gather(*(s.setup(self.session) for s in self.sims))

    async def round(self) -> tuple[int, int]:
        """Every VEN samples, sends what it has pending, and polls: (polls ok, reports ok)."""
        before = (len(self.result.poll_latencies_s), self.result.poll_errors)
        at = datetime.now(UTC).replace(microsecond=datetime.now(UTC).microsecond // 1000 * 1000)
        for sim in self.sims:
            sim.sample(at)
        sent = await asyncio.gather(*(s.send_pending(self.session) for s in self.sims))
        await asyncio.gather(*(s.poll(self.session) for s in self.sims))
        answered = len(self.result.poll_latencies_s) - before[0]
        polls_ok = answered - (self.result.poll_errors - before[1])
        return polls_ok, sum(sent)

    async def flush(self, attempts: int = 20) -> None:
        for _ in range(attempts):
            done = await asyncio.gather(*(s.send_pending(self.session) for s in self.sims))
            if all(done):
                return
            await asyncio.sleep(0.5)
        raise AssertionError("reports still pending after the flush")


def stored_values(db_url: str) -> Counter[tuple[str, str, float]]:
    import psycopg

    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT ven_id, dtstart, value FROM report_values").fetchall()
    return Counter((v, (d if d.tzinfo else d.replace(tzinfo=UTC)).isoformat(), float(x)) for v, d, x in rows)


def check_exactly_once(sent: list[tuple[str, str, float]], stored: Counter[tuple[str, str, float]]) -> None:
    sent_counts = Counter(sent)
    missing = sent_counts - stored
    extra = stored - sent_counts
    duplicated = [k for k, n in stored.items() if n > 1]
    assert not missing and not extra and not duplicated, (
        f"{len(sent)} sent, {sum(stored.values())} stored; missing {sorted(missing)[:5]}, "
        f"extra {sorted(extra)[:5]}, duplicated {duplicated[:5]}"
    )
