"""The OpenADR messages a home agent sends, built as the agent builds them (openleadr's
templates + flexmodel.flexreport), sent to the VTN under test, replies checked against the XSD."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from openleadr import OpenADRClient, enums, objects
from openleadr.messaging import create_message, parse_message, validate_xml_schema
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flexmodel.flexreport import REPORT_NAME, ReportPoint
from ven.agent.openadr_mapping import FLEX_SPECIFIER, STATUS_SPECIFIER

OPENADR = "/OpenADR2/Simple/2.0b"


@dataclass
class SiteVtn:
    api: Any  # vtn_api_client.CheckedApi
    sessions: async_sessionmaker[AsyncSession]
    openadr_url: str
    db_url: str


SAMPLING = objects.SamplingRate(
    min_period=timedelta(seconds=1), max_period=timedelta(hours=1), on_change=False
)
REGISTRATION = dict(
    http_pull_model=True,
    xml_signature=False,
    report_only=False,
    profile_name="2.0b",
    transport_name="simpleHttp",
    transport_address=None,
    ven_id=None,
    registration_id=None,
)


async def send(vtn: SiteVtn, service: str, message_type: str, **payload: Any) -> tuple[str, dict[str, Any]]:
    body = create_message(message_type, **payload)
    async with vtn.api.client.post(
        f"{OPENADR}/{service}", data=body, headers={"Content-Type": "application/xml"}
    ) as resp:
        assert resp.status == 200
        raw = await resp.read()
    validate_xml_schema(raw)
    reply_type, reply = parse_message(raw)
    return str(reply_type), reply


def code(reply: dict[str, Any]) -> int:
    return int(reply["response"]["response_code"])


async def provision_and_register(vtn: SiteVtn, ven_name: str, site_id: str) -> str:
    ven = await vtn.api.call("POST", "/vens", json={"ven_name": ven_name, "site_id": site_id})
    assert ven.status == 201, ven.json
    ven_id = str(ven.json["ven_id"])
    kind, reply = await send(
        vtn,
        "EiRegisterParty",
        "oadrCreatePartyRegistration",
        request_id="r1",
        ven_name=ven_name,
        **REGISTRATION,
    )
    assert kind == "oadrCreatedPartyRegistration" and code(reply) == 200 and reply["ven_id"] == ven_id
    kind, _ = await send(vtn, "OadrPoll", "oadrPoll", ven_id=ven_id)
    assert kind == "oadrRegisterReport"  # the VTN's own METADATA
    return ven_id


def metadata(flex_points: list[ReportPoint], status: dict[str, str]) -> list[objects.Report]:
    """oadrRegisterReport's reports as the agent offers them (VenClient.offer_reports)."""
    builder = OpenADRClient(ven_name="metadata-builder", vtn_url="http://127.0.0.1:9")
    common = {"callback": lambda: 0.0, "sampling_rate": SAMPLING, "report_duration": timedelta(hours=1)}
    for r_id, resource in status.items():
        builder.add_report(
            resource_id=resource,
            r_id=r_id,
            report_specifier_id=STATUS_SPECIFIER,
            report_name=enums.REPORT_NAME.TELEMETRY_STATUS,
            report_type="x-resourceStatus",
            reading_type="x-notApplicable",
            **common,
        )
    for point in flex_points:
        builder.add_report(
            resource_id=point.resource_id,
            measurement=point.unit,
            unit=point.unit,
            r_id=point.r_id,
            report_specifier_id=FLEX_SPECIFIER,
            report_name=REPORT_NAME,
            report_type=point.report_type,
            reading_type=point.reading_type,
            **common,
        )
    reports: list[objects.Report] = builder.reports
    for report in reports:
        report.created_date_time = datetime.now(UTC)
        report.report_request_id = 0
    return reports


async def register_reports(vtn: SiteVtn, ven_id: str, reports: list[objects.Report]) -> dict[str, str]:
    """Send METADATA; reportSpecifierID -> the reportRequestID the VTN answers with."""
    kind, reply = await send(
        vtn,
        "EiReport",
        "oadrRegisterReport",
        request_id="rr",
        ven_id=ven_id,
        reports=reports,
        report_request_id=0,
    )
    assert kind == "oadrRegisteredReport" and code(reply) == 200
    return {
        r["report_specifier"]["report_specifier_id"]: r["report_request_id"]
        for r in reply.get("report_requests", [])
    }


async def update_report(
    vtn: SiteVtn,
    ven_id: str,
    report_request_id: str,
    specifier: str,
    name: str,
    values: Sequence[tuple[str, datetime, timedelta | None, float]],
) -> int:
    intervals = [
        objects.ReportInterval(
            dtstart=start, duration=duration, report_payload=objects.ReportPayload(r_id=r, value=v)
        )
        for r, start, duration, v in values
    ]
    report = objects.Report(
        report_request_id=report_request_id,
        report_specifier_id=specifier,
        report_name=name,
        intervals=intervals,
        dtstart=min(i.dtstart for i in intervals),
        created_date_time=datetime.now(UTC),
    )
    kind, reply = await send(
        vtn, "EiReport", "oadrUpdateReport", ven_id=ven_id, request_id="u", reports=[report]
    )
    assert kind == "oadrUpdatedReport"
    return code(reply)


def flex_values(points: list[ReportPoint]) -> list[tuple[str, datetime, timedelta | None, float]]:
    return [(p.r_id, i.start, i.duration, i.value) for p in points for i in p.intervals]
