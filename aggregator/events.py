"""DR events: create, modify, cancel; each change is queued as oadrDistributeEvent per VEN.

Every change tells the poll path (`notifier`) which VENs now have a distribute waiting, once
it is committed, and queues its OpenADR 3.1 notification in its transaction (a cancel is the
3.1 event's DELETE: aggregator/openadr3_notifications.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aggregator import outbox
from aggregator.errors import Conflict, DomainError, NotFound
from aggregator.event_rules import (
    DEFAULT_NEAR_WINDOW_SECONDS,
    EventSpec,
    EventStatus,
    IntervalSpec,
    Timing,
    event_status,
    overlaps,
    spec_timing,
    validate_spec,
)
from aggregator.ids import new_id
from aggregator.openadr3_notification_records import Operation
from aggregator.openadr3_notifications import record_change
from aggregator.openadr3_programs import ensure_program
from aggregator.openadr3_records import ObjectType
from aggregator.ports import PollNotifier
from aggregator.records import EventRecord, EventResponseRecord, OptRecord
from aggregator.uow import UnitOfWork

# Stores, in a use case's transaction, what belongs with the event it made or changed.
Attach = Callable[[UnitOfWork, EventRecord], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class EventPatch:
    """Fields to change; None leaves a field unchanged."""

    ven_ids: tuple[str, ...] | list[str] | None = None
    signal_name: str | None = None
    signal_type: str | None = None
    intervals: tuple[IntervalSpec, ...] | None = None
    market_context: str | None = None
    priority: int | None = None
    ramp_up_seconds: int | None = None
    response_required: str | None = None
    start_after_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class EventInfo:
    """An event as the edges show it: the REST API's EventOut, an oadrEvent in a distribute."""

    event_id: str
    modification_number: int
    status: EventStatus
    ven_ids: tuple[str, ...]
    signal_name: str
    signal_type: str
    intervals: tuple[IntervalSpec, ...]
    market_context: str
    priority: int
    ramp_up_seconds: int
    response_required: str
    created_at: datetime
    modified_at: datetime
    # ven_id -> "optIn"/"optOut": the effective answer to the current modification
    responses: dict[str, str] = field(default_factory=dict)
    start_after_seconds: int = 0


def event_timing(event: EventRecord) -> Timing:
    return Timing(event.dtstart, event.end, timedelta(seconds=event.ramp_up_seconds), event.cancelled)


def effective_responses(
    event: EventRecord, responses: Sequence[EventResponseRecord], opts: Sequence[OptRecord]
) -> dict[str, str]:
    """venID -> optIn/optOut for the event's current modification.

    An event-scoped EiOpt outranks any oadrCreatedEvent answer, even a later one: the opt is
    the VEN's deliberate statement about its resources, the created-event reply is automatic.
    """
    answers = {
        r.ven_id: r.opt_type
        for r in responses
        if r.event_id == event.event_id and r.modification_number == event.modification_number
    }
    for opt in sorted((o for o in opts if o.event_id == event.event_id), key=lambda o: o.created_at):
        answers[opt.ven_id] = opt.opt_type
    return answers


def to_info(
    event: EventRecord,
    ven_ids: Sequence[str],
    responses: dict[str, str],
    now: datetime,
    near_window_seconds: int = DEFAULT_NEAR_WINDOW_SECONDS,
) -> EventInfo:
    return EventInfo(
        event_id=event.event_id,
        modification_number=event.modification_number,
        status=event_status(event_timing(event), now, near_window_seconds),
        ven_ids=tuple(ven_ids),
        signal_name=event.signal_name,
        signal_type=event.signal_type,
        intervals=event.intervals,
        market_context=event.market_context,
        priority=event.priority,
        ramp_up_seconds=event.ramp_up_seconds,
        response_required=event.response_required,
        created_at=event.created_at,
        modified_at=event.modified_at,
        responses={v: responses[v] for v in sorted(responses) if v in ven_ids},
        start_after_seconds=event.start_after_seconds,
    )


