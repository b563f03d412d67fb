"""flexmodel.savings: the measured month against each car charged at full power from arrival."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flexmodel.energy_counter import SlotGrid
from flexmodel.savings import Tariff, baseline_charge_kwh, compare_month, month_cost, shift_load

T0 = datetime(2030, 1, 1, tzinfo=UTC)
Q = timedelta(minutes=15)
GRID = SlotGrid(T0, Q, 8)


def test_the_baseline_charges_at_full_power_from_arrival_until_the_energy_is_in() -> None:
    # 4 kWh at 8 kW from 00:10: 30 minutes, 00:10-00:40 -> 5, 15, 10 minutes of the quarters.
    kwh = baseline_charge_kwh([(T0 + timedelta(minutes=10), 4.0)], 8.0, GRID)
    assert kwh == pytest.approx([8 * 5 / 60, 8 * 15 / 60, 8 * 10 / 60, 0, 0, 0, 0, 0])
    # A session from before the grid counts only its part inside.
    assert sum(baseline_charge_kwh([(T0 - timedelta(minutes=15), 4.0)], 8.0, GRID)) == pytest.approx(2.0)


def test_moved_load_meets_export_first_and_removed_load_lowers_import_first() -> None:
    assert shift_load(1.0, 0.5, 2.0) == pytest.approx((2.5, 0.0))
    assert shift_load(1.0, 0.5, 0.25) == pytest.approx((1.0, 0.25))
    assert shift_load(1.0, 0.0, -1.5) == pytest.approx((0.0, 0.5))
    assert shift_load(1.0, 0.2, 0.0) == (1.0, 0.2)


def test_month_cost_bills_the_highest_quarter_hour_and_at_least_the_minimum() -> None:
    tariff = Tariff({s: 0.30 for s in GRID.starts()}, {s: 0.05 for s in GRID.starts()}, 4.0)
    imports = [0.25, 0.5, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]  # peak 1.0 kWh in a quarter = 4 kW
    exports = [0.0, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0, 0.0]
    cost = month_cost(imports, exports, GRID, tariff)
    assert cost.energy_eur == pytest.approx(1.75 * 0.30 - 0.2 * 0.05)
    assert (cost.peak_kw, cost.peak_at) == (pytest.approx(4.0), T0 + 2 * Q)
    assert cost.capacity_eur == pytest.approx(16.0)
    low = month_cost([0.1] * 8, [0.0] * 8, GRID, tariff)
    assert low.capacity_eur == pytest.approx(4.0 * 2.5)  # 0.4 kW billed as 2.5 kW


def test_a_charge_moved_to_cheap_quarters_saves_against_charging_on_arrival() -> None:
    prices = [0.40, 0.40, 0.10, 0.10, 0.10, 0.10, 0.10, 0.10]
    tariff = Tariff(dict(zip(GRID.starts(), prices, strict=True)), {}, 4.0)
    house = [0.1] * 8
    # Measured: 4 kWh charged at 4 kW in quarters 4-7; the car arrived at T0 (full power 8 kW).
    charger = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    baseline = baseline_charge_kwh([(T0, 4.0)], 8.0, GRID)  # 2 kWh in each of quarters 0 and 1
    imports = [h + c for h, c in zip(house, charger, strict=True)]
    result = compare_month(imports, [0.0] * 8, charger, baseline, GRID, tariff)
    assert result.measured.energy_eur == pytest.approx(0.1 * (0.8 + 0.6) + 4 * 0.10)
    assert result.baseline.energy_eur == pytest.approx(0.1 * (0.8 + 0.6) + 4 * 0.40)
    assert result.energy_saved_eur == pytest.approx(1.2)
    assert result.measured.peak_kw == pytest.approx(4.4)
    assert result.baseline.peak_kw == pytest.approx(8.4)
    assert result.capacity_saved_eur == pytest.approx(4.0 * 4.0)
    assert (result.unmeasured_slots, result.unpriced_slots) == (0, 0)


def test_missing_meter_data_and_prices_are_counted() -> None:
    tariff = Tariff({T0: 0.2}, {}, None)
    result = compare_month([0.5, None] + [0.0] * 6, [0.0] * 8, [0.0] * 8, [0.0] * 8, GRID, tariff)
    assert result.unmeasured_slots == 1
    assert result.measured.capacity_eur is None and result.capacity_saved_eur is None
    result = compare_month([0.5, 0.5] + [0.0] * 6, [0.0] * 8, [0.0] * 8, [0.0] * 8, GRID, tariff)
    assert result.unpriced_slots == 1
