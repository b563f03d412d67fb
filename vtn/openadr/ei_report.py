"""EiReport: the VEN's METADATA (oadrRegisterReport), its report values (oadrUpdateReport),
and its answers to the VTN's requests (oadrCreatedReport, oadrCanceledReport, oadrRegisteredReport)."""

from __future__ import annotations

import logging

from lxml import etree

from aggregator import reports
from aggregator.reports import IncomingReport, OfferedReport, ReportDescription, ReportSample
from aggregator.resource_status import (
    LoadControlKind,
    LoadControlState,
    LoadControlValue,
    ResourceState,
    ResourceStatusSample,
)
from vtn.db.uow import UnitOfWork
from vtn.errors import InvalidInput
from vtn.openadr.context import Context, Handler
from vtn.openadr.render import render, report_requests, response
from vtn.openadr.xml import NS, parse_datetime, parse_seconds, text, texts

log = logging.getLogger(__name__)

# The reportSpecifierID of a METADATA report: asking for it asks for the other party's oadrRegisterReport.
METADATA = "METADATA"


def _seconds(element: etree._Element, path: str) -> int | None:
    value = text(element, path)
    if value is None:
        return None
    try:
        return parse_seconds(value)
    except ValueError as err:
        raise InvalidInput(path, str(err)) from err


def _description(element: etree._Element) -> ReportDescription:
    return ReportDescription(
        r_id=text(element, "ei:rID") or "",
        report_type=text(element, "ei:reportType") or "",
        reading_type=text(element, "ei:readingType") or "",
        resource_id=text(element, "ei:reportDataSource/ei:resourceID"),
        min_period_seconds=_seconds(element, "oadr:oadrSamplingRate/oadr:oadrMinPeriod"),
        max_period_seconds=_seconds(element, "oadr:oadrSamplingRate/oadr:oadrMaxPeriod"),
    )


def _offered(ctx: Context) -> list[OfferedReport]:
    return [
        OfferedReport(
            report_specifier_id=text(report, "ei:reportSpecifierID") or "",
            report_name=text(report, "ei:reportName") or "",
            descriptions=tuple(_description(d) for d in report.findall("oadr:oadrReportDescription", NS)),
        )
        for report in ctx.message.findall("oadr:oadrReport", NS)
    ]


async def oadr_register_report(ctx: Context) -> str:
    ven_id = ctx.ven_id or ""
    requested = await reports.register_reports(
        UnitOfWork(ctx.sessions), ven_id, _offered(ctx), ctx.settings.report_interval_seconds, ctx.now
    )
    return render(
        "oadrRegisteredReport",
        response=response(200, "OK", ctx.request_id),
        report_requests=report_requests(requested),
        ven_id=ven_id,
    )


def _float(element: etree._Element, path: str) -> float | None:
    value = text(element, path)
    if value is None:
        return None
    try:
        return float(value)  # xs:float: also INF, -INF and NaN, as Python spells them
    except ValueError as err:
        raise InvalidInput(path, str(err)) from err


def _boolean(element: etree._Element, path: str) -> bool:
    value = text(element, path)
    if value not in ("true", "1", "false", "0"):
        raise InvalidInput(path, f"{value!r} is not an xs:boolean")
    return value in ("true", "1")


def _load_control_value(state: etree._Element, kind: LoadControlKind) -> LoadControlValue | None:
    element = state.find(f"oadr:{kind}", NS)
    if element is None:
        return None
    current = _float(element, "oadr:oadrCurrent")
    if current is None:
        raise InvalidInput(kind.value, "needs oadrCurrent")
    return LoadControlValue(
        current,
        _float(element, "oadr:oadrMin"),
        _float(element, "oadr:oadrMax"),
        _float(element, "oadr:oadrNormal"),
    )


def _resource_state(status: etree._Element) -> ResourceState:
    """An oadrPayloadResourceStatus (XSD-checked already; the checks here name what is wrong)."""
    state = status.find("oadr:oadrLoadControlState", NS)
    return ResourceState(
        online=_boolean(status, "oadr:oadrOnline"),
        manual_override=_boolean(status, "oadr:oadrManualOverride"),
        load_control_state=None
        if state is None
        else LoadControlState(
            capacity=_load_control_value(state, LoadControlKind.CAPACITY),
            level_offset=_load_control_value(state, LoadControlKind.LEVEL_OFFSET),
            percent_offset=_load_control_value(state, LoadControlKind.PERCENT_OFFSET),
            set_point=_load_control_value(state, LoadControlKind.SET_POINT),
        ),
    )


