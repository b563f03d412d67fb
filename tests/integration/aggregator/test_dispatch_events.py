"""A run's schedules as LOAD_DISPATCH events (aggregator/dispatch.py): created, modified, or
left alone when the home already has exactly that schedule.

The decisions are unit-tested in tests/unit/aggregator/test_dispatch.py; this runs them on the
database's unit of work, which the dispatcher enters once per step (read, modify, create, record)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aggregator.dispatch import EventDispatcher
from aggregator.events import cancel_event, get_event
from aggregator.ports import Dispatched, NullNotifier, Schedule
from aggregator.vens import NewVen, provision_ven
from vtn.db.engine import create_engine
from vtn.db.uow import UnitOfWork

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
SLOT = timedelta(minutes=15)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def _one(dispatcher: EventDispatcher, schedule: Schedule, run_id: str, now: datetime) -> Dispatched:
    (result,) = await dispatcher.dispatch_all([schedule], run_id, now)
    return result


def _schedule(ven_id: str, values: list[float], start: datetime = NOW) -> Schedule:
    return Schedule(ven_id, "home-1", start, SLOT, tuple(values))


async def test_an_unchanged_schedule_is_not_sent_again(sessions: async_sessionmaker[AsyncSession]) -> None:
    ven = await provision_ven(UnitOfWork(sessions), NewVen("ven-home-1", "home-1"), datetime.now(UTC))
    dispatcher = EventDispatcher(UnitOfWork(sessions), NullNotifier(), 3600)
    first = await _one(dispatcher, _schedule(ven.ven_id, [0.0, 5.0, 5.0, 0.0]), "run-1", NOW)
    assert first.action == "created" and first.modification_number == 0

    # A later run with the same values for the slots still to come (its own start is later).
    later = NOW + SLOT + timedelta(minutes=5)
    same = await _one(dispatcher, _schedule(ven.ven_id, [5.0, 5.0, 0.0], NOW + SLOT), "run-2", later)
    assert (same.action, same.event_id, same.modification_number) == ("unchanged", first.event_id, 0)
    event = await get_event(UnitOfWork(sessions), first.event_id, later)
    assert event.modification_number == 0

    # One value differs, or the schedule is longer: the event is modified.
    changed = await _one(dispatcher, _schedule(ven.ven_id, [5.0, 4.0, 0.0], NOW + SLOT), "run-3", later)
    assert (changed.action, changed.event_id, changed.modification_number) == ("modified", first.event_id, 1)
    longer = await _one(dispatcher, _schedule(ven.ven_id, [5.0, 4.0, 0.0, 1.0], NOW + SLOT), "run-4", later)
    assert (longer.action, longer.modification_number) == ("modified", 2)

    # An event cancelled behind the dispatcher's back is not taken for the home's schedule.
    await cancel_event(UnitOfWork(sessions), first.event_id, later, NullNotifier())
    again = await _one(dispatcher, _schedule(ven.ven_id, [5.0, 4.0, 0.0, 1.0], NOW + SLOT), "run-5", later)
    assert again.action == "created" and again.event_id != first.event_id


async def test_a_run_dispatches_every_home_in_one_go(sessions: async_sessionmaker[AsyncSession]) -> None:
    new = [NewVen(f"ven-h{i}", f"h{i}") for i in range(4)]
    vens = [(await provision_ven(UnitOfWork(sessions), n, datetime.now(UTC))).ven_id for n in new]
    dispatcher = EventDispatcher(UnitOfWork(sessions), NullNotifier(), 3600)
    first = await dispatcher.dispatch_all([_schedule(v, [1.0, 2.0]) for v in vens[:3]], "run-1", NOW)
    assert [d.action for d in first] == ["created"] * 3
    await cancel_event(UnitOfWork(sessions), first[2].event_id, NOW, NullNotifier())  # e.g. by an operator

    second = await dispatcher.dispatch_all(
        [
            _schedule(vens[0], [1.0, 2.0]),  # the same: left alone
            _schedule(vens[1], [1.0, 3.0]),  # changed: its event is modified
            _schedule(vens[2], [1.0, 2.0]),  # its event was cancelled: a new one
            _schedule(vens[3], [0.5, 0.5]),  # a home steered for the first time
        ],
        "run-2",
        NOW,
    )
    assert [d.action for d in second] == ["unchanged", "modified", "created", "created"]
    assert second[1].event_id == first[1].event_id and second[1].modification_number == 1
    assert second[2].event_id != first[2].event_id
    info = await get_event(UnitOfWork(sessions), second[1].event_id, NOW)
    assert [i.value for i in info.intervals] == [1.0, 3.0] and info.ven_ids == (vens[1],)
    # Each home's schedule is recorded: a third run with the same schedules changes nothing.
    third = await dispatcher.dispatch_all(
        [_schedule(vens[1], [1.0, 3.0]), _schedule(vens[2], [1.0, 2.0]), _schedule(vens[3], [0.5, 0.5])],
        "run-3",
        NOW,
    )
    assert [d.action for d in third] == ["unchanged"] * 3
