"""The EiOpt use cases (aggregator/opts.py) on in-memory ports: no database, no XML.

The OpenADR side (codes in the reply, the optID echoed) is tested at the edge, in
tests/integration/vtn_openadr/test_opts.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeUnitOfWork

from aggregator.errors import Conflict, NotFound
from aggregator.opts import NewOpt, cancel_opt, create_opt, list_opts
from aggregator.records import EventInterval, EventRecord, OptRecord, OptWindow, VenRecord

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)
VEN = VenRecord(ven_id="ven-1", ven_name="home 1", site_id="site-1", created_at=T0)
EVENT = EventRecord(
    event_id="ev-1",
    modification_number=0,
    market_context="http://mc.example/x",
    signal_name="SIMPLE",
    signal_type="level",
    signal_id="s-1",
    intervals=(EventInterval(T0, 3600, 1.0),),
    dtstart=T0,
    duration_seconds=3600,
    created_at=T0,
    modified_at=T0,
)
SCHEDULE = NewOpt(
    "avail-evse-1",
    "optOut",
    "participating",
    resource_ids=("evse-1",),
    windows=(OptWindow(T0, 3600), OptWindow(T0 + timedelta(hours=3), 1800)),
)
EVENT_OPT = NewOpt("ev-opt", "optIn", "participating", event_id="ev-1", modification_number=0)


def uow_with_ven() -> FakeUnitOfWork:
    return FakeUnitOfWork(vens=[VEN], events=[EVENT], event_targets=[("ev-1", ["ven-1"])])


async def test_an_availability_schedule_is_stored_and_listed() -> None:
    uow = uow_with_ven()
    info = await create_opt(uow, "ven-1", SCHEDULE, T0)
    assert uow.committed
    assert uow.stored.opts[("ven-1", "avail-evse-1")] == OptRecord(
        ven_id="ven-1",
        opt_id="avail-evse-1",
        opt_type="optOut",
        opt_reason="participating",
        created_at=T0,
        resource_ids=("evse-1",),
        windows=SCHEDULE.windows,
    )
    assert await list_opts(uow, "ven-1") == [info]
    assert info.windows == (
        {"start": T0, "duration_seconds": 3600},
        {"start": T0 + timedelta(hours=3), "duration_seconds": 1800},
    )


async def test_an_opt_of_an_unknown_ven_is_not_found_and_not_stored() -> None:
    uow = uow_with_ven()
    with pytest.raises(NotFound) as err:
        await create_opt(uow, "ven-x", SCHEDULE, T0)
    assert (err.value.kind, err.value.key) == ("VEN", "ven-x")
    assert not uow.committed and uow.stored.opts == {}
    with pytest.raises(NotFound):
        await list_opts(uow, "ven-x")


async def test_an_opt_for_an_unknown_event_is_not_found_and_not_stored() -> None:
    uow = uow_with_ven()
    with pytest.raises(NotFound) as err:
        await create_opt(uow, "ven-1", replace(EVENT_OPT, event_id="no-such-event"), T0)
    assert (err.value.kind, err.value.key) == ("event", "no-such-event")
    assert not uow.committed and uow.stored.opts == {}


async def test_an_opt_for_an_event_that_does_not_target_the_ven_is_not_found() -> None:
    other = replace(VEN, ven_id="ven-2", ven_name="home 2")
    uow = FakeUnitOfWork(vens=[VEN, other], events=[EVENT], event_targets=[("ev-1", ["ven-1"])])
    with pytest.raises(NotFound) as err:
        await create_opt(uow, "ven-2", EVENT_OPT, T0)
    assert (err.value.kind, err.value.key) == ("event", "ev-1")
    assert not uow.committed and uow.stored.opts == {}


async def test_an_event_opt_is_stored() -> None:
    uow = uow_with_ven()
    info = await create_opt(uow, "ven-1", EVENT_OPT, T0)
    assert (info.event_id, info.modification_number, info.opt_type) == ("ev-1", 0, "optIn")
    assert uow.stored.opts[("ven-1", "ev-opt")].event_id == "ev-1"


async def test_a_retried_identical_opt_is_accepted_and_unchanged() -> None:
    uow = uow_with_ven()
    first = await create_opt(uow, "ven-1", EVENT_OPT, T0)
    again = await create_opt(uow, "ven-1", EVENT_OPT, LATER)
    assert again == first  # created_at stays the first one's
    assert list(uow.stored.opts) == [("ven-1", "ev-opt")]


async def test_a_live_schedule_resent_with_new_windows_is_restated() -> None:
    uow = uow_with_ven()
    await create_opt(uow, "ven-1", SCHEDULE, T0)
    departure_moved = replace(SCHEDULE, windows=(OptWindow(T0, 7200),), resource_ids=("evse-1", "evse-2"))
    info = await create_opt(uow, "ven-1", departure_moved, LATER)
    stored = uow.stored.opts[("ven-1", "avail-evse-1")]
    assert stored.windows == (OptWindow(T0, 7200),) and stored.resource_ids == ("evse-1", "evse-2")
    assert stored.created_at == T0 and info.created_at == T0
    assert info.windows == ({"start": T0, "duration_seconds": 7200},)


@pytest.mark.parametrize(
    "reuse",
    [
        replace(SCHEDULE, opt_type="optIn"),  # another type
        replace(SCHEDULE, event_id="ev-1", modification_number=0),  # now scoped to an event
    ],
    ids=["other-type", "other-event"],
)
async def test_an_optid_in_use_for_another_opt_is_a_conflict(reuse: NewOpt) -> None:
    uow = uow_with_ven()
    await create_opt(uow, "ven-1", SCHEDULE, T0)
    before = uow.stored.copy()
    with pytest.raises(Conflict):
        await create_opt(uow, "ven-1", reuse, LATER)
    assert uow.stored == before


async def test_the_optid_of_a_cancelled_opt_is_not_reused() -> None:
    uow = uow_with_ven()
    await create_opt(uow, "ven-1", SCHEDULE, T0)
    await cancel_opt(uow, "ven-1", "avail-evse-1", LATER)
    with pytest.raises(Conflict):
        await create_opt(uow, "ven-1", SCHEDULE, LATER)


async def test_cancel_marks_the_opt_and_a_second_cancel_is_not_found() -> None:
    uow = uow_with_ven()
    await create_opt(uow, "ven-1", SCHEDULE, T0)
    info = await cancel_opt(uow, "ven-1", "avail-evse-1", LATER)
    assert info.cancelled_at == LATER
    assert uow.stored.opts[("ven-1", "avail-evse-1")].cancelled_at == LATER
    assert [o.cancelled_at for o in await list_opts(uow, "ven-1")] == [LATER]  # still listed
    with pytest.raises(NotFound) as err:
        await cancel_opt(uow, "ven-1", "avail-evse-1", LATER + timedelta(minutes=1))
    assert (err.value.kind, err.value.key) == ("opt", "avail-evse-1")
    assert uow.stored.opts[("ven-1", "avail-evse-1")].cancelled_at == LATER


async def test_cancel_of_an_unknown_or_other_vens_opt_is_not_found() -> None:
    uow = FakeUnitOfWork(vens=[VEN, replace(VEN, ven_id="ven-2", ven_name="home 2")], events=[EVENT])
    await create_opt(uow, "ven-1", SCHEDULE, T0)
    with pytest.raises(NotFound):
        await cancel_opt(uow, "ven-1", "never-created", LATER)
    with pytest.raises(NotFound):
        await cancel_opt(uow, "ven-2", "avail-evse-1", LATER)  # optIDs are per VEN
    assert uow.stored.opts[("ven-1", "avail-evse-1")].cancelled_at is None


async def test_list_is_per_ven_oldest_first() -> None:
    uow = FakeUnitOfWork(
        vens=[VEN, replace(VEN, ven_id="ven-2", ven_name="home 2")],
        events=[EVENT],
        event_targets=[("ev-1", ["ven-1"])],
    )
    await create_opt(uow, "ven-1", EVENT_OPT, LATER)
    await create_opt(uow, "ven-1", SCHEDULE, T0)
    await create_opt(uow, "ven-2", SCHEDULE, T0)
    assert [o.opt_id for o in await list_opts(uow, "ven-1")] == ["avail-evse-1", "ev-opt"]
    assert await list_opts(uow, "ven-2") != [] and await list_opts(FakeUnitOfWork(vens=[VEN]), "ven-1") == []


# ---- the fake keeps the real unit of work's contract: no commit, no change ------------------


async def test_leaving_the_fake_unit_of_work_without_commit_discards_the_changes() -> None:
    uow = uow_with_ven()
    opt = OptRecord("ven-1", "o-1", "optIn", "participating", created_at=T0)
    async with uow:
        uow.opts.add(opt)
        assert await uow.opts.get("ven-1", "o-1") == opt  # visible inside its own unit of work
    assert uow.stored.opts == {} and not uow.committed
    with pytest.raises(RuntimeError):
        async with uow:
            uow.opts.add(opt)
            raise RuntimeError("the use case failed")
    assert uow.stored.opts == {}
    async with uow:
        assert await uow.opts.get("ven-1", "o-1") is None
        uow.opts.add(opt)
        await uow.commit()
    assert uow.stored.opts == {("ven-1", "o-1"): opt} and uow.committed
