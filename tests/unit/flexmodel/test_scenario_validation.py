"""A malformed scenario is rejected with messages naming place, field and reason, all at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from flexmodel.scenario import ScenarioInvalid, parse_scenario

Doc = dict[str, Any]

BATTERY = {"capacity_kwh": 10.0, "soc_kwh": 5.0, "max_charge_kw": 5.0, "max_discharge_kw": 5.0}
EV = {
    "ev_id": "ev-1",
    "arrival": "2025-03-10T00:00:00+01:00",
    "departure": "2025-03-10T01:00:00+01:00",
    "energy_needed_kwh": 3.0,
    "max_power_kw": 7.4,
}


def _messages(doc: Doc | str) -> list[str]:
    with pytest.raises(ScenarioInvalid) as info:
        parse_scenario(doc)
    return info.value.messages


def test_a_valid_scenario_parses_with_the_spec_defaults(scenario: Callable[..., Doc]) -> None:
    doc = scenario(battery=dict(BATTERY), evs=[dict(EV)])
    parsed = parse_scenario(json.dumps(doc))
    site = parsed.sites[0]
    assert site.min_billed_peak_kw == 2.5 and site.month_peak_kw == 0.0
    assert site.battery is not None and site.battery.min_soc_kwh == 0.0
    assert site.battery.final_soc_min_resolved_kwh == 5.0
    assert site.evs[0].efficiency == 1.0 and site.evs[0].mode == "smart"


def test_wrong_array_length(scenario: Callable[..., Doc]) -> None:
    doc = scenario(base_load_kw=[0.5] * 3)
    assert _messages(doc) == ["sites[0].base_load_kw: has 3 values, horizon_slots is 4"]


def test_wrong_lengths_everywhere_are_all_reported(scenario: Callable[..., Doc]) -> None:
    doc = scenario(pv={"forecast_kw": [1.0] * 5})
    doc["tariff"]["export_eur_per_kwh"] = [0.05]
    doc["portfolio"] = {"imbalance_eur_per_kwh": [0.1] * 2}
    assert sorted(_messages(doc)) == [
        "portfolio.imbalance_eur_per_kwh: has 2 values, horizon_slots is 4",
        "sites[0].pv.forecast_kw: has 5 values, horizon_slots is 4",
        "tariff.export_eur_per_kwh: has 1 values, horizon_slots is 4",
    ]


def test_negative_capacity(scenario: Callable[..., Doc]) -> None:
    doc = scenario(battery={**BATTERY, "capacity_kwh": -10.0})
    [message] = _messages(doc)
    assert message.startswith("sites[0].battery.capacity_kwh: Input should be greater than 0")
    assert "-10.0" in message


def test_soc_above_capacity(scenario: Callable[..., Doc]) -> None:
    doc = scenario(battery={**BATTERY, "soc_kwh": 12.0})
    assert _messages(doc) == ["sites[0].battery.soc_kwh: 12.0 is above capacity_kwh 10.0"]


def test_soc_below_min_soc(scenario: Callable[..., Doc]) -> None:
    doc = scenario(battery={**BATTERY, "soc_kwh": 0.5, "min_soc_kwh": 1.0})
    assert _messages(doc) == ["sites[0].battery.soc_kwh: 0.5 is below min_soc_kwh 1.0"]


def test_efficiency_above_one(scenario: Callable[..., Doc]) -> None:
    doc = scenario(battery={**BATTERY, "charge_efficiency": 1.2})
    [message] = _messages(doc)
    assert message.startswith("sites[0].battery.charge_efficiency: Input should be less than or equal to 1")


def test_unreachable_final_soc(scenario: Callable[..., Doc]) -> None:
    doc = scenario(battery={**BATTERY, "soc_kwh": 1.0, "max_charge_kw": 1.0, "final_soc_min_kwh": 9.0})
    [message] = _messages(doc)
    assert message.startswith("sites[0].battery.final_soc_min_kwh: 9.0 cannot be reached from soc_kwh 1.0")


def test_departure_before_arrival(scenario: Callable[..., Doc]) -> None:
    ev = {**EV, "arrival": "2025-03-10T05:00:00+01:00", "departure": "2025-03-10T04:00:00+01:00"}
    assert _messages(scenario(evs=[ev])) == [
        "sites[0].evs[0].departure: 2025-03-10T04:00:00+01:00 is before arrival 2025-03-10T05:00:00+01:00"
    ]


@pytest.mark.parametrize("where", ["top", "site", "battery", "ev"])
def test_unknown_field(scenario: Callable[..., Doc], where: str) -> None:
    doc = scenario(battery=dict(BATTERY), evs=[dict(EV)])
    target = {
        "top": doc,
        "site": doc["sites"][0],
        "battery": doc["sites"][0]["battery"],
        "ev": doc["sites"][0]["evs"][0],
    }[where]
    target["colour"] = "blue"
    place = {"top": "", "site": "sites[0].", "battery": "sites[0].battery.", "ev": "sites[0].evs[0]."}[where]
    assert _messages(doc) == [f"{place}colour: Extra inputs are not permitted (got 'blue')"]


def test_bad_mode(scenario: Callable[..., Doc]) -> None:
    [message] = _messages(scenario(evs=[{**EV, "mode": "turbo"}]))
    assert message == "sites[0].evs[0].mode: Input should be 'smart', 'solar' or 'boost' (got 'turbo')"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2025-03-10T05:00:00", "Input should have timezone info"),
        ("tomorrow", "Input should be a valid datetime"),
    ],
)
def test_bad_timestamp(scenario: Callable[..., Doc], value: str, reason: str) -> None:
    [message] = _messages(scenario(evs=[{**EV, "arrival": value}]))
    assert message.startswith(f"sites[0].evs[0].arrival: {reason}")
    assert repr(value) in message


def test_bad_start_timestamp(scenario: Callable[..., Doc]) -> None:
    doc = scenario()
    doc["start"] = "2025-03-10 00:00"
    [message] = _messages(doc)
    assert message.startswith("start: Input should have timezone info")


def test_missing_field(scenario: Callable[..., Doc]) -> None:
    doc = scenario()
    del doc["sites"][0]["import_limit_kw"]
    assert _messages(doc) == ["sites[0].import_limit_kw: Field required"]


def test_not_a_number(scenario: Callable[..., Doc]) -> None:
    doc = scenario(base_load_kw=[0.5, "lots", 0.5, 0.5])
    [message] = _messages(doc)
    assert message.startswith("sites[0].base_load_kw[1]: Input should be a valid number")


def test_infinite_or_nan_numbers_are_rejected(scenario: Callable[..., Doc]) -> None:
    doc = scenario(base_load_kw=[0.5, float("nan"), 0.5, float("inf")])
    assert [m.split(":")[0] for m in _messages(doc)] == [
        "sites[0].base_load_kw[1]",
        "sites[0].base_load_kw[3]",
    ]


def test_negative_pv_forecast(scenario: Callable[..., Doc]) -> None:
    [message] = _messages(scenario(pv={"forecast_kw": [0.0, -1.0, 0.0, 0.0]}))
    assert message.startswith("sites[0].pv.forecast_kw[1]: Input should be greater than or equal to 0")


def test_duplicate_ids(scenario: Callable[..., Doc]) -> None:
    doc = scenario(evs=[dict(EV), dict(EV)])
    doc["sites"].append(dict(doc["sites"][0], evs=[]))
    assert sorted(_messages(doc)) == [
        "sites[0].evs[1].ev_id: 'ev-1' is used twice in this site",
    ]
    doc["sites"][0]["evs"] = []
    assert _messages(doc) == ["sites[1].site_id: 'home-001' is used twice"]


def test_missing_tariff(scenario: Callable[..., Doc]) -> None:
    doc = scenario()
    del doc["tariff"]
    assert _messages(doc) == ["sites[0].tariff: missing, and there is no top-level tariff"]


def test_floor_above_cap(scenario: Callable[..., Doc]) -> None:
    doc = scenario()
    doc["portfolio"] = {
        "net_import_cap_kw": [None, 5.0, 5.0, None],
        "net_import_floor_kw": [1.0, 6.0, None, None],
    }
    assert _messages(doc) == ["portfolio.net_import_floor_kw[1]: 6.0 is above net_import_cap_kw[1] 5.0"]


def test_bad_horizon(scenario: Callable[..., Doc]) -> None:
    doc = scenario()
    doc["horizon_slots"] = 0
    doc["resolution_minutes"] = "quarter"
    assert [m.split(":")[0] for m in _messages(doc)] == ["resolution_minutes", "horizon_slots"]


def test_not_json() -> None:
    [message] = _messages('{"start": ')
    assert "Invalid JSON" in message


def test_all_problems_at_once(scenario: Callable[..., Doc]) -> None:
    doc = scenario(battery={**BATTERY, "soc_kwh": 12.0}, evs=[{**EV, "mode": "turbo"}])
    second = dict(
        doc["sites"][0],
        site_id="home-002",
        import_limit_kw=-1,
        base_load_kw=[1.0],
        battery=dict(BATTERY),
        evs=[],
    )
    second["foo"] = 1
    doc["sites"] += [second]
    doc["sites"].append(
        dict(second, site_id="home-003", battery={**BATTERY, "soc_kwh": 12.0}, base_load_kw=[1.0] * 4)
    )
    del doc["sites"][2]["foo"]
    doc["sites"][2]["import_limit_kw"] = 5
    messages = _messages(doc)
    assert sorted(messages) == sorted(
        [
            "sites[0].battery.soc_kwh: 12.0 is above capacity_kwh 10.0",
            "sites[0].evs[0].mode: Input should be 'smart', 'solar' or 'boost' (got 'turbo')",
            "sites[1].import_limit_kw: Input should be greater than or equal to 0 (got -1)",
            "sites[1].base_load_kw: has 1 values, horizon_slots is 4",
            "sites[1].foo: Extra inputs are not permitted (got 1)",
            "sites[2].battery.soc_kwh: 12.0 is above capacity_kwh 10.0",
        ]
    )
