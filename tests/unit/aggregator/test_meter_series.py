"""A meter's telemetry as 15-minute mean net import (aggregator/meter_series.py): counters,
export subtracted, power-only meters, and slots not measured whole left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeUnitOfWork
from home_telemetry import device_rows
from samples import REGISTERED_VEN

from aggregator.meter_series import counters_from_rows, meter_net_kw, net_kw_per_slot
from aggregator.records import ReportValueRecord

T = datetime(2026, 11, 10, 12, tzinfo=UTC)
Q = timedelta(minutes=15)


def test_counters_give_each_whole_slot_and_export_counts_against_import() -> None:
    # 2 kW import for the first half hour, then 1 kW export, samples every 5 minutes from 12:05.
    rows = device_rows("v", "meter-1", T + timedelta(minutes=5), T + timedelta(hours=1, minutes=5),
                       timedelta(minutes=5), lambda at: 2.0 if at < T + 2 * Q else -1.0)  # fmt: skip
    got = net_kw_per_slot(*counters_from_rows(rows, "meter-1"))
    # 12:00 starts before the first sample (not whole); 13:00 ends after the last sample.
    assert sorted(got) == [T + Q, T + 2 * Q, T + 3 * Q]
    assert got[T + Q] == pytest.approx(2.0)
    assert got[T + 2 * Q] == pytest.approx(-1.0)


def test_a_gap_longer_than_a_slot_is_not_measured() -> None:
    rows = device_rows("v", "meter-1", T, T + timedelta(hours=2), timedelta(minutes=5), lambda at: 1.0)
    gap = [r for r in rows if not T + timedelta(minutes=10) < r.dtstart < T + timedelta(minutes=35)]
    got = net_kw_per_slot(*counters_from_rows(gap, "meter-1"))
    assert T + Q not in got  # 12:15-12:30 has no sample inside nor on its edges
    assert got[T] == pytest.approx(1.0) and got[T + 3 * Q] == pytest.approx(1.0)


def test_a_meter_without_counters_integrates_its_power() -> None:
    rows = [r for r in device_rows("v", "meter-1", T, T + timedelta(hours=1), timedelta(minutes=5),
                                   lambda at: 3.0) if r.r_id == "meter-1.power"]  # fmt: skip
    got = net_kw_per_slot(*counters_from_rows(rows, "meter-1"))
    assert got[T] == pytest.approx(3.0) and len(got) == 3  # the last 5 minutes are past the samples
    assert net_kw_per_slot(*counters_from_rows([], "meter-1")) == {}
    other: list[ReportValueRecord] = [r for r in rows if r.r_id.startswith("evse")]
    assert net_kw_per_slot(*counters_from_rows(other, "meter-1")) == {}


async def test_the_counters_read_per_slot_give_what_every_sample_gives() -> None:
    # A profile that changes every 7 minutes, sampled every minute, with a gap: the summarised
    # read (ReportRepository.buckets) and every sample agree slot by slot.
    def kw(at: datetime) -> float:
        return [2.0, -1.5, 0.3, 4.0][int(at.timestamp() // 420) % 4]

    rows = device_rows("ven-1", "meter-1", T, T + timedelta(hours=6), timedelta(minutes=1), kw)
    rows = [r for r in rows if not T + timedelta(hours=2) <= r.dtstart < T + timedelta(hours=2, minutes=40)]
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], report_values=rows)
    async with uow:
        got = await meter_net_kw(uow, "ven-1", T, T + timedelta(hours=6))
    every = net_kw_per_slot(*counters_from_rows(rows, "meter-1"))
    assert got.keys() == {s for s in every if s >= T}
    assert len(got) == 6 * 4 - 2 - 1  # the two slots inside the gap, the last (no sample at its end)
    for slot, value in got.items():
        assert value == pytest.approx(every[slot], abs=1e-9)
