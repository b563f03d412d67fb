"""EiReport use cases: the VEN's METADATA, the VTN's report requests, and report values.

Each takes a unit of work (aggregator/uow.py, unentered) and, where it queues a message for the
VEN, the poll notifier; storing values may also take the process's report sink (ports.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregator import outbox
from aggregator.errors import InvalidInput, NotFound
from aggregator.ids import new_id
from aggregator.notification_sources import PEAK_GUARD_R_ID, peak_guard_tripped
from aggregator.ports import PollNotifier, ReportSink
from aggregator.records import ReportRegistrationRecord, ReportRequestRecord
from aggregator.report_value_rows import RequestOwner, dedupe, requested_r_ids
from aggregator.resource_status import ResourceStatusSample, field_values
from aggregator.site import STATUS_REPORT_NAME
from aggregator.uow import UnitOfWork
from flexmodel.flexreport import REPORT_NAME as FLEX_REPORT_NAME

# The reports the VTN asks every VEN for, periodically (the home's flexibility: docs/openadr-mapping.md).
REQUESTED_REPORTS = ("TELEMETRY_USAGE", "TELEMETRY_STATUS", FLEX_REPORT_NAME)


@dataclass(frozen=True, slots=True)
class ReportDescription:
    r_id: str
    report_type: str
    reading_type: str
    resource_id: str | None = None
    min_period_seconds: int | None = None
    max_period_seconds: int | None = None
    units: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class OfferedReport:
    """One oadrReport of a VEN's oadrRegisterReport (METADATA)."""

    report_specifier_id: str
    report_name: str  # as sent, e.g. METADATA_TELEMETRY_USAGE
    descriptions: tuple[ReportDescription, ...]


@dataclass(frozen=True, slots=True)
class ReportSample:
    r_id: str
    dtstart: datetime
    duration_seconds: int
    value: float


@dataclass(frozen=True, slots=True)
class IncomingReport:
    """One oadrReport of an oadrUpdateReport: every payload of every interval."""

    report_request_id: str
    report_name: str
    samples: tuple[ReportSample, ...]  # the numeric (payloadFloat) payloads
    # the oadrPayloadResourceStatus payloads: stored in a TELEMETRY_STATUS report (_stored_statuses)
    statuses: tuple[ResourceStatusSample, ...] = ()


class UnrequestedRID(NotFound):
    """A report carries an rID its report request did not ask for (OpenADR 452 INVALID_ID)."""

    def __init__(self, report_request_id: str, r_ids: Sequence[str]) -> None:
        super().__init__("rID", r_ids[0])
        self.args = (
            f"rID {name_r_ids(r_ids)} not requested by reportRequestID {report_request_id!r}: "
            "nothing of this message was stored",
        )


def name_r_ids(r_ids: Sequence[str], shown: int = 5) -> str:
    """rIDs for a responseDescription: the first few, quoted, and how many more."""
    named = ", ".join(repr(r) for r in r_ids[:shown])
    return named if len(r_ids) <= shown else f"{named} and {len(r_ids) - shown} more"


def _stored_statuses(report: IncomingReport) -> tuple[ResourceStatusSample, ...]:
    """The resource statuses stored: those of a report the VEN names TELEMETRY_STATUS, where
    2.0b puts them and `/status` reads them. In another report (e.g. a usage series) one would
    be filed under a description that is not a status: it is not stored, and the answer says so."""
    return report.statuses if report.report_name == STATUS_REPORT_NAME else ()


def non_numeric_r_ids(reports: Sequence[IncomingReport]) -> list[str]:
    """The distinct rIDs of the non-numeric payloads that were not stored: the resource
    statuses outside a TELEMETRY_STATUS report."""
    return sorted({s.r_id for report in reports if not _stored_statuses(report) for s in report.statuses})


def _check_requested(report: IncomingReport, requested: frozenset[str]) -> None:
    """A payload for an rID the request did not ask for refuses the message (452) rather than be
    stored under a request that does not describe it, or dropped unseen."""
    offered = {s.r_id for s in report.samples} | {s.r_id for s in report.statuses}
    unrequested = sorted(offered - requested)
    if unrequested:
        raise UnrequestedRID(report.report_request_id, unrequested)


def _plain_name(report_name: str) -> str:
    return report_name.removeprefix("METADATA_")