def _payloads(interval: etree._Element) -> tuple[list[ReportSample], list[ResourceStatusSample]]:
    """Every oadrReportPayload of one interval (the XSD allows any number): the numeric ones as
    samples, the oadrPayloadResourceStatus ones as statuses (the XSD allows no other kind)."""
    start = text(interval, "xcal:dtstart/xcal:date-time")
    payloads = interval.findall("oadr:oadrReportPayload", NS)
    if start is None or not payloads:
        raise InvalidInput("interval", "every report interval needs dtstart and an oadrReportPayload")
    try:
        dtstart = parse_datetime(start)
    except ValueError as err:
        raise InvalidInput("interval", str(err)) from err
    duration_seconds = _seconds(interval, "xcal:duration/xcal:duration") or 0
    samples, statuses = [], []
    for payload in payloads:
        r_id = text(payload, "ei:rID")
        if r_id is None:
            raise InvalidInput("interval", "every report payload needs an rID")
        status = payload.find("oadr:oadrPayloadResourceStatus", NS)
        if status is not None:
            statuses.append(ResourceStatusSample(r_id, dtstart, duration_seconds, _resource_state(status)))
            continue
        value = text(payload, "ei:payloadFloat/ei:value")
        if value is None:
            raise InvalidInput("interval", f"report payload {r_id!r} has neither payloadFloat nor a status")
        try:
            samples.append(ReportSample(r_id, dtstart, duration_seconds, float(value)))
        except ValueError as err:
            raise InvalidInput("interval", str(err)) from err
    return samples, statuses


def _incoming(ctx: Context) -> list[IncomingReport]:
    found = []
    for report in ctx.message.findall("oadr:oadrReport", NS):
        samples: list[ReportSample] = []
        statuses: list[ResourceStatusSample] = []
        for interval in report.findall("strm:intervals/ei:interval", NS):
            numeric, status = _payloads(interval)
            samples.extend(numeric)
            statuses.extend(status)
        found.append(
            IncomingReport(
                report_request_id=text(report, "ei:reportRequestID") or "",
                report_name=text(report, "ei:reportName") or "",
                samples=tuple(samples),
                statuses=tuple(statuses),
            )
        )
    return found


async def oadr_update_report(ctx: Context) -> str:
    """Every payload is stored, or the message is refused (452 for an rID its request did not ask
    for, 454 for contradicting values). A resource status outside a TELEMETRY_STATUS report is
    not stored: the answer is 200, naming its rID (docs/vtn.md, EiReport)."""
    ven_id = ctx.ven_id or ""
    incoming = _incoming(ctx)
    await reports.store_report_values(UnitOfWork(ctx.sessions), ctx.report_sink, ven_id, incoming, ctx.now)
    skipped = reports.non_numeric_r_ids(incoming)
    description = "OK"
    if skipped:
        log.info("VEN %s: non-numeric report payloads not stored, rIDs %s", ven_id, skipped)
        description = f"OK; not stored (non-numeric payloads): rID {reports.name_r_ids(skipped)}"
    return render("oadrUpdatedReport", response=response(200, description, ctx.request_id), ven_id=ven_id)


async def oadr_created_report(ctx: Context) -> str:
    ven_id = ctx.ven_id or ""
    ids = texts(ctx.message, "oadr:oadrPendingReports/ei:reportRequestID")
    await reports.acknowledge_requests(UnitOfWork(ctx.sessions), ven_id, ids, ctx.now)
    return render("oadrResponse", response=response(200, "OK", ctx.request_id), ven_id=ven_id)


async def oadr_canceled_report(ctx: Context) -> str:
    ven_id = ctx.ven_id or ""
    ids = texts(ctx.message, "oadr:oadrPendingReports/ei:reportRequestID")
    await reports.acknowledge_requests(UnitOfWork(ctx.sessions), ven_id, ids, ctx.now)
    return render("oadrResponse", response=response(200, "OK", ctx.request_id), ven_id=ven_id)


async def oadr_registered_report(ctx: Context) -> str:
    """The VEN's answer to the VTN's (empty) METADATA: it cannot request anything from it."""
    ven_id = ctx.ven_id or ""
    return render("oadrResponse", response=response(200, "OK", ctx.request_id), ven_id=ven_id)


async def oadr_create_report(ctx: Context) -> str:
    """A VEN asking the VTN for reports. The VTN's METADATA offers none (docs/vtn.md, EiReport),
    so the only report a VEN can ask for is the METADATA itself (reportSpecifierID METADATA):
    the VTN sends its oadrRegisterReport again, through the outbox. Any other is 452, and then
    nothing is queued."""
    specifiers = texts(ctx.message, "oadr:oadrReportRequest/ei:reportSpecifier/ei:reportSpecifierID")
    unknown = sorted({s for s in specifiers if s != METADATA})
    code, description = 200, "OK"
    if unknown:
        code = 452
        description = f"the VTN offers no report {reports.name_r_ids(unknown)}, only its METADATA"
    elif specifiers:
        await reports.resend_vtn_metadata(UnitOfWork(ctx.sessions), ctx.cache, ctx.ven_id or "", ctx.now)
    return render(
        "oadrCreatedReport",
        response=response(code, description, ctx.request_id),
        pending_reports=[],
        ven_id=ctx.ven_id,
    )


async def oadr_cancel_report(ctx: Context) -> str:
    ids = texts(ctx.message, "ei:reportRequestID")
    return render(
        "oadrCanceledReport",
        response=response(452 if ids else 200, "no such report of the VTN" if ids else "OK", ctx.request_id),
        pending_reports=[],
        ven_id=ctx.ven_id,
    )


HANDLERS: dict[str, Handler] = {
    "oadrRegisterReport": oadr_register_report,
    "oadrUpdateReport": oadr_update_report,
    "oadrCreatedReport": oadr_created_report,
    "oadrCanceledReport": oadr_canceled_report,
    "oadrRegisteredReport": oadr_registered_report,
    "oadrCreateReport": oadr_create_report,
    "oadrCancelReport": oadr_cancel_report,
}
