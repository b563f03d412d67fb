"""Each home's schedule as one LOAD_DISPATCH event, modified (not replaced) on every re-plan."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.ports import Dispatched, Schedule
from vtn import services
from vtn.db.tables import VenDispatch
from vtn.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]
MARKET_CONTEXT = "http://flexvpp.org/market/portfolio"


def _intervals(schedule: Schedule, now: datetime) -> tuple[services.IntervalSpec, ...]:
    seconds = int(schedule.resolution.total_seconds())
    out = []
    for t, value in enumerate(schedule.setpoint_kw):
        start = schedule.start + t * schedule.resolution
        if start + schedule.resolution <= now:
            continue  # already over: an event may not restate the past
        out.append(services.IntervalSpec(start, seconds, value))
    return tuple(out)


class EventDispatcher:
    """Dispatcher over vtn.services' events (the OpenADR outbox delivers them on the next poll)."""

    def __init__(self, sessions: Sessions, near_window_seconds: int) -> None:
        self._sessions = sessions
        self._near = near_window_seconds

    async def dispatch(self, schedule: Schedule, run_id: str, now: datetime) -> Dispatched:
        intervals = _intervals(schedule, now)
        if not intervals:
            return Dispatched(schedule.ven_id, "", 0, "failed", "the schedule is already over")
        async with self._sessions() as session:
            current = await session.get(VenDispatch, schedule.ven_id)
        try:
            info, action = await self._modify_or_create(current, schedule, intervals, now)
        except (Conflict, InvalidInput, NotFound, OperationalError) as exc:
            # One home's failure (a locked SQLite, a conflicting event) must not stop the others;
            # the run records it and the loop dispatches again soon.
            log.warning("dispatch to %s failed: %s", schedule.ven_id, exc)
            return Dispatched(schedule.ven_id, "", 0, "failed", str(exc)[:300])
        try:
            await self._remember(schedule, run_id, info.event_id, now)
        except OperationalError as exc:
            log.warning("could not record the dispatch to %s: %s", schedule.ven_id, exc)
        return Dispatched(schedule.ven_id, info.event_id, info.modification_number, action)

    async def _modify_or_create(
        self,
        current: VenDispatch | None,
        schedule: Schedule,
        intervals: tuple[services.IntervalSpec, ...],
        now: datetime,
    ) -> tuple[services.EventInfo, str]:
        if current is not None:
            try:
                patch = services.EventPatch(intervals=intervals)
                info = await services.modify_event(self._sessions, current.event_id, patch, now, self._near)
                return info, "modified"
            except (Conflict, NotFound):  # cancelled or over: the home gets a fresh event
                pass
        spec = services.EventSpec(
            ven_ids=(schedule.ven_id,),
            signal_name="LOAD_DISPATCH",
            signal_type="setpoint",
            intervals=intervals,
            market_context=MARKET_CONTEXT,
            priority=1,
            ramp_up_seconds=0,
            response_required="always",
            start_after_seconds=0,
        )
        return await services.create_event(self._sessions, spec, now, self._near), "created"

    async def _remember(self, schedule: Schedule, run_id: str, event_id: str, now: datetime) -> None:
        async with self._sessions() as session:
            row = await session.get(VenDispatch, schedule.ven_id)
            if row is None:
                row = VenDispatch(ven_id=schedule.ven_id)
                session.add(row)
            row.event_id = event_id
            row.run_id = run_id
            row.start = schedule.start
            row.resolution_minutes = int(schedule.resolution.total_seconds() // 60)
            row.setpoint_kw = list(schedule.setpoint_kw)
            row.updated_at = now
            await session.commit()

    async def release(self, ven_id: str, now: datetime) -> None:
        async with self._sessions() as session:
            row = await session.get(VenDispatch, ven_id)
            if row is None:
                return
            event_id = row.event_id
            await session.delete(row)
            await session.commit()
        with contextlib.suppress(Conflict, NotFound):
            await services.cancel_event(self._sessions, event_id, now, self._near)
