"""Sessions and savings on real data, against a hand calculation (issue 12, done-when 2).

A Flemish household's December (Fluvius digital meter, 15-minute offtake and injection, December
2023 laid on December 2024 day by day), ten Trondheim residential charging sessions (their
plug-in time of day, duration and energy, one evening each from 1 December), Belgian day-ahead
prices of December 2024 plus a retail adder. The car charges "smart": at 7.4 kW in the cheapest
whole quarter-hours while it is plugged in. From this the test builds the telemetry our agent
would send (5-minute samples of the charger's and the meter's power and counters, the charger's
plug state), stores it with the day-ahead prices as the market would PUT them, runs the use
cases, and checks them against numbers worked out here from the quarter-hours directly.
"""

from __future__ import annotations

import csv
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeUnitOfWork
from home_telemetry import device_rows, registration
from samples import REGISTERED_VEN

from aggregator.records import PriceRecord
from aggregator.site_history import list_sessions, month_savings

BRUSSELS = ZoneInfo("Europe/Brussels")
MONTH_START = datetime(2024, 12, 1, tzinfo=BRUSSELS).astimezone(UTC)  # 2024-11-30 23:00 UTC
MONTH_END = datetime(2025, 1, 1, tzinfo=BRUSSELS).astimezone(UTC)
Q = timedelta(minutes=15)
STEP = timedelta(minutes=5)
FULL_KW = 7.4
IMPORT_ADDER = 0.12  # EUR/kWh: distribution, levies, supplier (as tests/integration/planner)
EXPORT_FEE = 0.015
CAPACITY = 3.37  # EUR/kW/month (Fluvius 2024, about 40 EUR/kW/year)
SESSIONS = 10


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def household_net_kw(data: Path) -> dict[datetime, float]:
    """Quarter-hour start (UTC, December 2024) -> the home's net import [kW]: offtake minus
    injection of the same local quarter-hour of December 2023 (kWh per quarter x 4)."""
    out: dict[datetime, float] = {}
    path = data / "household_fluvius_15min_be" / "fluvius_consumption_history_electricity_15min.csv"
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f, delimiter=";"):
            day, month, year = row["From (date)"].split("/")
            if (month, year) != ("12", "2023") or not row["Volume"]:
                continue
            hh, mm, _ = row["From (time)"].split(":")
            at = datetime(2024, 12, int(day), int(hh), int(mm), tzinfo=BRUSSELS).astimezone(UTC)
            sign = 1.0 if row["Register"].startswith("Offtake") else -1.0
            out[at] = out.get(at, 0.0) + sign * _number(row["Volume"]) * 4.0
    return out


def import_eur_per_kwh(data: Path) -> dict[datetime, float]:
    """Quarter-hour start (UTC) -> day-ahead price [EUR/kWh] + the adder, December 2024."""
    out = {}
    with open(data / "be_dam_prices_15min" / "dam_prices.csv", newline="") as f:
        for row in csv.DictReader(f):
            at = datetime.fromisoformat(row["datetime_utc"]).replace(tzinfo=UTC)
            if MONTH_START - timedelta(days=1) <= at < MONTH_END:
                out[at] = float(row["price_eur_mwh"]) / 1000.0 + IMPORT_ADDER
    return out


def evening_sessions(data: Path) -> list[tuple[int, int, float, float]]:
    """(plug-in hour, minute, duration [h], energy [kWh]) of the first Trondheim sessions plugged
    in 16:00-21:00 for 8-16 h with 5-40 kWh (the usual overnight charge at home)."""
    out = []
    path = data / "ev_sessions_trondheim_residential" / "Dataset_1_EV_charging_reports.csv"
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter=";"):
            if "NA" in (row["Duration_hours"], row["El_kWh"]):
                continue
            plug = datetime.strptime(row["Start_plugin"], "%d.%m.%Y %H:%M")
            hours, kwh = _number(row["Duration_hours"]), _number(row["El_kWh"])
            if 16 <= plug.hour < 21 and 8 <= hours <= 16 and 5 <= kwh <= 40:
                out.append((plug.hour, plug.minute, hours, kwh))
    return out[:SESSIONS]


