"""EiOpt use cases: the availability schedules and event-scoped opts that VENs send.

The pattern every use case follows: a function of a command (here `NewOpt`, or the IDs it acts
on), a unit of work (aggregator/uow.py, passed in unentered) and the time (`now`, from the app's
one clock). It opens the unit of work, works on records through the repository ports, commits
explicitly, and returns plain values (`OptInfo`); it raises aggregator.errors for the edges to map.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from aggregator.errors import Conflict, NotFound
from aggregator.records import OptRecord, OptWindow
from aggregator.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class NewOpt:
    """An oadrCreateOpt as the VTN stores it."""

    opt_id: str
    opt_type: str
    opt_reason: str
    market_context: str | None = None
    event_id: str | None = None
    modification_number: int | None = None
    resource_ids: tuple[str, ...] = ()
    windows: tuple[OptWindow, ...] = ()


@dataclass(frozen=True, slots=True)
class OptInfo:
    """An opt as the edges show it (the REST API's OptOut)."""

    opt_id: str
    opt_type: str
    opt_reason: str
    market_context: str | None
    event_id: str | None
    modification_number: int | None
    resource_ids: tuple[str, ...]
    windows: tuple[dict[str, Any], ...]  # {"start": datetime, "duration_seconds": int}
    created_at: datetime
    cancelled_at: datetime | None


def to_info(opt: OptRecord) -> OptInfo:
    windows = tuple({"start": w.start, "duration_seconds": w.duration_seconds} for w in opt.windows)
    return OptInfo(
        opt_id=opt.opt_id,
        opt_type=opt.opt_type,
        opt_reason=opt.opt_reason,
        market_context=opt.market_context,
        event_id=opt.event_id,
        modification_number=opt.modification_number,
        resource_ids=opt.resource_ids,
        windows=windows,
        created_at=opt.created_at,
        cancelled_at=opt.cancelled_at,
    )


async def list_opts(uow: UnitOfWork, ven_id: str) -> list[OptInfo]:
    """NotFound if no such VEN."""
    async with uow:
        if await uow.vens.get(ven_id) is None:
            raise NotFound("VEN", ven_id)
        return [to_info(o) for o in await uow.opts.for_ven(ven_id)]


async def create_opt(uow: UnitOfWork, ven_id: str, new: NewOpt, now: datetime) -> OptInfo:
    """Store an opt. NotFound for an unknown VEN, or an event that does not target the VEN;
    Conflict if the optID is taken.

    Re-sending the same optID with the same content is accepted (a retried request); a live
    availability schedule re-sent under its optID with new windows is restated (the agent sends
    `avail-{device}` again whenever a car arrives or its departure changes).
    """
    async with uow:
        if await uow.vens.get(ven_id) is None:
            raise NotFound("VEN", ven_id)
        if new.event_id is not None:
            await _check_targeted(uow, ven_id, new.event_id)
        existing = await uow.opts.get(ven_id, new.opt_id)
        if existing is not None:
            if (
                existing.cancelled_at is None
                and existing.opt_type == new.opt_type
                and existing.event_id == new.event_id
            ):
                if new.event_id is None and new.windows:
                    existing = replace(existing, windows=new.windows, resource_ids=new.resource_ids)
                    await uow.opts.save(existing)
                    await uow.commit()
                return to_info(existing)
            raise Conflict(f"optID {new.opt_id} is already used")
        opt = OptRecord(
            ven_id=ven_id,
            opt_id=new.opt_id,
            opt_type=new.opt_type,
            opt_reason=new.opt_reason,
            created_at=now,
            market_context=new.market_context,
            event_id=new.event_id,
            modification_number=new.modification_number,
            resource_ids=tuple(new.resource_ids),
            windows=tuple(new.windows),
        )
        uow.opts.add(opt)
        await uow.commit()
        return to_info(opt)


async def _check_targeted(uow: UnitOfWork, ven_id: str, event_id: str) -> None:
    """An event-scoped opt is the VEN's answer to an event that targets it: NotFound (OpenADR
    452) otherwise, as oadrCreatedEvent answers for the same event (aggregator/event_responses.py)."""
    if await uow.events.get(event_id) is None:
        raise NotFound("event", event_id)
    if ven_id not in (await uow.events.targets([event_id])).get(event_id, []):
        raise NotFound("event", event_id)


async def cancel_opt(uow: UnitOfWork, ven_id: str, opt_id: str, now: datetime) -> OptInfo:
    """Mark the opt cancelled. NotFound if the VEN has no live opt with this ID."""
    async with uow:
        opt = await uow.opts.get(ven_id, opt_id)
        if opt is None or opt.cancelled_at is not None:
            raise NotFound("opt", opt_id)
        opt = replace(opt, cancelled_at=now)
        await uow.opts.save(opt)
        await uow.commit()
        return to_info(opt)
