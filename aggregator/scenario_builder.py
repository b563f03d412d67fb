"""Build the plan-format scenario of the whole portfolio from the closed loop's inputs (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aggregator.inputs import Home, PlanningInputs, Series, WindowKind

RESOLUTION = timedelta(minutes=15)
MAX_SLOTS = 96


class NothingToPlan(ValueError):
    """No home with a usable site entry, or no prices: the message says which."""


@dataclass(frozen=True, slots=True)
class BuiltScenario:
    """The scenario document plus what the dispatch needs to map the plan back to VENs."""

    scenario: dict[str, Any]
    planned: tuple[Home, ...]  # homes in scenario order
    fixed: tuple[Home, ...]  # excluded homes whose load is fixed
    skipped: tuple[Home, ...]  # homes without a usable entry
    fixed_kw: tuple[float, ...]  # summed fixed load per slot [kW]


def slot_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + RESOLUTION * int((moment - midnight) / RESOLUTION)


def _entry_slots(home: Home, start: datetime) -> int:
    """How many slots of the planning grid (from `start`) the home's entry covers."""
    assert home.site is not None
    own_start = home.grid_start or start
    offset = int((start - own_start) / RESOLUTION)
    return len(home.site["base_load_kw"]) - offset


def _cut(values: list[float], offset: int, slots: int) -> list[float]:
    """The entry's values on the planning grid. Its last value stands in past its end (a stale
    report), its first before its start (an agent whose clock runs a little ahead)."""
    last = len(values) - 1
    return [float(values[min(max(offset + t, 0), last)]) for t in range(slots)]


def _site_on_grid(home: Home, start: datetime, slots: int, batteries: bool) -> dict[str, Any]:
    assert home.site is not None
    site = dict(home.site)
    if not batteries:
        site.pop("battery", None)
    offset = int((start - (home.grid_start or start)) / RESOLUTION)
    site["base_load_kw"] = _cut(site["base_load_kw"], offset, slots)
    if site.get("pv") is not None:
        site["pv"] = {**site["pv"], "forecast_kw": _cut(site["pv"]["forecast_kw"], offset, slots)}
    heat_pump = site.get("heat_pump")
    if heat_pump is not None:  # its per-slot arrays (docs/plan-format-extensions.md) likewise
        per_slot = ("outdoor_temp_c", "comfort_min_c", "comfort_max_c", "cop_per_slot")
        site["heat_pump"] = {
            **heat_pump,
            **{k: _cut(heat_pump[k], offset, slots) for k in per_slot if heat_pump.get(k) is not None},
        }
    site.pop("tariff", None)
    return site


def _series(series: Series, start: datetime, slots: int) -> list[float]:
    """Prices on the planning grid; past the series' end the daily shape repeats."""
    return [series.at_time_of_day(start + t * RESOLUTION + RESOLUTION / 2) for t in range(slots)]


def _signal(series: Series, start: datetime, slots: int, default: float = 0.0) -> list[float]:
    """An imbalance signal on the planning grid: `default` outside the signal's own slots."""
    out = []
    for t in range(slots):
        value = series.at(start + t * RESOLUTION + RESOLUTION / 2)
        out.append(default if value is None else value)
    return out


def _bounds(inputs: PlanningInputs, start: datetime, slots: int, kind: WindowKind) -> list[float | None]:
    out: list[float | None] = [None] * slots
    for window in inputs.windows:
        if window.kind is not kind:
            continue
        for t in range(slots):
            mid = start + t * RESOLUTION + RESOLUTION / 2
            if window.start <= mid < window.end:
                current = out[t]
                tighter = min if kind is WindowKind.CAP else max
                out[t] = window.power_kw if current is None else tighter(current, window.power_kw)
    return out