def _granularity(descriptions: Sequence[ReportDescription], wanted_seconds: int) -> int:
    """The wanted granularity moved into the sampling range every description offers."""
    lows = [d.min_period_seconds for d in descriptions if d.min_period_seconds is not None]
    highs = [d.max_period_seconds for d in descriptions if d.max_period_seconds is not None]
    low = max(lows) if lows else 0
    high = min(highs) if highs else wanted_seconds
    if low > high:  # no common rate: follow the first description's range
        first = descriptions[0]
        low, high = first.min_period_seconds or 0, first.max_period_seconds or wanted_seconds
    return max(low, min(wanted_seconds, high)) or wanted_seconds


def report_requests_payload(requests: Sequence[ReportRequestRecord]) -> list[dict[str, Any]]:
    """What renders an oadrReportRequest list (seconds, made timedeltas at rendering)."""
    return [
        {
            "report_request_id": r.report_request_id,
            "report_specifier_id": r.report_specifier_id,
            "granularity_seconds": r.granularity_seconds,
            "report_back_seconds": r.report_back_seconds,
            "created_at": r.created_at,  # the request's reportInterval starts here
            "specifier_payloads": list(r.r_ids),
        }
        for r in requests
    ]


def _new_requests(
    ven_id: str, offered: Sequence[OfferedReport], granularity_seconds: int, now: datetime
) -> list[ReportRequestRecord]:
    requests = []
    for report in offered:
        if _plain_name(report.report_name) not in REQUESTED_REPORTS or not report.descriptions:
            continue
        granularity = _granularity(report.descriptions, granularity_seconds)
        requests.append(
            ReportRequestRecord(
                report_request_id=new_id(),
                ven_id=ven_id,
                report_specifier_id=report.report_specifier_id,
                report_name=_plain_name(report.report_name),
                r_ids=tuple({"r_id": d.r_id, "reading_type": d.reading_type} for d in report.descriptions),
                granularity_seconds=granularity,
                report_back_seconds=granularity,
                created_at=now,
            )
        )
    return requests


async def register_reports(
    uow: UnitOfWork, ven_id: str, offered: Sequence[OfferedReport], granularity_seconds: int, now: datetime
) -> list[dict[str, Any]]:
    """Store the VEN's METADATA (replacing what it offered before) and request its telemetry.

    Requests made for the previous offer are retired: the VEN registers again only when it
    forgot them. Returns the new requests, to be carried in oadrRegisteredReport.
    """
    _check_unique_specifiers(offered)
    async with uow:
        registrations = [
            ReportRegistrationRecord(
                ven_id=ven_id,
                report_specifier_id=report.report_specifier_id,
                report_name=report.report_name,
                descriptions=tuple(_description_json(d) for d in report.descriptions),
                created_at=now,
            )
            for report in offered
        ]
        await uow.reports.replace_registrations(ven_id, registrations)
        await uow.reports.cancel_live_requests(ven_id, now)
        requests = _new_requests(ven_id, offered, granularity_seconds, now)
        for request in requests:
            uow.reports.add_request(request)
        await uow.commit()
    return report_requests_payload(requests)


def _check_unique_specifiers(offered: Sequence[OfferedReport]) -> None:
    """Two reports under one reportSpecifierID cannot both be stored (found by the fuzzer: a 500)."""
    seen: set[str] = set()
    for report in offered:
        if report.report_specifier_id in seen:
            raise InvalidInput("reportSpecifierID", f"{report.report_specifier_id!r} is offered twice")
        seen.add(report.report_specifier_id)


def _description_json(d: ReportDescription) -> dict[str, Any]:
    return {
        "r_id": d.r_id,
        "report_type": d.report_type,
        "reading_type": d.reading_type,
        "resource_id": d.resource_id,
        "units": d.units,
        "sampling": {"min_period_seconds": d.min_period_seconds, "max_period_seconds": d.max_period_seconds},
    }


