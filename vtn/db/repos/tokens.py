"""REST bearer tokens: only the SHA-256 of a token is stored, and looked up by it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.records import TokenRecord
from vtn.db.repos import utc
from vtn.db.tables import ApiToken, as_utc


def _record(row: ApiToken) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        role=row.role,
        name=row.name,
        site_id=row.site_id,
        created_at=utc(row.created_at),
        expires_at=as_utc(row.expires_at),
        revoked_at=as_utc(row.revoked_at),
    )


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        token_hash: str,
        role: str,
        name: str | None,
        site_id: str | None,
        created_at: datetime,
        expires_at: datetime | None,
    ) -> None:
        self.session.add(
            ApiToken(
                token_hash=token_hash,
                role=role,
                name=name,
                site_id=site_id,
                created_at=created_at,
                expires_at=expires_at,
            )
        )

    async def by_hash(self, token_hash: str) -> TokenRecord | None:
        row = await self.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))
        return None if row is None else _record(row)

    async def all(self) -> list[TokenRecord]:
        return [_record(row) for row in await self.session.scalars(select(ApiToken).order_by(ApiToken.id))]

    async def get(self, token_id: int) -> TokenRecord | None:
        # populate_existing: a revocation made in this session by UPDATE shows in the record.
        row = await self.session.get(ApiToken, token_id, populate_existing=True)
        return None if row is None else _record(row)

    async def revoke(self, token_id: int, now: datetime) -> bool:
        """Mark the token revoked at `now` unless it already is; False if it was (or is unknown)."""
        return await self._revoke(ApiToken.id == token_id, now)

    async def revoke_by_hash(self, token_hash: str, now: datetime) -> bool:
        """As `revoke`, for the token with this hash."""
        return await self._revoke(ApiToken.token_hash == token_hash, now)

    async def _revoke(self, which: ColumnElement[bool], now: datetime) -> bool:
        result = await self.session.execute(
            update(ApiToken)
            .where(which, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
