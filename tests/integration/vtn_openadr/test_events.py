"""EiEvent conformance: distribution, status with ramp-up, ordering, modificationNumber,
overlap refusal, oadrRequestEvent and oadrCreatedEvent."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aggregator.event_rules import EventSpec, IntervalSpec
from aggregator.events import EventPatch, cancel_event, create_event, get_event, modify_event
from vtn.db.uow import UnitOfWork
from vtn.errors import Conflict
from vtn.openadr.xml import NS

from .harness import T0, Reply, Vtn
from .helpers import drain, poll, provision_and_register

H = 3600


def spec(ven_ids: list[str], start_offset_s: int, minutes: int = 60, **extra: object) -> EventSpec:
    start = T0 + timedelta(seconds=start_offset_s)
    half = minutes * 30
    intervals = (IntervalSpec(start, half, 1.0), IntervalSpec(start + timedelta(seconds=half), half, 2.0))
    return EventSpec(ven_ids=ven_ids, signal_name="SIMPLE", signal_type="level", intervals=intervals, **extra)  # type: ignore[arg-type]


def events_of(reply: Reply) -> list[dict[str, str]]:
    found = []
    for event in reply.element.findall("oadr:oadrEvent/ei:eiEvent", NS):
        d = event.find("ei:eventDescriptor", NS)
        found.append(
            {
                "id": d.findtext("ei:eventID", namespaces=NS),
                "mod": d.findtext("ei:modificationNumber", namespaces=NS),
                "status": d.findtext("ei:eventStatus", namespaces=NS),
            }
        )
    return found


async def request_event(vtn: Vtn, ven_id: str) -> Reply:
    reply = await vtn.send("EiEvent", "oadrRequestEvent", request_id="re-1", ven_id=ven_id)
    assert reply.message_type == "oadrDistributeEvent"
    return reply


async def created_event(vtn: Vtn, ven_id: str, event_id: str, mod: int, opt_type: str) -> Reply:
    return await vtn.send(
        "EiEvent",
        "oadrCreatedEvent",
        ven_id=ven_id,
        response={"response_code": 200, "response_description": "OK", "request_id": "r"},
        event_responses=[
            {
                "response_code": 200,
                "response_description": "OK",
                "request_id": "r",
                "event_id": event_id,
                "modification_number": mod,
                "opt_type": opt_type,
            }
        ],
    )


async def test_event_reaches_ven_and_opt_in_is_recorded(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-e1")
    info = await create_event(UnitOfWork(vtn.sessions), spec([ven_id], 2 * H), vtn.clock.now, vtn.cache)
    [reply] = await drain(vtn, ven_id)
    assert reply.message_type == "oadrDistributeEvent"
    assert reply.text("ei:vtnID") == "FLEXVPP-TEST-VTN"
    assert events_of(reply) == [{"id": info.event_id, "mod": "0", "status": "far"}]
    target = reply.element.find("oadr:oadrEvent/ei:eiEvent/ei:eiTarget/ei:venID", NS)
    assert target is not None and target.text == ven_id
    ack = await created_event(vtn, ven_id, info.event_id, 0, "optIn")
    assert ack.message_type == "oadrResponse" and ack.code == 200
    assert (await get_event(UnitOfWork(vtn.sessions), info.event_id, vtn.clock.now)).responses == {
        ven_id: "optIn"
    }


async def test_status_follows_ramp_up_and_time(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-e2")
    # starts in 3 h, ramp-up 2 h (longer than the 1 h near window)
    info = await create_event(
        UnitOfWork(vtn.sessions), spec([ven_id], 3 * H, ramp_up_seconds=2 * H), vtn.clock.now, vtn.cache
    )
    seen = []
    for offset in (0, int(1.5 * H), 3 * H, int(3.99 * H), 4 * H):
        vtn.clock.now = T0 + timedelta(seconds=offset)
        seen.append([e["status"] for e in events_of(await request_event(vtn, ven_id))])
        if offset == 0:
            ramp = (await request_event(vtn, ven_id)).element.find(
                "oadr:oadrEvent/ei:eiEvent/ei:eiActivePeriod//ei:x-eiRampUp", NS
            )
            assert ramp is not None, (await request_event(vtn, ven_id)).body.decode()
    assert seen == [["far"], ["near"], ["active"], ["active"], []]
    assert (await get_event(UnitOfWork(vtn.sessions), info.event_id, vtn.clock.now)).status == "completed"


async def test_distribute_orders_active_by_priority_then_pending_by_start(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-e3")
    now = vtn.clock.now

    async def make(name: str, offset: int, priority: int) -> str:
        s = spec([ven_id], offset, market_context=f"http://mc.example/{name}", priority=priority)
        return (await create_event(UnitOfWork(vtn.sessions), s, now, vtn.cache)).event_id

    far = await make("far", 5 * H, 1)
    active_p2 = await make("a2", -600, 2)
    active_p0 = await make("a0", -1200, 0)  # 0 = no priority: after every prioritised one
    active_p1_late = await make("a1late", -300, 1)
    active_p1 = await make("a1", -900, 1)
    near = await make("near", 1800, 9)
    replies = await drain(vtn, ven_id)
    assert len(replies) == 1, "queued distributes fold into one"
    order = [e["id"] for e in events_of(replies[0])]
    assert order == [active_p1, active_p1_late, active_p2, active_p0, near, far]
    assert [e["id"] for e in events_of(await request_event(vtn, ven_id))] == order


async def test_modification_raises_number_and_redistributes(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-e4")
    info = await create_event(UnitOfWork(vtn.sessions), spec([ven_id], 2 * H), vtn.clock.now, vtn.cache)
    await drain(vtn, ven_id)
    await created_event(vtn, ven_id, info.event_id, 0, "optIn")
    changed = await modify_event(
        UnitOfWork(vtn.sessions), info.event_id, EventPatch(priority=3), vtn.clock.now, vtn.cache
    )
    assert changed.modification_number == 1
    assert changed.responses == {}, "an answer to modification 0 does not answer modification 1"
    [reply] = await drain(vtn, ven_id)
    assert events_of(reply) == [{"id": info.event_id, "mod": "1", "status": "far"}]
    await created_event(vtn, ven_id, info.event_id, 1, "optOut")
    assert (await get_event(UnitOfWork(vtn.sessions), info.event_id, vtn.clock.now)).responses == {
        ven_id: "optOut"
    }
    future = await created_event(vtn, ven_id, info.event_id, 7, "optIn")
    assert future.code == 452


async def test_cancel_is_distributed_once_as_cancelled(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-e5")
    info = await create_event(UnitOfWork(vtn.sessions), spec([ven_id], 2 * H), vtn.clock.now, vtn.cache)
    await drain(vtn, ven_id)
    cancelled = await cancel_event(UnitOfWork(vtn.sessions), info.event_id, vtn.clock.now, vtn.cache)
    assert cancelled.status == "cancelled" and cancelled.modification_number == 1
    [reply] = await drain(vtn, ven_id)
    assert events_of(reply) == [{"id": info.event_id, "mod": "1", "status": "cancelled"}]
    assert events_of(await request_event(vtn, ven_id)) == []
    with pytest.raises(Conflict):
        await cancel_event(UnitOfWork(vtn.sessions), info.event_id, vtn.clock.now, vtn.cache)


async def test_created_event_for_someone_elses_event_is_452(vtn: Vtn) -> None:
    ven_a, _ = await provision_and_register(vtn, "ven-e9")
    ven_b, _ = await provision_and_register(vtn, "ven-e10")
    info = await create_event(UnitOfWork(vtn.sessions), spec([ven_a], H), vtn.clock.now, vtn.cache)
    reply = await created_event(vtn, ven_b, info.event_id, 0, "optIn")
    assert reply.message_type == "oadrResponse" and reply.code == 452
    unknown = await created_event(vtn, ven_a, "no-such-event", 0, "optIn")
    assert unknown.code == 452
    assert (await get_event(UnitOfWork(vtn.sessions), info.event_id, vtn.clock.now)).responses == {}


async def test_outbox_keeps_order_across_message_kinds(vtn: Vtn) -> None:
    from aggregator.vens import cancel_ven_registration

    ven_id, _ = await provision_and_register(vtn, "ven-e11")
    await create_event(UnitOfWork(vtn.sessions), spec([ven_id], H), vtn.clock.now, vtn.cache)
    await cancel_ven_registration(UnitOfWork(vtn.sessions), ven_id, vtn.clock.now, vtn.cache)
    first, second = await poll(vtn, ven_id), await poll(vtn, ven_id)
    assert [first.message_type, second.message_type] == ["oadrDistributeEvent", "oadrCancelPartyRegistration"]


@pytest.mark.parametrize(
    ("signal_name", "signal_type", "value"),
    [
        ("SIMPLE", "level", 3.0),
        ("ELECTRICITY_PRICE", "price", 0.31),
        ("LOAD_DISPATCH", "delta", -2.5),
        ("LOAD_CONTROL", "x-loadControlCapacity", 0.5),
        ("x-flexvpp-target", "setpoint", 4.0),
    ],
)
async def test_every_signal_kind_renders_valid_and_intact(
    vtn: Vtn, signal_name: str, signal_type: str, value: float
) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-sig")
    intervals = (
        IntervalSpec(T0 + timedelta(hours=1), 900, value),
        IntervalSpec(T0 + timedelta(minutes=75), 900, value),
    )
    info = await create_event(
        UnitOfWork(vtn.sessions),
        EventSpec(
            [ven_id],
            signal_name,
            signal_type,
            intervals,
            start_after_seconds=300,
            response_required="never",
            priority=4,
        ),
        vtn.clock.now,
        vtn.cache,
    )
    [reply] = await drain(vtn, ven_id)  # the harness checks the XSD at teardown
    event = reply.element.find("oadr:oadrEvent", NS)
    assert event.findtext("oadr:oadrResponseRequired", namespaces=NS) == "never"
    signal = event.find("ei:eiEvent/ei:eiEventSignals/ei:eiEventSignal", NS)
    assert signal.findtext("ei:signalName", namespaces=NS) == signal_name
    assert signal.findtext("ei:signalType", namespaces=NS) == signal_type
    values = [float(v.text) for v in signal.iterfind(".//ei:signalPayload//ei:value", NS)]
    assert values == [value, value]
    assert event.find(".//{urn:ietf:params:xml:ns:icalendar-2.0}startafter").text == "PT5M"
    assert event.findtext("ei:eiEvent/ei:eventDescriptor/ei:priority", namespaces=NS) == "4"
    assert info.start_after_seconds == 300


async def test_folding_never_writes_into_a_message_already_sent(vtn: Vtn) -> None:
    from aggregator import outbox

    ven_id, _ = await provision_and_register(vtn, "ven-fold")
    await create_event(UnitOfWork(vtn.sessions), spec([ven_id], H), vtn.clock.now, vtn.cache)
    async with UnitOfWork(vtn.sessions) as uow:
        waiting = await uow.outbox.last_pending(ven_id)
        assert waiting is not None and waiting.message_type == outbox.DISTRIBUTE_EVENT
    assert (await poll(vtn, ven_id)).message_type == "oadrDistributeEvent"  # it goes out meanwhile
    async with UnitOfWork(vtn.sessions) as uow:
        assert not await uow.outbox.merge_payload(waiting.id, {"cancelled_event_ids": ["x"]})
        await outbox.queue_distribute(uow, [ven_id], vtn.clock.now, cancelled_event_ids=["x"])
        await uow.commit()
    async with UnitOfWork(vtn.sessions) as uow:
        unsent = await uow.outbox.unsent(ven_id)
        [sent] = await uow.outbox.in_flight(ven_id)  # not acknowledged yet
    assert [(m.message_type, m.payload) for m in unsent] == [
        (outbox.DISTRIBUTE_EVENT, {"cancelled_event_ids": ["x"]})
    ]
    assert sent.id == waiting.id and "x" not in sent.payload["cancelled_event_ids"]
