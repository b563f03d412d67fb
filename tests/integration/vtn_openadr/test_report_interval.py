"""Report requests carry a reportInterval (issue 16): dtstart when the VTN made the request,
duration zero (no end). In oadrRegisteredReport and in oadrCreateReport from the outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import etree

from aggregator.reports import cancel_report_request, request_telemetry
from vtn.db.uow import UnitOfWork
from vtn.openadr.xml import NS, parse_datetime, parse_seconds

from .harness import T0, Reply, Vtn, assert_valid
from .helpers import drain, provision_and_register
from .test_reports import register_reports, requests_of


def intervals_of(reply: Reply) -> dict[str, tuple[str | None, str | None]]:
    """reportSpecifierID -> (reportInterval dtstart, duration) of each oadrReportRequest."""
    found = {}
    for request in reply.element.findall("oadr:oadrReportRequest", NS):
        spec = request.find("ei:reportSpecifier", NS)
        interval = spec.find("ei:reportInterval/xcal:properties", NS)
        start = duration = None
        if interval is not None:
            start = interval.findtext("xcal:dtstart/xcal:date-time", namespaces=NS)
            duration = interval.findtext("xcal:duration/xcal:duration", namespaces=NS)
        found[spec.findtext("ei:reportSpecifierID", namespaces=NS)] = (start, duration)
    return found


def assert_intervals(reply: Reply, specifiers: set[str], made_at: object) -> None:
    assert_valid(reply.body)
    found = intervals_of(reply)
    assert set(found) == specifiers, etree.tostring(reply.element)
    for specifier, (start, duration) in found.items():
        assert start is not None and duration is not None, f"{specifier}: no reportInterval"
        assert parse_datetime(start) == made_at
        assert parse_seconds(duration) == 0


@pytest.mark.db_backends("sqlite")
async def test_report_requests_carry_a_report_interval(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-ri")
    registered = await register_reports(vtn, ven_id)
    assert registered.message_type == "oadrRegisteredReport"
    assert_intervals(registered, {"spec-usage", "spec-status"}, T0)

    usage = requests_of(registered)["spec-usage"]["id"]
    vtn.clock.advance(600)
    await cancel_report_request(UnitOfWork(vtn.sessions), vtn.cache, ven_id, usage, vtn.clock.now)
    await request_telemetry(UnitOfWork(vtn.sessions), vtn.cache, ven_id, 60, vtn.clock.now)
    messages = await drain(vtn, ven_id)
    [create] = [m for m in messages if m.message_type == "oadrCreateReport"]
    assert_intervals(create, {"spec-usage"}, T0 + timedelta(seconds=600))
