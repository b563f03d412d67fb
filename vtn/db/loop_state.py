"""What the planning loop keeps between runs and across instances (tables loop_state,
loop_exclusions, replan_requests): the instance that takes the loop over reads it here.

Not a repository of the unit of work (no aggregator port, no fake): only the loop's process
state in vtn/portfolio uses it, each method in its own transaction, as vtn/db/admin.py serves the
benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from aggregator.loop_store import Exclusion, ExclusionReason
from vtn.db.repos import insert_on_conflict
from vtn.db.tables import LoopExclusion, LoopState, ReplanRequest, as_utc
from vtn.db.uow import Sessions

DAYAHEAD = "dayahead"


@dataclass(frozen=True, slots=True)
class Replan:
    """A pending re-plan request."""

    id: int
    reason: str
    on_demand: bool


class LoopStateRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    # ---- the day-ahead bookkeeping --------------------------------------------------------
    async def last_dayahead(self) -> datetime | None:
        async with self._sessions() as session:
            return as_utc(await session.scalar(select(LoopState.at).where(LoopState.name == DAYAHEAD)))

    async def set_last_dayahead(self, at: datetime) -> None:
        async with self._sessions() as session:
            insert = insert_on_conflict(session)(LoopState).values(name=DAYAHEAD, at=at)
            await session.execute(insert.on_conflict_do_update(index_elements=["name"], set_={"at": at}))
            await session.commit()

    async def queue_dayahead(self, at: datetime, reason: str) -> None:
        """The day-ahead run is queued: its bookkeeping and its re-plan request in one transaction,
        so a leader that dies in between neither loses the run nor queues it twice."""
        async with self._sessions() as session:
            insert = insert_on_conflict(session)(LoopState).values(name=DAYAHEAD, at=at)
            await session.execute(insert.on_conflict_do_update(index_elements=["name"], set_={"at": at}))
            session.add(ReplanRequest(reason=reason, on_demand=False, created_at=at))
            await session.commit()

    # ---- exclusions ------------------------------------------------------------------------
    async def exclusions(self, since: datetime) -> dict[str, Exclusion]:
        """The homes excluded at `since` or later (older exclusions have lapsed)."""
        async with self._sessions() as session:
            rows = await session.scalars(select(LoopExclusion).where(LoopExclusion.excluded_at >= since))
            return {r.ven_id: Exclusion(ExclusionReason(r.reason), r.fixed_kw) for r in rows}

    async def add_exclusions(self, exclusions: Mapping[str, Exclusion], at: datetime) -> None:
        """Store new exclusions (one that lapsed for the same home is replaced)."""
        if not exclusions:
            return
        async with self._sessions() as session:
            await session.execute(delete(LoopExclusion).where(LoopExclusion.ven_id.in_(list(exclusions))))
            session.add_all(
                LoopExclusion(ven_id=v, reason=e.reason.value, fixed_kw=e.fixed_kw, excluded_at=at)
                for v, e in exclusions.items()
            )
            await session.commit()

    # ---- re-plan requests -------------------------------------------------------------------
    async def add_replan(self, reason: str, on_demand: bool, at: datetime) -> int:
        async with self._sessions() as session:
            row = ReplanRequest(reason=reason, on_demand=on_demand, created_at=at)
            session.add(row)
            await session.commit()
            return row.id

    async def pending_replans(self) -> list[Replan]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ReplanRequest).where(ReplanRequest.done_at.is_(None)).order_by(ReplanRequest.id)
            )
            return [Replan(r.id, r.reason, r.on_demand) for r in rows]

    async def finish_replans(self, ids: Iterable[int], run_id: str, at: datetime) -> None:
        ids = list(ids)
        if not ids:
            return
        async with self._sessions() as session:
            await session.execute(
                update(ReplanRequest).where(ReplanRequest.id.in_(ids)).values(run_id=run_id, done_at=at)
            )
            await session.commit()

    async def replan_run(self, replan_id: int) -> str | None:
        """The run that answered the request (None while pending)."""
        async with self._sessions() as session:
            return await session.scalar(select(ReplanRequest.run_id).where(ReplanRequest.id == replan_id))

    async def prune_replans(self, before: datetime) -> None:
        async with self._sessions() as session:
            done = ReplanRequest.done_at
            await session.execute(delete(ReplanRequest).where(done.is_not(None), done < before))
            await session.commit()
