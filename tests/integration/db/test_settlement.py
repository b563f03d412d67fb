"""ProgramRepository, StatementRepository (vtn/db/repos/settlement.py) and
RunRepository.latest_planned_before on SQLite and PostgreSQL: terms round-trip and are replaced,
a closed month's statements are written once (a second writer keeps the first), runs before a time."""

from __future__ import annotations

from datetime import timedelta

from aggregator.ports import RunRecord
from aggregator.settlement_records import ProgramTermsRecord, StatementRecord
from vtn.db.uow import Sessions, UnitOfWork

from .conftest import T0

PROGRAM = "http://flexvpp.org/market/evening-dr"


async def test_terms_round_trip_and_are_replaced(sessions: Sessions) -> None:
    first = ProgramTermsRecord(PROGRAM, 0.5, 0.2, "x_of_y", T0)
    second = ProgramTermsRecord(PROGRAM, 0.6, 0.0, "meter_before", T0 + timedelta(hours=1), 1.5, 20.0, 5.0)
    other = ProgramTermsRecord("http://a.example/first", 0.1, 0.1, "plan_baseline", T0)
    for record in (first, second, other):
        async with UnitOfWork(sessions) as uow:
            await uow.programs.put(record)
            await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.programs.get(PROGRAM) == second
        assert await uow.programs.get("nope") is None
        assert await uow.programs.all() == [other, second]
    async with UnitOfWork(sessions) as uow:  # not committed: not kept
        await uow.programs.put(ProgramTermsRecord("http://b.example", 1.0, 1.0, "x_of_y", T0))
    async with UnitOfWork(sessions) as uow:
        assert await uow.programs.get("http://b.example") is None


def _statement(site: str, reward: float, month: str = "2030-01") -> StatementRecord:
    content = {"version": "settlement/1", "terms": {"reward_eur_per_kwh": reward}, "events": [{"x": 1.5}]}
    return StatementRecord(month, PROGRAM, site, f"ven-{site}", T0, content)


async def test_statements_are_written_once(sessions: Sessions) -> None:
    async with UnitOfWork(sessions) as uow:
        await uow.statements.add_new(
            [_statement("s2", 0.5), _statement("s1", 0.5), _statement("s1", 0.5, "2030-02")]
        )
        await uow.commit()
    async with UnitOfWork(sessions) as uow:  # a second run closing the month: the first stands
        await uow.statements.add_new([_statement("s1", 9.0), _statement("s3", 9.0)])
        await uow.statements.add_new([])
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        got = await uow.statements.of_month("2030-01")
    assert got == [_statement("s1", 0.5), _statement("s2", 0.5), _statement("s3", 9.0)]


def _run(run_id: str, minutes: int, status: str) -> RunRecord:
    plan = {"sites": []} if status != "error" else None
    return RunRecord(
        run_id, "t", T0 + timedelta(minutes=minutes), 1.0, status, "highs", 0.0, None, {}, plan, None
    )


async def test_the_latest_run_that_planned_before_a_time(sessions: Sessions) -> None:
    async with UnitOfWork(sessions) as uow:
        for run in (_run("r1", 0, "optimal"), _run("r2", 10, "error"), _run("r3", 20, "optimal")):
            uow.runs.add(run)
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        before = [await uow.runs.latest_planned_before(T0 + timedelta(minutes=m)) for m in (0, 15, 20, 21)]
    assert [r.run_id if r else None for r in before] == [None, "r1", "r1", "r3"]
