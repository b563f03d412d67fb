"""OpenADR 3.1 reports: kept as 3.1 objects, and their values written to the telemetry the 2.0b
reports fill (`report_values`; aggregator/openadr3.py's table says how)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from aggregator.errors import InvalidInput, NotFound, Unauthorized
from aggregator.ids import new_id
from aggregator.openadr3 import Period, interval_times, period_of
from aggregator.openadr3_common import (
    Caller,
    Page,
    as_json,
    own_ven,
    targets_of,
    ven_target_names,
    visible_to,
)
from aggregator.openadr3_notification_records import Operation, RenderedObject
from aggregator.openadr3_notifications import record_change
from aggregator.openadr3_records import Oa3Object, ObjectType, Scope
from aggregator.records import EventRecord, VenRecord
from aggregator.uow import UnitOfWork

R_ID_MAX_LENGTH = 158  # report_values.r_id


def report_name(report_id: str) -> str:
    """The report (and request) name its values carry in report_values."""
    return f"oa3:{report_id}"


def _event_period(event: EventRecord, interval_id: int) -> Period:
    """The event's interval of that id (3.1 reports often name it rather than restate its time)."""
    if 0 <= interval_id < len(event.intervals):
        interval = event.intervals[interval_id]
        return Period(interval.start, timedelta(seconds=interval.duration_seconds))
    return Period(None, None)


def value_rows(
    report_id: str, ven_id: str, body: dict[str, Any], event: EventRecord, now: datetime
) -> list[dict[str, Any]]:
    """One telemetry row per numeric single value of every interval of every resource."""
    rows: list[dict[str, Any]] = []
    for r, resource in enumerate(body["resources"]):
        field = f"resources[{r}]"
        default = period_of(f"{field}.intervalPeriod", resource.get("intervalPeriod"), now)
        intervals = resource["intervals"]
        if default.start is None and default.duration is None:
            # No period of its own: each interval's own, else the event's interval of its id.
            times = []
            for k, interval in enumerate(intervals):
                own = period_of(f"{field}.intervals[{k}].intervalPeriod", interval.get("intervalPeriod"), now)
                fallback = _event_period(event, interval["id"])
                start, duration = own.start or fallback.start, own.duration or fallback.duration
                if start is None:
                    raise InvalidInput(
                        f"{field}.intervals[{k}].intervalPeriod.start",
                        "no start and no event interval of its id",
                    )
                times.append((start, duration or timedelta(0)))
        else:
            times = interval_times(f"{field}.intervals", intervals, default, now)
        for (start, duration), interval in zip(times, intervals, strict=True):
            for payload in interval["payloads"]:
                values = payload["values"]
                value = values[0] if len(values) == 1 else None
                if isinstance(value, bool) or not isinstance(value, int | float):
                    continue  # kept in the report object; telemetry holds numbers
                r_id = f"{resource['resourceName']}/{payload['type']}"
                if len(r_id) > R_ID_MAX_LENGTH:
                    raise InvalidInput(
                        f"{field}.resourceName", f"with the payload type at most {R_ID_MAX_LENGTH} characters"
                    )
                rows.append(
                    {
                        "ven_id": ven_id,
                        "report_request_id": report_name(report_id),
                        "report_name": report_name(report_id),
                        "r_id": r_id,
                        "dtstart": start,
                        "duration_seconds": int(duration.total_seconds()),
                        "value": float(value),
                        "received_at": now,
                    }
                )
    return rows


async def _reporting_ven(uow: UnitOfWork, caller: Caller) -> VenRecord:
    caller.require(Scope.WRITE_REPORTS)
    ven = await own_ven(uow, caller)
    if ven is None:
        raise Unauthorized("this client has no VEN yet: POST /vens first")
    return ven


async def _event_for(uow: UnitOfWork, ven: VenRecord, event_id: str) -> tuple[EventRecord, str]:
    """The event reported on, if the VEN may see it, and its programID."""
    event = await uow.events.get(event_id)
    if event is None:
        raise InvalidInput("eventID", f"no event {event_id!r}")
    targeted = ven.ven_id in (await uow.events.targets([event_id]))[event_id]
    meta = await uow.oa3.get(ObjectType.EVENT, event_id)
    names = await ven_target_names(uow, ven)
    if not targeted and (meta is None or not visible_to(targets_of(meta.body), names)):
        raise InvalidInput("eventID", f"no event {event_id!r}")
    programs = await uow.oa3.find(ObjectType.PROGRAM, market_context=event.market_context)
    return event, programs[0].object_id if programs else ""


