"""The provisioned-fingerprint cache behind the per-message certificate check (vtn/tls.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.vens import NewVen, provision_ven
from vtn.db.engine import create_engine
from vtn.db.tables import Ven
from vtn.db.uow import UnitOfWork
from vtn.tls import FINGERPRINT_REFRESH_SECONDS, ClientCertificates, check_fingerprint

# TLS, not the database: SQLite only.
pytestmark = pytest.mark.db_backends("sqlite")

FP_A = "AA:BB:CC:DD:EE:FF:00:11:22:33"
FP_B = "0A:0B:0C:0D:0E:0F:10:11:12:13"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def _set_fingerprint(
    sessions: async_sessionmaker[AsyncSession], ven_id: str, value: str | None
) -> None:
    async with sessions() as session:
        await session.execute(update(Ven).where(Ven.ven_id == ven_id).values(fingerprint=value))
        await session.commit()


async def test_changes_are_seen_after_the_refresh_interval(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    certificates = ClientCertificates(clock=clock)
    ven = await provision_ven(UnitOfWork(sessions), NewVen("home-1", "site-1", FP_A), datetime.now(UTC))
    assert await certificates.provisioned(sessions, ven.ven_id, None) == FP_A
    assert await certificates.provisioned(sessions, None, "home-1") == FP_A
    await _set_fingerprint(sessions, ven.ven_id, FP_B)
    clock.now += FINGERPRINT_REFRESH_SECONDS / 2
    assert await certificates.provisioned(sessions, ven.ven_id, None) == FP_A  # served from memory
    clock.now += FINGERPRINT_REFRESH_SECONDS
    # Past the interval, the message is answered from memory while one reload runs beside it.
    assert await certificates.provisioned(sessions, ven.ven_id, None) == FP_A
    await certificates.settle()
    assert await certificates.provisioned(sessions, ven.ven_id, None) == FP_B


async def test_a_ven_provisioned_after_a_miss_is_checked_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    certificates = ClientCertificates(clock=FakeClock())
    assert await certificates.provisioned(sessions, None, "late-home") is None  # unknown yet
    ven = await provision_ven(UnitOfWork(sessions), NewVen("late-home", "site-late", FP_A), datetime.now(UTC))
    assert await certificates.provisioned(sessions, None, "late-home") == FP_A
    assert await certificates.provisioned(sessions, ven.ven_id, None) == FP_A
    assert await certificates.provisioned(sessions, "no-such-ven", None) is None


def test_check_fingerprint_rules() -> None:
    assert check_fingerprint(None, None) is None  # no fingerprint provisioned: the CA decides
    assert check_fingerprint(None, FP_B) is None
    assert check_fingerprint(FP_A, FP_A) is None
    assert check_fingerprint(FP_A.lower(), FP_A) is None  # hex case does not matter
    assert (
        check_fingerprint(FP_A, None)
        == "this VEN must present the client certificate it was provisioned with"
    )
    assert (
        check_fingerprint(FP_A, FP_B)
        == "the client certificate does not match the VEN's provisioned fingerprint"
    )
