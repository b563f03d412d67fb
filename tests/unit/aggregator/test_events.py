"""The DR event use cases (aggregator/events.py) on in-memory ports: no database, no XML.

How the queued distributes reach the VENs, and what the REST API answers, is tested at the
edges (tests/integration/vtn_openadr/test_events.py, tests/integration/vtn_api)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeNotifier, FakeUnitOfWork

from aggregator import outbox
from aggregator.errors import Conflict, DomainError, InvalidInput, NotFound
from aggregator.event_rules import DEFAULT_MARKET_CONTEXT, EventSpec, EventStatus, IntervalSpec
from aggregator.events import (
    EventInfo,
    EventPatch,
    cancel_event,
    create_event,
    get_event,
    list_events,
    modify_event,
    modify_events,
)
from aggregator.records import EventRecord, EventResponseRecord, OptRecord, VenRecord

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
H = timedelta(hours=1)
VENS = [
    VenRecord(ven_id=f"ven-{i}", ven_name=f"home {i}", site_id=f"site-{i}", created_at=T0) for i in (1, 2, 3)
]
CONTEXT = "http://mc.example/x"


def spec(ven_ids: list[str], start: datetime = T0 + 2 * H, hours: int = 1, **extra: object) -> EventSpec:
    half = hours * 1800
    intervals = (IntervalSpec(start, half, 1.0), IntervalSpec(start + timedelta(seconds=half), half, 2.0))
    return EventSpec(ven_ids, "SIMPLE", "level", intervals, **{"market_context": CONTEXT, **extra})  # type: ignore[arg-type]


def distributes(uow: FakeUnitOfWork) -> dict[str, list[str]]:
    """venID -> the cancelled eventIDs of its pending distribute (one per VEN: they fold)."""
    return {
        m.ven_id: m.payload["cancelled_event_ids"]
        for m in uow.stored.outbox.values()
        if m.message_type == outbox.DISTRIBUTE_EVENT and m.delivered_at is None
    }


def delivered(uow: FakeUnitOfWork) -> FakeUnitOfWork:
    """The same state with every queued message done, so the next change queues fresh ones."""
    done = {i: replace(m, delivered_at=T0) for i, m in uow.stored.outbox.items()}
    uow.stored = replace(uow.stored, outbox=done)
    return uow


async def created(uow: FakeUnitOfWork, event_spec: EventSpec) -> str:
    return (await create_event(uow, event_spec, T0, FakeNotifier())).event_id


# ---- create ---------------------------------------------------------------------------------------


async def test_a_new_event_is_stored_targeted_and_queued_for_each_ven() -> None:
    uow, notifier = FakeUnitOfWork(vens=VENS), FakeNotifier()

    info = await create_event(uow, spec(["ven-2", "ven-1", "ven-2"], priority=2), T0, notifier)

    event = uow.stored.events[info.event_id]
    assert (event.modification_number, event.market_context, event.priority) == (0, CONTEXT, 2)
    assert (event.dtstart, event.duration_seconds, event.cancelled) == (T0 + 2 * H, 3600, False)
    assert uow.stored.event_targets[info.event_id] == ("ven-2", "ven-1")  # de-duplicated
    assert distributes(uow) == {"ven-1": [], "ven-2": []}
    assert sorted(notifier.pending) == ["ven-1", "ven-2"]
    assert (info.status, info.ven_ids, info.responses) == (EventStatus.FAR, ("ven-2", "ven-1"), {})
    assert info.intervals == event.intervals and info.created_at == info.modified_at == T0


async def test_a_new_event_without_market_context_gets_the_default_one() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    info = await create_event(uow, spec(["ven-1"], market_context=None), T0, FakeNotifier())
    assert uow.stored.events[info.event_id].market_context == info.market_context == DEFAULT_MARKET_CONTEXT


async def test_an_event_starting_within_the_near_window_is_near() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    info = await create_event(
        uow, spec(["ven-1"], T0 + 2 * H), T0, FakeNotifier(), near_window_seconds=3 * 3600
    )
    assert info.status == EventStatus.NEAR


@pytest.mark.parametrize(
    ("event_spec", "error"),
    [
        (spec(["ven-1", "no-such-ven"]), NotFound),
        (spec(["ven-1"], T0 - 3 * H), InvalidInput),  # already over
        (replace(spec(["ven-1"]), signal_type="price"), InvalidInput),  # not in the signal table
        (spec([]), InvalidInput),
    ],
)
async def test_a_new_event_that_cannot_be_stored_changes_nothing(
    event_spec: EventSpec, error: type[Exception]
) -> None:
    uow, notifier = FakeUnitOfWork(vens=VENS), FakeNotifier()
    with pytest.raises(error):
        await create_event(uow, event_spec, T0, notifier)
    assert not uow.committed and not uow.stored.events and not uow.stored.outbox
    assert notifier.pending == []


async def test_events_of_one_ven_may_not_overlap_in_one_market_context() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    await created(uow, spec(["ven-1"], T0 + 2 * H))

    with pytest.raises(Conflict, match="ven-1"):
        await created(uow, spec(["ven-2", "ven-1"], T0 + 2 * H + timedelta(minutes=30)))
    assert len(uow.stored.events) == 1

    await created(uow, spec(["ven-2"], T0 + 2 * H))  # another VEN
    await created(uow, spec(["ven-1"], T0 + 2 * H, market_context="http://mc.example/other"))
    await created(uow, spec(["ven-1"], T0 + 3 * H))  # back to back is no overlap
    assert len(uow.stored.events) == 4


async def test_a_cancelled_event_frees_its_slot() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    first = await created(uow, spec(["ven-1"]))
    await cancel_event(uow, first, T0, FakeNotifier())
    await created(uow, spec(["ven-1"]))
    assert len(uow.stored.events) == 2


# ---- modify ---------------------------------------------------------------------------------------


async def test_a_modification_raises_the_number_and_is_distributed_again() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    event_id = await created(uow, spec(["ven-1"]))
    delivered(uow)
    notifier = FakeNotifier()

    info = await modify_event(uow, event_id, EventPatch(priority=3), T0 + H, notifier)

    event = uow.stored.events[event_id]
    assert (event.modification_number, event.priority, event.modified_at) == (1, 3, T0 + H)
    assert event.intervals == spec(["ven-1"]).intervals, "what the patch leaves out is unchanged"
    assert (info.modification_number, info.priority, info.status) == (1, 3, EventStatus.NEAR)
    assert distributes(uow) == {"ven-1": []}
    assert notifier.pending == ["ven-1"]


async def test_targets_added_and_dropped_are_told_so() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    event_id = await created(uow, spec(["ven-1", "ven-2"]))
    delivered(uow)
    notifier = FakeNotifier()

    info = await modify_event(uow, event_id, EventPatch(ven_ids=("ven-2", "ven-3")), T0, notifier)

    assert info.ven_ids == ("ven-2", "ven-3")
    assert uow.stored.event_targets[event_id] == ("ven-2", "ven-3")
    # the dropped VEN learns of it as a cancellation of the event for it
    assert distributes(uow) == {"ven-1": [event_id], "ven-2": [], "ven-3": []}
    assert sorted(notifier.pending) == ["ven-1", "ven-2", "ven-3"]


async def test_an_answer_to_an_earlier_modification_no_longer_counts() -> None:
    answer = EventResponseRecord("ven-1", "", 0, "optIn", "200", T0)
    uow = FakeUnitOfWork(vens=VENS)
    event_id = await created(uow, spec(["ven-1"]))
    uow.stored.event_responses[("ven-1", event_id, 0)] = replace(answer, event_id=event_id)
    assert (await get_event(uow, event_id, T0)).responses == {"ven-1": "optIn"}

    info = await modify_event(uow, event_id, EventPatch(priority=1), T0, FakeNotifier())

    assert info.responses == {}


@pytest.mark.parametrize(
    ("patch", "error"),
    [
        (EventPatch(ven_ids=("ven-1", "no-such-ven")), NotFound),
        (EventPatch(signal_type="price"), InvalidInput),
        (EventPatch(ramp_up_seconds=-1), InvalidInput),
        (EventPatch(intervals=spec(["ven-1"], T0 + 4 * H).intervals), Conflict),  # onto ev-other
    ],
)
async def test_a_modification_that_cannot_be_applied_changes_nothing(
    patch: EventPatch, error: type[Exception]
) -> None:
    uow = FakeUnitOfWork(vens=VENS)
    event_id = await created(uow, spec(["ven-1"]))
    await created(uow, spec(["ven-1"], T0 + 4 * H))
    before, notifier = uow.stored, FakeNotifier()

    with pytest.raises(error):
        await modify_event(uow, event_id, patch, T0, notifier)

    assert uow.stored == before and notifier.pending == []


async def test_only_a_live_event_can_be_modified() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    cancelled = await created(uow, spec(["ven-1"]))
    await cancel_event(uow, cancelled, T0, FakeNotifier())
    over = await created(uow, spec(["ven-2"]))

    with pytest.raises(NotFound):
        await modify_event(uow, "no-such-event", EventPatch(priority=1), T0, FakeNotifier())
    with pytest.raises(Conflict, match="cancelled"):
        await modify_event(uow, cancelled, EventPatch(priority=1), T0, FakeNotifier())
    with pytest.raises(Conflict, match="completed"):
        await modify_event(uow, over, EventPatch(priority=1), T0 + 5 * H, FakeNotifier())


# ---- modify several -------------------------------------------------------------------------------


async def test_several_events_are_modified_in_one_commit_and_a_failure_stays_in_its_place() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    first = await created(uow, spec(["ven-1"]))
    second = await created(uow, spec(["ven-2"]))
    delivered(uow)
    notifier = FakeNotifier()

    answers = await modify_events(
        uow,
        [
            (first, EventPatch(priority=2)),
            ("no-such-event", EventPatch(priority=2)),
            (second, EventPatch(ven_ids=("ven-3",))),
        ],
        T0,
        notifier,
    )

    one, missing, two = answers
    assert isinstance(missing, NotFound)
    assert isinstance(one, EventInfo) and (one.event_id, one.modification_number) == (first, 1)
    assert isinstance(two, EventInfo) and (two.event_id, two.modification_number) == (second, 1)
    assert uow.stored.events[first].priority == 2
    assert uow.stored.event_targets[second] == ("ven-3",)
    assert distributes(uow) == {"ven-1": [], "ven-2": [second], "ven-3": []}
    assert notifier.pending == ["ven-1", "ven-2", "ven-3"]


async def test_a_later_patch_sees_the_times_an_earlier_one_gave() -> None:
    """Two back-to-back events of one VEN, both moved an hour later: only the late one first."""

    async def move(late_first: bool) -> list[EventInfo | DomainError]:
        uow = FakeUnitOfWork(vens=VENS)
        early = await created(uow, spec(["ven-1"], T0 + 2 * H))
        late = await created(uow, spec(["ven-1"], T0 + 3 * H))
        patches = [
            (early, EventPatch(intervals=spec(["ven-1"], T0 + 3 * H).intervals)),
            (late, EventPatch(intervals=spec(["ven-1"], T0 + 4 * H).intervals)),
        ]
        return await modify_events(uow, patches[::-1] if late_first else patches, T0, FakeNotifier())

    refused, moved = await move(late_first=False)
    assert isinstance(refused, Conflict), "the late event still holds that hour"
    assert isinstance(moved, EventInfo) and moved.modification_number == 1
    assert all(isinstance(a, EventInfo) for a in await move(late_first=True))


async def test_nothing_to_modify_tells_no_one() -> None:
    uow, notifier = FakeUnitOfWork(vens=VENS), FakeNotifier()
    answers = await modify_events(uow, [("no-such-event", EventPatch(priority=1))], T0, notifier)
    assert isinstance(answers[0], NotFound) and notifier.pending == []


# ---- cancel ---------------------------------------------------------------------------------------


async def test_a_cancellation_is_a_modification_distributed_as_cancelled() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    event_id = await created(uow, spec(["ven-1", "ven-2"]))
    delivered(uow)
    notifier = FakeNotifier()

    info = await cancel_event(uow, event_id, T0 + H, notifier)

    event = uow.stored.events[event_id]
    assert (event.cancelled, event.modification_number, event.modified_at) == (True, 1, T0 + H)
    assert (info.status, info.modification_number) == (EventStatus.CANCELLED, 1)
    assert distributes(uow) == {"ven-1": [event_id], "ven-2": [event_id]}
    assert sorted(notifier.pending) == ["ven-1", "ven-2"]


async def test_only_a_live_event_can_be_cancelled() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    event_id = await created(uow, spec(["ven-1"]))
    await cancel_event(uow, event_id, T0, FakeNotifier())
    over = await created(uow, spec(["ven-2"]))
    before, notifier = uow.stored, FakeNotifier()

    with pytest.raises(NotFound):
        await cancel_event(uow, "no-such-event", T0, notifier)
    with pytest.raises(Conflict, match="cancelled"):
        await cancel_event(uow, event_id, T0, notifier)
    with pytest.raises(Conflict, match="completed"):
        await cancel_event(uow, over, T0 + 5 * H, notifier)
    assert uow.stored == before and notifier.pending == []


# ---- list and get ---------------------------------------------------------------------------------


def _stored_event(event_id: str, start: datetime, modification_number: int = 0) -> EventRecord:
    event_spec = spec(["ven-1"], start)
    return EventRecord(
        event_id=event_id,
        modification_number=modification_number,
        market_context=CONTEXT,
        signal_name="SIMPLE",
        signal_type="level",
        signal_id=f"s-{event_id}",
        intervals=event_spec.intervals,
        dtstart=start,
        duration_seconds=3600,
        created_at=T0,
        modified_at=T0,
    )


async def test_events_are_listed_by_start_with_their_status() -> None:
    uow = FakeUnitOfWork(
        vens=VENS,
        events=[_stored_event("ev-later", T0 + 5 * H), _stored_event("ev-now", T0 - timedelta(minutes=10))],
        event_targets=[("ev-later", ["ven-1"]), ("ev-now", ["ven-2", "ven-1"])],
    )

    infos = await list_events(uow, T0)

    assert [(i.event_id, i.status, i.ven_ids) for i in infos] == [
        ("ev-now", EventStatus.ACTIVE, ("ven-1", "ven-2")),
        ("ev-later", EventStatus.FAR, ("ven-1",)),
    ]
    assert await list_events(FakeUnitOfWork(), T0) == []


async def test_an_event_opt_outranks_any_created_event_answer() -> None:
    """The effective answer per VEN to the current modification; only targeted VENs count."""
    answer = EventResponseRecord("ven-1", "ev-1", 1, "optIn", "200", T0 + H)
    uow = FakeUnitOfWork(
        vens=VENS,
        events=[_stored_event("ev-1", T0 + 2 * H, modification_number=1)],
        event_targets=[("ev-1", ["ven-1", "ven-2"])],
        event_responses=[
            answer,
            replace(answer, ven_id="ven-2", modification_number=0),  # to the earlier modification
            replace(answer, ven_id="ven-3"),  # not targeted
        ],
        opts=[
            OptRecord("ven-1", "opt-a", "optOut", "participating", T0, event_id="ev-1"),
            OptRecord("ven-2", "opt-b", "optOut", "participating", T0, event_id="ev-1", cancelled_at=T0),
        ],
    )

    info = await get_event(uow, "ev-1", T0)

    assert info.responses == {"ven-1": "optOut"}


async def test_getting_an_unknown_event_is_not_found() -> None:
    with pytest.raises(NotFound):
        await get_event(FakeUnitOfWork(vens=VENS), "no-such-event", T0)
