"""Baselines on a real household (Fluvius digital meter, 15-minute offtake and injection of one
Flemish prosumer, November-December 2023) against a hand calculation (issue 13, done-when 1).

The hand calculation reads the CSV by its local date and time strings, so it shares nothing
with the module's time-zone arithmetic. The event: Thursday 14 December 2023, 17:00-19:00
Brussels time (8 quarter-hours), a reduction. 7 December had an event for the home (not
eligible), and 12 December lost 12 of its 96 quarter-hours (87.5 %, under the 90 % rule).
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from flexmodel.mv import (
    BaselineMethod,
    BaselineUnavailable,
    Direction,
    XOfY,
    delivered_kw,
    meter_before,
    x_of_y,
)
from flexmodel.mv.accuracy import backtest, score
from flexmodel.mv.delivery import kwh

BRUSSELS = ZoneInfo("Europe/Brussels")
EVENT_DAY = date(2023, 12, 14)
EVENT_TIMES = ["17:00", "17:15", "17:30", "17:45", "18:00", "18:15", "18:30", "18:45"]
BEFORE_TIMES = [f"{h:02d}:{m:02d}" for h in (14, 15, 16) for m in (0, 15, 30, 45)]  # 3 h before
EVENT_DAYS_OF_HOME = {date(2023, 12, 7)}
GAP_DAY = date(2023, 12, 12)
GAP_TIMES = {f"{h:02d}:{m:02d}" for h in (9, 10, 11) for m in (0, 15, 30, 45)}


def read_local(data: Path) -> dict[tuple[date, str], float]:
    """(local date, "HH:MM") -> net import [kW] = (offtake - injection) kWh per quarter x 4,
    from 1 November 2023 (after the October clock change, so every local time is unique)."""
    out: dict[tuple[date, str], float] = {}
    path = data / "household_fluvius_15min_be" / "fluvius_consumption_history_electricity_15min.csv"
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f, delimiter=";"):
            dd, mm, yyyy = row["From (date)"].split("/")
            day = date(int(yyyy), int(mm), int(dd))
            if day < date(2023, 11, 1):
                continue
            key = (day, row["From (time)"][:5])
            kwh_ = float(row["Volume"].replace(",", ".")) if row["Volume"] else 0.0  # "No consumption"
            sign = 1.0 if row["Register"].startswith("Offtake") else -1.0
            out[key] = out.get(key, 0.0) + sign * kwh_ * 4.0
    return out


def to_utc(local: dict[tuple[date, str], float]) -> dict[datetime, float]:
    """The series as the VTN measures it: by UTC slot start, without the gap day's lost hours."""
    out = {}
    for (day, hhmm), kw in local.items():
        if day == GAP_DAY and hhmm in GAP_TIMES:
            continue
        at = datetime.combine(day, time.fromisoformat(hhmm), BRUSSELS).astimezone(UTC)
        out[at] = kw
    return out


@pytest.fixture(scope="module")
def local(shared_data: Path) -> dict[tuple[date, str], float]:
    return read_local(shared_data)


@pytest.fixture(scope="module")
def measured(local: dict[tuple[date, str], float]) -> dict[datetime, float]:
    return to_utc(local)


START = datetime(2023, 12, 14, 16, 0, tzinfo=UTC)  # 17:00 Brussels (UTC+1 in winter)
END = START + timedelta(hours=2)


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def test_x_of_y_10_of_10_matches_the_hand_calculation(
    local: dict[tuple[date, str], float], measured: dict[datetime, float]
) -> None:
    # By hand: the ten weekdays before 14 December, newest first, skipping 12 December (gap)
    # and 7 December (an event): with X = Y = 10 every one of them counts.
    days = [date(2023, 12, d) for d in (13, 11, 8, 6, 5, 4, 1)] + [date(2023, 11, d) for d in (30, 29, 28)]
    unadjusted = [mean([local[(d, t)] for d in days]) for t in EVENT_TIMES]
    measured_before = mean([local[(EVENT_DAY, t)] for t in BEFORE_TIMES])
    days_before = mean([mean([local[(d, t)] for d in days]) for t in BEFORE_TIMES])
    factor = min(1.4, max(0.6, measured_before / days_before))
    by_hand = [b * factor for b in unadjusted]

    got = x_of_y(measured, START, END, BRUSSELS, EVENT_DAYS_OF_HOME)
    assert got.method is BaselineMethod.X_OF_Y and got.version == "x_of_y/1"
    assert got.slots == tuple(START + i * timedelta(minutes=15) for i in range(8))
    assert got.details["days"] == sorted(d.isoformat() for d in days)
    assert got.details["adjustment_factor"] == pytest.approx(factor)
    assert got.kw == pytest.approx(by_hand)
    # The day-of adjustment did something on this day (the factor is not 1): a test of it.
    assert abs(factor - 1.0) > 0.01

    # Delivered: baseline minus measured, quarter-hour by quarter-hour, for a reduction.
    for slot, baseline_kw, t in zip(got.slots, got.kw, EVENT_TIMES, strict=True):
        assert delivered_kw(baseline_kw, measured[slot], Direction.REDUCTION) == pytest.approx(
            baseline_kw - local[(EVENT_DAY, t)]
        )
        assert delivered_kw(baseline_kw, measured[slot], Direction.INCREASE) == pytest.approx(
            local[(EVENT_DAY, t)] - baseline_kw
        )
    total = sum(kwh(b - local[(EVENT_DAY, t)]) for b, t in zip(by_hand, EVENT_TIMES, strict=True))
    assert sum(kwh(b - measured[s]) for s, b in zip(got.slots, got.kw, strict=True)) == pytest.approx(total)


