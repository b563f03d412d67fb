"""Each REST route against the real service layer and database.

On SQLite: the route is the subject. Every route runs on PostgreSQL in the schemathesis fuzzer
(tests/integration/fuzz/test_rest_schemathesis.py) and the repositories under it on both
databases (tests/integration/db)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openapi_spec_validator import validate
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vtn_api_client import CheckedApi

from aggregator.opts import NewOpt, create_opt
from aggregator.records import OptWindow
from vtn.api.routes import ROUTES
from vtn.db.tables import EventResponse, OutboxMessage, ReportValue, Ven
from vtn.db.uow import UnitOfWork

pytestmark = pytest.mark.db_backends("sqlite")

START = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


def event_body(ven_ids: list[str], start: datetime = START, **extra: Any) -> dict[str, Any]:
    return {
        "ven_ids": ven_ids,
        "signal_name": "SIMPLE",
        "signal_type": "level",
        "intervals": [
            {"start": start.isoformat(), "duration_seconds": 900, "value": 1},
            {"start": (start + timedelta(seconds=900)).isoformat(), "duration_seconds": 900, "value": 2},
        ],
        **extra,
    }


async def provision(api: CheckedApi, name: str = "home-1", site: str = "site-1") -> dict[str, Any]:
    reply = await api.post("/vens", json={"ven_name": name, "site_id": site})
    assert reply.status == 201, reply.json
    return reply.json  # type: ignore[no-any-return]


async def outbox_types(sessions: async_sessionmaker[AsyncSession], ven_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage.message_type)
            .where(OutboxMessage.ven_id == ven_id)
            .order_by(OutboxMessage.id)
        )
        return list(rows)


# ---- OpenAPI ------------------------------------------------------------------------------------


async def test_the_openapi_document_is_valid_and_describes_every_route(api: CheckedApi) -> None:
    doc = (await api.get("/openapi.json")).json
    validate(doc)  # OpenAPI 3.1 meta-schema
    served = {
        (r.method, r.resource.canonical)  # type: ignore[union-attr]
        for r in api.client.app.router.routes()  # type: ignore[union-attr]
        if r.method != "HEAD" and r.resource.canonical.startswith("/api/v1/")  # type: ignore[union-attr]
    }
    documented = {(m.upper(), "/api/v1" + p) for p, item in doc["paths"].items() for m in item}
    assert served == documented
    assert documented == {(e.method, "/api/v1" + e.path) for e in ROUTES.endpoints}
    by_route = {(e.method.lower(), e.path): e for e in ROUTES.endpoints}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            endpoint = by_route[(method, path)]
            if endpoint.roles:
                assert op["security"] == [{"bearerAuth": []}], (method, path)
                assert op["x-roles"] == sorted(endpoint.roles), (method, path)
                assert {"401", "403", "429"} <= set(op["responses"]), (method, path)
            else:
                assert op["security"] == [] and path in ("/health", "/openapi.json"), (method, path)
            assert str(endpoint.status) in op["responses"]


# ---- VENs ---------------------------------------------------------------------------------------


async def test_provision_then_list_and_get_a_ven(api: CheckedApi) -> None:
    created = await api.post(
        "/vens", json={"ven_name": "home-1", "site_id": "site-1", "fingerprint": "AB:CD"}
    )
    assert created.status == 201
    ven = created.json
    assert ven["ven_name"] == "home-1" and ven["site_id"] == "site-1" and ven["fingerprint"] == "AB:CD"
    assert ven["registered"] is False and ven["registration_id"] is None
    assert ven["last_poll_at"] is None and ven["online"] is False
    other = await provision(api, "home-2", "site-2")
    listed = await api.get("/vens")
    assert listed.status == 200
    assert {v["ven_id"] for v in listed.json} == {ven["ven_id"], other["ven_id"]}
    got = await api.get(f"/vens/{ven['ven_id']}")
    assert got.status == 200 and got.json == ven


async def test_a_ven_name_is_taken_once(api: CheckedApi) -> None:
    await provision(api, "home-1")
    again = await api.post("/vens", json={"ven_name": "home-1", "site_id": "elsewhere"})
    assert again.status == 409
    assert "home-1" in again.json["message"]


async def test_ven_ids_are_case_sensitive(api: CheckedApi) -> None:
    ven = await provision(api)
    assert (await api.get(f"/vens/{ven['ven_id'].upper()}")).status == 404


@pytest.mark.parametrize("suffix", ["", "/telemetry", "/opts"])
@pytest.mark.parametrize("ven_id", ["no-such-ven", "bad%00id", "x" * 65])
async def test_unknown_vens_are_404(api: CheckedApi, ven_id: str, suffix: str) -> None:
    reply = await api.get(f"/vens/{ven_id}{suffix}")
    assert reply.status == 404
    assert reply.json["error"] == "not_found"


async def test_cancelling_a_registered_ven_queues_the_cancel_for_its_next_poll(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ven = await provision(api)
    async with sessions() as session:
        await session.execute(
            update(Ven)
            .where(Ven.ven_id == ven["ven_id"])
            .values(registration_id="reg-1", registered_at=START)
        )
        await session.commit()
    reply = await api.delete(f"/vens/{ven['ven_id']}")
    assert reply.status == 202
    assert reply.json["ven_id"] == ven["ven_id"]
    assert await outbox_types(sessions, ven["ven_id"]) == ["oadrCancelPartyRegistration"]
    # Still registered until the VEN has been told.
    assert (await api.get(f"/vens/{ven['ven_id']}")).json["registration_id"] == "reg-1"
    assert (await api.delete("/vens/no-such-ven")).status == 404


# ---- Events -------------------------------------------------------------------------------------


async def test_event_lifecycle_create_get_modify_cancel(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ven = await provision(api)
    created = await api.post("/events", json=event_body([ven["ven_id"]], priority=2, ramp_up_seconds=300))
    assert created.status == 201, created.json
    event = created.json
    assert event["modification_number"] == 0 and event["status"] == "far"
    assert event["ven_ids"] == [ven["ven_id"]] and event["responses"] == {}
    assert event["priority"] == 2 and event["ramp_up_seconds"] == 300
    assert [i["value"] for i in event["intervals"]] == [1, 2]
    assert datetime.fromisoformat(event["intervals"][0]["start"]) == START
    assert await outbox_types(sessions, ven["ven_id"]) == ["oadrDistributeEvent"]

    got = await api.get(f"/events/{event['event_id']}")
    assert got.status == 200 and got.json == event
    assert [e["event_id"] for e in (await api.get("/events")).json] == [event["event_id"]]

    patch = {"priority": 1, "signal_name": "LOAD_DISPATCH", "signal_type": "setpoint"}
    patched = await api.patch(f"/events/{event['event_id']}", json=patch)
    assert patched.status == 200, patched.json
    assert patched.json["modification_number"] == 1
    assert patched.json["priority"] == 1 and patched.json["signal_type"] == "setpoint"
    assert patched.json["intervals"] == event["intervals"]

    cancelled = await api.delete(f"/events/{event['event_id']}")
    assert cancelled.status == 200
    assert cancelled.json["status"] == "cancelled" and cancelled.json["modification_number"] == 2
    assert (await api.get(f"/events/{event['event_id']}")).json["status"] == "cancelled"
    # A cancelled event is final.
    assert (await api.patch(f"/events/{event['event_id']}", json={"priority": 3})).status == 409
    assert (await api.delete(f"/events/{event['event_id']}")).status == 409


async def test_event_defaults(api: CheckedApi) -> None:
    ven = await provision(api)
    event = (await api.post("/events", json=event_body([ven["ven_id"]]))).json
    assert event["priority"] == 0 and event["ramp_up_seconds"] == 0
    assert event["response_required"] == "always"
    assert event["market_context"]  # the VTN's default market context


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_unknown_events_are_404(api: CheckedApi, method: str) -> None:
    reply = await api.call(method, "/events/no-such-event", json={"priority": 1})
    assert reply.status == 404
    assert "no-such-event" in reply.json["message"]


async def test_an_unknown_ven_in_an_event_is_422_on_ven_ids(api: CheckedApi) -> None:
    ven = await provision(api)
    reply = await api.post("/events", json=event_body([ven["ven_id"], "ghost"]))
    assert reply.status == 422
    assert reply.json["errors"] == [{"field": "ven_ids", "reason": "unknown VEN 'ghost'"}]
    assert (await api.get("/events")).json == []


async def test_overlapping_events_for_one_ven_in_one_market_context_are_409(api: CheckedApi) -> None:
    ven = await provision(api)
    first = (await api.post("/events", json=event_body([ven["ven_id"]]))).json
    overlapping = await api.post("/events", json=event_body([ven["ven_id"]], START + timedelta(minutes=20)))
    assert overlapping.status == 409
    assert first["event_id"] in overlapping.json["message"]
    other_market = event_body([ven["ven_id"]], START + timedelta(minutes=20), market_context="http://m/2")
    assert (await api.post("/events", json=other_market)).status == 201
    later = await api.post("/events", json=event_body([ven["ven_id"]], START + timedelta(hours=1)))
    assert later.status == 201
    moved_onto_first = await api.patch(
        f"/events/{later.json['event_id']}", json={"intervals": event_body([], START)["intervals"]}
    )
    assert moved_onto_first.status == 409


async def test_service_rules_come_back_as_422_with_the_field(api: CheckedApi) -> None:
    ven = await provision(api)
    past = await api.post("/events", json=event_body([ven["ven_id"]], datetime(2020, 1, 1, tzinfo=UTC)))
    assert past.status == 422 and past.json["errors"][0]["field"] == "intervals"
    body = event_body([ven["ven_id"]])
    body["intervals"][1]["value"] = 7
    simple_level = await api.post("/events", json=body)
    assert simple_level.status == 422
    assert simple_level.json["errors"] == [
        {"field": "intervals[1].value", "reason": "a SIMPLE signal takes the levels 0, 1, 2 or 3"}
    ]


async def test_event_responses_show_each_vens_answer(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a, b = await provision(api, "a"), await provision(api, "b")
    event = (await api.post("/events", json=event_body([a["ven_id"], b["ven_id"]]))).json
    async with sessions() as session:
        session.add(
            EventResponse(
                ven_id=a["ven_id"], event_id=event["event_id"], modification_number=0, opt_type="optIn"
            )
        )
        session.add(
            EventResponse(
                ven_id=b["ven_id"], event_id=event["event_id"], modification_number=0, opt_type="optOut"
            )
        )
        await session.commit()
    got = (await api.get(f"/events/{event['event_id']}")).json
    assert got["responses"] == {a["ven_id"]: "optIn", b["ven_id"]: "optOut"}


# ---- Telemetry and opts -------------------------------------------------------------------------


async def test_telemetry_returns_stored_values_within_since_and_until(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ven = await provision(api)
    async with sessions() as session:
        for minute in range(4):
            session.add(
                ReportValue(
                    ven_id=ven["ven_id"],
                    report_request_id="rr-1",
                    report_name="TELEMETRY_USAGE",
                    r_id="power",
                    dtstart=START + timedelta(minutes=minute),
                    duration_seconds=60,
                    value=float(minute),
                )
            )
        await session.commit()
    path = f"/vens/{ven['ven_id']}/telemetry"
    everything = await api.get(path)
    assert everything.status == 200
    assert [p["value"] for p in everything.json] == [0, 1, 2, 3]
    assert everything.json[0] == {
        "report_request_id": "rr-1",
        "report_name": "TELEMETRY_USAGE",
        "r_id": "power",
        "dtstart": "2030-01-01T10:00:00Z",
        "duration_seconds": 60,
        "value": 0.0,
    }
    # Offsets other than UTC mean the same instants.
    window = await api.get(
        path, params={"since": "2030-01-01T11:01:00+01:00", "until": "2030-01-01T10:03:00Z"}
    )
    assert [p["value"] for p in window.json] == [1, 2]
    assert [p["value"] for p in (await api.get(path, params={"since": "2030-01-01T10:02:00Z"})).json] == [
        2,
        3,
    ]
    assert [p["value"] for p in (await api.get(path, params={"until": "2030-01-01T10:01:00Z"})).json] == [0]


async def test_opts_lists_a_vens_eiopt_records(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ven = await provision(api)
    assert (await api.get(f"/vens/{ven['ven_id']}/opts")).json == []
    await create_opt(
        UnitOfWork(sessions),
        ven["ven_id"],
        NewOpt("opt-1", "optOut", "x-schedule", resource_ids=("battery",), windows=(OptWindow(START, 3600),)),
        START,
    )
    opts = (await api.get(f"/vens/{ven['ven_id']}/opts")).json
    assert len(opts) == 1
    assert opts[0]["opt_id"] == "opt-1" and opts[0]["opt_type"] == "optOut"
    assert opts[0]["resource_ids"] == ["battery"]
    assert opts[0]["windows"] == [{"start": "2030-01-01T10:00:00Z", "duration_seconds": 3600}]
    assert opts[0]["cancelled_at"] is None
