"""What the closed loop recorded: its planning runs, and the schedule it last sent each home."""

from __future__ import annotations

from aggregator.errors import Conflict, NotFound
from aggregator.ports import RunRecord
from aggregator.records import DispatchRecord
from aggregator.uow import UnitOfWork

RUNS_LISTED = 100


async def list_runs(uow: UnitOfWork, limit: int = RUNS_LISTED) -> list[RunRecord]:
    """The newest runs, newest first."""
    async with uow:
        return await uow.runs.newest(limit)


async def get_run(uow: UnitOfWork, run_id: str) -> RunRecord:
    """NotFound if there is no such run."""
    async with uow:
        run = await uow.runs.get(run_id)
    if run is None:
        raise NotFound("run", run_id)
    return run


async def latest_planned_run(uow: UnitOfWork) -> RunRecord:
    """The newest run that planned; NotFound if none has."""
    async with uow:
        run = await uow.runs.latest_planned()
    if run is None:
        raise NotFound("plan", "latest")
    return run


async def ven_schedule(uow: UnitOfWork, ven_id: str) -> DispatchRecord:
    """NotFound for an unknown VEN; Conflict if no run has dispatched to it yet."""
    async with uow:
        if not await uow.vens.existing_ids([ven_id]):
            raise NotFound("VEN", ven_id)
        dispatch = await uow.dispatches.get(ven_id)
    if dispatch is None:
        raise Conflict(f"VEN {ven_id!r} has no schedule yet: no planning run has dispatched to it")
    return dispatch
