"""EiOpt conformance: schedules, event-scoped opts, cancel, unknown optID 452, precedence."""

from __future__ import annotations

from datetime import timedelta

from openleadr import objects

from aggregator.events import create_event, get_event
from aggregator.opts import list_opts
from vtn.db.uow import UnitOfWork

from .harness import T0, Reply, Vtn
from .helpers import provision_and_register
from .test_events import H, created_event, spec


async def create_opt(vtn: Vtn, ven_id: str, opt_id: str, opt_type: str, **extra: object) -> Reply:
    payload = dict(
        request_id=f"req-{opt_id}",
        ven_id=ven_id,
        opt_id=opt_id,
        opt_type=opt_type,
        opt_reason="participating",
        created_date_time=T0,
        targets=[objects.Target(resource_id="heat-pump")],
        market_context=None,
        event_id=None,
        modification_number=None,
        vavailability=None,
        signal_target_mrid=None,
    )
    payload.update(extra)
    return await vtn.send("EiOpt", "oadrCreateOpt", **payload)


async def cancel_opt(vtn: Vtn, ven_id: str, opt_id: str) -> Reply:
    return await vtn.send("EiOpt", "oadrCancelOpt", request_id="c", ven_id=ven_id, opt_id=opt_id)


async def test_availability_schedule_is_stored_and_cancelled(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-o1")
    schedule = objects.Vavailability(
        components=[
            objects.VavailabilityComponent(dtstart=T0 + timedelta(hours=1), duration=timedelta(hours=2)),
            objects.VavailabilityComponent(dtstart=T0 + timedelta(hours=5), duration=timedelta(minutes=30)),
        ]
    )
    reply = await create_opt(
        vtn, ven_id, "Opt-A", "optOut", vavailability=schedule, market_context="http://mc.example/x"
    )
    assert reply.message_type == "oadrCreatedOpt" and reply.code == 200
    assert reply.text("ei:optID") == "Opt-A"
    [opt] = await list_opts(UnitOfWork(vtn.sessions), ven_id)
    assert (opt.opt_id, opt.opt_type, opt.market_context, opt.resource_ids) == (
        "Opt-A",
        "optOut",
        "http://mc.example/x",
        ("heat-pump",),
    )
    assert [(w["start"], w["duration_seconds"]) for w in opt.windows] == [
        (T0 + timedelta(hours=1), 7200),
        (T0 + timedelta(hours=5), 1800),
    ]
    wrong_case = await cancel_opt(vtn, ven_id, "opt-a")
    assert wrong_case.message_type == "oadrCanceledOpt" and wrong_case.code == 452
    done = await cancel_opt(vtn, ven_id, "Opt-A")
    assert done.code == 200 and done.text("ei:optID") == "Opt-A"
    assert (await list_opts(UnitOfWork(vtn.sessions), ven_id))[0].cancelled_at == vtn.clock.now
    again = await cancel_opt(vtn, ven_id, "Opt-A")
    assert again.code == 452


async def test_cancel_of_unknown_opt_is_452(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-o2")
    reply = await cancel_opt(vtn, ven_id, "never-created")
    assert reply.message_type == "oadrCanceledOpt" and reply.code == 452
    assert reply.text("ei:optID") == "never-created"


async def test_eiopt_opt_in_outranks_later_created_event_opt_out(vtn: Vtn) -> None:
    ven_a, _ = await provision_and_register(vtn, "ven-o3")
    ven_b, _ = await provision_and_register(vtn, "ven-o4")
    info = await create_event(UnitOfWork(vtn.sessions), spec([ven_a, ven_b], 2 * H), vtn.clock.now, vtn.cache)
    opt = await create_opt(vtn, ven_a, "ev-opt", "optIn", event_id=info.event_id, modification_number=0)
    assert opt.code == 200
    vtn.clock.advance(60)
    await created_event(vtn, ven_a, info.event_id, 0, "optOut")  # later, but an automatic answer
    await created_event(vtn, ven_b, info.event_id, 0, "optOut")  # no EiOpt: the answer stands
    event = await get_event(UnitOfWork(vtn.sessions), info.event_id, vtn.clock.now)
    assert event.responses == {ven_a: "optIn", ven_b: "optOut"}
    await cancel_opt(vtn, ven_a, "ev-opt")
    assert (await get_event(UnitOfWork(vtn.sessions), info.event_id, vtn.clock.now)).responses == {
        ven_a: "optOut",
        ven_b: "optOut",
    }


async def test_opt_for_unknown_event_is_452_and_not_stored(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-o5")
    reply = await create_opt(vtn, ven_id, "o-x", "optIn", event_id="no-such-event", modification_number=0)
    assert reply.message_type == "oadrCreatedOpt" and reply.code == 452
    assert await list_opts(UnitOfWork(vtn.sessions), ven_id) == []


async def test_event_opt_from_a_ven_the_event_does_not_target_is_452_as_its_created_event(vtn: Vtn) -> None:
    targeted, _ = await provision_and_register(vtn, "ven-o6")
    outsider, _ = await provision_and_register(vtn, "ven-o7")
    info = await create_event(UnitOfWork(vtn.sessions), spec([targeted], 2 * H), vtn.clock.now, vtn.cache)

    opt = await create_opt(vtn, outsider, "o-out", "optOut", event_id=info.event_id, modification_number=0)
    answer = await created_event(vtn, outsider, info.event_id, 0, "optOut")

    assert opt.message_type == "oadrCreatedOpt" and opt.code == 452
    assert answer.message_type == "oadrResponse" and answer.code == 452  # what oadrCreatedEvent gets
    assert await list_opts(UnitOfWork(vtn.sessions), outsider) == []