async def load_infos(
    uow: UnitOfWork, events: Sequence[EventRecord], now: datetime, near: int
) -> list[EventInfo]:
    ids = [e.event_id for e in events]
    if not ids:
        return []
    targets = await uow.events.targets(ids)
    responses = await uow.events.responses(ids)
    opts = await uow.opts.live_for_events(ids)
    return [
        to_info(e, targets[e.event_id], effective_responses(e, responses, opts), now, near) for e in events
    ]


def _spec_fields(spec: EventSpec) -> dict[str, Any]:
    """What an event takes from its spec: signal, intervals, timing and options."""
    timing = spec_timing(spec)
    return {
        "market_context": spec.market_context or "",
        "signal_name": spec.signal_name,
        "signal_type": spec.signal_type,
        "intervals": tuple(spec.intervals),
        "dtstart": timing.start,
        "duration_seconds": int((timing.end - timing.start).total_seconds()),
        "priority": spec.priority,
        "ramp_up_seconds": spec.ramp_up_seconds,
        "start_after_seconds": spec.start_after_seconds,
        "response_required": spec.response_required,
    }


def _new_event(spec: EventSpec, now: datetime) -> EventRecord:
    return EventRecord(
        event_id=new_id(),
        modification_number=0,
        signal_id=new_id(),
        created_at=now,
        modified_at=now,
        **_spec_fields(spec),
    )


def _modified(event: EventRecord, spec: EventSpec, now: datetime) -> EventRecord:
    """The event changed to `spec`, as its next modification."""
    return dataclasses.replace(
        event, modification_number=event.modification_number + 1, modified_at=now, **_spec_fields(spec)
    )


async def _check_vens_and_overlap(uow: UnitOfWork, spec: EventSpec, event_id: str | None) -> None:
    known = await uow.vens.existing_ids(spec.ven_ids)
    for ven_id in spec.ven_ids:
        if ven_id not in known:
            raise NotFound("VEN", ven_id)
    timing = spec_timing(spec)
    for other, ven_id in await uow.events.live_for_vens(list(spec.ven_ids), spec.market_context or ""):
        if other.event_id != event_id and overlaps(timing, event_timing(other)):
            raise Conflict(
                f"event {other.event_id} already covers VEN {ven_id} in market context "
                f"{spec.market_context} at an overlapping time"
            )


async def create_event(
    uow: UnitOfWork,
    spec: EventSpec,
    now: datetime,
    notifier: PollNotifier,
    near_window_seconds: int = DEFAULT_NEAR_WINDOW_SECONDS,
    require_vens: bool = True,
    attach: Attach | None = None,
) -> EventInfo:
    """NotFound (unknown VEN), Conflict (overlap for one VEN in one market context), InvalidInput.
    `require_vens=False`: it may target no VEN (an OpenADR 3.1 event); `attach` stores what
    belongs with the event in the same transaction (the 3.1 face's part of it)."""
    spec = validate_spec(spec, now, require_vens)
    async with uow:
        await _check_vens_and_overlap(uow, spec, None)
        event = _new_event(spec, now)
        await ensure_program(uow, event.market_context, now)  # every event is one of a 3.1 program
        uow.events.add(event)
        await uow.events.set_targets(event.event_id, spec.ven_ids)
        await outbox.queue_distribute(uow, spec.ven_ids, now)
        if attach is not None:
            await attach(uow, event)
        record_change(uow, ObjectType.EVENT, Operation.CREATE, event.event_id, now)
        await uow.commit()
    notifier.mark_pending(spec.ven_ids)
    return to_info(event, spec.ven_ids, {}, now, near_window_seconds)


