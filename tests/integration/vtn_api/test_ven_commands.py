"""Operator commands for one VEN over REST (issue 16): ask it to re-register, request its offered
telemetry, list and cancel its report requests. Each queues the OpenADR message for the VEN's
next poll; tests/integration/vtn_openadr/test_operator_commands.py shows a polling VEN gets it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vtn_api_client import CheckedApi

from aggregator.reports import OfferedReport, ReportDescription, register_reports
from vtn.api.tokens import create_token
from vtn.db.tables import OutboxMessage
from vtn.db.uow import UnitOfWork
from vtn.settings import VtnSettings

REPORT_INTERVAL_SECONDS = 120  # the VTN setting a request without a granularity follows

USAGE = OfferedReport(
    "spec-usage",
    "METADATA_TELEMETRY_USAGE",
    (
        ReportDescription("power", "usage", "Direct Read", None, 10, 300),
        ReportDescription("energy", "usage", "Direct Read", None, 10, 300),
    ),
)
STATUS = OfferedReport(
    "spec-status",
    "METADATA_TELEMETRY_STATUS",
    (ReportDescription("status", "x-resourceStatus", "x-notApplicable", None, 10, 300),),
)


@pytest.fixture
def settings(db_url: str) -> VtnSettings:
    return VtnSettings(db_url=db_url, report_interval_seconds=REPORT_INTERVAL_SECONDS)


async def provision(api: CheckedApi, name: str = "home-1", site: str = "site-1") -> str:
    reply = await api.post("/vens", json={"ven_name": name, "site_id": site})
    assert reply.status == 201, reply.json
    return reply.json["ven_id"]  # type: ignore[no-any-return]


async def offering_telemetry(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession], name: str = "home-1"
) -> tuple[str, dict[str, str]]:
    """A VEN whose METADATA offered USAGE and STATUS: its report request ID per reportSpecifierID."""
    ven_id = await provision(api, name, f"site-{name}")
    requests = await register_reports(UnitOfWork(sessions), ven_id, [USAGE, STATUS], 60, datetime.now(UTC))
    return ven_id, {r["report_specifier_id"]: r["report_request_id"] for r in requests}


async def queued(sessions: async_sessionmaker[AsyncSession], ven_id: str) -> list[tuple[str, Any]]:
    async with sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.message_type, OutboxMessage.payload)
            .where(OutboxMessage.ven_id == ven_id)
            .order_by(OutboxMessage.id)
        )
        return [(message_type, payload) for message_type, payload in rows]


async def test_reregistration_is_queued_for_the_next_poll(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ven_id = await provision(api)
    reply = await api.post(f"/vens/{ven_id}/reregistration")
    assert reply.status == 202
    assert reply.json == {
        "ven_id": ven_id,
        "detail": "oadrRequestReregistration is queued for the VEN's next poll",
    }
    assert await queued(sessions, ven_id) == [("oadrRequestReregistration", {})]


async def test_a_vens_live_report_requests_are_listed(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ven_id, ids = await offering_telemetry(api, sessions)
    reply = await api.get(f"/vens/{ven_id}/report-requests")
    assert reply.status == 200
    by_specifier = {r["report_specifier_id"]: r for r in reply.json}
    assert set(by_specifier) == {"spec-usage", "spec-status"}
    usage = by_specifier["spec-usage"]
    assert usage["report_request_id"] == ids["spec-usage"]
    assert usage["report_name"] == "TELEMETRY_USAGE"
    assert usage["r_ids"] == [
        {"r_id": "power", "reading_type": "Direct Read"},
        {"r_id": "energy", "reading_type": "Direct Read"},
    ]
    assert (usage["granularity_seconds"], usage["report_back_seconds"]) == (60, 60)
    assert usage["created_at"] is not None and usage["acknowledged_at"] is None
    other = await provision(api, "home-2", "site-2")
    assert (await api.get(f"/vens/{other}/report-requests")).json == []


async def test_requesting_reports_asks_only_for_offered_reports_without_a_live_request(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ven_id, ids = await offering_telemetry(api, sessions)
    nothing = await api.post(f"/vens/{ven_id}/report-requests")
    assert nothing.status == 202
    assert nothing.json == {"ven_id": ven_id, "report_request_ids": []}
    assert await queued(sessions, ven_id) == [], "every offered report is already requested"

    assert (await api.delete(f"/vens/{ven_id}/report-requests/{ids['spec-usage']}")).status == 202
    reply = await api.post(f"/vens/{ven_id}/report-requests")
    assert reply.status == 202
    [new_id] = reply.json["report_request_ids"]
    assert await queued(sessions, ven_id) == [
        ("oadrCancelReport", {"report_request_id": ids["spec-usage"]}),
        ("oadrCreateReport", {"report_request_ids": [new_id]}),
    ]
    live = {r["report_request_id"]: r for r in (await api.get(f"/vens/{ven_id}/report-requests")).json}
    assert set(live) == {ids["spec-status"], new_id}
    assert live[new_id]["granularity_seconds"] == REPORT_INTERVAL_SECONDS  # no body: the VTN setting


async def test_a_report_request_takes_the_granularity_given(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ven_id, ids = await offering_telemetry(api, sessions)
    await api.delete(f"/vens/{ven_id}/report-requests/{ids['spec-status']}")
    reply = await api.post(f"/vens/{ven_id}/report-requests", json={"granularity_seconds": 30})
    [new_id] = reply.json["report_request_ids"]
    live = (await api.get(f"/vens/{ven_id}/report-requests")).json
    [request] = [r for r in live if r["report_request_id"] == new_id]
    assert (request["report_specifier_id"], request["granularity_seconds"]) == ("spec-status", 30)


async def test_cancelling_a_report_request_queues_oadr_cancel_report_once(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ven_id, ids = await offering_telemetry(api, sessions)
    path = f"/vens/{ven_id}/report-requests/{ids['spec-usage']}"
    reply = await api.delete(path)
    assert reply.status == 202
    assert reply.json == {
        "ven_id": ven_id,
        "report_request_id": ids["spec-usage"],
        "detail": "oadrCancelReport is queued for the VEN's next poll",
    }
    live = [r["report_request_id"] for r in (await api.get(f"/vens/{ven_id}/report-requests")).json]
    assert live == [ids["spec-status"]]
    again = await api.delete(path)
    assert again.status == 404, "no longer live"
    assert again.json["error"] == "not_found" and ids["spec-usage"] in again.json["message"]
    assert await queued(sessions, ven_id) == [("oadrCancelReport", {"report_request_id": ids["spec-usage"]})]


async def test_another_vens_report_request_is_404(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ven_id, ids = await offering_telemetry(api, sessions)
    other, _ = await offering_telemetry(api, sessions, "home-2")
    reply = await api.delete(f"/vens/{other}/report-requests/{ids['spec-usage']}")
    assert reply.status == 404
    assert reply.json["message"] == f"reportRequestID {ids['spec-usage']!r} not found"
    assert (await api.delete(f"/vens/{ven_id}/report-requests/no-such-request")).status == 404
    assert await queued(sessions, ven_id) == [] and await queued(sessions, other) == []


COMMANDS = [
    ("POST", "/reregistration"),
    ("GET", "/report-requests"),
    ("POST", "/report-requests"),
    ("DELETE", "/report-requests/some-request"),
]


@pytest.mark.parametrize(("method", "suffix"), COMMANDS)
@pytest.mark.parametrize("ven_id", ["no-such-ven", "x" * 65])
async def test_an_unknown_ven_is_404(api: CheckedApi, method: str, suffix: str, ven_id: str) -> None:
    reply = await api.call(method, f"/vens/{ven_id}{suffix}")
    assert reply.status == 404
    assert reply.json["error"] == "not_found" and ven_id in reply.json["message"]


@pytest.mark.parametrize(("method", "suffix"), COMMANDS)
async def test_a_customer_token_is_refused_even_for_its_own_site(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession], db_url: str, method: str, suffix: str
) -> None:
    ven_id, _ = await offering_telemetry(api, sessions)
    token = await create_token(db_url, "customer", site_id="site-home-1")
    reply = await api.call(method, f"/vens/{ven_id}{suffix}", token=token)
    assert reply.status == 403
    assert reply.json["error"] == "forbidden"
    assert await queued(sessions, ven_id) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"granularity_seconds": 0}, "granularity_seconds"),
        ({"granularity_seconds": "often"}, "granularity_seconds"),
        ({"granularity_seconds": 1.5}, "granularity_seconds"),
        ({"granularity": 60}, "granularity"),
    ],
)
async def test_a_bad_report_request_body_is_422_naming_the_field(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession], body: dict[str, Any], field: str
) -> None:
    ven_id, ids = await offering_telemetry(api, sessions)
    await api.delete(f"/vens/{ven_id}/report-requests/{ids['spec-usage']}")
    reply = await api.post(f"/vens/{ven_id}/report-requests", json=body)
    assert reply.status == 422
    assert [e["field"] for e in reply.json["errors"]] == [field]
    assert [t for t, _ in await queued(sessions, ven_id)] == ["oadrCancelReport"], "nothing requested"
