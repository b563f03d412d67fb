"""OpenADR 3.1 events: the DR events of aggregator/events.py seen and made as 3.1 events
(the mapping is aggregator/openadr3.py's table). Made or changed over 3.1, an event goes through
`create_event` / `modify_event`, so its 2.0b VENs receive it as any other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aggregator.errors import Conflict, InvalidInput, NotFound
from aggregator.event_rules import EventSpec, EventStatus, event_status
from aggregator.events import EventPatch, cancel_event, create_event, event_timing, modify_event
from aggregator.openadr3 import event_signal, iso_duration, payload_type, units_of
from aggregator.openadr3_common import (
    Caller,
    Page,
    iso,
    matches_targets,
    metadata,
    own_ven,
    targets_of,
    ven_target_names,
    visible_to,
)
from aggregator.openadr3_records import Oa3Object, ObjectType, Scope
from aggregator.ports import PollNotifier
from aggregator.records import EventRecord
from aggregator.uow import UnitOfWork

_META_FIELDS = ("eventName", "targets", "reportDescriptors", "duration")


def event_json(
    event: EventRecord, program_id: str, ven_names: Sequence[str], meta: Oa3Object | None
) -> dict[str, Any]:
    """An event as a 3.1 event object."""
    out = metadata(event.event_id, event.created_at, event.modified_at, "EVENT")
    out["programID"] = program_id
    kept = meta.body if meta is not None else {"targets": list(ven_names)}
    out.update({k: v for k, v in kept.items() if k in _META_FIELDS and v is not None})
    if event.priority > 0:
        out["priority"] = event.priority - 1
    kind = payload_type(event.signal_name, event.signal_type)
    descriptor: dict[str, Any] = {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": kind}
    units = units_of(event.signal_name, event.signal_type)
    if units is not None:
        descriptor["units"] = units
        if units.startswith("EUR"):
            descriptor["currency"] = "EUR"
    out["payloadDescriptors"] = [descriptor]
    first = event.intervals[0]
    out["intervalPeriod"] = {"start": iso(first.start), "duration": iso_duration(first.duration_seconds)}
    out["intervals"] = [
        {
            "id": k,
            "intervalPeriod": {"start": iso(i.start), "duration": iso_duration(i.duration_seconds)},
            "payloads": [{"type": kind, "values": [i.value]}],
        }
        for k, i in enumerate(event.intervals)
    ]
    return out


async def _visible(
    uow: UnitOfWork, caller: Caller, events: list[EventRecord]
) -> list[tuple[EventRecord, Oa3Object, list[str], Oa3Object | None]]:
    """(event, its program, its VENs' names, its 3.1 part) of the live events the caller may see."""
    programs = {p.market_context: p for p in await uow.oa3.find(ObjectType.PROGRAM)}
    events = [e for e in events if not e.cancelled and e.market_context in programs]
    ids = [e.event_id for e in events]
    targets = await uow.events.targets(ids) if ids else {}
    metas = await uow.oa3.get_many(ObjectType.EVENT, ids)
    names = {v.ven_id: v.ven_name for v in await uow.vens.all()}
    mine = await own_ven(uow, caller) if caller.is_ven else None
    reader = await ven_target_names(uow, mine) if caller.is_ven else None
    out = []
    for event in events:
        meta = metas.get(event.event_id)
        ven_ids = targets.get(event.event_id, [])
        if reader is not None:
            targeted = mine is not None and mine.ven_id in ven_ids
            if not targeted and (meta is None or not visible_to(targets_of(meta.body), reader)):
                continue
        out.append((event, programs[event.market_context], [names.get(v, v) for v in ven_ids], meta))
    return out


async def list_events(
    uow: UnitOfWork,
    caller: Caller,
    program_id: str | None,
    targets: Sequence[str] | None,
    active: bool | None,
    page: Page,
    now: datetime,
) -> list[dict[str, Any]]:
    caller.require(Scope.READ_TARGETS)
    async with uow:
        shown = []
        for event, program, names, meta in await _visible(uow, caller, await uow.events.all()):
            if program_id is not None and program.object_id != program_id:
                continue
            shown_targets = targets_of(meta.body) if meta is not None else names
            if not matches_targets(shown_targets, targets):
                continue
            if (
                active is not None
                and (event_status(event_timing(event), now) == EventStatus.ACTIVE) != active
            ):
                continue
            shown.append(event_json(event, program.object_id, names, meta))
    return page.of(shown)


async def _one(uow: UnitOfWork, caller: Caller, event_id: str) -> dict[str, Any]:
    event = await uow.events.get(event_id)
    found = await _visible(uow, caller, [event] if event is not None else [])
    if not found:
        raise NotFound("event", event_id)
    event, program, names, meta = found[0]
    return event_json(event, program.object_id, names, meta)


async def get_event(uow: UnitOfWork, caller: Caller, event_id: str) -> dict[str, Any]:
    caller.require(Scope.READ_TARGETS)
    async with uow:
        return await _one(uow, caller, event_id)


async def _program_of(uow: UnitOfWork, program_id: str) -> Oa3Object:
    """The event's program (a programID that names none is a bad request, not a missing event)."""
    program = await uow.oa3.get(ObjectType.PROGRAM, program_id)
    if program is None:
        raise InvalidInput("programID", f"no program {program_id!r}")
    return program


async def _targeted_vens(uow: UnitOfWork, targets: list[str], program: Oa3Object) -> list[str]:
    """The venIDs the targets name (none: the program's targets; none either: every VEN)."""
    wanted = set(targets or targets_of(program.body))
    vens = await uow.vens.all()
    if not wanted:
        return [v.ven_id for v in vens]
    metas = await uow.oa3.get_many(ObjectType.VEN, [v.ven_id for v in vens])
    return [
        v.ven_id
        for v in vens
        if v.ven_name in wanted or wanted & set(targets_of(metas[v.ven_id].body) if v.ven_id in metas else [])
    ]


def _meta(
    event_id: str, program_id: str, body: dict[str, Any], now: datetime, created: datetime
) -> Oa3Object:
    kept = {k: body[k] for k in _META_FIELDS if body.get(k) is not None}
    kept.setdefault("targets", [])
    return Oa3Object(ObjectType.EVENT, event_id, created, now, kept, program_id=program_id, event_id=event_id)


async def create_event_3(
    uow: UnitOfWork,
    caller: Caller,
    body: dict[str, Any],
    now: datetime,
    notifier: PollNotifier,
    near_window_seconds: int,
) -> dict[str, Any]:
    """`body`: an eventRequest. Reaches the targeted 2.0b VENs as oadrDistributeEvent."""
    caller.require(Scope.WRITE_EVENTS)
    signal, intervals = event_signal(body, now)
    async with uow:
        program = await _program_of(uow, body["programID"])
        ven_ids = await _targeted_vens(uow, body.get("targets") or [], program)
    spec = EventSpec(
        ven_ids=ven_ids,
        signal_name=signal.name,
        signal_type=signal.type,
        intervals=intervals,
        market_context=program.market_context,
        priority=body["priority"] + 1 if body.get("priority") is not None else 0,
    )

    async def attach(u: UnitOfWork, event: EventRecord) -> None:
        u.oa3.add(_meta(event.event_id, program.object_id, body, now, now))

    info = await create_event(
        uow, spec, now, notifier, near_window_seconds, require_vens=False, attach=attach
    )
    async with uow:
        return await _one(uow, caller, info.event_id)


async def update_event_3(
    uow: UnitOfWork,
    caller: Caller,
    event_id: str,
    body: dict[str, Any],
    now: datetime,
    notifier: PollNotifier,
    near_window_seconds: int,
) -> dict[str, Any]:
    """Replace the event (its next modification, re-distributed)."""
    caller.require(Scope.WRITE_EVENTS)
    signal, intervals = event_signal(body, now)
    async with uow:
        if await uow.events.get(event_id) is None:
            raise NotFound("event", event_id)
        program = await _program_of(uow, body["programID"])
        ven_ids = await _targeted_vens(uow, body.get("targets") or [], program)
        old = await uow.oa3.get(ObjectType.EVENT, event_id)
    created = old.created_at if old is not None else now
    patch = EventPatch(
        ven_ids=ven_ids,
        signal_name=signal.name,
        signal_type=signal.type,
        intervals=intervals,
        market_context=program.market_context,
        priority=body["priority"] + 1 if body.get("priority") is not None else 0,
    )

    async def attach(u: UnitOfWork, event: EventRecord) -> None:
        meta = _meta(event.event_id, program.object_id, body, now, created)
        if await u.oa3.get(ObjectType.EVENT, event_id) is None:
            u.oa3.add(meta)
        else:
            await u.oa3.save(meta)

    await modify_event(
        uow, event_id, patch, now, notifier, near_window_seconds, require_vens=False, attach=attach
    )
    async with uow:
        return await _one(uow, caller, event_id)


async def delete_event_3(
    uow: UnitOfWork, caller: Caller, event_id: str, now: datetime, notifier: PollNotifier, near: int
) -> dict[str, Any]:
    """Cancel the event (2.0b VENs are told); it is gone from 3.1. Conflict once it is over."""
    caller.require(Scope.WRITE_EVENTS)
    async with uow:
        shown = await _one(uow, caller, event_id)
        event = await uow.events.get(event_id)
    if event is not None and event_status(event_timing(event), now) == EventStatus.COMPLETED:
        raise Conflict(f"event {event_id} is over; it stays as it was")
    await cancel_event(uow, event_id, now, notifier, near)
    return shown