def _patched_spec(event: EventRecord, ven_ids: Sequence[str], patch: EventPatch) -> EventSpec:
    current = EventSpec(
        ven_ids=tuple(ven_ids),
        signal_name=event.signal_name,
        signal_type=event.signal_type,
        intervals=event.intervals,
        market_context=event.market_context,
        priority=event.priority,
        ramp_up_seconds=event.ramp_up_seconds,
        response_required=event.response_required,
        start_after_seconds=event.start_after_seconds,
    )
    changes = {
        f.name: getattr(patch, f.name)
        for f in dataclasses.fields(patch)
        if getattr(patch, f.name) is not None
    }
    return dataclasses.replace(current, **changes)


async def _get_changeable(uow: UnitOfWork, event_id: str, now: datetime) -> tuple[EventRecord, list[str]]:
    event = _changeable(await uow.events.get(event_id), event_id, now)
    return event, (await uow.events.targets([event_id]))[event_id]


async def modify_event(
    uow: UnitOfWork,
    event_id: str,
    patch: EventPatch,
    now: datetime,
    notifier: PollNotifier,
    near_window_seconds: int = DEFAULT_NEAR_WINDOW_SECONDS,
    require_vens: bool = True,
    attach: Attach | None = None,
) -> EventInfo:
    """modificationNumber + 1, re-distributed. NotFound, Conflict, InvalidInput."""
    async with uow:
        event, old_vens = await _get_changeable(uow, event_id, now)
        spec = validate_spec(_patched_spec(event, old_vens, patch), now, require_vens)
        await _check_vens_and_overlap(uow, spec, event_id)
        event = _modified(event, spec, now)
        await ensure_program(uow, event.market_context, now)
        await uow.events.save(event)
        await uow.events.set_targets(event_id, spec.ven_ids)
        # VENs dropped from the target list learn of it as a cancellation of the event for them
        dropped = [v for v in old_vens if v not in spec.ven_ids]
        await outbox.queue_distribute(uow, spec.ven_ids, now)
        await outbox.queue_distribute(uow, dropped, now, cancelled_event_ids=[event_id])
        notified = [*spec.ven_ids, *dropped]
        if attach is not None:
            await attach(uow, event)
        record_change(uow, ObjectType.EVENT, Operation.UPDATE, event_id, now)
        await uow.commit()
        infos = await load_infos(uow, [event], now, near_window_seconds)
    notifier.mark_pending(notified)
    return infos[0]


async def modify_events(
    uow: UnitOfWork,
    patches: Sequence[tuple[str, EventPatch]],
    now: datetime,
    notifier: PollNotifier,
    near_window_seconds: int = DEFAULT_NEAR_WINDOW_SECONDS,
) -> list[EventInfo | DomainError]:
    """`modify_event` for several events in one transaction and one commit (a planning run
    re-dispatching every home: one commit per event cost a run seconds on a busy SQLite).

    Each patch is checked and applied in order, as successive `modify_event` calls would be; one
    that cannot be applied comes back as its error (NotFound, Conflict, InvalidInput), in its
    place, and the others are still applied."""
    out: list[str | DomainError] = []  # the eventID when applied
    changed: dict[str, EventRecord] = {}  # as modified here: later patches see the new times
    notified: list[str] = []
    ids = [event_id for event_id, _ in patches]
    async with uow:
        events = {e.event_id: e for e in await uow.events.get_many(ids)}
        targets = await uow.events.targets(ids)
        ven_ids = sorted({v for vens in targets.values() for v in vens})
        known = await uow.vens.existing_ids(ven_ids)
        contexts = {e.market_context for e in events.values()}
        live = {c: await uow.events.live_for_vens(ven_ids, c) for c in contexts}
        for event_id, patch in patches:
            try:
                event = _changeable(events.get(event_id), event_id, now)
                old_vens = targets.get(event_id, [])
                spec = validate_spec(_patched_spec(event, old_vens, patch), now)
                if set(spec.ven_ids) - set(old_vens) or spec.market_context != event.market_context:
                    await _check_vens_and_overlap(uow, spec, event_id)  # new targets: as modify_event
                else:
                    _check_overlap(spec, event_id, known, live[event.market_context], changed)
            except DomainError as exc:
                out.append(exc)
                continue
            event = events[event_id] = changed[event_id] = _modified(event, spec, now)
            if event.market_context not in contexts:
                await ensure_program(uow, event.market_context, now)
            await uow.events.save(event)
            dropped = [v for v in old_vens if v not in spec.ven_ids]
            if dropped or list(spec.ven_ids) != list(old_vens):
                await uow.events.set_targets(event_id, spec.ven_ids)
            await outbox.queue_distribute(uow, spec.ven_ids, now)
            await outbox.queue_distribute(uow, dropped, now, cancelled_event_ids=[event_id])
            notified += [*spec.ven_ids, *dropped]
            record_change(uow, ObjectType.EVENT, Operation.UPDATE, event_id, now)
            out.append(event_id)
        await uow.commit()
        infos = {
            i.event_id: i for i in await load_infos(uow, list(changed.values()), now, near_window_seconds)
        }
    if notified:
        notifier.mark_pending(sorted(set(notified)))
    return [infos[x] if isinstance(x, str) else x for x in out]


