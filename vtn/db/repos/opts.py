"""EiOpt records of the VENs: availability schedules and opts in or out of one event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.records import OptRecord, OptWindow
from vtn.db.repos import Seen, utc
from vtn.db.tables import Opt, as_utc


def opt_record(row: Opt) -> OptRecord:
    """Windows are stored as JSON: [{start (ISO), duration_seconds}]."""
    return OptRecord(
        ven_id=row.ven_id,
        opt_id=row.opt_id,
        opt_type=row.opt_type,
        opt_reason=row.opt_reason,
        created_at=utc(row.created_at),
        market_context=row.market_context,
        event_id=row.event_id,
        modification_number=row.modification_number,
        resource_ids=tuple(row.resource_ids or ()),
        windows=tuple(
            OptWindow(datetime.fromisoformat(w["start"]), int(w["duration_seconds"]))
            for w in row.windows or []
        ),
        cancelled_at=as_utc(row.cancelled_at),
    )


def _columns(record: OptRecord) -> dict[str, Any]:
    return {
        "ven_id": record.ven_id,
        "opt_id": record.opt_id,
        "opt_type": record.opt_type,
        "opt_reason": record.opt_reason,
        "created_at": record.created_at,
        "market_context": record.market_context,
        "event_id": record.event_id,
        "modification_number": record.modification_number,
        "resource_ids": list(record.resource_ids),
        "windows": [
            {"start": w.start.isoformat(), "duration_seconds": w.duration_seconds} for w in record.windows
        ],
        "cancelled_at": record.cancelled_at,
    }


class OptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._seen: Seen[tuple[str, str], OptRecord] = Seen()

    def _record(self, row: Opt) -> OptRecord:
        return self._seen.remember((row.ven_id, row.opt_id), row, opt_record(row))

    async def get(self, ven_id: str, opt_id: str) -> OptRecord | None:
        row = await self.session.get(Opt, (ven_id, opt_id))
        return None if row is None else self._record(row)

    def add(self, opt: OptRecord) -> None:
        row = Opt(**_columns(opt))
        self.session.add(row)
        self._seen.remember((opt.ven_id, opt.opt_id), row, opt)

    async def save(self, opt: OptRecord) -> None:
        """Write what changed on the opt since this unit of work read it."""
        await self._seen.save(self.session, Opt, (opt.ven_id, opt.opt_id), opt, _columns)

    async def for_ven(self, ven_id: str) -> list[OptRecord]:
        query = select(Opt).where(Opt.ven_id == ven_id).order_by(Opt.created_at, Opt.opt_id)
        return [self._record(row) for row in await self.session.scalars(query)]

    async def live_for_events(self, event_ids: Sequence[str]) -> list[OptRecord]:
        query = (
            select(Opt)
            .where(Opt.event_id.in_(list(event_ids)), Opt.cancelled_at.is_(None))
            .order_by(Opt.created_at)
        )
        return [self._record(row) for row in await self.session.scalars(query)]
