"""Pure event rules: status with ramp-up, distribution order, overlap, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.errors import InvalidInput
from aggregator.event_rules import (
    DEFAULT_MARKET_CONTEXT,
    EventSpec,
    IntervalSpec,
    Timing,
    distribution_key,
    event_status,
    overlaps,
    validate_spec,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)
M = timedelta(minutes=1)


def timing(start_min: int, minutes: int, ramp_min: int = 0, cancelled: bool = False) -> Timing:
    start = T0 + start_min * M
    return Timing(start, start + minutes * M, ramp_min * M, cancelled)


@pytest.mark.parametrize(
    ("now_min", "near_window_s", "expected"),
    [
        (0, 0, "far"),
        (89, 0, "far"),  # ramp-up of 30 min before a start at 120
        (90, 0, "near"),
        (60, 3600, "near"),  # the near window (60 min) is longer than the ramp-up
        (59, 3600, "far"),
        (120, 0, "active"),
        (179, 0, "active"),
        (180, 0, "completed"),
    ],
)
def test_status(now_min: int, near_window_s: int, expected: str) -> None:
    assert event_status(timing(120, 60, ramp_min=30), T0 + now_min * M, near_window_s) == expected


def test_cancelled_wins_over_time() -> None:
    assert event_status(timing(0, 10, cancelled=True), T0 + 5 * M) == "cancelled"


def test_distribution_order() -> None:
    keys = {
        "active_p1": distribution_key("active", 1, T0 + 5 * M),
        "active_p1_early": distribution_key("active", 1, T0),
        "active_p0": distribution_key("active", 0, T0),
        "active_p3": distribution_key("active", 3, T0),
        "near": distribution_key("near", 1, T0 + 30 * M),
        "far": distribution_key("far", 0, T0 + 90 * M),
        "cancelled": distribution_key("cancelled", 1, T0),
    }
    ordered = sorted(keys, key=keys.__getitem__)
    assert ordered == ["active_p1_early", "active_p1", "active_p3", "active_p0", "near", "far", "cancelled"]


def test_overlap_is_half_open() -> None:
    assert overlaps(timing(0, 60), timing(30, 60))
    assert not overlaps(timing(0, 60), timing(60, 60))


def spec(**changes: object) -> EventSpec:
    base: dict[str, object] = {
        "ven_ids": ["a", "a", "b"],
        "signal_name": "SIMPLE",
        "signal_type": "level",
        "intervals": (IntervalSpec(T0, 600, 1), IntervalSpec(T0 + 10 * M, 600, 2)),
    }
    base.update(changes)
    return EventSpec(**base)  # type: ignore[arg-type]


def test_validate_normalises() -> None:
    checked = validate_spec(spec(), T0)
    assert checked.ven_ids == ("a", "b")
    assert checked.market_context == DEFAULT_MARKET_CONTEXT
    assert [i.value for i in checked.intervals] == [1.0, 2.0]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ven_ids": []}, "ven_ids"),
        ({"signal_name": "NOPE"}, "signal_name"),
        ({"signal_type": "wattage"}, "signal_type"),
        ({"response_required": "sometimes"}, "response_required"),
        ({"priority": -1}, "priority"),
        ({"ramp_up_seconds": -5}, "ramp_up_seconds"),
        ({"intervals": ()}, "intervals"),
        ({"intervals": (IntervalSpec(T0.replace(tzinfo=None), 60, 1),)}, "intervals[0].start"),
        ({"intervals": (IntervalSpec(T0, 0, 1),)}, "intervals[0].duration_seconds"),
        ({"intervals": (IntervalSpec(T0, 60, float("nan")),)}, "intervals[0].value"),
        ({"intervals": (IntervalSpec(T0, 60, 1), IntervalSpec(T0 + 2 * M, 60, 1))}, "intervals[1].start"),
        ({"intervals": (IntervalSpec(T0, 60, 5),)}, "intervals[0].value"),
        ({"market_context": "has space"}, "market_context"),
    ],
)
def test_validate_names_the_bad_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_spec(spec(**changes), T0 - 60 * M)
    assert err.value.field == field


def test_an_event_already_over_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        validate_spec(spec(), T0 + 20 * M)
    assert err.value.field == "intervals"
