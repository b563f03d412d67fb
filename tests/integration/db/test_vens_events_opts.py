"""VenRepository, EventRepository and OptRepository (vtn/db/repos/vens.py, events.py, opts.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

from aggregator.records import EventInterval, EventRecord, OptRecord, OptWindow
from vtn.db.uow import Sessions, UnitOfWork

from .conftest import T0, add_ven


async def test_a_ven_round_trips_and_save_writes_only_what_changed(sessions: Sessions) -> None:
    ven = await add_ven(sessions, "v1", fingerprint="AA:BB", xml_signatures="required")
    await add_ven(sessions, "v2")
    async with UnitOfWork(sessions) as uow:
        assert await uow.vens.get("v1") == ven
        assert await uow.vens.by_name("name-v1") == ven
        assert await uow.vens.get("nope") is None and await uow.vens.by_name("nope") is None
        assert [v.ven_id for v in await uow.vens.all()] == ["v1", "v2"]
        loaded = await uow.vens.get("v1")
        assert loaded is not None
        # Meanwhile another transaction saves a poll time (as the poll cache does).
        async with UnitOfWork(sessions) as other:
            await other.vens.set_last_poll({"v1": T0 + timedelta(minutes=1)})
            await other.commit()
        await uow.vens.save(replace(loaded, registration_id="r1", registered_at=T0))
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        saved = await uow.vens.get("v1")
        assert saved is not None
        assert (saved.registration_id, saved.registered_at) == ("r1", T0)
        assert saved.last_poll_at == T0 + timedelta(minutes=1)  # not overwritten by the save
        assert [v.ven_id for v in await uow.vens.registered()] == ["v1"]
        assert await uow.vens.registrations() == {"v1": "r1"}
        assert await uow.vens.existing_ids(["v1", "v3"]) == {"v1"}


async def test_a_sites_vens_newest_first(sessions: Sessions) -> None:
    first = await add_ven(sessions, "v1")
    later = replace(first, ven_id="v9", ven_name="n9", created_at=T0 + timedelta(days=1))
    async with UnitOfWork(sessions) as uow:  # a second VEN for site-v1, provisioned later
        uow.vens.add(later)
        await uow.commit()
    await add_ven(sessions, "v2")
    async with UnitOfWork(sessions) as uow:
        assert [v.ven_id for v in await uow.vens.of_site("site-v1")] == ["v9", "v1"]
        assert [v.ven_id for v in await uow.vens.of_site("site-v2")] == ["v2"]
        assert await uow.vens.of_site("nowhere") == []


async def test_credentials_by_id_and_by_name(sessions: Sessions) -> None:
    await add_ven(sessions, "v1", fingerprint="AA:BB", xml_signatures="off")
    await add_ven(sessions, "v2")
    async with UnitOfWork(sessions) as uow:
        every = {c.ven_id: c for c in await uow.vens.credentials()}
        assert (every["v1"].ven_name, every["v1"].fingerprint, every["v1"].xml_signatures) == (
            "name-v1",
            "AA:BB",
            "off",
        )
        assert every["v2"].fingerprint is None
        assert await uow.vens.credentials_of(ven_id="v1") == every["v1"]
        assert await uow.vens.credentials_of(ven_name="name-v2") == every["v2"]
        assert await uow.vens.credentials_of(ven_id="name-v1") is None


def _event(event_id: str, start: datetime, market_context: str = "ctx") -> EventRecord:
    intervals = (EventInterval(start, 900, 1.5), EventInterval(start + timedelta(minutes=15), 900, -2.0))
    return EventRecord(
        event_id=event_id,
        modification_number=0,
        market_context=market_context,
        signal_name="LOAD_DISPATCH",
        signal_type="setpoint",
        signal_id=f"s-{event_id}",
        intervals=intervals,
        dtstart=start,
        duration_seconds=1800,
        created_at=T0,
        modified_at=T0,
        priority=1,
    )


async def test_an_event_round_trips_and_is_modified_by_save(sessions: Sessions) -> None:
    await add_ven(sessions, "v1")
    await add_ven(sessions, "v2")
    event = _event("e1", T0 + timedelta(hours=1))
    async with UnitOfWork(sessions) as uow:
        uow.events.add(event)
        uow.events.add(_event("e2", T0 + timedelta(hours=3), market_context="other"))
        await uow.flush()
        await uow.events.set_targets("e1", ["v2", "v1"])
        await uow.events.set_targets("e2", ["v1"])
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.events.get("e1") == event
        assert await uow.events.targets(["e1", "e2", "e3"]) == {"e1": ["v1", "v2"], "e2": ["v1"], "e3": []}
        assert [e.event_id for e in await uow.events.all()] == ["e1", "e2"]  # by start
        assert {e.event_id for e in await uow.events.live_for_ven("v1")} == {"e1", "e2"}
        assert {(e.event_id, v) for e, v in await uow.events.live_for_vens(["v1", "v2"], "ctx")} == {
            ("e1", "v1"),
            ("e1", "v2"),
        }
        moved = replace(
            event,
            modification_number=1,
            intervals=(EventInterval(T0 + timedelta(hours=2), 600, 3.0),),
            dtstart=T0 + timedelta(hours=2),
            duration_seconds=600,
            modified_at=T0 + timedelta(minutes=5),
        )
        await uow.events.save(moved)
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.events.get("e1") == moved
        await uow.events.save(replace(moved, cancelled=True))
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert [e.event_id for e in await uow.events.live_for_ven("v2")] == []  # cancelled
        assert {e.event_id for e in await uow.events.get_many(["e1", "e2", "e9"])} == {"e1", "e2"}


async def test_responses_are_recorded_per_modification(sessions: Sessions) -> None:
    await add_ven(sessions, "v1")
    async with UnitOfWork(sessions) as uow:
        uow.events.add(_event("e1", T0))
        await uow.flush()
        await uow.events.record_response("v1", "e1", 0, "optIn", "200", T0)
        await uow.events.record_response("v1", "e1", 0, "optOut", "200", T0 + timedelta(seconds=1))
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        [answer] = await uow.events.responses(["e1"])
    assert (answer.ven_id, answer.modification_number, answer.opt_type) == ("v1", 0, "optOut")
    assert answer.received_at == T0 + timedelta(seconds=1)


async def test_two_transactions_answering_the_same_modification_both_succeed(sessions: Sessions) -> None:
    """A VEN answers a resent distribute while its first answer is not committed yet: the later
    answer wins, neither fails on the unique key (seen in the demo as a 500)."""
    await add_ven(sessions, "v1")
    async with UnitOfWork(sessions) as uow:
        uow.events.add(_event("e1", T0))
        await uow.commit()

    async def second_answer() -> None:
        async with UnitOfWork(sessions) as uow:
            await uow.events.record_response("v1", "e1", 0, "optOut", "200", T0 + timedelta(seconds=1))
            await uow.commit()

    async with UnitOfWork(sessions) as first:
        await first.events.record_response("v1", "e1", 0, "optIn", "200", T0)
        second = asyncio.create_task(second_answer())
        await asyncio.sleep(0.3)  # the second answer is stored (or waits for the first) now
        await first.commit()
    await second
    async with UnitOfWork(sessions) as uow:
        [answer] = await uow.events.responses(["e1"])
    assert (answer.opt_type, answer.received_at) == ("optOut", T0 + timedelta(seconds=1))


async def test_an_opt_round_trips_and_is_changed_by_save(sessions: Sessions) -> None:
    await add_ven(sessions, "v1")
    schedule = OptRecord(
        "v1",
        "avail-ev",
        "optIn",
        "x-schedule",
        T0,
        resource_ids=("ev",),
        windows=(OptWindow(T0, 3600), OptWindow(T0 + timedelta(hours=2), 1800)),
    )
    event_opt = OptRecord("v1", "o-e1", "optOut", "participating", T0 + timedelta(seconds=1), event_id="e1")
    async with UnitOfWork(sessions) as uow:
        uow.opts.add(schedule)
        uow.opts.add(event_opt)
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.opts.get("v1", "avail-ev") == schedule
        assert await uow.opts.for_ven("v1") == [schedule, event_opt]
        assert await uow.opts.live_for_events(["e1"]) == [event_opt]
        await uow.opts.save(replace(event_opt, cancelled_at=T0 + timedelta(hours=1)))
        await uow.opts.save(replace(schedule, windows=(OptWindow(T0, 60),)))
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        assert await uow.opts.live_for_events(["e1"]) == []
        changed = await uow.opts.get("v1", "avail-ev")
        assert changed is not None and changed.windows == (OptWindow(T0, 60),)
