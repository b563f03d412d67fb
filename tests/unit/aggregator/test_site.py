"""The site use cases (aggregator/site.py) on in-memory ports: the plan-format entry rebuilt
from the stored flexibility snapshot, and the devices' status.

The round trip from the home agent's report over OpenADR is tested at the edge, in
tests/integration/vtn_site."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import FakeUnitOfWork

from aggregator.errors import Conflict, NotFound
from aggregator.records import ReportValueRecord, VenRecord
from aggregator.site import (
    STATUS_REPORT_NAME,
    STATUS_WINDOW,
    DeviceStatus,
    NoFlexibilityYet,
    get_site_entry,
    site_flexibility,
    site_status,
)
from flexmodel.flexreport import REPORT_NAME as FLEX_REPORT_NAME
from flexmodel.flexreport import site_to_points
from flexmodel.scenario import Site

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
STEP = timedelta(minutes=15)
SLOTS = 4
VEN = VenRecord(ven_id="ven-1", ven_name="home 1", site_id="site-1", created_at=T0)


def entry(**changes: Any) -> dict[str, Any]:
    site: dict[str, Any] = {
        "site_id": "site-1",
        "import_limit_kw": 9.2,
        "export_limit_kw": 6.0,
        "base_load_kw": [0.3, 0.4, 0.5, 0.6],
        "battery": {
            "capacity_kwh": 10.0,
            "soc_kwh": 4.0,
            "min_soc_kwh": 1.0,
            "max_charge_kw": 5.0,
            "max_discharge_kw": 5.0,
        },
    }
    return site | changes


def snapshot(site: dict[str, Any], received_at: datetime = T0, without: str = "") -> list[ReportValueRecord]:
    """The stored values of a flexibility report of `site` on the grid from T0 (less rID `without`)."""
    return [
        ReportValueRecord(
            "ven-1",
            "flex",
            FLEX_REPORT_NAME,
            point.r_id,
            interval.start,
            int(interval.duration.total_seconds()),
            interval.value,
            received_at,
        )
        for point in site_to_points(site, T0, STEP)
        if point.r_id != without
        for interval in point.intervals
    ]


def status(r_id: str, value: float, at: datetime) -> ReportValueRecord:
    return ReportValueRecord("ven-1", "status", STATUS_REPORT_NAME, r_id, at, 0, value, at)


async def test_the_site_entry_is_rebuilt_from_the_snapshot() -> None:
    uow = FakeUnitOfWork(vens=[VEN], report_values=snapshot(entry()))

    flex = await site_flexibility(uow, "ven-1", T0)

    assert (flex.ven_id, flex.site_id, flex.received_at) == ("ven-1", "site-1", T0)
    assert (flex.start, flex.resolution_minutes, flex.horizon_slots) == (T0, 15, SLOTS)
    assert Site.model_validate(flex.site) == Site.model_validate(entry())
    assert await get_site_entry(uow, "ven-1", T0) == flex.site


async def test_the_entry_starts_at_the_slot_holding_now() -> None:
    uow = FakeUnitOfWork(vens=[VEN], report_values=snapshot(entry()))

    flex = await site_flexibility(uow, "ven-1", T0 + STEP + timedelta(minutes=3))

    assert (flex.start, flex.horizon_slots) == (T0 + STEP, SLOTS - 1)
    assert flex.site["base_load_kw"] == pytest.approx([0.4, 0.5, 0.6])


async def test_a_snapshot_that_is_all_past_is_no_flexibility() -> None:
    uow = FakeUnitOfWork(vens=[VEN], report_values=snapshot(entry()))
    with pytest.raises(NoFlexibilityYet, match="past"):
        await site_flexibility(uow, "ven-1", T0 + SLOTS * STEP)


async def test_before_any_report_there_is_no_flexibility() -> None:
    with pytest.raises(NoFlexibilityYet, match=FLEX_REPORT_NAME):
        await site_flexibility(FakeUnitOfWork(vens=[VEN]), "ven-1", T0)


async def test_an_incomplete_snapshot_names_what_is_missing() -> None:
    uow = FakeUnitOfWork(vens=[VEN], report_values=snapshot(entry(), without="site.import_limit_kw"))
    with pytest.raises(NoFlexibilityYet, match=r"unusable.*site\.import_limit_kw"):
        await site_flexibility(uow, "ven-1", T0)


async def test_an_entry_the_site_model_refuses_names_the_field() -> None:
    battery = entry()["battery"] | {"soc_kwh": 0.5}  # below its minimum
    uow = FakeUnitOfWork(vens=[VEN], report_values=snapshot(entry(battery=battery)))
    with pytest.raises(NoFlexibilityYet, match="not a valid site entry: battery"):
        await site_flexibility(uow, "ven-1", T0)


async def test_an_unknown_ven_or_another_site_is_not_found() -> None:
    uow = FakeUnitOfWork(vens=[VEN], report_values=snapshot(entry()))
    with pytest.raises(NotFound):
        await site_flexibility(uow, "ven-x", T0)
    with pytest.raises(NotFound):  # a customer of another site learns nothing of this VEN
        await site_flexibility(uow, "ven-1", T0, site_id="site-2")
    assert (await site_flexibility(uow, "ven-1", T0, site_id="site-1")).site_id == "site-1"
    with pytest.raises(NotFound):
        await site_status(uow, "ven-1", site_id="site-2")


async def test_the_status_is_the_newest_value_of_each_field() -> None:
    later = T0 + timedelta(minutes=1)
    values = [
        status("evse-1.online", 1.0, T0),
        status("evse-1.plugged_in", 1.0, T0),
        status("evse-1.plugged_in", 0.0, later),
        status("evse-1.soc", -1.0, later),  # no car
        status("battery-1.soc", 55.0, T0),
        status("battery-1.manual_override", 0.0, T0),
        status("battery-1.power_kw", 2.0, later),  # not a status field
        status("gone.online", 1.0, later - STATUS_WINDOW - timedelta(seconds=1)),
    ]
    uow = FakeUnitOfWork(vens=[VEN], report_values=values)

    got = await site_status(uow, "ven-1")

    assert (got.ven_id, got.site_id, got.updated_at) == ("ven-1", "site-1", later)
    assert got.devices == (
        DeviceStatus("battery-1", T0, manual_override=False, soc_percent=55.0),
        DeviceStatus("evse-1", later, online=True, plugged_in=False, soc_percent=None),
    )


async def test_before_any_status_report_the_status_is_a_conflict() -> None:
    with pytest.raises(Conflict, match=STATUS_REPORT_NAME):
        await site_status(FakeUnitOfWork(vens=[VEN]), "ven-1")
