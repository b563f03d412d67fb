"""flexmodel.flexreport: a site entry travels as report points and comes back the same."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from flexmodel.flexreport import (
    FIELDS,
    FlexReportInvalid,
    availability_windows,
    points_from_values,
    points_to_site,
    site_to_points,
)

START = datetime.fromisoformat("2025-03-10T00:00:00+01:00")
RES = timedelta(minutes=15)
SITE = {
    "site_id": "home-001",
    "import_limit_kw": 9.2,
    "export_limit_kw": 10.0,
    "month_peak_kw": 3.1,
    "min_billed_peak_kw": 2.5,
    "base_load_kw": [0.4 + 0.01 * t for t in range(96)],
    "pv": {"forecast_kw": [max(0.0, 3 - abs(t - 52) * 0.1) for t in range(96)], "curtailable": True},
    "battery": {
        "capacity_kwh": 10.0,
        "soc_kwh": 5.0,
        "min_soc_kwh": 1.0,
        "max_charge_kw": 5.0,
        "max_discharge_kw": 5.0,
        "charge_efficiency": 0.95,
        "discharge_efficiency": 0.95,
        "final_soc_min_kwh": 5.0,
    },
    "evs": [
        {
            "ev_id": "ev-1",
            "arrival": "2025-03-10T00:00:00+01:00",
            "departure": "2025-03-10T07:00:00+01:00",
            "energy_needed_kwh": 30.0,
            "max_power_kw": 11.0,
            "efficiency": 0.95,
            "mode": "smart",
        }
    ],
}


def test_round_trip_gives_a_valid_scenario_site() -> None:
    points = site_to_points(SITE, START, RES)
    assert len({p.r_id for p in points}) == len(points)
    for p in points:  # standard report types or x- names only
        assert p.report_type in {
            "demand",
            "storedEnergy",
            "availableEnergyStorage",
            "targetEnergyStorage",
            "downRegulationCapacityAvailable",
            "upRegulationCapacityAvailable",
        } or p.report_type.startswith("x-")
    back = points_to_site("home-001", points, START, RES, 96)
    assert back["base_load_kw"] == pytest.approx(SITE["base_load_kw"])
    assert back["battery"] == pytest.approx(SITE["battery"])
    ev = back["evs"][0]
    assert datetime.fromisoformat(ev["departure"]) == datetime.fromisoformat(SITE["evs"][0]["departure"])
    assert ev["mode"] == "smart" and ev["energy_needed_kwh"] == 30.0
    from flexmodel.scenario import parse_scenario

    scenario = parse_scenario(
        {
            "start": START.isoformat(),
            "resolution_minutes": 15,
            "horizon_slots": 96,
            "tariff": {
                "import_eur_per_kwh": [0.2] * 96,
                "export_eur_per_kwh": [0.03] * 96,
                "capacity_eur_per_kw_month": 3.37,
            },
            "sites": [back],
        }
    )
    assert scenario.sites[0].site_id == "home-001"


def test_from_stored_values() -> None:
    rows = [
        (p.r_id, i.start, i.duration, i.value) for p in site_to_points(SITE, START, RES) for i in p.intervals
    ]
    back = points_to_site("home-001", points_from_values(reversed(rows)), START, RES, 96)
    assert back["evs"][0]["max_power_kw"] == 11.0 and back["pv"]["curtailable"] is True
    assert back["pv"]["forecast_kw"] == pytest.approx(SITE["pv"]["forecast_kw"])  # type: ignore[index]


def test_resampling_onto_a_later_grid() -> None:
    points = site_to_points(SITE, START, RES)
    later = points_to_site("home-001", points, START + 4 * RES, RES, 8)
    assert later["base_load_kw"] == pytest.approx(SITE["base_load_kw"][4:12])


def test_availability_and_errors() -> None:
    [window] = availability_windows(SITE)
    assert window.resource_id == "ev-1" and window.end - window.start == timedelta(hours=7)
    points = [p for p in site_to_points(SITE, START, RES) if p.r_id != "site.import_limit_kw"]
    with pytest.raises(FlexReportInvalid, match=r"site\.import_limit_kw"):
        points_to_site("home-001", points, START, RES, 96)
    assert ("ev", "energy_needed_kwh") in FIELDS
