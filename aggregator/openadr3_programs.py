"""OpenADR 3.1 programs: each is one 2.0b market context (aggregator/openadr3.py).

A program made over 3.1 gets a market context of its own: its programName when that is an
absolute URI (what 2.0b VENs are configured with), else `urn:flexvpp:program:<programID>`; a
rename keeps it. An event made over REST or by the planner in a market context that no program
has yet makes that program (`ensure_program`, named by the context), so every event is a 3.1
event of its program.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from aggregator.errors import Conflict, NotFound
from aggregator.event_rules import EventStatus, Timing, event_status
from aggregator.ids import new_id
from aggregator.openadr3_common import (
    Caller,
    Page,
    as_json,
    matches_targets,
    reader_names,
    targets_of,
    visible_to,
)
from aggregator.openadr3_notification_records import Operation, RenderedObject
from aggregator.openadr3_notifications import record_change
from aggregator.openadr3_records import Oa3Object, ObjectType, Scope
from aggregator.uow import UnitOfWork

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


def name_for_context(market_context: str) -> str:
    """A programName (at most 128 characters) for a market context no program has yet."""
    if len(market_context) <= 128:
        return market_context
    digest = hashlib.sha256(market_context.encode()).hexdigest()[:16]
    return market_context[:111] + "#" + digest


def _context_for(program_name: str, program_id: str) -> str:
    if len(program_name) <= 256 and _URI.match(program_name):
        return program_name
    return f"urn:flexvpp:program:{program_id}"


async def ensure_program(uow: UnitOfWork, market_context: str, now: datetime) -> Oa3Object:
    """The program of a market context, made (in the caller's unit of work) if there is none."""
    found = await uow.oa3.find(ObjectType.PROGRAM, market_context=market_context)
    if found:
        return found[0]
    name = name_for_context(market_context)
    program_id = new_id()
    if await uow.oa3.find(ObjectType.PROGRAM, unique_key=name):
        name = name[:119] + "#" + program_id[:8]
    program = Oa3Object(
        ObjectType.PROGRAM,
        program_id,
        now,
        now,
        {"programName": name},
        name=name,
        unique_key=name,
        market_context=market_context,
    )
    uow.oa3.add(program)
    record_change(uow, ObjectType.PROGRAM, Operation.CREATE, program_id, now)
    return program


async def get_program_record(uow: UnitOfWork, program_id: str) -> Oa3Object:
    program = await uow.oa3.get(ObjectType.PROGRAM, program_id)
    if program is None:
        raise NotFound("program", program_id)
    return program


async def list_programs(
    uow: UnitOfWork, caller: Caller, targets: Sequence[str] | None, page: Page
) -> list[dict[str, Any]]:
    caller.require(Scope.READ_TARGETS)
    async with uow:
        names = await reader_names(uow, caller)
        programs = [
            p
            for p in await uow.oa3.find(ObjectType.PROGRAM)
            if visible_to(targets_of(p.body), names) and matches_targets(targets_of(p.body), targets)
        ]
    return [as_json(p) for p in page.of(programs)]


async def get_program(uow: UnitOfWork, caller: Caller, program_id: str) -> dict[str, Any]:
    caller.require(Scope.READ_TARGETS)
    async with uow:
        program = await get_program_record(uow, program_id)
        if not visible_to(targets_of(program.body), await reader_names(uow, caller)):
            raise NotFound("program", program_id)
    return as_json(program)


async def _check_name_free(uow: UnitOfWork, name: str, program_id: str | None) -> None:
    for other in await uow.oa3.find(ObjectType.PROGRAM, unique_key=name):
        if other.object_id != program_id:
            raise Conflict(f"a program named {name!r} exists already ({other.object_id})")


async def create_program(
    uow: UnitOfWork, caller: Caller, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """`body`: a programRequest as the edge validated it. Conflict: the name is taken."""
    caller.require(Scope.WRITE_PROGRAMS)
    name = body["programName"]
    program_id = new_id()
    context = _context_for(name, program_id)
    program = Oa3Object(
        ObjectType.PROGRAM, program_id, now, now, body, name=name, unique_key=name, market_context=context
    )
    async with uow:
        await _check_name_free(uow, name, None)
        if await uow.oa3.find(ObjectType.PROGRAM, market_context=context):
            raise Conflict(f"a program has the market context {context} already")
        uow.oa3.add(program)
        record_change(uow, ObjectType.PROGRAM, Operation.CREATE, program_id, now)
        await uow.commit()
    return as_json(program)


async def update_program(
    uow: UnitOfWork, caller: Caller, program_id: str, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Replace the program's fields; its market context stays (2.0b VENs know it by it)."""
    caller.require(Scope.WRITE_PROGRAMS)
    async with uow:
        program = await get_program_record(uow, program_id)
        name = body["programName"]
        await _check_name_free(uow, name, program_id)
        program = Oa3Object(
            ObjectType.PROGRAM,
            program_id,
            program.created_at,
            now,
            body,
            name=name,
            unique_key=name,
            market_context=program.market_context,
        )
        await uow.oa3.save(program)
        record_change(uow, ObjectType.PROGRAM, Operation.UPDATE, program_id, now)
        await uow.commit()
    return as_json(program)


async def delete_program(uow: UnitOfWork, caller: Caller, program_id: str, now: datetime) -> dict[str, Any]:
    """Conflict while an event of the program is neither cancelled nor over."""
    caller.require(Scope.WRITE_PROGRAMS)
    async with uow:
        program = await get_program_record(uow, program_id)
        for event in await uow.events.all():
            timing = Timing(
                event.dtstart, event.end, timedelta(seconds=event.ramp_up_seconds), event.cancelled
            )
            live = event_status(timing, now) not in (EventStatus.COMPLETED, EventStatus.CANCELLED)
            if event.market_context == program.market_context and live:
                raise Conflict(f"event {event.event_id} of the program is still live; delete it first")
        await uow.oa3.remove(ObjectType.PROGRAM, program_id)
        gone = RenderedObject(as_json(program), program_id, all_vens=not targets_of(program.body))
        record_change(uow, ObjectType.PROGRAM, Operation.DELETE, program_id, now, deleted=gone)
        await uow.commit()
    return as_json(program)
