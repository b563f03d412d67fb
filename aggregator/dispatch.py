"""Each home's schedule as one LOAD_DISPATCH event, modified (not replaced) on every re-plan.

`EventDispatcher` is the closed loop's Dispatcher (aggregator/ports.py) over the event use cases
(aggregator/events.py); the OpenADR outbox delivers the events on the VENs' next polls.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from aggregator.errors import Conflict, DomainError, InvalidInput, NotFound
from aggregator.event_rules import EventSpec, IntervalSpec
from aggregator.events import EventInfo, EventPatch, cancel_event, create_event, modify_events
from aggregator.notification_sources import schedules_changed
from aggregator.ports import Dispatched, PollNotifier, Schedule
from aggregator.records import DispatchRecord, EventRecord
from aggregator.uow import UnitOfWork

log = logging.getLogger(__name__)

MARKET_CONTEXT = "http://flexvpp.org/market/portfolio"

Intervals = tuple[IntervalSpec, ...]
_Modify = tuple[Schedule, Intervals, str]  # the schedule, its intervals from now, its event
_Create = tuple[Schedule, Intervals]
_SENT = ("created", "modified")


def _intervals(schedule: Schedule, now: datetime) -> Intervals:
    seconds = int(schedule.resolution.total_seconds())
    out = []
    for t, value in enumerate(schedule.setpoint_kw):
        start = schedule.start + t * schedule.resolution
        if start + schedule.resolution <= now:
            continue  # already over: an event may not restate the past
        out.append(IntervalSpec(start, seconds, value))
    return tuple(out)


def _same_schedule(current: DispatchRecord, intervals: Intervals) -> bool:
    """Whether the schedule dispatched before holds exactly these intervals from the first on."""
    start = current.start
    step = timedelta(minutes=current.resolution_minutes)
    if not intervals or any(i.duration_seconds != step.total_seconds() for i in intervals):
        return False
    first = (intervals[0].start - start) / step
    if first != int(first) or first < 0 or int(first) + len(intervals) != len(current.setpoint_kw):
        return False
    old = current.setpoint_kw[int(first) :]
    return all(
        i.start == start + (int(first) + k) * step and abs(float(v) - i.value) < 1e-6
        for k, (i, v) in enumerate(zip(intervals, old, strict=True))
    )


def _dispatched(schedule: Schedule, info: EventInfo, action: str) -> Dispatched:
    return Dispatched(schedule.ven_id, info.event_id, info.modification_number, action)


def _failed(schedule: Schedule, exc: Exception) -> Dispatched:
    # One home's failure (a locked SQLite, a conflicting event) must not stop the others; the
    # run records it and the loop dispatches again soon.
    log.warning("dispatch to %s failed: %s", schedule.ven_id, exc)
    return Dispatched(schedule.ven_id, "", 0, "failed", str(exc)[:300])


def _live(event: EventRecord, now: datetime) -> bool:
    """Not cancelled and not over."""
    return not event.cancelled and event.end > now


def _record(schedule: Schedule, run_id: str, event_id: str, now: datetime) -> DispatchRecord:
    return DispatchRecord(
        ven_id=schedule.ven_id,
        event_id=event_id,
        run_id=run_id,
        start=schedule.start,
        resolution_minutes=int(schedule.resolution.total_seconds() // 60),
        setpoint_kw=tuple(schedule.setpoint_kw),
        updated_at=now,
    )


def dispatch_spec(ven_id: str, intervals: Intervals) -> EventSpec:
    """The LOAD_DISPATCH event that carries one home's schedule."""
    return EventSpec(
        ven_ids=(ven_id,),
        signal_name="LOAD_DISPATCH",
        signal_type="setpoint",
        intervals=intervals,
        market_context=MARKET_CONTEXT,
        priority=1,
        ramp_up_seconds=0,
        response_required="always",
        start_after_seconds=0,
    )


