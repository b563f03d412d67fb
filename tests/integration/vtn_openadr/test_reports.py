"""EiReport conformance: METADATA stored, telemetry requested, values stored idempotently,
create/cancel through the outbox, unknown reportRequestID 452, the VTN's own METADATA."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aggregator.reports import cancel_report_request, list_report_requests, request_telemetry
from aggregator.telemetry import query_telemetry
from vtn.db.uow import UnitOfWork
from vtn.openadr.xml import NS

from .harness import T0, Reply, Vtn
from .helpers import drain, poll, provision_and_register


def description(r_id: str, report_type: str, min_s: int, max_s: int) -> dict[str, Any]:
    return {
        "r_id": r_id,
        "report_type": report_type,
        "reading_type": "Direct Read",
        "report_data_source": {"resource_id": "meter-1"},
        "measurement": None,
        "sampling_rate": {
            "min_period": timedelta(seconds=min_s),
            "max_period": timedelta(seconds=max_s),
            "on_change": False,
        },
    }


def metadata() -> list[dict[str, Any]]:
    return [
        {
            "report_specifier_id": "spec-usage",
            "report_name": "METADATA_TELEMETRY_USAGE",
            "created_date_time": T0,
            "report_request_id": 0,
            "report_descriptions": [
                description("power", "usage", 10, 300),
                description("energy", "usage", 30, 600),
            ],
        },
        {
            "report_specifier_id": "spec-status",
            "report_name": "METADATA_TELEMETRY_STATUS",
            "created_date_time": T0,
            "report_request_id": 0,
            "report_descriptions": [description("status", "x-resourceStatus", 10, 20)],
        },
        {
            "report_specifier_id": "spec-history",
            "report_name": "METADATA_HISTORY_USAGE",
            "created_date_time": T0,
            "report_request_id": 0,
            "report_descriptions": [description("hist", "usage", 10, 3600)],
        },
    ]


async def register_reports(vtn: Vtn, ven_id: str) -> Reply:
    return await vtn.send(
        "EiReport", "oadrRegisterReport", request_id="rr", ven_id=ven_id, reports=metadata()
    )


def requests_of(reply: Reply) -> dict[str, dict[str, Any]]:
    found = {}
    for request in reply.element.findall("oadr:oadrReportRequest", NS):
        spec = request.find("ei:reportSpecifier", NS)
        found[spec.findtext("ei:reportSpecifierID", namespaces=NS)] = {
            "id": request.findtext("ei:reportRequestID", namespaces=NS),
            "granularity": spec.findtext("{*}granularity/{*}duration"),
            "back": spec.findtext("ei:reportBackDuration/{*}duration", namespaces=NS),
            "r_ids": [p.findtext("ei:rID", namespaces=NS) for p in spec.findall("ei:specifierPayload", NS)],
        }
    return found


async def update_report(
    vtn: Vtn, ven_id: str, report_request_id: str, values: list[tuple[int, str, float]]
) -> Reply:
    intervals = [
        {
            "dtstart": T0 + timedelta(seconds=offset),
            "duration": timedelta(seconds=60),
            "report_payload": {"r_id": r_id, "value": value},
        }
        for offset, r_id, value in values
    ]
    report = {
        "report_request_id": report_request_id,
        "report_specifier_id": "spec-usage",
        "report_name": "TELEMETRY_USAGE",
        "report_id": "rep-1",
        "created_date_time": T0,
        "dtstart": T0,
        "intervals": intervals,
    }
    return await vtn.send("EiReport", "oadrUpdateReport", request_id="u", ven_id=ven_id, reports=[report])


async def test_vtn_metadata_arrives_on_first_poll_after_registration(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-r0")  # asserts the first poll is oadrRegisterReport
    ack = await vtn.send(
        "EiReport",
        "oadrRegisteredReport",
        ven_id=ven_id,
        report_requests=[],
        response={"response_code": 200, "response_description": "OK", "request_id": "x"},
    )
    assert ack.message_type == "oadrResponse" and ack.code == 200
    assert await drain(vtn, ven_id) == []


async def test_register_report_requests_usage_and_status_periodically(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-r1")
    reply = await register_reports(vtn, ven_id)
    assert reply.message_type == "oadrRegisteredReport" and reply.code == 200
    requests = requests_of(reply)
    assert set(requests) == {"spec-usage", "spec-status"}
    # report_interval_seconds (60) fits both usage rIDs; status offers at most 20 s
    assert requests["spec-usage"]["granularity"] == "PT1M" and requests["spec-usage"]["back"] == "PT1M"
    assert requests["spec-usage"]["r_ids"] == ["power", "energy"]
    assert requests["spec-status"]["granularity"] == "PT20S"
    created = await vtn.send(
        "EiReport",
        "oadrCreatedReport",
        ven_id=ven_id,
        pending_reports=[{"report_request_id": r["id"]} for r in requests.values()],
        response={"response_code": 200, "response_description": "OK", "request_id": "rr"},
    )
    assert created.message_type == "oadrResponse" and created.code == 200
    unknown = await vtn.send(
        "EiReport",
        "oadrCreatedReport",
        ven_id=ven_id,
        pending_reports=[{"report_request_id": "not-ours"}],
        response={"response_code": 200, "response_description": "OK", "request_id": "rr"},
    )
    assert unknown.code == 452


async def test_update_report_values_are_stored_once(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-r2")
    request_id = requests_of(await register_reports(vtn, ven_id))["spec-usage"]["id"]
    values = [(0, "power", 1.5), (0, "energy", 10.0), (60, "power", 2.5)]
    reply = await update_report(vtn, ven_id, request_id, values)
    assert reply.message_type == "oadrUpdatedReport" and reply.code == 200
    again = await update_report(vtn, ven_id, request_id, [*values, (120, "power", 3.5)])
    assert again.code == 200
    points = await query_telemetry(UnitOfWork(vtn.sessions), ven_id, None, None)
    assert [(p.dtstart - T0, p.r_id, p.value) for p in points] == [
        (timedelta(0), "energy", 10.0),
        (timedelta(0), "power", 1.5),
        (timedelta(seconds=60), "power", 2.5),
        (timedelta(seconds=120), "power", 3.5),
    ]
    assert {p.report_name for p in points} == {"TELEMETRY_USAGE"}
    window = await query_telemetry(
        UnitOfWork(vtn.sessions), ven_id, T0 + timedelta(seconds=60), T0 + timedelta(seconds=120)
    )
    assert [p.value for p in window] == [2.5]


async def test_update_with_unknown_report_request_is_452_and_stores_nothing(vtn: Vtn) -> None:
    ven_a, _ = await provision_and_register(vtn, "ven-r3")
    ven_b, _ = await provision_and_register(vtn, "ven-r4")
    request_a = requests_of(await register_reports(vtn, ven_a))["spec-usage"]["id"]
    reply = await update_report(vtn, ven_a, "unknown-request", [(0, "power", 1.0)])
    assert reply.message_type == "oadrUpdatedReport" and reply.code == 452
    stolen = await update_report(vtn, ven_b, request_a, [(0, "power", 1.0)])  # another VEN's request
    assert stolen.code == 452
    assert await query_telemetry(UnitOfWork(vtn.sessions), ven_a, None, None) == []
    assert await query_telemetry(UnitOfWork(vtn.sessions), ven_b, None, None) == []


async def test_create_and_cancel_report_travel_through_the_outbox(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-r5")
    first = requests_of(await register_reports(vtn, ven_id))["spec-usage"]["id"]
    await cancel_report_request(UnitOfWork(vtn.sessions), vtn.cache, ven_id, first, vtn.clock.now)
    new_ids = await request_telemetry(UnitOfWork(vtn.sessions), vtn.cache, ven_id, 60, vtn.clock.now)
    cancel, create = await drain(vtn, ven_id)
    assert cancel.message_type == "oadrCancelReport"
    assert cancel.text("ei:reportRequestID") == first
    assert create.message_type == "oadrCreateReport"
    assert set(requests_of(create)) == {"spec-usage"}, "status is still requested: not asked again"
    assert {r["id"] for r in requests_of(create).values()} == set(new_ids)
    live = {r.report_request_id for r in await list_report_requests(UnitOfWork(vtn.sessions), ven_id)}
    assert first not in live and set(new_ids) <= live
    again = await request_telemetry(UnitOfWork(vtn.sessions), vtn.cache, ven_id, 60, vtn.clock.now)
    assert again == [], "already requested"
    assert await drain(vtn, ven_id) == []


async def test_report_messages_from_unregistered_ven_are_refused(vtn: Vtn) -> None:
    ven_id, registration_id = await provision_and_register(vtn, "ven-r6")
    request_id = requests_of(await register_reports(vtn, ven_id))["spec-usage"]["id"]
    await vtn.send(
        "EiRegisterParty",
        "oadrCancelPartyRegistration",
        request_id="c",
        registration_id=registration_id,
        ven_id=ven_id,
    )
    reply = await update_report(vtn, ven_id, request_id, [(0, "power", 1.0)])
    assert reply.message_type == "oadrUpdatedReport" and reply.code == 463
    assert await query_telemetry(UnitOfWork(vtn.sessions), ven_id, None, None) == []
    assert (await poll(vtn, ven_id)).code == 463