async def request_telemetry(
    uow: UnitOfWork, notifier: PollNotifier, ven_id: str, granularity_seconds: int, now: datetime
) -> list[str]:
    """Queue an oadrCreateReport for offered telemetry that has no live request yet.

    Returns the new reportRequestIDs (none if every offered report is already requested).
    """
    async with uow:
        if await uow.vens.get(ven_id) is None:
            raise NotFound("VEN", ven_id)
        offered = [
            OfferedReport(
                r.report_specifier_id,
                r.report_name,
                tuple(
                    ReportDescription(
                        d["r_id"],
                        d["report_type"],
                        d["reading_type"],
                        d.get("resource_id"),
                        d["sampling"]["min_period_seconds"],
                        d["sampling"]["max_period_seconds"],
                    )
                    for d in r.descriptions
                ),
            )
            for r in await uow.reports.registrations(ven_id)
        ]
        live = {r.report_specifier_id for r in await uow.reports.live_requests(ven_id)}
        offered = [o for o in offered if o.report_specifier_id not in live]
        requests = _new_requests(ven_id, offered, granularity_seconds, now)
        for request in requests:
            uow.reports.add_request(request)
        ids = [r.report_request_id for r in requests]
        if ids:
            uow.outbox.enqueue(ven_id, outbox.CREATE_REPORT, {"report_request_ids": ids}, now)
        await uow.commit()
    if ids:
        notifier.mark_pending([ven_id])
    return ids


async def _own_request(uow: UnitOfWork, ven_id: str, report_request_id: str) -> ReportRequestRecord:
    request = await uow.reports.get_request(report_request_id)
    if request is None or request.ven_id != ven_id:
        raise NotFound("reportRequestID", report_request_id)
    return request


async def cancel_report_request(
    uow: UnitOfWork, notifier: PollNotifier, ven_id: str, report_request_id: str, now: datetime
) -> None:
    """Queue oadrCancelReport for one of the VEN's live report requests. NotFound otherwise."""
    async with uow:
        if await uow.vens.get(ven_id) is None:  # name the VEN, not the request, in the 404
            raise NotFound("VEN", ven_id)
        request = await _own_request(uow, ven_id, report_request_id)
        if request.cancelled_at is not None:
            raise NotFound("reportRequestID", report_request_id)
        await uow.reports.cancel_request(report_request_id, now)
        uow.outbox.enqueue(ven_id, outbox.CANCEL_REPORT, {"report_request_id": report_request_id}, now)
        await uow.commit()
    notifier.mark_pending([ven_id])


async def resend_vtn_metadata(uow: UnitOfWork, notifier: PollNotifier, ven_id: str, now: datetime) -> None:
    """Queue the VTN's METADATA (oadrRegisterReport) for the VEN again: it asked for it with an
    oadrCreateReport for reportSpecifierID METADATA (2.0b's way to have it sent again)."""
    async with uow:
        if await uow.vens.get(ven_id) is None:
            raise NotFound("VEN", ven_id)
        uow.outbox.enqueue(ven_id, outbox.REGISTER_REPORT, {}, now)
        await uow.commit()
    notifier.mark_pending([ven_id])


async def list_report_requests(uow: UnitOfWork, ven_id: str) -> list[ReportRequestRecord]:
    """The VEN's live report requests, oldest first (for operators). NotFound if no such VEN."""
    async with uow:
        if await uow.vens.get(ven_id) is None:
            raise NotFound("VEN", ven_id)
        return await uow.reports.live_requests(ven_id)


async def acknowledge_requests(
    uow: UnitOfWork, ven_id: str, report_request_ids: Sequence[str], now: datetime
) -> None:
    """oadrCreatedReport / oadrCanceledReport: every named request must be the VEN's (else 452)."""
    async with uow:
        for report_request_id in report_request_ids:
            request = await _own_request(uow, ven_id, report_request_id)
            if request.acknowledged_at is None:
                await uow.reports.acknowledge_request(report_request_id, now)
        await uow.commit()


async def store_report_values(
    uow: UnitOfWork,
    sink: ReportSink | None,
    ven_id: str,
    reports: Sequence[IncomingReport],
    now: datetime,
) -> int:
    """Store every numeric payload of an oadrUpdateReport; values already stored are skipped.

    Nothing of the message is stored when it fails: 452 (NotFound) for an unknown or another
    VEN's reportRequestID, or for an rID that request did not ask for (UnrequestedRID); 454
    (InvalidInput) for two different values of one rID at one dtstart. Returns the count offered.

    Given a `sink` (the VTN process's group-commit writer), time series values go through it:
    committed, with other VENs' reports, before this returns. Without one (a tool, a test), and
    for a flexibility snapshot, they are written in `uow`."""
    if sink is not None:
        batched = await _batched_rows(sink, ven_id, reports, now)
        if batched is not None:
            await sink.write(dedupe(_check_consistent(batched)))
            await _tell_peak_guard(uow, ven_id, batched, now)
            return len(batched)
    rows: list[dict[str, Any]] = []
    snapshot: list[dict[str, Any]] | None = None
    async with uow:
        for report in reports:
            request = await uow.reports.get_request(report.report_request_id)
            owner = (
                None
                if request is None
                else RequestOwner(request.ven_id, request.report_name, requested_r_ids(request.r_ids))
            )
            report_rows = _checked_rows(ven_id, report, owner, now)
            if _is_flex(owner):
                snapshot = report_rows
            else:
                rows.extend(report_rows)
        await uow.reports.add_values(dedupe(_check_consistent(rows)))
        if snapshot is not None:
            await uow.reports.replace_values(ven_id, FLEX_REPORT_NAME, dedupe(_check_consistent(snapshot)))
        await peak_guard_tripped(uow, ven_id, rows, now)
        await uow.commit()
    return len(rows) + len(snapshot or [])