def _portfolio(inputs: PlanningInputs, start: datetime, slots: int, fixed_kw: list[float]) -> dict[str, Any]:
    """Caps and floors apply to the whole portfolio: the fixed homes' load takes its share first."""
    caps = [
        None if c is None else c - f
        for c, f in zip(_bounds(inputs, start, slots, WindowKind.CAP), fixed_kw, strict=False)
    ]
    floors = [
        None if c is None else c - f
        for c, f in zip(_bounds(inputs, start, slots, WindowKind.FLOOR), fixed_kw, strict=False)
    ]
    for t in range(slots):  # a floor above the cap cannot be asked for: the cap wins
        cap, floor = caps[t], floors[t]
        if cap is not None and floor is not None and floor > cap:
            floors[t] = cap
    portfolio: dict[str, Any] = {}
    if any(c is not None for c in caps):
        portfolio["net_import_cap_kw"] = caps
    if any(f is not None for f in floors):
        portfolio["net_import_floor_kw"] = floors
    if inputs.imbalance is not None:
        portfolio["imbalance_eur_per_kwh"] = _signal(inputs.imbalance.imbalance_eur_per_kwh, start, slots)
        nominated = inputs.imbalance.nominated_net_kw
        portfolio["nominated_net_kw"] = (
            [n - f for n, f in zip(_signal(nominated, start, slots), fixed_kw, strict=False)]
            if nominated
            else [0.0] * slots
        )
    return portfolio


def build_scenario(inputs: PlanningInputs, batteries: bool = True) -> BuiltScenario:
    """The portfolio's scenario from the current slot to the end of the shortest site entry.

    `batteries` False leaves the homes' batteries out: when the schedules steer only the EV
    chargers, a battery keeps to its own self-consumption and the plan must not count on it.
    """
    if inputs.prices is None:
        raise NothingToPlan("no day-ahead prices: PUT /api/v1/prices first")
    start = slot_start(inputs.now)
    usable = [h for h in inputs.homes if h.site is not None and _entry_slots(h, start) > 0]
    planned = tuple(h for h in usable if h.fixed_kw is None)
    fixed = tuple(h for h in inputs.homes if h.fixed_kw is not None)
    skipped = tuple(h for h in inputs.homes if h not in usable and h.fixed_kw is None)
    if not planned:
        raise NothingToPlan("no registered home has sent a usable flexibility report yet")
    # The longest entry sets the horizon: one home with a stale report must not shorten everyone's.
    slots = min(MAX_SLOTS, max(_entry_slots(h, start) for h in planned))
    fixed_kw = [0.0] * slots
    for home in fixed:
        assert home.fixed_kw is not None
        for t in range(min(slots, len(home.fixed_kw))):
            fixed_kw[t] += home.fixed_kw[t]
    prices = inputs.prices
    scenario: dict[str, Any] = {
        "start": start.isoformat(),
        "resolution_minutes": int(RESOLUTION.total_seconds() // 60),
        "horizon_slots": slots,
        "tariff": {
            "import_eur_per_kwh": _series(prices.import_eur_per_kwh, start, slots),
            "export_eur_per_kwh": _series(prices.export_eur_per_kwh, start, slots),
            "capacity_eur_per_kw_month": prices.capacity_eur_per_kw_month,
        },
        "sites": [_site_on_grid(h, start, slots, batteries) for h in planned],
    }
    portfolio = _portfolio(inputs, start, slots, fixed_kw)
    if portfolio:
        scenario["portfolio"] = portfolio
    return BuiltScenario(scenario, planned, fixed, skipped, tuple(fixed_kw))


SITE_PROBLEM = re.compile(r"^sites\[(\d+)\]")


def without_sites(built: BuiltScenario, messages: list[str]) -> BuiltScenario | None:
    """The scenario without the sites that `messages` (a ScenarioInvalid's) blame; None when a
    problem is not a site's, or no site would be left."""
    bad = set()
    for message in messages:
        match = SITE_PROBLEM.match(message)
        if match is None:
            return None
        bad.add(int(match.group(1)))
    keep = [i for i in range(len(built.planned)) if i not in bad]
    if not keep:
        return None
    scenario = {**built.scenario, "sites": [built.scenario["sites"][i] for i in keep]}
    skipped = built.skipped + tuple(built.planned[i] for i in sorted(bad))
    return BuiltScenario(
        scenario, tuple(built.planned[i] for i in keep), built.fixed, skipped, built.fixed_kw
    )
