"""aggregator/site_history.py on the fakes: sessions and the month's savings from telemetry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeUnitOfWork
from home_telemetry import device_rows, registration
from samples import REGISTERED_VEN

from aggregator.errors import InvalidInput, NotFound
from aggregator.records import PriceRecord, ReportValueRecord
from aggregator.site_history import list_sessions, month_savings
from flexmodel.flexreport import REPORT_NAME as FLEX_REPORT_NAME
from flexmodel.flexreport import site_to_points
from flexmodel.sessions import Boundary

BRUSSELS = ZoneInfo("Europe/Brussels")
DAY = datetime(2030, 3, 4, tzinfo=UTC)  # a Monday; Brussels is UTC+1
STEP = timedelta(minutes=5)
ARRIVAL = DAY + timedelta(hours=18)
DEPARTURE = DAY + timedelta(hours=23)


def charge_kw(at: datetime) -> float:
    """7 kW from 19:00 to 20:00 and from 21:00 to 21:30: 10.5 kWh."""
    hour = (at - DAY) / timedelta(hours=1)
    return 7.0 if 19 <= hour < 20 or 21 <= hour < 21.5 else 0.0


def plugged(at: datetime) -> bool:
    return ARRIVAL <= at < DEPARTURE


def house_kw(at: datetime) -> float:
    return 0.5


def rows() -> list[ReportValueRecord]:
    ven = REGISTERED_VEN.ven_id
    start, end = DAY, DAY + timedelta(days=1)
    return device_rows(ven, "evse-1", start, end, STEP, charge_kw, plugged=plugged) + device_rows(
        ven, "meter-1", start, end, STEP, lambda t: house_kw(t) + charge_kw(t)
    )


def prices(import_eur_per_kwh: float = 0.20) -> PriceRecord:
    """Hourly prices for the day: 0.20 EUR/kWh, but 0.50 from 18:00 to 19:00."""
    values = tuple(0.50 if h == 18 else import_eur_per_kwh for h in range(24))
    return PriceRecord(1, DAY, 60, values, tuple(v / 4 for v in values), 4.0, DAY - timedelta(days=1))


def flex_snapshot(reported_at: datetime, needed_kwh: float) -> list[ReportValueRecord]:
    """The agent's x-SITE_FLEXIBILITY at `reported_at`: a car in solar mode that still needs `needed_kwh`."""
    entry = {
        "import_limit_kw": 9.2,
        "min_billed_peak_kw": 2.5,
        "base_load_kw": [0.5] * 4,
        "evs": [
            {
                "ev_id": "evse-1",
                "arrival": ARRIVAL.isoformat(),
                "departure": DEPARTURE.isoformat(),
                "energy_needed_kwh": needed_kwh,
                "max_power_kw": 11.0,
                "efficiency": 0.92,
                "mode": "solar",
            }
        ],
    }
    return [
        ReportValueRecord(
            REGISTERED_VEN.ven_id, "rr-flex", FLEX_REPORT_NAME, p.r_id, i.start,
            int(i.duration.total_seconds()), i.value, reported_at,
        )
        for p in site_to_points(entry, reported_at, timedelta(minutes=15))
        for i in p.intervals
    ]  # fmt: skip


def home(*extra: ReportValueRecord, price: PriceRecord | None = None) -> FakeUnitOfWork:
    return FakeUnitOfWork(
        vens=[REGISTERED_VEN],
        report_registrations=registration(REGISTERED_VEN.ven_id, {"evse-1": True, "meter-1": False}, DAY),
        report_values=[*rows(), *extra],
        prices=[price or prices()],
    )


async def test_a_session_from_plug_in_to_plug_out_with_its_energy_and_cost() -> None:
    [session] = await list_sessions(home(), "site-1", "site-1", DAY, DAY + timedelta(days=1))
    assert (session.device_id, session.start, session.end) == ("evse-1", ARRIVAL, DEPARTURE)
    assert session.boundary == Boundary.PLUGGED_IN
    assert session.energy_kwh == pytest.approx(10.5)
    assert session.cost_eur == pytest.approx(10.5 * 0.20)  # nothing charged in the 0.50 hour
    assert (session.mode, session.target_kwh, session.target_met, session.estimated) == (None, None, None, ())


