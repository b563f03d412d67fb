"""The standard 2.0b resource status (aggregator/resource_status.py) on in-memory ports: stored
by store_report_values as one report value per field, shown by site_status per rID, newest
payload whole. The OpenADR round trip is tested at the edge, in
tests/integration/vtn_openadr/test_report_resource_status.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import FakeUnitOfWork

from aggregator.errors import InvalidInput
from aggregator.records import ReportRegistrationRecord, ReportRequestRecord, ReportValueRecord, VenRecord
from aggregator.report_value_rows import RequestOwner, requested_r_ids
from aggregator.reports import IncomingReport, ReportSample, non_numeric_r_ids, store_report_values
from aggregator.resource_status import (
    FIELD_PATH_MAX_LENGTH,
    LoadControlState,
    LoadControlValue,
    ResourceState,
    ResourceStatusSample,
    field_values,
    newest_states,
)
from aggregator.site import ResourceStatus, site_status

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
LATER = T0 + timedelta(minutes=1)
VEN = VenRecord(ven_id="ven-1", ven_name="home 1", site_id="site-1", created_at=T0)
FULL = ResourceState(
    online=True,
    manual_override=False,
    load_control_state=LoadControlState(
        capacity=LoadControlValue(7.5, min=0.0, max=11.0, normal=11.0),
        percent_offset=LoadControlValue(-20.0),
    ),
)
STATUS_R_IDS = tuple({"r_id": r, "reading_type": "x-notApplicable"} for r in ("charger", "evse-1.soc"))


def status_request(report_name: str = "TELEMETRY_STATUS") -> ReportRequestRecord:
    return ReportRequestRecord("r-status", "ven-1", "spec-status", report_name, STATUS_R_IDS, 60, 60, T0)


def registration() -> ReportRegistrationRecord:
    description = {"r_id": "charger", "report_type": "x-resourceStatus", "resource_id": "evse-1"}
    return ReportRegistrationRecord("ven-1", "spec-status", "METADATA_TELEMETRY_STATUS", (description,), T0)


def sample(state: ResourceState, at: datetime = T0, r_id: str = "charger") -> ResourceStatusSample:
    return ResourceStatusSample(r_id, at, 60, state)


def status_report(*statuses: ResourceStatusSample, name: str = "TELEMETRY_STATUS") -> IncomingReport:
    return IncomingReport("r-status", name, (), statuses=statuses)


def stored(uow: FakeUnitOfWork) -> list[tuple[str, str, datetime, float]]:
    return sorted((v.report_name, v.r_id, v.dtstart, v.value) for v in uow.stored.report_values.values())


def test_each_field_present_is_one_value_under_the_rid_and_its_path() -> None:
    assert field_values(sample(FULL)) == [
        ("charger/oadrOnline", 1.0),
        ("charger/oadrManualOverride", 0.0),
        ("charger/oadrCapacity/oadrMin", 0.0),
        ("charger/oadrCapacity/oadrMax", 11.0),
        ("charger/oadrCapacity/oadrCurrent", 7.5),
        ("charger/oadrCapacity/oadrNormal", 11.0),
        ("charger/oadrPercentOffset/oadrCurrent", -20.0),
    ]
    assert len("/oadrPercentOffset/oadrCurrent") == FIELD_PATH_MAX_LENGTH


def _rows(*samples: ResourceStatusSample) -> list[ReportValueRecord]:
    return [
        ReportValueRecord("ven-1", "r-status", "TELEMETRY_STATUS", r_id, s.dtstart, 60, value, s.dtstart)
        for s in samples
        for r_id, value in field_values(s)
    ]


def test_the_newest_payload_is_read_back_whole() -> None:
    """`latest_values` gives the newest value of each field: a field only an older payload had
    is left out, and rIDs that are no status field are ignored."""
    newer = ResourceState(online=False, manual_override=True)
    rows = [
        *[r for r in _rows(sample(FULL)) if r.r_id.count("/") == 2],  # the older load control fields
        *_rows(sample(newer, LATER), sample(FULL, r_id="a/b")),
        ReportValueRecord("ven-1", "r-status", "TELEMETRY_STATUS", "evse-1.soc", T0, 60, 40.0, T0),
        ReportValueRecord("ven-1", "r-status", "TELEMETRY_STATUS", "x/oadrOnline", T0, 60, 1.0, T0),
    ]
    assert newest_states(rows) == {"charger": (LATER, newer), "a/b": (T0, FULL)}


async def test_statuses_of_a_status_report_are_stored_and_shown() -> None:
    uow = FakeUnitOfWork(
        vens=[VEN], report_requests=[status_request()], report_registrations=[registration()]
    )
    float_form = ReportSample("evse-1.soc", T0, 60, 40.0)
    report = IncomingReport("r-status", "TELEMETRY_STATUS", (float_form,), statuses=(sample(FULL),))

    assert await store_report_values(uow, None, "ven-1", [report], T0) == 8
    assert non_numeric_r_ids([report]) == [], "nothing went unstored"
    assert ("TELEMETRY_STATUS", "charger/oadrOnline", T0, 1.0) in stored(uow)

    newer = ResourceState(online=False, manual_override=True)
    await store_report_values(uow, None, "ven-1", [status_report(sample(newer, LATER))], LATER)
    got = await site_status(uow, "ven-1")

    assert got.updated_at == LATER
    assert got.resources == (ResourceStatus("charger", "evse-1", LATER, False, True, None),)
    assert [(d.device_id, d.soc_percent) for d in got.devices] == [("evse-1", 40.0)]


async def test_a_standard_status_alone_answers_the_status() -> None:
    """Before: Conflict (409), the status had been dropped."""
    uow = FakeUnitOfWork(vens=[VEN], report_requests=[status_request()])
    await store_report_values(uow, None, "ven-1", [status_report(sample(FULL))], T0)
    got = await site_status(uow, "ven-1")
    assert got.devices == ()
    assert got.resources == (ResourceStatus("charger", None, T0, True, False, FULL.load_control_state),)


async def test_a_status_outside_a_status_report_is_not_stored_and_named() -> None:
    uow = FakeUnitOfWork(vens=[VEN], report_requests=[status_request("TELEMETRY_USAGE")])
    report = status_report(sample(FULL), name="TELEMETRY_USAGE")
    assert await store_report_values(uow, None, "ven-1", [report], T0) == 0
    assert non_numeric_r_ids([report]) == ["charger"]
    assert stored(uow) == []


async def test_two_statuses_of_one_rid_at_one_time_are_refused() -> None:
    uow = FakeUnitOfWork(vens=[VEN], report_requests=[status_request()])
    other = ResourceState(online=False, manual_override=False)
    with pytest.raises(InvalidInput, match="charger/oadrOnline"):
        await store_report_values(uow, None, "ven-1", [status_report(sample(FULL), sample(other))], T0)
    assert stored(uow) == []


class FakeReportSink:
    """The group-commit writer's port: the status rows go through it like float values."""

    def __init__(self, owner: RequestOwner) -> None:
        self.owners = {"r-status": owner}
        self.written: list[list[dict[str, Any]]] = []

    async def owner(self, report_request_id: str) -> RequestOwner | None:
        return self.owners.get(report_request_id)

    async def write(self, rows: list[dict[str, Any]]) -> None:
        self.written.append(rows)


async def test_with_a_sink_the_status_rows_go_through_it() -> None:
    request = status_request()
    sink = FakeReportSink(RequestOwner("ven-1", request.report_name, requested_r_ids(request.r_ids)))
    state = ResourceState(online=True, manual_override=True)
    await store_report_values(FakeUnitOfWork(vens=[VEN]), sink, "ven-1", [status_report(sample(state))], T0)
    [rows] = sink.written
    assert [(r["report_name"], r["r_id"], r["value"]) for r in rows] == [
        ("TELEMETRY_STATUS", "charger/oadrOnline", 1.0),
        ("TELEMETRY_STATUS", "charger/oadrManualOverride", 1.0),
    ]