class EventDispatcher:
    """The Dispatcher port over the event use cases; each step is a transaction of `uow`.

    `busy`: the storage's errors that mean "try again soon" (the VTN passes
    vtn.db.errors.DatabaseBusy, a locked SQLite): a home that meets one fails alone, its
    result says so, and the loop dispatches again."""

    def __init__(
        self,
        uow: UnitOfWork,
        notifier: PollNotifier,
        near_window_seconds: int,
        busy: tuple[type[Exception], ...] = (),
    ) -> None:
        self._uow = uow
        self._notifier = notifier
        self._near = near_window_seconds
        self._busy = busy
        # What one home's new event may meet: its error is that home's result.
        self._create_errors: tuple[type[Exception], ...] = (Conflict, InvalidInput, NotFound, *busy)

    async def dispatch_all(
        self, schedules: Sequence[Schedule], run_id: str, now: datetime
    ) -> list[Dispatched]:
        """A run's schedules: a home that already has its schedule is left alone, the events of
        the others are modified in one transaction (`modify_events`), a home without a live
        event gets a new one, and what was dispatched is recorded in one more transaction.

        One commit per home was the cost of a run on a busy SQLite (seconds for 20 homes, i.e.
        simulated hours in the demo). One home's failure does not stop the others."""
        done, modify, create = await self._sort(schedules, now)
        for schedule, intervals, answer in await self._modify(modify, now):
            if isinstance(answer, EventInfo):
                done[schedule.ven_id] = _dispatched(schedule, answer, "modified")
            elif isinstance(answer, Conflict | NotFound):  # cancelled or over: a fresh event
                create.append((schedule, intervals))
            else:
                done[schedule.ven_id] = _failed(schedule, answer)
        for schedule, intervals in create:
            try:
                info = await create_event(
                    self._uow, dispatch_spec(schedule.ven_id, intervals), now, self._notifier, self._near
                )
            except self._create_errors as exc:
                done[schedule.ven_id] = _failed(schedule, exc)
                continue
            done[schedule.ven_id] = _dispatched(schedule, info, "created")
        sent = [(s, done[s.ven_id]) for s in schedules if done[s.ven_id].action in _SENT]
        try:
            await self._remember(sent, run_id, now)
        except self._busy as exc:
            log.warning("could not record the dispatch of run %s: %s", run_id, exc)
        return [done[s.ven_id] for s in schedules]

    async def _sort(
        self, schedules: Sequence[Schedule], now: datetime
    ) -> tuple[dict[str, Dispatched], list[_Modify], list[_Create]]:
        """(results already known, events to modify, homes without a dispatch event)."""
        async with self._uow as uow:
            rows = await uow.dispatches.of_vens([s.ven_id for s in schedules])
            events = {e.event_id: e for e in await uow.events.get_many([r.event_id for r in rows.values()])}
        done: dict[str, Dispatched] = {}
        modify: list[_Modify] = []
        create: list[_Create] = []
        for schedule in schedules:
            intervals = _intervals(schedule, now)
            current = rows.get(schedule.ven_id)
            event = events.get(current.event_id) if current is not None else None
            if not intervals:
                done[schedule.ven_id] = Dispatched(
                    schedule.ven_id, "", 0, "failed", "the schedule is already over"
                )
            elif current is None:
                create.append((schedule, intervals))
            elif event is not None and _live(event, now) and _same_schedule(current, intervals):
                # Exactly this schedule already: a modification would change nothing and cost a
                # distribute and an answer per VEN.
                done[schedule.ven_id] = Dispatched(
                    schedule.ven_id, event.event_id, event.modification_number, "unchanged"
                )
            else:
                modify.append((schedule, intervals, current.event_id))
        return done, modify, create

    async def _modify(
        self, modify: list[_Modify], now: datetime
    ) -> list[tuple[Schedule, Intervals, EventInfo | Exception]]:
        if not modify:
            return []
        patches = [(event_id, EventPatch(intervals=iv)) for _, iv, event_id in modify]
        answers: list[EventInfo | DomainError] | list[Exception]
        try:
            answers = await modify_events(self._uow, patches, now, self._notifier, self._near)
        except self._busy as exc:  # e.g. a locked SQLite: the run records it, the loop retries
            answers = [exc] * len(modify)
        return [(s, iv, answer) for (s, iv, _), answer in zip(modify, answers, strict=True)]

    async def _remember(self, sent: list[tuple[Schedule, Dispatched]], run_id: str, now: datetime) -> None:
        """Record what was dispatched, and tell the households whose schedule changed (with it)."""
        if not sent:
            return
        async with self._uow as uow:
            await uow.dispatches.save([_record(s, run_id, d.event_id, now) for s, d in sent])
            await schedules_changed(uow, sent, run_id, now)
            await uow.commit()

    async def release(self, ven_id: str, now: datetime) -> None:
        """Forget the home's dispatch event and cancel it (unless it is over or cancelled already)."""
        async with self._uow as uow:
            removed = await uow.dispatches.remove(ven_id)
            if removed is None:
                return
            await uow.commit()
        with contextlib.suppress(Conflict, NotFound):
            await cancel_event(self._uow, removed.event_id, now, self._notifier, self._near)