async def test_mode_and_target_come_from_the_agents_flexibility_report() -> None:
    # At 19:30 the car had 3.5 kWh and still needed 8: a target of 11.5 kWh, missed by 1 kWh.
    snapshot = flex_snapshot(DAY + timedelta(hours=19, minutes=30), 8.0)
    [session] = await list_sessions(home(*snapshot), "site-1", None, DAY, DAY + timedelta(days=1))
    assert session.mode == "solar"
    assert session.target_kwh == pytest.approx(11.5)
    assert session.target_met is False
    assert session.estimated == ("target_kwh",)


async def test_only_sessions_starting_in_the_range_are_listed() -> None:
    uow = home()
    assert await list_sessions(uow, "site-1", None, ARRIVAL + STEP, DAY + timedelta(days=1)) == []
    assert len(await list_sessions(uow, "site-1", None, ARRIVAL, ARRIVAL + STEP)) == 1


async def test_energy_in_a_quarter_hour_without_a_price_leaves_the_cost_unknown() -> None:
    short = replace(prices(), import_eur_per_kwh=prices().import_eur_per_kwh[:20])  # until 20:00
    [session] = await list_sessions(home(price=short), "site-1", None, DAY, DAY + timedelta(days=1))
    assert session.energy_kwh == pytest.approx(10.5) and session.cost_eur is None


async def test_another_customers_site_is_not_found() -> None:
    with pytest.raises(NotFound):
        await list_sessions(home(), "site-1", "site-2", DAY, DAY + timedelta(days=1))
    with pytest.raises(NotFound):
        await month_savings(home(), "site-1", "site-2", date(2030, 3, 1), DAY + timedelta(days=2), BRUSSELS)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (DAY, DAY, "to"),
        (DAY + timedelta(hours=1), DAY, "to"),
        (DAY, DAY + timedelta(days=93), "to"),
        (DAY.replace(tzinfo=None), DAY + timedelta(days=1), "from"),
    ],
)
async def test_a_bad_range_names_the_parameter(start: datetime, end: datetime, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        await list_sessions(home(), "site-1", None, start, end)
    assert caught.value.field == field


async def test_the_months_savings_against_charging_at_full_power_on_arrival() -> None:
    # Data for one day of March 2030 only; the rest of the month is unmeasured (counted as zero).
    snapshot = flex_snapshot(DAY + timedelta(hours=19, minutes=30), 8.0)
    result = await month_savings(
        home(*snapshot), "site-1", "site-1", date(2030, 3, 1), datetime(2030, 4, 2, tzinfo=UTC), BRUSSELS
    )
    s = result.savings
    assert (result.start, result.end) == (
        datetime(2030, 2, 28, 23, tzinfo=UTC),
        datetime(2030, 3, 31, 22, tzinfo=UTC),
    )
    assert result.sessions == 1 and result.full_power_kw == 11.0  # the charger's max from the report
    assert s.slots == 31 * 96 - 4  # the switch to summer time
    assert s.unmeasured_slots == s.slots - 96  # the day's 96 quarter-hours are measured
    # Measured: 0.5 kW all day, plus 10.5 kWh at 0.20; peak 7.5 kW.
    house_kwh = 0.5 * (24 - 5 / 60)  # the last sample at 23:55 ends the meter's counting
    assert s.measured.import_kwh == pytest.approx(house_kwh + 10.5)
    assert s.measured.energy_eur == pytest.approx(0.5 * 0.50 + (house_kwh - 0.5) * 0.20 + 10.5 * 0.20)
    assert s.measured.peak_kw == pytest.approx(7.5)
    # Baseline: 10.5 kWh at 11 kW from 18:00 = until 18:57:16, all in the 0.50 hour; peak 11.5 kW.
    assert s.baseline.energy_eur == pytest.approx(0.5 * 0.50 + (house_kwh - 0.5) * 0.20 + 10.5 * 0.50)
    assert s.baseline.peak_kw == pytest.approx(11.5)
    assert s.energy_saved_eur == pytest.approx(10.5 * 0.30)
    assert s.capacity_saved_eur == pytest.approx(4.0 * (11.5 - 7.5))
    assert "baseline" in result.estimated and "full_power_kw" not in result.estimated


async def test_a_month_not_begun_is_invalid() -> None:
    with pytest.raises(InvalidInput) as caught:
        await month_savings(home(), "site-1", None, date(2030, 4, 1), DAY, BRUSSELS)
    assert caught.value.field == "month"


async def test_without_metadata_the_charger_is_found_from_its_status_values() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN], report_values=rows(), prices=[prices()])
    [session] = await list_sessions(uow, "site-1", None, DAY, DAY + timedelta(days=1))
    assert session.device_id == "evse-1" and session.energy_kwh == pytest.approx(10.5)