async def _tell_peak_guard(uow: UnitOfWork, ven_id: str, rows: list[dict[str, Any]], now: datetime) -> None:
    """After the sink stored the rows: the household's capacity_peak_risk, if the agent's guard
    started shedding (a rare report: the quick check keeps the common one free of queries)."""
    if any(r["r_id"] == PEAK_GUARD_R_ID and r["value"] >= 0.5 for r in rows):
        async with uow:
            await peak_guard_tripped(uow, ven_id, rows, now)
            await uow.commit()


async def _batched_rows(
    sink: ReportSink, ven_id: str, reports: Sequence[IncomingReport], now: datetime
) -> list[dict[str, Any]] | None:
    """The rows of a message of plain (time series) reports, or None when it carries a
    flexibility snapshot (which replaces rows: written in its own transaction)."""
    rows: list[dict[str, Any]] = []
    for report in reports:
        owner = await sink.owner(report.report_request_id)
        report_rows = _checked_rows(ven_id, report, owner, now)
        if _is_flex(owner):
            return None
        rows.extend(report_rows)
    return rows


def _is_flex(owner: RequestOwner | None) -> bool:
    return owner is not None and owner.report_name == FLEX_REPORT_NAME


def _checked_rows(
    ven_id: str, report: IncomingReport, owner: RequestOwner | None, now: datetime
) -> list[dict[str, Any]]:
    """The rows of one report, once its request is known to be the VEN's (else 452) and to have
    asked for every rID it carries (UnrequestedRID).

    A flexibility report is a complete snapshot (the latest replaces the previous, and an EV
    that left has no points), so its values are stored under the request's plain report name."""
    if owner is None or owner.ven_id != ven_id:
        raise NotFound("reportRequestID", report.report_request_id)
    _check_requested(report, owner.r_ids)
    name = FLEX_REPORT_NAME if _is_flex(owner) else report.report_name or owner.report_name
    return _value_rows(ven_id, report.report_request_id, name, report, now)


def _value_rows(
    ven_id: str, request_id: str, report_name: str, report: IncomingReport, now: datetime
) -> list[dict[str, Any]]:
    """The `report_values` rows of one report's samples, and of its stored resource statuses
    one row per field (aggregator/resource_status.py)."""
    fields = [
        ReportSample(r_id, status.dtstart, status.duration_seconds, value)
        for status in _stored_statuses(report)
        for r_id, value in field_values(status)
    ]
    return [
        {
            "ven_id": ven_id,
            "report_request_id": request_id,
            "report_name": report_name,
            "r_id": s.r_id,
            "dtstart": s.dtstart,
            "duration_seconds": s.duration_seconds,
            "value": s.value,
            "received_at": now,
        }
        for s in (*report.samples, *fields)
    ]


def _check_consistent(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One message may repeat a sample (harmless) but not give one rID two values at one dtstart:
    which one is right cannot be told, and keeping either would lose the other unseen (454)."""
    seen: dict[tuple[Any, ...], tuple[float, int]] = {}
    for row in rows:
        key = (row["report_request_id"], row["r_id"], row["dtstart"])
        value, duration = row["value"], row["duration_seconds"]
        first = seen.setdefault(key, (value, duration))
        same_value = first[0] == value or (first[0] != first[0] and value != value)  # NaN == NaN here
        if not same_value or first[1] != duration:
            raise InvalidInput(
                "rID",
                f"{row['r_id']!r} has two different values at {row['dtstart'].isoformat()} in one message",
            )
    return rows
