"""DR programs' terms (program_terms) and closed months' statements (settlement_statements)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.settlement_records import ProgramTermsRecord, StatementRecord
from vtn.db.repos import insert_on_conflict, utc
from vtn.db.tables import ProgramTerms, SettlementStatement


def _terms(row: ProgramTerms) -> ProgramTermsRecord:
    return ProgramTermsRecord(
        market_context=row.market_context,
        reward_eur_per_kwh=row.reward_eur_per_kwh,
        penalty_eur_per_kwh=row.penalty_eur_per_kwh,
        baseline_method=row.baseline_method,
        updated_at=utc(row.updated_at),
        committed_kw=row.committed_kw,
        reward_cap_eur=row.reward_cap_eur,
        penalty_cap_eur=row.penalty_cap_eur,
    )


def _statement(row: SettlementStatement) -> StatementRecord:
    return StatementRecord(
        month=row.month,
        market_context=row.market_context,
        site_id=row.site_id,
        ven_id=row.ven_id,
        computed_at=utc(row.computed_at),
        content=row.content,
    )


class ProgramRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, market_context: str) -> ProgramTermsRecord | None:
        row = await self.session.get(ProgramTerms, market_context)
        return None if row is None else _terms(row)

    async def all(self) -> list[ProgramTermsRecord]:
        rows = await self.session.scalars(select(ProgramTerms).order_by(ProgramTerms.market_context))
        return [_terms(row) for row in rows]

    async def put(self, terms: ProgramTermsRecord) -> None:
        """One upsert: two operators setting terms at once both succeed, the later one wins."""
        values = asdict(terms)
        statement = (
            insert_on_conflict(self.session)(ProgramTerms)
            .values(**values)
            .on_conflict_do_update(
                index_elements=["market_context"],
                set_={k: v for k, v in values.items() if k != "market_context"},
            )
        )
        await self.session.execute(statement)


class StatementRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_month(self, month: str) -> list[StatementRecord]:
        rows = await self.session.scalars(
            select(SettlementStatement)
            .where(SettlementStatement.month == month)
            .order_by(SettlementStatement.market_context, SettlementStatement.site_id)
        )
        return [_statement(row) for row in rows]

    async def add_new(self, statements: Sequence[StatementRecord]) -> None:
        """One INSERT ... ON CONFLICT DO NOTHING: of two runs closing a month at once, the
        first stored stands and the other reads it back."""
        if not statements:
            return
        statement = (
            insert_on_conflict(self.session)(SettlementStatement)
            .values([asdict(s) for s in statements])
            .on_conflict_do_nothing(index_elements=["month", "market_context", "site_id"])
        )
        await self.session.execute(statement)