def test_x_of_y_4_of_5_takes_the_highest_four(
    local: dict[tuple[date, str], float], measured: dict[datetime, float]
) -> None:
    # By hand: the last five eligible weekdays; the four with the highest mean load 17:00-19:00.
    five = [date(2023, 12, d) for d in (13, 11, 8, 6, 5)]
    window_mean = {d: mean([local[(d, t)] for t in EVENT_TIMES]) for d in five}
    four = sorted(five, key=lambda d: window_mean[d], reverse=True)[:4]
    dropped = next(d for d in five if d not in four)
    assert window_mean[dropped] == min(window_mean.values())
    by_hand = [mean([local[(d, t)] for d in four]) for t in EVENT_TIMES]

    got = x_of_y(measured, START, END, BRUSSELS, EVENT_DAYS_OF_HOME, XOfY(x=4, y=5, adjustment=False))
    assert got.details["days"] == sorted(d.isoformat() for d in four)
    assert got.details["adjustment_factor"] == 1.0
    assert got.kw == pytest.approx(by_hand)


def test_x_of_y_clips_the_adjustment(measured: dict[datetime, float]) -> None:
    tight = XOfY(adjustment_min=0.99, adjustment_max=1.01)
    got = x_of_y(measured, START, END, BRUSSELS, EVENT_DAYS_OF_HOME, tight)
    assert got.details["adjustment_factor"] in (0.99, 1.01)


def test_x_of_y_without_enough_days_says_so(measured: dict[datetime, float]) -> None:
    early = datetime(2023, 11, 6, 16, 0, tzinfo=UTC)  # a Monday: three weekdays of November before
    with pytest.raises(BaselineUnavailable, match=r"needs 10 eligible week days .* found 3"):
        x_of_y(measured, early, early + timedelta(hours=1), BRUSSELS)


def test_meter_before_matches_the_hand_calculation(
    local: dict[tuple[date, str], float], measured: dict[datetime, float]
) -> None:
    by_hand = mean([local[(EVENT_DAY, t)] for t in ("16:00", "16:15", "16:30", "16:45")])
    got = meter_before(measured, START, END, intervals=4)
    assert got.method is BaselineMethod.METER_BEFORE
    assert got.kw == pytest.approx([by_hand] * 8)
    for slot, baseline_kw, t in zip(got.slots, got.kw, EVENT_TIMES, strict=True):
        assert delivered_kw(baseline_kw, measured[slot], Direction.REDUCTION) == pytest.approx(
            by_hand - local[(EVENT_DAY, t)]
        )
    gap = datetime.combine(GAP_DAY, time(12, 30), BRUSSELS)  # 11:30 and 11:45 lost
    with pytest.raises(BaselineUnavailable, match="meter_before: 2 of the 4 slots"):
        meter_before(measured, gap, gap + timedelta(hours=1))


def test_accuracy_scores_by_hand(
    local: dict[tuple[date, str], float], measured: dict[datetime, float]
) -> None:
    # Two test days, meter_before over 17:00-19:00; by hand: sum|B - M| / sum|M|, sum(B - M) / sum|M|.
    test_days = [date(2023, 12, 18), date(2023, 12, 19)]
    pairs = []
    for d in test_days:
        b = mean([local[(d, t)] for t in ("16:00", "16:15", "16:30", "16:45")])
        pairs += [(b, local[(d, t)]) for t in EVENT_TIMES]
    error = sum(abs(b - m) for b, m in pairs) / sum(abs(m) for _, m in pairs)
    bias = sum(b - m for b, m in pairs) / sum(abs(m) for _, m in pairs)
    got = backtest(
        measured, BRUSSELS, test_days, time(17), timedelta(hours=2), lambda s, e: meter_before(measured, s, e)
    )
    assert (got.days, got.intervals) == (2, 16)
    assert got.relative_error == pytest.approx(error)
    assert got.bias == pytest.approx(bias)
    assert score([], 0).relative_error is None


def test_x_of_y_past_midnight_reads_each_days_following_night(
    local: dict[tuple[date, str], float], measured: dict[datetime, float]
) -> None:
    # Thursday 14 December 23:00 to Friday 00:30 local: on each baseline day the slots after
    # midnight are that day's following night, by hand.
    days = [date(2023, 12, d) for d in (13, 11, 8, 6, 5, 4, 1)] + [date(2023, 11, d) for d in (30, 29, 28)]
    evening, night = ["23:00", "23:15", "23:30", "23:45"], ["00:00", "00:15"]
    by_hand = [mean([local[(d, t)] for d in days]) for t in evening]
    by_hand += [mean([local[(d + timedelta(days=1), t)] for d in days]) for t in night]
    start = datetime(2023, 12, 14, 22, 0, tzinfo=UTC)
    got = x_of_y(
        measured, start, start + timedelta(minutes=90), BRUSSELS, EVENT_DAYS_OF_HOME, XOfY(adjustment=False)
    )
    assert got.kw == pytest.approx(by_hand)
