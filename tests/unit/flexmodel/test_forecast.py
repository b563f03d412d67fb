"""flexmodel/forecast against hand calculations: the day matrix across clock changes, the
base-load profile and its level adjustment, the PV calibration and day-ahead, the scores."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from flexmodel.forecast.base_load import BaseLoadOptions, base_load_day_ahead
from flexmodel.forecast.days import DayMatrix, InsufficientHistory, day_matrix, slot_starts
from flexmodel.forecast.pv import SCALE_BOUNDS, fit_pv_scale, pv_day_ahead, solar_zone
from flexmodel.forecast.scores import Backtest, day_ahead_backtest, score, scores_by_lead

BRUSSELS = ZoneInfo("Europe/Brussels")
HOUR = timedelta(hours=1)
SIX_HOURS = timedelta(hours=6)
PLAIN = BaseLoadOptions(level_weight=0.0, smooth_slots=0)
MONDAY = date(2026, 3, 2)  # its window: 2 February (4 weeks before) to Saturday 28 February


def matrix(first: date, rows: list[list[float]], resolution: timedelta = SIX_HOURS) -> DayMatrix:
    return DayMatrix(first, UTC, resolution, np.array(rows, dtype=float))


def feb(value_of: dict[date, list[float]] | None = None, default: float = 1.0) -> DayMatrix:
    """1 February to 1 March 2026, four 6-hour slots a day, `default` unless given."""
    days = [date(2026, 2, 1) + timedelta(days=i) for i in range(29)]
    return matrix(days[0], [(value_of or {}).get(d, [default] * 4) for d in days])


# ---- days ---------------------------------------------------------------------------------------


def test_the_day_matrix_by_wall_clock_across_both_clock_changes() -> None:
    spring, autumn = date(2026, 3, 29), date(2026, 10, 25)
    series = {}
    for day in (spring, autumn):
        start = datetime(day.year, day.month, day.day, tzinfo=BRUSSELS).astimezone(UTC)
        for h in range(25):
            series[start + h * HOUR] = float(h)  # hours since local midnight
    m = day_matrix(series, BRUSSELS, HOUR, spring, autumn)
    assert m.kw.shape == (autumn.toordinal() - spring.toordinal() + 1, 24)
    # Spring: 02:00 does not exist (NaN); 03:00 local is the day's second hour since midnight.
    assert np.isnan(m.kw[0, 2]) and m.kw[0, 3] == 2.0 and m.kw[0, 23] == 22.0
    # Autumn: 02:00 comes twice; the first pass (2 h after midnight) is kept.
    assert m.kw[m.row(autumn), 2] == 2.0 and m.kw[m.row(autumn), 3] == 4.0
    assert [j for j, _ in slot_starts(spring, BRUSSELS, HOUR)] == [j for j in range(24) if j != 2]
    autumn_slots = slot_starts(autumn, BRUSSELS, HOUR)
    assert len(autumn_slots) == 24 and autumn_slots[2][1] == datetime(2026, 10, 25, 0, tzinfo=UTC)


def test_solar_days_follow_the_longitude() -> None:
    assert solar_zone(4.67).utcoffset(None) == timedelta(0)
    assert solar_zone(151.2).utcoffset(None) == timedelta(hours=10)
    assert solar_zone(-122.4).utcoffset(None) == timedelta(hours=-8)


# ---- base load ----------------------------------------------------------------------------------


def test_the_profile_is_half_the_mean_plus_half_the_median_of_the_same_day_type() -> None:
    # 20 weekdays in the window; slot 3 reads 4 kW, but 14 kW on two of them; weekends 9 kW.
    spikes = {date(2026, 2, 10), date(2026, 2, 24)}
    days = {date(2026, 2, 1) + timedelta(days=i) for i in range(29)}
    values = {
        d: ([9.0] * 4 if d.weekday() >= 5 else [1.0, 2.0, 3.0, 14.0 if d in spikes else 4.0]) for d in days
    }
    got = base_load_day_ahead(feb(values), MONDAY, PLAIN)
    # slot 3: mean (18 x 4 + 2 x 14) / 20 = 5, median 4 -> 4.5
    assert got == pytest.approx([1.0, 2.0, 3.0, 4.5])


def test_the_recent_level_scales_the_profile_by_half_its_ratio() -> None:
    # 1 kW until 21 February, 2 kW from 22 to 28 February (the window's last 7 days).
    values = {date(2026, 2, 22) + timedelta(days=i): [2.0] * 4 for i in range(7)}
    got = base_load_day_ahead(feb(values), MONDAY, BaseLoadOptions(smooth_slots=0))
    # Weekdays: 15 at 1 kW, 5 at 2 kW: mean 1.25, median 1 -> profile 1.125.
    # Window (2-28 Feb): (20 x 1 + 7 x 2) / 27; recent 2 -> ratio 54/34; level 1 + 0.5 (54/34 - 1).
    assert got == pytest.approx([1.125 * (1 + 0.5 * (54 / 34 - 1))] * 4)


def test_smoothing_spreads_a_slot_over_its_neighbours_around_midnight() -> None:
    got = base_load_day_ahead(feb(default=0.0, value_of=_every_day([0.0, 0.0, 3.0, 0.0])), MONDAY, PLAIN)
    assert got == pytest.approx([0.0, 0.0, 3.0, 0.0])
    got = base_load_day_ahead(
        feb(value_of=_every_day([3.0, 0.0, 0.0, 0.0])), MONDAY, BaseLoadOptions(level_weight=0.0)
    )
    assert got == pytest.approx([1.0, 1.0, 0.0, 1.0])  # slot 0's 3 kW shared with slots 3 and 1


def _every_day(row: list[float]) -> dict[date, list[float]]:
    return {date(2026, 2, 1) + timedelta(days=i): row for i in range(29)}


def test_too_little_history_says_what_is_missing() -> None:
    history = matrix(date(2026, 2, 25), [[1.0] * 4] * 5)  # Wednesday 25 Feb to Sunday 1 March
    with pytest.raises(InsufficientHistory, match=r"needs 3 weekend days .* found 0"):
        base_load_day_ahead(history, date(2026, 3, 1), PLAIN)  # a Sunday: known up to Friday 27
    with pytest.raises(InsufficientHistory, match=r"needs 5 weekdays .* \(up to 2026-02-28\); found 3"):
        base_load_day_ahead(history, MONDAY, PLAIN)
    # A day measured in under 90 % of its slots does not count.
    gappy = feb({d: [1.0, 1.0, 1.0, np.nan] for d in _every_day([0.0]) if d.weekday() < 5})
    with pytest.raises(InsufficientHistory, match="found 0"):
        base_load_day_ahead(gappy, MONDAY, PLAIN)


# ---- PV -----------------------------------------------------------------------------------------

CLEAR = [0.0, 1.0, 2.0, 1.0]


def test_the_pv_scale_is_fitted_on_the_clearest_days_and_bounded() -> None:
    ratios = [0.9, 0.3, 0.8, 0.5, 0.85, 0.2, 0.4, 0.6, 0.1, 0.7]
    modelled = np.array([CLEAR] * 10)
    measured = modelled * np.array(ratios)[:, None]
    fit = fit_pv_scale(measured, modelled)
    # 20 % of 10 days is 2; at least 3: the days at 0.9, 0.85 and 0.8 (equal clear-sky energy).
    assert (fit.scale, fit.clear_days, fit.bounded) == (pytest.approx(0.85), 3, False)
    too_strong = fit_pv_scale(modelled * 2.0, modelled)
    assert (too_strong.scale, too_strong.bounded) == (SCALE_BOUNDS[1], True)
    # A slot missing at night (modelled 0) leaves the day complete; a missing lit slot does not.
    measured[:, 0] = np.nan
    assert fit_pv_scale(measured, modelled).scale == pytest.approx(0.85)
    measured[:4, 2] = np.nan
    with pytest.raises(InsufficientHistory, match=r"needs 7 days .* found 6"):
        fit_pv_scale(measured, modelled)


def test_pv_day_ahead_blends_the_windows_and_the_last_days_clear_sky_index() -> None:
    # Eight days, clear-sky index 0.5 except the last (day - 2) at 0.9; forecast for the 10th.
    index = [0.5] * 7 + [0.9]
    clear = matrix(date(2026, 6, 1), [CLEAR] * 10)
    measured = matrix(date(2026, 6, 1), [[c * k for c in CLEAR] for k in index] + [[np.nan] * 4] * 2)
    got = pv_day_ahead(measured, clear, date(2026, 6, 10), np.array(CLEAR) * 1.1)
    # window index (7 x 0.5 + 0.9) / 8 = 0.55; blend 0.3 x 0.9 + 0.7 x 0.55 = 0.655
    assert got == pytest.approx(np.array(CLEAR) * 1.1 * 0.655)
    with pytest.raises(InsufficientHistory, match=r"needs 7 complete days .* found 6"):
        pv_day_ahead(measured, clear, date(2026, 6, 8), np.array(CLEAR))  # 1-6 June known


def test_pv_day_ahead_keeps_the_measured_shape_per_slot() -> None:
    # Every day the morning slot yields half the model (a tree), the rest as modelled.
    clear = matrix(date(2026, 6, 1), [CLEAR] * 10)
    measured = matrix(date(2026, 6, 1), [[0.0, 0.5, 2.0, 1.0]] * 10)
    got = pv_day_ahead(measured, clear, date(2026, 6, 10), np.array(CLEAR))
    # index 3.5 / 4 = 0.875; shape 0.5 / 0.875 in the morning, 1 / 0.875 after: the day repeated.
    assert got == pytest.approx([0.0, 0.5, 2.0, 1.0])


# ---- scores -------------------------------------------------------------------------------------


def test_mae_rmse_and_skill_by_hand() -> None:
    got = score(np.array([1.0, 2.0]), np.array([1.0, 1.0]), np.array([0.0, 3.0]), (12, 36))
    # errors 0 and 1; persistence's 1 and 2
    assert got.slots == 2
    assert (got.mae_kw, got.rmse_kw) == pytest.approx((0.5, math.sqrt(0.5)))
    assert (got.persistence_mae_kw, got.persistence_rmse_kw) == pytest.approx((1.5, math.sqrt(2.5)))
    assert got.skill_mae == pytest.approx(1 - 0.5 / 1.5)
    assert got.skill_rmse == pytest.approx(1 - math.sqrt(0.5) / math.sqrt(2.5))
    exact = score(np.array([1.0]), np.array([1.0]), np.array([1.0]), (12, 36))
    assert (exact.mae_kw, exact.skill_mae, exact.skill_rmse) == (0.0, None, None)


def test_scores_per_lead_band() -> None:
    backtest = Backtest(
        lead_h=np.array([12.0, 17.9, 18.0, 35.0]),
        forecast_kw=np.array([1.0, 1.0, 2.0, 0.0]),
        actual_kw=np.array([1.0, 2.0, 2.0, 1.0]),
        persistence_kw=np.array([2.0, 2.0, 0.0, 1.0]),
        days=1,
        skipped=(),
    )
    bands, whole = scores_by_lead(backtest)
    assert [b.slots for b in bands] == [2, 1, 0, 1]
    assert bands[0].mae_kw == pytest.approx(0.5) and bands[0].skill_mae == pytest.approx(0.0)
    assert bands[1].skill_mae == pytest.approx(1.0) and bands[2].mae_kw is None
    assert bands[3].skill_mae is None  # persistence was exact
    assert (whole.lead_from_h, whole.lead_to_h, whole.slots) == (12, 36, 4)
    assert whole.mae_kw == pytest.approx(0.5) and whole.persistence_mae_kw == pytest.approx(0.75)


def test_the_backtest_sets_each_day_against_the_next_and_persistence() -> None:
    actual = matrix(date(2026, 6, 1), [[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, np.nan, 2.0], [3.0, 3.0, 3.0, 3.0]])

    def forecast(day: date) -> np.ndarray:
        if day == date(2026, 6, 2):
            raise InsufficientHistory("too early")
        return np.full(4, 2.5)

    got = day_ahead_backtest(actual, forecast, date(2026, 6, 1), date(2026, 6, 4))
    # 1 June has no yesterday (nothing to score); 2 June skipped; 3 June: its slots against
    # 2 June's persistence, but for the one 2 June misses; 4 June is not measured.
    assert got.days == 1 and got.skipped == ("too early", "nothing measured on 2026-06-04")
    assert got.lead_h.tolist() == [12.0, 18.0, 30.0]
    assert got.actual_kw.tolist() == [3.0, 3.0, 3.0] and got.persistence_kw.tolist() == [2.0, 2.0, 2.0]
