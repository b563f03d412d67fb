"""Events, VENs, resources, reports and subscriptions over 3.1, on the state 2.0b and REST share.
Every reply is checked against the spec (oa3_client)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from oa3_client import Oa3Client, ven_client
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from vtn.db.engine import create_engine
from vtn.db.tables import OutboxMessage, ReportValue


def _start() -> datetime:
    return (datetime.now(UTC) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)


def _event(program_id: str, kind: str = "PRICE", targets: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "programID": program_id,
        "eventName": "evening",
        "intervalPeriod": {"start": _start().isoformat().replace("+00:00", "Z"), "duration": "PT15M"},
        "intervals": [{"id": k, "payloads": [{"type": kind, "values": [0.2 + k]}]} for k in range(4)],
    }
    if targets is not None:
        body["targets"] = targets
    return body


async def _rows(db_url: str, table: Any) -> list[Any]:
    engine = create_engine(db_url)
    try:
        async with async_sessionmaker(engine)() as session:
            return list(await session.scalars(select(table)))
    finally:
        await engine.dispose()


async def _bl_ven(bl: Oa3Client, name: str, targets: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"objectType": "BL_VEN_REQUEST", "venName": name, "clientID": f"client-of-{name}"}
    if targets:
        body["targets"] = targets
    reply = await bl.post("/vens", body)
    assert reply.status == 201, reply.json
    return reply.json  # type: ignore[no-any-return]


async def test_a_3_1_event_reaches_its_vens_outbox_and_a_ven_reads_and_reports_on_it(
    http: Any, db_url: str, bl: Oa3Client
) -> None:
    program = (await bl.post("/programs", {"programName": "http://example.org/tou"})).json
    a = await _bl_ven(bl, "ven-a", ["north"])
    b = await _bl_ven(bl, "ven-b")
    made = await bl.post("/events", _event(program["id"], targets=["north"]))
    assert made.status == 201, made.json
    event = made.json
    assert event["targets"] == ["north"] and event["payloadDescriptors"][0]["payloadType"] == "PRICE"
    assert [i["payloads"][0]["values"] for i in event["intervals"]] == [[0.2], [1.2], [2.2], [3.2]]
    # The 2.0b side: an oadrDistributeEvent waits for ven-a (targeted by its group), none for ven-b.
    queued = {m.ven_id for m in await _rows(db_url, OutboxMessage) if m.message_type == "oadrDistributeEvent"}
    assert queued == {a["id"]}

    ven_a = await ven_client(http, db_url, "ven-a")
    ven_b = await ven_client(http, db_url, "ven-b")
    assert [e["id"] for e in (await ven_a.get("/events")).json] == [event["id"]]
    assert (await ven_b.get("/events")).json == []
    assert (await ven_b.get(f"/events/{event['id']}")).status == 404
    assert [v["venName"] for v in (await ven_a.get("/vens")).json] == ["ven-a"]
    assert (await ven_a.get(f"/vens/{b['id']}")).status == 404

    report = {
        "eventID": event["id"],
        "clientName": "ven-a",
        "reportName": "usage",
        "resources": [
            {
                "resourceName": "meter",
                "intervalPeriod": {"start": event["intervalPeriod"]["start"], "duration": "PT15M"},
                "intervals": [
                    {"id": 0, "payloads": [{"type": "USAGE", "values": [1.5]}]},
                    {"id": 1, "payloads": [{"type": "USAGE", "values": [2.5]}]},
                ],
            }
        ],
    }
    posted = await ven_a.post("/reports", report)
    assert posted.status == 201, posted.json
    assert posted.json["clientID"]
    assert (await bl.post("/reports", report)).status == 403  # only VENs write reports
    values = await _rows(db_url, ReportValue)
    assert sorted((v.ven_id, v.r_id, v.value) for v in values) == [
        (a["id"], "meter/USAGE", 1.5),
        (a["id"], "meter/USAGE", 2.5),
    ]
    assert [r["id"] for r in (await bl.get(f"/reports?eventID={event['id']}")).json] == [posted.json["id"]]
    assert (await ven_b.get("/reports")).json == []

    deleted = await bl.delete(f"/events/{event['id']}")
    assert deleted.status == 200
    assert (await bl.get(f"/events/{event['id']}")).status == 404


@pytest.mark.db_backends("sqlite")
async def test_an_event_made_over_rest_is_a_3_1_event_of_its_contexts_program(
    http: Any, db_url: str, bl: Oa3Client
) -> None:
    from vtn.api.tokens import create_token

    ven = await _bl_ven(bl, "home-1")
    operator = await create_token(db_url, "operator")
    start = _start()
    rest_event = {
        "ven_ids": [ven["id"]],
        "market_context": "http://flexvpp.org/market/portfolio",
        "signal_name": "LOAD_DISPATCH",
        "signal_type": "setpoint",
        "intervals": [{"start": start.isoformat(), "duration_seconds": 900, "value": 3.5}],
    }
    async with http.post(
        "/api/v1/events", json=rest_event, headers={"Authorization": f"Bearer {operator}"}
    ) as resp:
        assert resp.status == 201, await resp.text()
    programs = (await bl.get("/programs")).json
    assert [p["programName"] for p in programs] == ["http://flexvpp.org/market/portfolio"]
    events = (await bl.get(f"/events?programID={programs[0]['id']}")).json
    assert len(events) == 1
    assert events[0]["targets"] == ["home-1"]
    assert events[0]["payloadDescriptors"] == [
        {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "DISPATCH_SETPOINT", "units": "KW"}
    ]
    assert events[0]["intervals"][0]["payloads"] == [{"type": "DISPATCH_SETPOINT", "values": [3.5]}]
    ven_client_home = await ven_client(http, db_url, "home-1")
    assert len((await ven_client_home.get("/events")).json) == 1


@pytest.mark.db_backends("sqlite")
async def test_a_ven_client_registers_its_ven_and_its_resources(
    http: Any, db_url: str, bl: Oa3Client
) -> None:
    ven = await ven_client(http, db_url, None)
    made = await ven.post("/vens", {"objectType": "VEN_VEN_REQUEST", "venName": "ven-x"})
    assert made.status == 201, made.json
    assert (await ven.post("/vens", {"objectType": "VEN_VEN_REQUEST", "venName": "ven-x"})).status == 400
    assert (await ven.post("/vens", {"objectType": "VEN_VEN_REQUEST", "venName": "ven-y"})).status == 403
    ven_id = made.json["id"]
    resource = {"objectType": "VEN_RESOURCE_REQUEST", "resourceName": "battery", "venID": ven_id}
    created = await ven.post("/resources", resource)
    assert created.status == 201 and created.json["objectType"] == "RESOURCE"
    assert (await ven.post("/resources", resource)).status == 409
    assert [r["resourceName"] for r in (await ven.get("/resources")).json] == ["battery"]
    other = await _bl_ven(bl, "ven-z")
    foreign = {**resource, "venID": other["id"]}
    assert (await ven.post("/resources", foreign)).status == 403
    assert (await bl.delete(f"/resources/{created.json['id']}")).status == 200
    assert (await ven.get("/resources")).json == []


@pytest.mark.db_backends("sqlite")
async def test_subscriptions_belong_to_their_client(http: Any, db_url: str, bl: Oa3Client) -> None:
    ven = await ven_client(http, db_url, "ven-s")
    body = {
        "clientName": "ven-s",
        "objectOperations": [
            {"objects": ["EVENT"], "operations": ["CREATE", "UPDATE"], "callbackUrl": "http://127.0.0.1:9/cb"}
        ],
    }
    made = await ven.post("/subscriptions", body)
    assert made.status == 201, made.json
    assert len((await ven.get("/subscriptions?objects=EVENT")).json) == 1
    assert (await ven.get("/subscriptions?objects=REPORT")).json == []
    assert len((await bl.get("/subscriptions")).json) == 1
    other = await ven_client(http, db_url, "ven-t")
    assert (await other.get(f"/subscriptions/{made.json['id']}")).status == 404
    assert (await ven.delete(f"/subscriptions/{made.json['id']}")).status == 200


@pytest.mark.db_backends("sqlite")
async def test_events_that_do_not_fit_a_2_0b_signal_are_400_naming_why(bl: Oa3Client) -> None:
    program = (await bl.post("/programs", {"programName": "p"})).json
    two_types = _event(program["id"])
    two_types["intervals"][1]["payloads"][0]["type"] = "GHG"
    reply = await bl.post("/events", two_types)
    assert reply.status == 400 and "one payload type" in reply.json["detail"]
    unknown = _event(program["id"], kind="GHG")
    reply = await bl.post("/events", unknown)
    assert reply.status == 400 and "GHG is not one of" in reply.json["detail"]
    no_program = _event("nope")
    reply = await bl.post("/events", no_program)
    assert reply.status == 400 and "programID" in reply.json["detail"]
    months = _event(program["id"])
    months["intervalPeriod"]["duration"] = "P1M"
    reply = await bl.post("/events", months)
    assert reply.status == 400 and "months" in reply.json["detail"]
