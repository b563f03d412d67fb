"""ProgramRepository, StatementRepository (vtn/db/repos/settlement.py),
RunRepository.latest_planned_before and ReportRepository.buckets on SQLite and PostgreSQL: terms
round-trip and are replaced, a closed month's statements are written once (a second writer keeps
the first), runs before a time, values summarised per 15-minute bucket."""

from __future__ import annotations

from datetime import timedelta

from aggregator.meter_records import ValueBucket
from aggregator.ports import RunRecord
from aggregator.settlement_records import ProgramTermsRecord, StatementRecord
from vtn.db.uow import Sessions, UnitOfWork

from .conftest import T0, add_ven

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


async def test_values_summarised_per_bucket(sessions: Sessions) -> None:
    await add_ven(sessions, "v1")
    await add_ven(sessions, "v2")

    def row(ven: str, r_id: str, minutes: float, value: float) -> dict[str, object]:
        at = T0 + timedelta(minutes=minutes)
        return {"ven_id": ven, "report_request_id": "rr", "report_name": "TELEMETRY_USAGE", "r_id": r_id,
                "dtstart": at, "duration_seconds": 0, "value": value, "received_at": at}  # fmt: skip

    rows = [row("v1", "m.energy_import", m, 10.0 * m) for m in (0, 5, 14.5, 15, 29, 47)]
    rows += [
        row("v1", "m.energy_export", 3, 1.0),
        row("v1", "m.power", 3, 9.0),
        row("v2", "m.energy_import", 3, 7.0),
    ]
    async with UnitOfWork(sessions) as uow:
        await uow.reports.add_values(rows)
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        got = await uow.reports.buckets(
            "v1",
            ["m.energy_import", "m.energy_export"],
            T0,
            T0 + timedelta(minutes=45),
            timedelta(minutes=15),
        )
    at = [T0 + timedelta(minutes=m) for m in (0, 3, 14.5, 15, 29)]
    assert got == [
        ValueBucket("m.energy_export", at[1], at[1], 1.0, 1.0, 1),
        ValueBucket("m.energy_import", at[0], at[2], 0.0, 145.0, 3),  # 12:00 <= t < 12:15
        ValueBucket("m.energy_import", at[3], at[4], 150.0, 290.0, 2),  # 47 min is past `until`
    ]
