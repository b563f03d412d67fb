"""A run's schedules as LOAD_DISPATCH events (aggregator/dispatch.py) on in-memory ports: created,
modified, left alone when the home already has exactly that schedule, cancelled on release; one
home's failure is its result, not the run's.

How the events reach the VENs is tested at the edges (tests/integration/aggregator/
test_closed_loop_e2e.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeNotifier, FakeUnitOfWork

from aggregator.dispatch import MARKET_CONTEXT, EventDispatcher
from aggregator.event_rules import EventSpec, IntervalSpec
from aggregator.events import cancel_event, create_event
from aggregator.ports import Schedule
from aggregator.records import EventInterval, VenRecord

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
SLOT = timedelta(minutes=15)
VENS = [VenRecord(f"ven-{i}", f"home {i}", f"site-{i}", T0) for i in range(4)]
NEAR_S = 3600


class Busy(Exception):
    """A storage error that means "try again soon" (the VTN's is a locked SQLite)."""


class BusyUnitOfWork(FakeUnitOfWork):
    """The commits numbered in `busy_at` (counted from its creation, from 1) fail with Busy."""

    busy_at: frozenset[int] = frozenset()
    commits = 0

    async def commit(self) -> None:
        self.commits += 1
        if self.commits in self.busy_at:
            raise Busy("database is locked")
        await super().commit()


def schedule(ven_id: str, values: list[float], start: datetime = T0) -> Schedule:
    return Schedule(ven_id, f"site-{ven_id}", start, SLOT, tuple(values))


def dispatcher(uow: FakeUnitOfWork, notifier: FakeNotifier | None = None) -> EventDispatcher:
    return EventDispatcher(uow, notifier or FakeNotifier(), NEAR_S, busy=(Busy,))


async def test_a_schedule_for_a_home_without_an_event_creates_one_and_is_recorded() -> None:
    uow, notifier = FakeUnitOfWork(vens=VENS), FakeNotifier()
    (result,) = await dispatcher(uow, notifier).dispatch_all([schedule("ven-0", [0.0, 5.0])], "run-1", T0)

    assert (result.ven_id, result.action, result.modification_number) == ("ven-0", "created", 0)
    event = uow.stored.events[result.event_id]
    assert (event.signal_name, event.signal_type, event.market_context) == (
        "LOAD_DISPATCH",
        "setpoint",
        MARKET_CONTEXT,
    )
    assert event.intervals == (EventInterval(T0, 900, 0.0), EventInterval(T0 + SLOT, 900, 5.0))
    assert uow.stored.event_targets[result.event_id] == ("ven-0",)
    record = uow.stored.dispatches["ven-0"]
    assert (record.event_id, record.run_id, record.start, record.setpoint_kw) == (
        result.event_id,
        "run-1",
        T0,
        (0.0, 5.0),
    )
    assert notifier.pending == ["ven-0"]


async def test_an_unchanged_schedule_is_left_and_a_changed_one_modifies_the_event() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    first = (await dispatcher(uow).dispatch_all([schedule("ven-0", [0.0, 5.0, 5.0, 0.0])], "run-1", T0))[0]

    # A later run with the same values for the slots still to come (its own start is later).
    later, notifier = T0 + SLOT + timedelta(minutes=5), FakeNotifier()
    same = await dispatcher(uow, notifier).dispatch_all(
        [schedule("ven-0", [5.0, 5.0, 0.0], T0 + SLOT)], "run-2", later
    )
    assert [(d.action, d.event_id, d.modification_number) for d in same] == [("unchanged", first.event_id, 0)]
    assert uow.stored.events[first.event_id].modification_number == 0 and notifier.pending == []
    assert uow.stored.dispatches["ven-0"].run_id == "run-1"  # nothing sent, nothing recorded

    # One value differs, or the schedule is longer: the event is modified.
    changed = await dispatcher(uow, notifier).dispatch_all(
        [schedule("ven-0", [5.0, 4.0, 0.0], T0 + SLOT)], "run-3", later
    )
    assert [(d.action, d.event_id, d.modification_number) for d in changed] == [
        ("modified", first.event_id, 1)
    ]
    assert [i.value for i in uow.stored.events[first.event_id].intervals] == [5.0, 4.0, 0.0]
    assert uow.stored.dispatches["ven-0"].run_id == "run-3" and notifier.pending == ["ven-0"]
    longer = await dispatcher(uow).dispatch_all(
        [schedule("ven-0", [5.0, 4.0, 0.0, 1.0], T0 + SLOT)], "run-4", later
    )
    assert [(d.action, d.modification_number) for d in longer] == [("modified", 2)]


async def test_a_run_dispatches_every_home_in_one_go() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    first = await dispatcher(uow).dispatch_all(
        [schedule(f"ven-{i}", [1.0, 2.0]) for i in range(3)], "run-1", T0
    )
    assert [d.action for d in first] == ["created"] * 3
    await cancel_event(uow, first[2].event_id, T0, FakeNotifier())  # e.g. by an operator

    second = await dispatcher(uow).dispatch_all(
        [
            schedule("ven-0", [1.0, 2.0]),  # the same: left alone
            schedule("ven-1", [1.0, 3.0]),  # changed: its event is modified
            schedule("ven-2", [1.0, 2.0]),  # its event was cancelled: a new one
            schedule("ven-3", [0.5, 0.5]),  # a home steered for the first time
        ],
        "run-2",
        T0,
    )
    assert [d.action for d in second] == ["unchanged", "modified", "created", "created"]
    assert second[1].event_id == first[1].event_id and second[1].modification_number == 1
    assert second[2].event_id != first[2].event_id
    assert [i.value for i in uow.stored.events[second[1].event_id].intervals] == [1.0, 3.0]
    assert uow.stored.event_targets[second[1].event_id] == ("ven-1",)
    # Each home's schedule is recorded: a third run with the same schedules changes nothing.
    third = await dispatcher(uow).dispatch_all(
        [schedule("ven-1", [1.0, 3.0]), schedule("ven-2", [1.0, 2.0]), schedule("ven-3", [0.5, 0.5])],
        "run-3",
        T0,
    )
    assert [d.action for d in third] == ["unchanged"] * 3


async def test_a_schedule_already_over_fails_alone() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    over = schedule("ven-0", [1.0], T0 - 2 * SLOT)
    results = await dispatcher(uow).dispatch_all([over, schedule("ven-1", [1.0])], "run-1", T0)
    assert [(d.action, d.message) for d in results] == [
        ("failed", "the schedule is already over"),
        ("created", ""),
    ]
    assert set(uow.stored.dispatches) == {"ven-1"}


async def test_one_homes_failure_is_its_result_and_the_others_are_dispatched() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    # Another live event of the dispatch context already covers ven-1 at that time: a conflict.
    other = EventSpec(("ven-1",), "LOAD_DISPATCH", "setpoint", (IntervalSpec(T0, 900, 2.0),), MARKET_CONTEXT)
    await create_event(uow, other, T0, FakeNotifier())
    schedules = [schedule("ven-0", [1.0]), schedule("ven-1", [1.0]), schedule("ven-9", [1.0])]

    results = await dispatcher(uow).dispatch_all(schedules, "run-1", T0)

    assert [d.action for d in results] == ["created", "failed", "failed"]
    assert "already covers VEN ven-1" in results[1].message and "ven-9" in results[2].message
    assert set(uow.stored.dispatches) == {"ven-0"}


async def test_a_busy_storage_fails_the_homes_it_meets_and_not_the_run() -> None:
    uow = BusyUnitOfWork(vens=VENS)
    uow.busy_at = frozenset({1})  # the first home's new event
    two = [schedule("ven-0", [1.0]), schedule("ven-1", [1.0])]
    results = await dispatcher(uow).dispatch_all(two, "run-1", T0)
    assert [(d.action, d.message) for d in results] == [("failed", "database is locked"), ("created", "")]
    assert set(uow.stored.dispatches) == {"ven-1"}

    # The next run's modifications (one transaction for every event) meet a busy storage.
    uow.busy_at = frozenset({uow.commits + 1})
    results = await dispatcher(uow).dispatch_all([schedule("ven-1", [2.0])], "run-2", T0)
    assert [(d.action, d.message) for d in results] == [("failed", "database is locked")]
    assert uow.stored.events[uow.stored.dispatches["ven-1"].event_id].modification_number == 0


async def test_what_was_sent_is_reported_when_the_storage_is_too_busy_to_record_it() -> None:
    uow = BusyUnitOfWork(vens=VENS)
    uow.busy_at = frozenset({2})  # the record of the run's dispatch, after the new event
    (result,) = await dispatcher(uow).dispatch_all([schedule("ven-0", [1.0])], "run-1", T0)
    assert result.action == "created" and result.event_id in uow.stored.events
    assert uow.stored.dispatches == {}


async def test_a_storage_error_not_named_busy_fails_the_run() -> None:
    uow = BusyUnitOfWork(vens=VENS)
    uow.busy_at = frozenset({1})
    with pytest.raises(Busy):
        await EventDispatcher(uow, FakeNotifier(), NEAR_S).dispatch_all(
            [schedule("ven-0", [1.0])], "run-1", T0
        )


async def test_release_cancels_the_homes_event_and_forgets_it() -> None:
    uow, notifier = FakeUnitOfWork(vens=VENS), FakeNotifier()
    (sent,) = await dispatcher(uow).dispatch_all([schedule("ven-0", [1.0, 1.0])], "run-1", T0)

    await dispatcher(uow, notifier).release("ven-0", T0)

    assert uow.stored.events[sent.event_id].cancelled and "ven-0" not in uow.stored.dispatches
    assert notifier.pending == ["ven-0"]
    # Released again, or never steered: nothing to do.
    await dispatcher(uow, notifier).release("ven-0", T0)
    await dispatcher(uow, notifier).release("ven-1", T0)
    assert notifier.pending == ["ven-0"]


async def test_release_of_a_home_whose_event_was_cancelled_only_forgets_it() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    (sent,) = await dispatcher(uow).dispatch_all([schedule("ven-0", [1.0])], "run-1", T0)
    await cancel_event(uow, sent.event_id, T0, FakeNotifier())
    await dispatcher(uow).release("ven-0", T0 + SLOT)
    assert "ven-0" not in uow.stored.dispatches
