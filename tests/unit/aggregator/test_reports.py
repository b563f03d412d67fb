"""The EiReport use cases (aggregator/reports.py) on in-memory ports: no database, no XML.

The OpenADR side (the oadrRegisteredReport, 452/454 replies, the group-commit writer over a
real database) is tested at the edge, in tests/integration/vtn_openadr/test_report*.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import FakeNotifier, FakeUnitOfWork

from aggregator import outbox
from aggregator.errors import InvalidInput, NotFound
from aggregator.records import ReportRequestRecord, ReportValueRecord, VenRecord
from aggregator.report_value_rows import RequestOwner, requested_r_ids
from aggregator.reports import (
    IncomingReport,
    OfferedReport,
    ReportDescription,
    ReportSample,
    UnrequestedRID,
    _granularity,
    acknowledge_requests,
    cancel_report_request,
    list_report_requests,
    name_r_ids,
    non_numeric_r_ids,
    register_reports,
    request_telemetry,
    resend_vtn_metadata,
    store_report_values,
)
from aggregator.resource_status import ResourceState, ResourceStatusSample
from flexmodel.flexreport import REPORT_NAME as FLEX_REPORT_NAME

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)
VENS = [
    VenRecord(ven_id="ven-1", ven_name="home 1", site_id="site-1", created_at=T0),
    VenRecord(ven_id="ven-2", ven_name="home 2", site_id="site-2", created_at=T0),
]


def description(r_id: str, low: int | None = 10, high: int | None = 3600) -> ReportDescription:
    return ReportDescription(r_id, "usage", "Direct Read", None, low, high)


USAGE = OfferedReport("spec-usage", "METADATA_TELEMETRY_USAGE", (description("power"), description("energy")))
FLEX = OfferedReport(
    "spec-flex", f"METADATA_{FLEX_REPORT_NAME}", (description("base_load_kw.0"), description("pv_kw.0"))
)
OTHER = OfferedReport("spec-other", "METADATA_HISTORY_USAGE", (description("power"),))


def request(
    report_request_id: str, ven_id: str = "ven-1", report_name: str = "TELEMETRY_USAGE", **changes: Any
) -> ReportRequestRecord:
    fields: dict[str, Any] = {
        "report_specifier_id": f"spec-{report_request_id}",
        "r_ids": ({"r_id": "power", "reading_type": "Direct Read"},),
        "granularity_seconds": 60,
        "report_back_seconds": 60,
        "created_at": T0,
    }
    return ReportRequestRecord(report_request_id, ven_id, report_name=report_name, **(fields | changes))


def usage(value: float, minute: int = 0, r_id: str = "power") -> ReportSample:
    return ReportSample(r_id, T0 + timedelta(minutes=minute), 60, value)


def resource_status(r_id: str) -> ResourceStatusSample:
    return ResourceStatusSample(r_id, T0, 60, ResourceState(online=True, manual_override=False))


def stored_values(uow: FakeUnitOfWork) -> list[tuple[str, str, str, float]]:
    return [(v.ven_id, v.report_name, v.r_id, v.value) for v in uow.stored.report_values.values()]


# ---- METADATA and report requests --------------------------------------------------------------


async def test_registering_stores_the_offer_and_requests_the_reports_the_vtn_wants() -> None:
    uow = FakeUnitOfWork(vens=VENS)

    payload = await register_reports(uow, "ven-1", [USAGE, FLEX, OTHER], 60, T0)

    assert sorted(uow.stored.report_registrations) == [
        ("ven-1", "spec-flex"),
        ("ven-1", "spec-other"),
        ("ven-1", "spec-usage"),
    ]
    stored = uow.stored.report_registrations[("ven-1", "spec-usage")]
    assert stored.report_name == "METADATA_TELEMETRY_USAGE"
    assert stored.descriptions[0]["sampling"] == {"min_period_seconds": 10, "max_period_seconds": 3600}
    requests = sorted(uow.stored.report_requests.values(), key=lambda r: r.report_specifier_id)
    assert [(r.report_specifier_id, r.report_name) for r in requests] == [
        ("spec-flex", FLEX_REPORT_NAME),
        ("spec-usage", "TELEMETRY_USAGE"),
    ]  # HISTORY_USAGE is not asked for
    assert [p["report_request_id"] for p in payload] == [r.report_request_id for r in requests[::-1]]
    assert payload[0]["specifier_payloads"] == [
        {"r_id": "power", "reading_type": "Direct Read"},
        {"r_id": "energy", "reading_type": "Direct Read"},
    ]
    assert (payload[0]["granularity_seconds"], payload[0]["created_at"]) == (60, T0)


async def test_registering_again_replaces_the_offer_and_retires_the_old_requests() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    [first] = await register_reports(uow, "ven-1", [USAGE], 60, T0)

    [second] = await register_reports(uow, "ven-1", [FLEX], 60, LATER)

    assert list(uow.stored.report_registrations) == [("ven-1", "spec-flex")]
    old = uow.stored.report_requests[first["report_request_id"]]
    assert old.cancelled_at == LATER
    live = await list_report_requests(uow, "ven-1")
    assert [r.report_request_id for r in live] == [second["report_request_id"]]


async def test_an_offer_naming_one_specifier_twice_is_refused_whole() -> None:
    uow = FakeUnitOfWork(vens=VENS)
    with pytest.raises(InvalidInput) as err:
        await register_reports(uow, "ven-1", [USAGE, USAGE], 60, T0)
    assert err.value.field == "reportSpecifierID"
    assert not uow.committed


def test_report_granularity_fits_the_offered_sampling_range() -> None:
    def d(lo: int | None, hi: int | None) -> ReportDescription:
        return ReportDescription("r", "usage", "Direct Read", None, lo, hi)

    assert _granularity([d(10, 300)], 60) == 60
    assert _granularity([d(10, 20)], 60) == 20  # the VEN cannot sample that slowly
    assert _granularity([d(120, 600)], 60) == 120  # nor that fast
    assert _granularity([d(10, 300), d(30, 600)], 5) == 30  # every rID must accept it
    assert _granularity([d(None, None)], 60) == 60


async def test_requesting_telemetry_asks_only_for_what_has_no_live_request() -> None:
    uow, notifier = FakeUnitOfWork(vens=VENS), FakeNotifier()
    [usage_request, _] = await register_reports(uow, "ven-1", [USAGE, FLEX], 60, T0)
    await cancel_report_request(uow, notifier, "ven-1", usage_request["report_request_id"], T0)
    notifier.pending.clear()

    ids = await request_telemetry(uow, notifier, "ven-1", 60, LATER)

    [new] = ids
    assert uow.stored.report_requests[new].report_specifier_id == "spec-usage"
    create = [m for m in uow.stored.outbox.values() if m.message_type == outbox.CREATE_REPORT]
    assert [(m.ven_id, m.payload) for m in create] == [("ven-1", {"report_request_ids": [new]})]
    assert notifier.pending == ["ven-1"]

    assert await request_telemetry(uow, notifier, "ven-1", 60, LATER) == [], "already requested"
    assert len(uow.stored.outbox) == 2 and notifier.pending == ["ven-1"]


async def test_telemetry_of_an_unknown_ven_is_not_found() -> None:
    uow, notifier = FakeUnitOfWork(vens=VENS), FakeNotifier()
    with pytest.raises(NotFound):
        await request_telemetry(uow, notifier, "ven-x", 60, T0)
    assert not uow.committed and notifier.pending == []


async def test_the_report_requests_of_an_unknown_ven_are_not_found() -> None:
    uow, notifier = FakeUnitOfWork(vens=VENS, report_requests=[request("r1")]), FakeNotifier()
    with pytest.raises(NotFound) as listed:
        await list_report_requests(uow, "ven-x")
    with pytest.raises(NotFound) as cancelled:
        await cancel_report_request(uow, notifier, "ven-x", "r1", T0)
    for err in (listed, cancelled):
        assert (err.value.kind, err.value.key) == ("VEN", "ven-x")
    assert not uow.committed and notifier.pending == []


async def test_cancelling_a_request_queues_oadr_cancel_report() -> None:
    uow, notifier = FakeUnitOfWork(vens=VENS, report_requests=[request("r1")]), FakeNotifier()

    await cancel_report_request(uow, notifier, "ven-1", "r1", T0)

    assert uow.stored.report_requests["r1"].cancelled_at == T0
    [message] = uow.stored.outbox.values()
    assert (message.message_type, message.payload) == (outbox.CANCEL_REPORT, {"report_request_id": "r1"})
    assert notifier.pending == ["ven-1"]
    with pytest.raises(NotFound):  # not live any more
        await cancel_report_request(uow, notifier, "ven-1", "r1", LATER)


async def test_another_vens_request_cannot_be_cancelled() -> None:
    uow, notifier = FakeUnitOfWork(vens=VENS, report_requests=[request("r1")]), FakeNotifier()
    with pytest.raises(NotFound) as err:
        await cancel_report_request(uow, notifier, "ven-2", "r1", T0)
    assert (err.value.kind, err.value.key) == ("reportRequestID", "r1")
    assert not uow.committed and notifier.pending == []


async def test_the_vtn_metadata_is_queued_again_on_request() -> None:
    uow, notifier = FakeUnitOfWork(vens=VENS), FakeNotifier()
    await resend_vtn_metadata(uow, notifier, "ven-1", T0)
    assert [(m.ven_id, m.message_type) for m in uow.stored.outbox.values()] == [
        ("ven-1", outbox.REGISTER_REPORT)
    ]
    assert notifier.pending == ["ven-1"]
    with pytest.raises(NotFound):
        await resend_vtn_metadata(uow, notifier, "ven-x", T0)


async def test_acknowledging_keeps_the_first_time_and_checks_every_request() -> None:
    uow = FakeUnitOfWork(vens=VENS, report_requests=[request("r1"), request("r2", ven_id="ven-2")])
    await acknowledge_requests(uow, "ven-1", ["r1"], T0)
    await acknowledge_requests(uow, "ven-1", ["r1"], LATER)
    assert uow.stored.report_requests["r1"].acknowledged_at == T0

    before = uow.stored
    with pytest.raises(NotFound):  # r2 is ven-2's: nothing of the message is stored
        await acknowledge_requests(uow, "ven-2", ["r2", "r1"], LATER)
    assert uow.stored is before


# ---- report values --------------------------------------------------------------------------


async def test_values_are_stored_once() -> None:
    uow = FakeUnitOfWork(vens=VENS, report_requests=[request("r1")])
    report = IncomingReport("r1", "TELEMETRY_USAGE", (usage(1.5), usage(2.5, minute=1)))

    assert await store_report_values(uow, None, "ven-1", [report], T0) == 2
    assert await store_report_values(uow, None, "ven-1", [report], LATER) == 2  # a re-sent report

    assert list(uow.stored.report_values.values()) == [
        ReportValueRecord("ven-1", "r1", "TELEMETRY_USAGE", "power", T0, 60, 1.5, T0),
        ReportValueRecord("ven-1", "r1", "TELEMETRY_USAGE", "power", T0 + timedelta(minutes=1), 60, 2.5, T0),
    ]


async def test_a_report_under_another_vens_request_is_not_found() -> None:
    uow = FakeUnitOfWork(vens=VENS, report_requests=[request("r1"), request("r2", ven_id="ven-2")])
    reports = [
        IncomingReport("r1", "TELEMETRY_USAGE", (usage(1.0),)),
        IncomingReport("r2", "TELEMETRY_USAGE", (usage(2.0),)),
    ]
    with pytest.raises(NotFound) as err:
        await store_report_values(uow, None, "ven-1", reports, T0)
    assert (err.value.kind, err.value.key) == ("reportRequestID", "r2")
    assert uow.stored.report_values == {}, "nothing of the message is stored"
    with pytest.raises(NotFound):
        await store_report_values(uow, None, "ven-1", [IncomingReport("r-x", "", (usage(1.0),))], T0)


async def test_unrequested_rids_refuse_the_message() -> None:
    uow = FakeUnitOfWork(vens=VENS, report_requests=[request("r1")])
    report = IncomingReport(
        "r1",
        "TELEMETRY_USAGE",
        (usage(1.0), usage(2.0, r_id="voltage")),
        statuses=(resource_status("status"),),
    )
    with pytest.raises(UnrequestedRID) as err:
        await store_report_values(uow, None, "ven-1", [report], T0)
    assert "'status', 'voltage'" in str(err.value) and "reportRequestID 'r1'" in str(err.value)
    assert uow.stored.report_values == {}


async def test_two_values_of_one_rid_at_one_time_are_refused() -> None:
    uow = FakeUnitOfWork(vens=VENS, report_requests=[request("r1")])
    report = IncomingReport("r1", "TELEMETRY_USAGE", (usage(1.0), usage(1.0), usage(2.0)))
    with pytest.raises(InvalidInput) as err:
        await store_report_values(uow, None, "ven-1", [report], T0)
    assert err.value.field == "rID"
    assert uow.stored.report_values == {}


FLEX_R_IDS = tuple({"r_id": r, "reading_type": "x-notApplicable"} for r in ("base_load_kw.0", "pv_kw.0"))


async def test_a_flexibility_snapshot_replaces_the_previous_one() -> None:
    uow = FakeUnitOfWork(
        vens=VENS,
        report_requests=[request("flex", report_name=FLEX_REPORT_NAME, r_ids=FLEX_R_IDS), request("r1")],
    )
    first = IncomingReport("flex", "", (usage(0.5, r_id="base_load_kw.0"), usage(2.0, r_id="pv_kw.0")))
    usage_report = IncomingReport("r1", "TELEMETRY_USAGE", (usage(1.5),))
    await store_report_values(uow, None, "ven-1", [first, usage_report], T0)

    second = IncomingReport("flex", "", (usage(0.7, minute=15, r_id="base_load_kw.0"),))
    assert await store_report_values(uow, None, "ven-1", [second], LATER) == 1

    assert sorted(stored_values(uow)) == [
        ("ven-1", "TELEMETRY_USAGE", "power", 1.5),
        ("ven-1", FLEX_REPORT_NAME, "base_load_kw.0", 0.7),  # the first pv point is gone
    ]


@dataclass
class FakeReportSink:
    """The group-commit writer (vtn/services/report_writer.py): knows the owners, takes rows."""

    owners: dict[str, RequestOwner]
    written: list[list[dict[str, Any]]] = field(default_factory=list)

    async def owner(self, report_request_id: str) -> RequestOwner | None:
        return self.owners.get(report_request_id)

    async def write(self, rows: list[dict[str, Any]]) -> None:
        self.written.append(rows)


def _owner(r: ReportRequestRecord) -> RequestOwner:
    return RequestOwner(r.ven_id, r.report_name, requested_r_ids(r.r_ids))


async def test_with_a_sink_time_series_go_through_it_and_snapshots_do_not() -> None:
    usage_request = request("r1")
    flex_request = request("flex", report_name=FLEX_REPORT_NAME, r_ids=FLEX_R_IDS)
    uow = FakeUnitOfWork(vens=VENS, report_requests=[usage_request, flex_request])
    sink = FakeReportSink({"r1": _owner(usage_request), "flex": _owner(flex_request)})

    assert await store_report_values(uow, sink, "ven-1", [IncomingReport("r1", "", (usage(1.5),))], T0) == 1
    [[row]] = sink.written
    assert (row["report_name"], row["r_id"], row["value"]) == ("TELEMETRY_USAGE", "power", 1.5)
    assert not uow.committed

    snapshot = IncomingReport("flex", "", (usage(0.5, r_id="base_load_kw.0"),))
    await store_report_values(uow, sink, "ven-1", [snapshot], T0)
    assert len(sink.written) == 1
    assert stored_values(uow) == [("ven-1", FLEX_REPORT_NAME, "base_load_kw.0", 0.5)]


async def test_a_sink_refuses_what_the_unit_of_work_refuses() -> None:
    sink = FakeReportSink({r.report_request_id: _owner(r) for r in (request("r1"), request("r2", "ven-2"))})
    uow = FakeUnitOfWork(vens=VENS)
    with pytest.raises(NotFound):
        await store_report_values(uow, sink, "ven-1", [IncomingReport("r2", "", (usage(1.0),))], T0)
    with pytest.raises(UnrequestedRID):
        await store_report_values(uow, sink, "ven-1", [IncomingReport("r1", "", (usage(1.0, r_id="x"),))], T0)
    assert sink.written == []


def test_rids_are_named_briefly() -> None:
    assert name_r_ids(["a", "b"]) == "'a', 'b'"
    assert name_r_ids([str(i) for i in range(8)], shown=2) == "'0', '1' and 6 more"
    reports = [
        IncomingReport("r1", "", (), statuses=(resource_status("z"), resource_status("a"))),
        IncomingReport("r2", "", (), statuses=(resource_status("a"),)),
    ]
    assert non_numeric_r_ids(reports) == ["a", "z"]


# ---- the agent's peak guard: the household is told once per quarter ---------------------------

GUARD_R_IDS = tuple(
    {"r_id": r, "reading_type": "x-notApplicable"} for r in ("agent.peak_guard", "agent.month_peak_kw")
)


def guard(value: float, minute: int) -> ReportSample:
    return usage(value, minute=minute, r_id="agent.peak_guard")


async def test_a_peak_guard_that_starts_shedding_tells_the_household_once_per_quarter() -> None:
    from aggregator.notification_records import WebhookRecord

    status = request("rs", report_name="TELEMETRY_STATUS", r_ids=GUARD_R_IDS)
    hooks = [WebhookRecord("site-1", "https://a.example/h", "s3cret", T0)]
    uow = FakeUnitOfWork(vens=VENS, report_requests=[status], webhooks=hooks)

    def sent() -> list[tuple[str, str]]:
        return sorted((n.data["quarter_start"], n.kind.value) for n in uow.stored.notifications.values())

    await store_report_values(uow, None, "ven-1", [IncomingReport("rs", "", (guard(0.0, 1),))], T0)
    assert sent() == []  # not shedding
    month_peak = usage(6.2, minute=2, r_id="agent.month_peak_kw")
    await store_report_values(uow, None, "ven-1", [IncomingReport("rs", "", (guard(1.0, 2), month_peak))], T0)
    await store_report_values(
        uow, None, "ven-1", [IncomingReport("rs", "", (guard(1.0, 3),))], T0
    )  # the same quarter
    await store_report_values(
        uow, None, "ven-1", [IncomingReport("rs", "", (guard(1.0, 16),))], T0
    )  # the next one
    assert sent() == [
        (T0.isoformat(), "capacity_peak_risk"),
        ((T0 + timedelta(minutes=15)).isoformat(), "capacity_peak_risk"),
    ]
    first = min(uow.stored.notifications.values(), key=lambda n: n.data["quarter_start"])
    assert (first.site_id, first.data["month_peak_kw"]) == ("site-1", 6.2)


async def test_through_the_sink_the_peak_guard_tells_the_household_too() -> None:
    from aggregator.notification_records import WebhookRecord

    status = request("rs", report_name="TELEMETRY_STATUS", r_ids=GUARD_R_IDS)
    hooks = [WebhookRecord("site-1", "https://a.example/h", "s3cret", T0)]
    uow = FakeUnitOfWork(vens=VENS, report_requests=[status], webhooks=hooks)
    sink = FakeReportSink({"rs": _owner(status)})
    await store_report_values(uow, sink, "ven-1", [IncomingReport("rs", "", (guard(1.0, 2),))], T0)
    assert [n.kind.value for n in uow.stored.notifications.values()] == ["capacity_peak_risk"]
