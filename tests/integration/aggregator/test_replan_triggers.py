"""What makes the loop re-plan and whom it stops steering (aggregator/watch.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.event_rules import EventSpec, IntervalSpec
from aggregator.events import create_event
from aggregator.ports import NullNotifier
from aggregator.vens import NewVen, provision_ven
from aggregator.watch import FLEXIBILITY_CHANGED, WatchRules, look
from vtn.db.engine import create_engine
from vtn.db.tables import EventResponse, ReportValue, Ven, VenDispatch
from vtn.db.uow import UnitOfWork

NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
LOOK_AT = NOW + timedelta(minutes=15)
RULES = WatchRules(offline_after=timedelta(seconds=60), deviation_tolerance_kw=2.0)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def _home(sessions: async_sessionmaker[AsyncSession], name: str, setpoint_kw: float) -> tuple[str, str]:
    ven = await provision_ven(UnitOfWork(sessions), NewVen(f"ven-{name}", name), datetime.now(UTC))
    spec = EventSpec(
        ven_ids=(ven.ven_id,),
        signal_name="LOAD_DISPATCH",
        signal_type="setpoint",
        intervals=tuple(IntervalSpec(NOW + i * timedelta(minutes=15), 900, setpoint_kw) for i in range(8)),
    )
    event = await create_event(UnitOfWork(sessions), spec, NOW, NullNotifier())
    async with sessions() as session:
        row = await session.get(Ven, ven.ven_id)
        assert row is not None
        row.registration_id = f"reg-{name}"
        row.last_poll_at = LOOK_AT  # polls on the VTN's clock, as the poll path records them
        session.add(
            VenDispatch(
                ven_id=ven.ven_id, event_id=event.event_id, run_id="r", start=NOW,
                resolution_minutes=15, setpoint_kw=[setpoint_kw] * 8,
            )
        )  # fmt: skip
        await session.commit()
    return ven.ven_id, event.event_id


async def test_opt_out_offline_and_deviation_exclude_a_home(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    steady, _ = await _home(sessions, "steady", 1.0)
    opted, opted_event = await _home(sessions, "opted", 1.0)
    offline, _ = await _home(sessions, "offline", 1.0)
    deviating, _ = await _home(sessions, "deviating", 1.0)
    async with sessions() as session:
        session.add(
            EventResponse(ven_id=opted, event_id=opted_event, modification_number=0, opt_type="optOut")
        )
        ven = await session.get(Ven, offline)
        assert ven is not None
        ven.last_poll_at = LOOK_AT - timedelta(minutes=5)
        for minutes in (1, 5, 9, 13):  # the meter reads 6 kW where the schedule says 1 kW
            for ven_id, watts in ((deviating, 6000.0), (steady, 1200.0)):
                session.add(
                    ReportValue(
                        ven_id=ven_id, report_request_id="rr", report_name="TELEMETRY_USAGE",
                        r_id="meter-1.power", dtstart=NOW + timedelta(minutes=minutes), value=watts,
                    )
                )  # fmt: skip
        await session.commit()
    findings = {f.ven_id: f for f in await look(UnitOfWork(sessions), LOOK_AT, RULES, {}, None)}
    assert set(findings) == {opted, offline, deviating}
    assert findings[opted].exclusion is not None and findings[opted].exclusion.reason == "opted out"
    assert findings[offline].exclusion is not None and findings[offline].exclusion.reason == "offline"
    excluded = findings[deviating].exclusion
    assert excluded is not None and excluded.fixed_kw == pytest.approx(6.0)  # its measured load is held


async def test_a_car_arriving_is_a_reason_to_replan(sessions: async_sessionmaker[AsyncSession]) -> None:
    ven_id, _ = await _home(sessions, "home", 0.0)
    assert await look(UnitOfWork(sessions), NOW, RULES, {}, frozenset()) == []
    async with sessions() as session:
        session.add(
            ReportValue(
                ven_id=ven_id, report_request_id="rr", report_name="x-SITE_FLEXIBILITY",
                r_id="evse-1.energy_needed_kwh", dtstart=NOW, duration_seconds=3600, value=20.0,
            )
        )  # fmt: skip
        await session.commit()
    findings = await look(UnitOfWork(sessions), NOW, RULES, {}, frozenset())
    assert [f.reason for f in findings] == [FLEXIBILITY_CHANGED]