async def create_report(
    uow: UnitOfWork, caller: Caller, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """`body`: a reportRequest, from a VEN client (its VEN's report on an event it sees)."""
    async with uow:
        ven = await _reporting_ven(uow, caller)
        event, program_id = await _event_for(uow, ven, body["eventID"])
        report_id = new_id()
        rows = value_rows(report_id, ven.ven_id, body, event, now)
        stored = {**body, "clientID": caller.client_id}
        obj = Oa3Object(
            ObjectType.REPORT,
            report_id,
            now,
            now,
            stored,
            client_id=caller.client_id,
            ven_id=ven.ven_id,
            program_id=program_id or None,
            event_id=event.event_id,
            name=body.get("reportName"),
        )
        uow.oa3.add(obj)
        await uow.reports.replace_values(ven.ven_id, report_name(report_id), rows)
        record_change(uow, ObjectType.REPORT, Operation.CREATE, report_id, now)
        await uow.commit()
    return as_json(obj)


async def _report(uow: UnitOfWork, caller: Caller, report_id: str) -> Oa3Object:
    found = await uow.oa3.get(ObjectType.REPORT, report_id)
    if found is None:
        raise NotFound("report", report_id)
    if caller.is_ven:
        ven = await own_ven(uow, caller)
        if ven is None or found.ven_id != ven.ven_id:
            raise NotFound("report", report_id)
    return found


async def get_report(uow: UnitOfWork, caller: Caller, report_id: str) -> dict[str, Any]:
    caller.require(Scope.READ_VEN_OBJECTS)
    async with uow:
        return as_json(await _report(uow, caller, report_id))


async def list_reports(
    uow: UnitOfWork,
    caller: Caller,
    program_id: str | None,
    event_id: str | None,
    client_name: str | None,
    page: Page,
) -> list[dict[str, Any]]:
    caller.require(Scope.READ_VEN_OBJECTS)
    async with uow:
        ven_id = None
        if caller.is_ven:
            ven = await own_ven(uow, caller)
            if ven is None:
                return []
            ven_id = ven.ven_id
        found = await uow.oa3.find(ObjectType.REPORT, ven_id=ven_id, program_id=program_id, event_id=event_id)
    found = [r for r in found if client_name is None or r.body.get("clientName") == client_name]
    return [as_json(r) for r in page.of(found)]


async def update_report(
    uow: UnitOfWork, caller: Caller, report_id: str, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Replace the report and its values."""
    async with uow:
        ven = await _reporting_ven(uow, caller)
        old = await _report(uow, caller, report_id)
        event, program_id = await _event_for(uow, ven, body["eventID"])
        rows = value_rows(report_id, ven.ven_id, body, event, now)
        obj = dataclasses.replace(
            old,
            modified_at=now,
            body={**body, "clientID": old.client_id or caller.client_id},
            program_id=program_id or None,
            event_id=event.event_id,
            name=body.get("reportName"),
        )
        await uow.oa3.save(obj)
        await uow.reports.replace_values(ven.ven_id, report_name(report_id), rows)
        record_change(uow, ObjectType.REPORT, Operation.UPDATE, report_id, now)
        await uow.commit()
    return as_json(obj)


async def delete_report(uow: UnitOfWork, caller: Caller, report_id: str, now: datetime) -> dict[str, Any]:
    """Forget the report and its values."""
    async with uow:
        ven = await _reporting_ven(uow, caller)
        obj = await _report(uow, caller, report_id)
        await uow.oa3.remove(ObjectType.REPORT, report_id)
        await uow.reports.replace_values(ven.ven_id, report_name(report_id), [])
        gone = RenderedObject(as_json(obj), obj.program_id, (ven.ven_id,))
        record_change(uow, ObjectType.REPORT, Operation.DELETE, report_id, now, deleted=gone)
        await uow.commit()
    return as_json(obj)
