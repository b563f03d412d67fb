"""The heat-pump and appliance extensions of the scenario: defaults, and every problem reported
with a message naming the field (docs/plan-format-extensions.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flexmodel.problem import prepare_sites, slot_profile_kw
from flexmodel.scenario import ScenarioInvalid, parse_scenario

Doc = dict[str, Any]


def _hp(n: int = 4, **over: Any) -> dict[str, Any]:
    hp: dict[str, Any] = {
        "max_power_kw": 3.0,
        "thermal_capacity_kwh_per_k": 4.0,
        "thermal_resistance_k_per_kw": 6.0,
        "initial_temp_c": 20.0,
        "outdoor_temp_c": [5.0] * n,
        "comfort_min_c": [19.0] * n,
        "comfort_max_c": [22.0] * n,
        "cop_intercept": 3.0,
        "cop_slope_per_k": 0.1,
    }
    hp.update(over)
    return hp


def _app(**over: Any) -> dict[str, Any]:
    app: dict[str, Any] = {
        "appliance_id": "washer",
        "profile_kw": [2.0, 0.5],
        "earliest_start": "2025-03-10T00:00:00+01:00",
        "deadline": "2025-03-10T01:00:00+01:00",
    }
    app.update(over)
    return app


def _messages(doc: Doc) -> list[str]:
    with pytest.raises(ScenarioInvalid) as info:
        parse_scenario(doc)
    return info.value.messages


def test_a_scenario_without_the_extensions_parses_as_before(scenario: Callable[..., Doc]) -> None:
    site = parse_scenario(scenario()).sites[0]
    assert site.heat_pump is None and site.appliances == []


def test_heat_pump_and_appliance_parse_with_their_defaults(scenario: Callable[..., Doc]) -> None:
    site = parse_scenario(scenario(heat_pump=_hp(), appliances=[_app()])).sites[0]
    assert site.heat_pump is not None and site.heat_pump.min_power_kw == 0.0
    assert site.heat_pump.cop == pytest.approx([3.5] * 4)
    [problem] = prepare_sites(parse_scenario(scenario(heat_pump=_hp(), appliances=[_app()])))
    assert problem.appliances[0].starts == (0, 1, 2)  # a 30-minute profile in a 1-hour window


def test_heat_pump_arrays_of_the_wrong_length(scenario: Callable[..., Doc]) -> None:
    doc = scenario(heat_pump=_hp(outdoor_temp_c=[5.0] * 3, comfort_max_c=[22.0] * 5))
    assert sorted(_messages(doc)) == [
        "sites[0].heat_pump.comfort_max_c: has 5 values, horizon_slots is 4",
        "sites[0].heat_pump.outdoor_temp_c: has 3 values, horizon_slots is 4",
    ]


def test_heat_pump_cross_field_problems(scenario: Callable[..., Doc]) -> None:
    doc = scenario(heat_pump=_hp(min_power_kw=4.0, comfort_min_c=[19.0, 23.0, 19.0, 19.0]))
    assert sorted(_messages(doc)) == [
        "sites[0].heat_pump.comfort_min_c[1]: 23.0 is above comfort_max_c[1] 22.0",
        "sites[0].heat_pump.min_power_kw: 4.0 is above max_power_kw 3.0",
    ]


def test_heat_pump_cop_given_twice_or_never_or_not_positive(scenario: Callable[..., Doc]) -> None:
    both = scenario(heat_pump=_hp(cop_per_slot=[3.0] * 4))
    assert _messages(both) == [
        "sites[0].heat_pump.cop_per_slot: give either cop_per_slot or cop_intercept/cop_slope_per_k, not both"
    ]
    neither = scenario(heat_pump=_hp(cop_intercept=None, cop_slope_per_k=None))
    assert _messages(neither) == [
        "sites[0].heat_pump.cop_intercept: give cop_intercept and cop_slope_per_k, or cop_per_slot"
    ]
    negative = scenario(heat_pump=_hp(cop_intercept=1.0, cop_slope_per_k=0.5, outdoor_temp_c=[5, 0, -3, 5]))
    [message] = _messages(negative)
    assert message.startswith("sites[0].heat_pump.cop_intercept: the COP at outdoor_temp_c[2] -3.0 is -0.5")
    per_slot = scenario(heat_pump=_hp(cop_intercept=None, cop_slope_per_k=None, cop_per_slot=[3, 0, 3, 3]))
    [message] = _messages(per_slot)
    assert message.startswith("sites[0].heat_pump.cop_per_slot[1]: Input should be greater than 0")


def test_heat_pump_negative_capacity(scenario: Callable[..., Doc]) -> None:
    [message] = _messages(scenario(heat_pump=_hp(thermal_capacity_kwh_per_k=-1.0)))
    assert message.startswith("sites[0].heat_pump.thermal_capacity_kwh_per_k: Input should be greater than 0")


def test_appliance_problems_name_the_field(scenario: Callable[..., Doc]) -> None:
    doc = scenario(
        appliances=[
            _app(deadline="2025-03-10T00:15:00+01:00"),
            _app(appliance_id="dryer", latest_start="2025-03-09T23:00:00+01:00"),
            _app(appliance_id="dryer", profile_kw=[]),
        ]
    )
    assert sorted(_messages(doc)) == [
        "sites[0].appliances[0].deadline: 2025-03-10T00:15:00+01:00 is before earliest_start + the profile's "
        "0:30:00 (2025-03-10T00:30:00+01:00)",
        "sites[0].appliances[1].latest_start: 2025-03-09T23:00:00+01:00 is before earliest_start "
        "2025-03-10T00:00:00+01:00",
        "sites[0].appliances[2].profile_kw: List should have at least 1 item after validation, not 0",
    ]


def test_appliance_without_a_start_in_the_horizon(scenario: Callable[..., Doc]) -> None:
    late = _app(earliest_start="2025-03-10T00:45:00+01:00", deadline="2025-03-10T03:00:00+01:00")
    assert _messages(scenario(appliances=[late])) == [
        "sites[0].appliances[0].earliest_start: no slot boundary from 2025-03-10T00:45:00+01:00 lets the "
        "0:30:00 profile finish by the deadline 2025-03-10T03:00:00+01:00 within the horizon"
    ]


def test_appliance_id_used_twice(scenario: Callable[..., Doc]) -> None:
    assert _messages(scenario(appliances=[_app(), _app()])) == [
        "sites[0].appliances[1].appliance_id: 'washer' is used twice in this site"
    ]


@pytest.mark.parametrize(
    ("resolution", "expected"),
    [
        (15, [2.0, 0.2, 1.0]),
        (60, [0.8]),
        (5, [2.0, 2.0, 2.0, 0.2, 0.2, 0.2, 1.0, 1.0, 1.0]),
        (30, [1.1, 0.5]),
    ],
)
def test_an_appliance_profile_is_averaged_per_slot(resolution: int, expected: list[float]) -> None:
    assert list(slot_profile_kw([2.0, 0.2, 1.0], resolution)) == pytest.approx(expected)
