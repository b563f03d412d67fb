"""ReplayProtect nonces of signed messages: the primary key makes a claim atomic across processes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vtn.db.tables import SignatureNonce


class NonceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, nonce: str, ven_id: str | None, signed_at: datetime, now: datetime) -> bool:
        """INSERT the nonce unless it is there (one statement, atomic); True if it was inserted."""
        values: dict[str, Any] = {
            "nonce": nonce,
            "ven_id": ven_id,
            "signed_at": signed_at,
            "received_at": now,
        }
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            result = await self.session.execute(
                postgresql.insert(SignatureNonce).values(**values).on_conflict_do_nothing()
            )
        elif dialect == "sqlite":
            result = await self.session.execute(
                sqlite.insert(SignatureNonce).values(**values).on_conflict_do_nothing()
            )
        else:  # another database: the primary key still decides
            try:
                await self.session.execute(insert(SignatureNonce).values(**values))
            except IntegrityError:
                await self.session.rollback()
                return False
            return True
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def prune(self, signed_before: datetime) -> int:
        """Forget the nonces signed before `signed_before` (one indexed DELETE)."""
        result = await self.session.execute(
            delete(SignatureNonce).where(SignatureNonce.signed_at < signed_before)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
