"""flexmodel.flexreport's VTN-side inverse (pure): received samples -> points -> site entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flexmodel.flexreport import (
    FlexReportInvalid,
    points_from_values,
    points_to_site,
    series_grid,
    site_to_points,
)

T0 = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=15)
SITE = {
    "site_id": "s",
    "import_limit_kw": 9.2,
    "export_limit_kw": 5.0,
    "base_load_kw": [0.4, 0.5, 0.6, 0.7],
    "evs": [
        {
            "ev_id": "ev.garage",
            "arrival": T0.isoformat(),
            "departure": (T0 + timedelta(minutes=50)).isoformat(),
            "energy_needed_kwh": 3.0,
            "max_power_kw": 7.4,
        }
    ],
}


def samples(site: dict[str, object]) -> list[tuple[str, datetime, timedelta, float]]:
    # shuffled on purpose: storage order is not report order
    found = [
        (p.r_id, i.start, i.duration, i.value) for p in site_to_points(site, T0, STEP) for i in p.intervals
    ]
    return list(reversed(found))


def test_samples_become_the_points_that_were_sent() -> None:
    sent = site_to_points(SITE, T0, STEP)
    got = points_from_values(samples(SITE))
    assert sorted(sent, key=lambda p: p.r_id) == got
    grid = series_grid(got)
    assert (grid.start, grid.resolution, grid.slots) == (T0, STEP, 4)
    rebuilt = points_to_site("s", got, grid.start, grid.resolution, grid.slots)
    assert rebuilt["base_load_kw"] == SITE["base_load_kw"]
    [ev] = rebuilt["evs"]
    assert ev["ev_id"] == "ev.garage", "an ev_id may contain dots: the rID splits at the first"
    assert datetime.fromisoformat(ev["departure"]) == T0 + timedelta(minutes=50)


def test_an_unknown_rid_is_named() -> None:
    with pytest.raises(FlexReportInvalid, match=r"battery\.colour"):
        points_from_values([*samples(SITE), ("battery.colour", T0, STEP, 1.0)])
    with pytest.raises(FlexReportInvalid, match="nodot"):
        points_from_values([("nodot", T0, STEP, 1.0)])


def test_a_grid_needs_back_to_back_base_load_slots() -> None:
    gap = [s for s in samples(SITE) if not (s[0] == "site.base_load_kw" and s[1] == T0 + STEP)]
    with pytest.raises(FlexReportInvalid, match="back to back"):
        series_grid(points_from_values(gap))
    without = [s for s in samples(SITE) if s[0] != "site.base_load_kw"]
    with pytest.raises(FlexReportInvalid, match=r"site\.base_load_kw"):
        series_grid(points_from_values(without))