def _ceil(at: datetime, step: timedelta) -> datetime:
    """The first sample time at or after `at` (the status report sees the car then)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + math.ceil((at - epoch) / step) * step


class Month:
    """The month's quarter-hours worked out by hand: house, smart charge, baseline charge."""

    def __init__(self, data: Path) -> None:
        self.house = household_net_kw(data)
        self.price = import_eur_per_kwh(data)
        self.sessions: list[tuple[datetime, datetime, float]] = []  # (plugged, unplugged, kWh)
        self.ev_kw: dict[datetime, float] = {}
        for day, (hour, minute, hours, kwh) in enumerate(evening_sessions(data), start=1):
            arrival = datetime(2024, 12, day, hour, minute, tzinfo=BRUSSELS).astimezone(UTC)
            plugged, unplugged = _ceil(arrival, STEP), _ceil(arrival + timedelta(hours=hours), STEP)
            self.sessions.append((plugged, unplugged, kwh))
            self._smart_charge(plugged, unplugged, kwh)

    def _smart_charge(self, plugged: datetime, unplugged: datetime, kwh: float) -> None:
        """7.4 kW in the cheapest whole quarter-hours the car is plugged in (the last one partly)."""
        quarters = []
        q = _ceil(plugged, Q)
        while q + Q <= unplugged:
            quarters.append(q)
            q += Q
        left = kwh
        for q in sorted(quarters, key=lambda q: (self.price[q], q)):
            take = min(left, FULL_KW / 4)
            self.ev_kw[q] = take * 4
            left -= take
            if left <= 1e-12:
                break
        assert left <= 1e-12, "the car was plugged in long enough"

    def ev(self, at: datetime) -> float:
        return self.ev_kw.get(at - (at - MONTH_START) % Q, 0.0)

    def meter(self, at: datetime) -> float:
        return self.house.get(at - (at - MONTH_START) % Q, 0.0) + self.ev(at)

    def plugged(self, at: datetime) -> bool:
        return any(p <= at < u for p, u, _ in self.sessions)

    def baseline_ev_kwh(self) -> dict[datetime, float]:
        """7.4 kW from plug-in until the session's energy is in, per quarter-hour."""
        out: dict[datetime, float] = {}
        for plugged, _, kwh in self.sessions:
            start, end = plugged, plugged + timedelta(hours=kwh / FULL_KW)
            q = start - (start - MONTH_START) % Q
            while q < end:
                overlap = min(end, q + Q) - max(start, q)
                out[q] = out.get(q, 0.0) + FULL_KW * overlap / timedelta(hours=1)
                q += Q
        return out


@pytest.fixture(scope="module")
def month(shared_data: Path) -> Month:
    return Month(shared_data)


def uow_for(month: Month) -> FakeUnitOfWork:
    ven = REGISTERED_VEN.ven_id
    telemetry = device_rows(ven, "evse-1", MONTH_START, MONTH_END, STEP, month.ev, plugged=month.plugged)
    telemetry += device_rows(ven, "meter-1", MONTH_START, MONTH_END, STEP, month.meter)
    prices = []
    for i, day in enumerate(sorted({q.date() for q in month.price})):  # one PUT per UTC day
        slots = sorted(q for q in month.price if q.date() == day)
        values = tuple(month.price[q] for q in slots)
        prices.append(
            PriceRecord(
                i + 1, slots[0], 15, values, tuple(v - IMPORT_ADDER - EXPORT_FEE for v in values), CAPACITY,
                slots[0] - timedelta(hours=12),
            )
        )  # fmt: skip
    return FakeUnitOfWork(
        vens=[REGISTERED_VEN],
        report_registrations=registration(ven, {"evse-1": True, "meter-1": False}, MONTH_START),
        report_values=telemetry,
        prices=prices,
    )


async def test_sessions_match_the_hand_calculation(month: Month) -> None:
    sessions = await list_sessions(uow_for(month), "site-1", "site-1", MONTH_START, MONTH_END)
    assert len(sessions) == SESSIONS
    for got, (plugged, unplugged, kwh) in zip(sessions, month.sessions, strict=True):
        assert (got.start, got.end) == (plugged, unplugged)
        assert got.energy_kwh == pytest.approx(kwh, abs=1e-6)  # the data set's El_kWh
        by_hand = sum(month.ev_kw[q] / 4 * month.price[q] for q in month.ev_kw if plugged <= q < unplugged)
        assert got.cost_eur == pytest.approx(by_hand, abs=1e-6)
        assert (got.mode, got.target_kwh, got.target_met) == (None, None, None)
    # The first, written out. Trondheim session: plugged in at 20:05 for 14.0 h, 6.14 kWh; laid on
    # 1 December 2024, 20:05 local = 19:05 UTC, to 10:05 local on the 2nd. The cheapest hour while
    # plugged in is 03:00-04:00 local (02:00 UTC): 47.17 EUR/MWh, +0.12 = 0.16717 EUR/kWh. At
    # 7.4 kW (1.85 kWh a quarter) the car takes 3 quarters + 0.59 kWh in the 4th, all in that
    # hour: 6.14 x 0.16717 = 1.0264238 EUR.
    first = sessions[0]
    assert (first.start, first.end) == (
        datetime(2024, 12, 1, 19, 5, tzinfo=UTC),
        datetime(2024, 12, 2, 9, 5, tzinfo=UTC),
    )
    assert first.energy_kwh == pytest.approx(6.14)
    assert first.cost_eur == pytest.approx(1.0264238)