def _changeable(event: EventRecord | None, event_id: str, now: datetime) -> EventRecord:
    if event is None:
        raise NotFound("event", event_id)
    if event.cancelled:
        raise Conflict(f"event {event_id} is cancelled")
    if event_status(event_timing(event), now) == EventStatus.COMPLETED:
        raise Conflict(f"event {event_id} is completed")
    return event


def _check_overlap(
    spec: EventSpec,
    event_id: str,
    known: set[str],
    live: Sequence[tuple[EventRecord, str]],
    changed: Mapping[str, EventRecord],
) -> None:
    """`_check_vens_and_overlap` on events already loaded, with the events modified before in the
    same transaction (`changed`) seen with their new times."""
    for ven_id in spec.ven_ids:
        if ven_id not in known:
            raise NotFound("VEN", ven_id)
    timing = spec_timing(spec)
    for loaded, ven_id in live:
        other = changed.get(loaded.event_id, loaded)
        mine = ven_id in spec.ven_ids and other.event_id != event_id and not other.cancelled
        if mine and overlaps(timing, event_timing(other)):
            raise Conflict(
                f"event {other.event_id} already covers VEN {ven_id} in market context "
                f"{spec.market_context} at an overlapping time"
            )


async def cancel_event(
    uow: UnitOfWork,
    event_id: str,
    now: datetime,
    notifier: PollNotifier,
    near_window_seconds: int = DEFAULT_NEAR_WINDOW_SECONDS,
) -> EventInfo:
    """Cancel (modificationNumber + 1); the next distribute to each VEN carries it as cancelled.

    NotFound; Conflict if already cancelled or completed.
    """
    async with uow:
        event, ven_ids = await _get_changeable(uow, event_id, now)
        event = dataclasses.replace(
            event, cancelled=True, modification_number=event.modification_number + 1, modified_at=now
        )
        await uow.events.save(event)
        await outbox.queue_distribute(uow, ven_ids, now, cancelled_event_ids=[event_id])
        record_change(uow, ObjectType.EVENT, Operation.DELETE, event_id, now)
        await uow.commit()
        infos = await load_infos(uow, [event], now, near_window_seconds)
    notifier.mark_pending(ven_ids)
    return infos[0]


async def list_events(
    uow: UnitOfWork, now: datetime, near_window_seconds: int = DEFAULT_NEAR_WINDOW_SECONDS
) -> list[EventInfo]:
    async with uow:
        return await load_infos(uow, await uow.events.all(), now, near_window_seconds)


async def get_event(
    uow: UnitOfWork, event_id: str, now: datetime, near_window_seconds: int = DEFAULT_NEAR_WINDOW_SECONDS
) -> EventInfo:
    """NotFound if there is no such event."""
    async with uow:
        event = await uow.events.get(event_id)
        if event is None:
            raise NotFound("event", event_id)
        return (await load_infos(uow, [event], now, near_window_seconds))[0]
