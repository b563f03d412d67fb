"""prepare_sites: the spec's defaults, EV windows (ceil/floor) and the boost formula."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from flexmodel.problem import prepare_portfolio, prepare_sites
from flexmodel.scenario import EvMode, parse_scenario

Doc = dict[str, Any]


def _ev(arrival: str, departure: str, **extra: Any) -> Doc:
    return {
        "ev_id": "ev",
        "arrival": arrival,
        "departure": departure,
        "energy_needed_kwh": 5.0,
        "max_power_kw": 4.0,
        **extra,
    }


@pytest.mark.parametrize(
    ("arrival", "departure", "window"),
    [
        ("2025-03-10T00:00:00+01:00", "2025-03-10T01:00:00+01:00", (0, 4)),  # exact slot edges
        ("2025-03-10T00:07:00+01:00", "2025-03-10T00:59:00+01:00", (1, 3)),  # ceil / floor
        ("2025-03-09T23:07:00+00:00", "2025-03-10T00:14:00+01:00", (1, 1)),  # same instant, other offset
        ("2025-03-09T12:00:00+01:00", "2025-03-10T00:30:00+01:00", (0, 2)),  # already plugged in
        ("2025-03-10T00:30:00+01:00", "2025-03-12T00:00:00+01:00", (2, 8)),  # leaves after the horizon
        ("2025-03-10T03:00:00+01:00", "2025-03-10T04:00:00+01:00", (8, 8)),  # arrives after the horizon
        ("2025-03-10T00:20:00+01:00", "2025-03-10T00:25:00+01:00", (2, 2)),  # inside one slot: none
    ],
)
def test_charge_window(
    scenario: Callable[..., Doc], arrival: str, departure: str, window: tuple[int, int]
) -> None:
    [site] = prepare_sites(parse_scenario(scenario(8, evs=[_ev(arrival, departure)])))
    ev = site.evs[0]
    assert (ev.first_slot, ev.stop_slot) == window
    assert ev.charge_mask.tolist() == [window[0] <= t < window[1] for t in range(8)]


def test_defaults_and_resolution(scenario: Callable[..., Doc]) -> None:
    doc = scenario(
        month_peak_kw=1.0,
        battery={"capacity_kwh": 8.0, "soc_kwh": 3.0, "max_charge_kw": 2.0, "max_discharge_kw": 2.0},
    )
    [site] = prepare_sites(parse_scenario(doc))
    assert site.dt_h == 0.25 and site.n_slots == 4
    assert site.peak_floor_kw == 2.5  # max(month_peak 1.0, floor 2.5)
    assert site.battery is not None
    assert site.battery.final_soc_min_kwh == 3.0 and site.battery.min_soc_kwh == 0.0
    assert site.battery.charge_efficiency == site.battery.discharge_efficiency == 1.0
    assert not site.pv_curtailable and (site.pv_kw == 0).all()
    assert (site.imbalance_eur_per_kwh == 0).all()
    with pytest.raises(ValueError):
        site.base_kw[0] = 3.0  # the prepared arrays are read-only


def test_site_tariff_replaces_the_top_one(scenario: Callable[..., Doc]) -> None:
    doc = scenario(month_peak_kw=4.0)
    own = {"import_eur_per_kwh": [0.4] * 4, "export_eur_per_kwh": [0.0] * 4}
    doc["sites"].append(dict(doc["sites"][0], site_id="home-002", tariff=own))
    first, second = prepare_sites(parse_scenario(doc))
    assert first.import_price_eur_per_kwh.tolist() == [0.25] * 4 and first.capacity_eur_per_kw_month == 3.37
    assert second.import_price_eur_per_kwh.tolist() == [0.4] * 4 and second.capacity_eur_per_kw_month == 0.0
    assert first.peak_floor_kw == 4.0


def test_boost_follows_the_formula(scenario: Callable[..., Doc]) -> None:
    # Headroom import_limit - base + pv: 3 - 1 + 0 = 2, then 3 - 2.5 + 0 = 0.5, then 3 - 1 + 1 = 3.
    doc = scenario(
        5,
        import_limit_kw=3.0,
        base_load_kw=[1.0, 2.5, 1.0, 1.0, 4.0],
        pv={"forecast_kw": [0.0, 0.0, 1.0, 0.0, 0.0]},
        evs=[
            _ev(
                "2025-03-10T00:00:00+01:00",
                "2025-03-10T02:00:00+01:00",
                mode="boost",
                energy_needed_kwh=1.5,
                efficiency=0.8,
            )
        ],
    )
    [site] = prepare_sites(parse_scenario(doc))
    ev = site.evs[0]
    assert ev.mode is EvMode.BOOST and ev.boost_kw is not None
    # remaining 1.5 kWh: slot 0 min(4, 1.5/(0.8*0.25)=7.5, 2) = 2 -> 1.1 left;
    # slot 1 min(4, 5.5, 0.5) = 0.5 -> 1.0 left; slot 2 min(4, 5, 3) = 3 -> 0.4 left;
    # slot 3 min(4, 2, 2) = 2 -> 0 left; slot 4: nothing left (and no headroom).
    assert ev.boost_kw == pytest.approx([2.0, 0.5, 3.0, 2.0, 0.0])
    assert site.boost_kw == pytest.approx(ev.boost_kw)
    assert site.optimised_evs == ()


def test_two_boost_evs_share_the_headroom(scenario: Callable[..., Doc]) -> None:
    window = ("2025-03-10T00:00:00+01:00", "2025-03-10T01:00:00+01:00")
    evs = [
        _ev(*window, ev_id="a", mode="boost", energy_needed_kwh=1.5),
        _ev(*window, ev_id="b", mode="boost"),
    ]
    [site] = prepare_sites(parse_scenario(scenario(import_limit_kw=5.0, base_load_kw=[1.0] * 4, evs=evs)))
    a, b = (ev.boost_kw for ev in site.evs)
    assert a is not None and b is not None
    # Headroom 4 kW per slot: "a" takes 4 then 2 kW (1.5 kWh); "b" gets what is left.
    assert a.tolist() == [4.0, 2.0, 0.0, 0.0]
    assert b.tolist() == [0.0, 2.0, 4.0, 4.0]


def test_portfolio_problem(scenario: Callable[..., Doc]) -> None:
    doc = scenario()
    assert not prepare_portfolio(parse_scenario(doc)).has_caps_or_floors
    doc["portfolio"] = {"net_import_cap_kw": [None, 3.0, None, None], "imbalance_eur_per_kwh": [0.1] * 4}
    port = prepare_portfolio(parse_scenario(doc))
    assert (
        port.has_caps_or_floors and np.isnan(port.net_import_cap_kw[0]) and port.net_import_cap_kw[1] == 3.0
    )
    assert (port.nominated_net_kw == 0).all()