async def test_savings_match_the_hand_calculation(month: Month) -> None:
    result = await month_savings(
        uow_for(month), "site-1", None, date(2024, 12, 1), datetime(2025, 1, 5, tzinfo=UTC), BRUSSELS
    )
    s = result.savings
    assert (result.start, result.end, s.slots) == (MONTH_START, MONTH_END, 31 * 96)
    assert result.sessions == SESSIONS
    # The baseline's power: the highest quarter-hour the charger was measured to draw (estimated).
    assert result.full_power_kw == pytest.approx(FULL_KW)
    assert "full_power_kw" in result.estimated

    export_price = {q: p - IMPORT_ADDER - EXPORT_FEE for q, p in month.price.items()}
    quarters = [MONTH_START + i * Q for i in range(31 * 96)]
    baseline_ev = month.baseline_ev_kwh()

    def by_hand(ev_kwh: dict[datetime, float]) -> tuple[float, float]:
        """(energy cost, peak kW) of the month with the car drawing `ev_kwh` per quarter-hour."""
        cost, peak = 0.0, 0.0
        for q in quarters:
            net_kwh = month.house.get(q, 0.0) / 4 + ev_kwh.get(q, 0.0)
            cost += max(0.0, net_kwh) * month.price[q] - max(0.0, -net_kwh) * export_price[q]
            peak = max(peak, net_kwh * 4)
        return cost, peak

    measured_cost, measured_peak = by_hand({q: kw / 4 for q, kw in month.ev_kw.items()})
    baseline_cost, baseline_peak = by_hand(baseline_ev)
    # The meter's last sample is at 23:55 local on the 31st: its last 5 minutes are not counted.
    last = MONTH_END - STEP
    tail = max(0.0, month.meter(last)) * STEP / timedelta(hours=1) * month.price[MONTH_END - Q]
    assert s.measured.energy_eur == pytest.approx(measured_cost - tail, abs=1e-6)
    assert s.baseline.energy_eur == pytest.approx(baseline_cost - tail, abs=1e-6)
    assert s.measured.peak_kw == pytest.approx(measured_peak, abs=1e-6)
    assert s.baseline.peak_kw == pytest.approx(baseline_peak, abs=1e-6)
    assert s.measured.capacity_eur == pytest.approx(CAPACITY * max(2.5, measured_peak), abs=1e-6)
    assert s.baseline.capacity_eur == pytest.approx(CAPACITY * max(2.5, baseline_peak), abs=1e-6)
    # Smart charging into the night's cheap quarters saves money and keeps the peak lower.
    assert s.energy_saved_eur > 0 and s.capacity_saved_eur is not None and s.capacity_saved_eur > 0
    assert (s.unmeasured_slots, s.unpriced_slots) == (0, 0)
    # Written out: the measured month peaks at 10.06 kW on 5 December 05:30-05:45 local, where a
    # cheap night quarter at 7.4 kW meets 0.665 kWh (2.66 kW) of the house; the baseline peaks at
    # 10.18 kW on 2 December 19:00-19:15 local, the car at full power from its 18:54 arrival
    # (plugged 18:55) on top of 0.695 kWh (2.78 kW) of the house's evening. Capacity:
    # 3.37 x (10.18 - 10.06) = 0.40 EUR a month saved.
    assert s.measured.peak_kw == pytest.approx(7.4 + 0.665 * 4)
    assert s.measured.peak_at == datetime(2024, 12, 5, 4, 30, tzinfo=UTC)
    assert s.baseline.peak_kw == pytest.approx(7.4 + 0.695 * 4)
    assert s.baseline.peak_at == datetime(2024, 12, 2, 18, 0, tzinfo=UTC)
    assert s.capacity_saved_eur == pytest.approx(0.4044)
    # The first session alone: at full power from 20:05 it is in by 20:55, all in the 20:00 hour
    # at 95.16 EUR/MWh + 0.12 = 0.21516 EUR/kWh, against 0.16717 at night: 6.14 x 0.04799 saved.
    assert month.price[datetime(2024, 12, 1, 19, 0, tzinfo=UTC)] == pytest.approx(0.21516)
    saved_first = 6.14 * (0.21516 - 0.16717)
    assert s.energy_saved_eur > saved_first == pytest.approx(0.2946586)
