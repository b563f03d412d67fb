"""The prepared planning problem: everything a solver needs, as numpy arrays and floats.

`prepare_sites(scenario)` is pure: it resolves defaults (a site's own tariff, the final SoC
target, EV charging windows, the capacity-tariff floor) and computes the `boost` EV profiles,
which the spec defines by formula rather than by optimisation. Every solver backend (the Pyomo
model in `flexmodel.model`, the array path in `flexmodel.fast`) starts from a `SiteProblem`,
so they cannot disagree on how the scenario is read.

Sign convention: positive power is consumption (grid import, battery charging, EV charging).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from flexmodel.scenario import (
    APPLIANCE_STEP_MINUTES,
    Appliance,
    Ev,
    EvMode,
    HeatPump,
    Scenario,
    Site,
    appliance_starts,
)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def _frozen(values: object) -> FloatArray:
    arr: FloatArray = np.array(values, dtype=np.float64)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, slots=True)
class BatteryProblem:
    """A home battery; SoC bounds hold at every slot boundary t = 0..n_slots."""

    capacity_kwh: float
    initial_soc_kwh: float
    min_soc_kwh: float
    max_charge_kw: float
    max_discharge_kw: float
    charge_efficiency: float
    discharge_efficiency: float
    final_soc_min_kwh: float  # resolved: defaults to initial_soc_kwh


@dataclass(frozen=True, slots=True)
class EvProblem:
    """One charging session. The car may charge only in slots first_slot..stop_slot-1."""

    ev_id: str
    mode: EvMode
    first_slot: int  # ceil((arrival - start)/Δ), clipped to 0
    stop_slot: int  # floor((departure - start)/Δ), clipped to n_slots; exclusive; >= first_slot
    max_power_kw: float
    efficiency: float  # energy into the car = power · efficiency · Δ
    energy_needed_kwh: float
    charge_mask: BoolArray  # True in the charging slots
    boost_kw: FloatArray | None  # mode boost: the fixed profile [kW] from the spec's formula

    @property
    def n_charge_slots(self) -> int:
        return self.stop_slot - self.first_slot


@dataclass(frozen=True, slots=True)
class HeatPumpProblem:
    """T[t+1] = T[t] + Δ/C·(cop_t·P_t - (T[t] - T_out[t])/R), comfort_min[t] <= T[t+1] <= comfort_max[t].

    The band is soft only to keep every scenario plannable: a miss is priced in the first
    priority level as the heat C·(below + above) [kWh] and reported as a `comfort` violation."""

    max_power_kw: float
    min_power_kw: float  # > 0: P_t is 0 or in [min, max], a binary per slot
    capacity_kwh_per_k: float  # C
    resistance_k_per_kw: float  # R
    initial_temp_c: float
    outdoor_temp_c: FloatArray
    comfort_min_c: FloatArray
    comfort_max_c: FloatArray
    cop: FloatArray

    def loss_factor(self, dt_h: float) -> float:
        """T[t+1] = keep·T[t] + ...: the share of the indoor-outdoor difference kept over a slot."""
        return 1.0 - dt_h / (self.capacity_kwh_per_k * self.resistance_k_per_kw)

    @property
    def needs_binaries(self) -> bool:
        return self.min_power_kw > 0.0


@dataclass(frozen=True, slots=True)
class ApplianceProblem:
    """A shiftable appliance: exactly one start s in `starts`; then it draws slot_kw[k] in slot s + k."""

    appliance_id: str
    starts: tuple[int, ...]  # allowed start slots, ascending, never empty
    slot_kw: FloatArray  # the profile averaged over slots [kW], length ceil(duration/Δ)
    horizon_start: datetime
    resolution: timedelta

    def start_time(self, slot: int) -> datetime:
        return self.horizon_start + slot * self.resolution

    def power_kw(self, start: int, n_slots: int) -> FloatArray:
        """The appliance's power per slot when it starts in slot `start`."""
        out = np.zeros(n_slots)
        out[start : start + len(self.slot_kw)] = self.slot_kw[: n_slots - start]
        return out


@dataclass(frozen=True, slots=True)
class SiteProblem:
    """One home's planning problem over n_slots slots of dt_h hours."""

    site_id: str
    n_slots: int
    dt_h: float
    import_price_eur_per_kwh: FloatArray
    export_price_eur_per_kwh: FloatArray
    # Portfolio imbalance price: separable per site, so each site's objective carries
    # imbalance_eur_per_kwh[t]·(g_t - e_t)·Δ (zeros when the scenario has none).
    imbalance_eur_per_kwh: FloatArray
    base_kw: FloatArray
    pv_kw: FloatArray  # forecast; zeros when the site has no PV
    pv_curtailable: bool
    import_limit_kw: float
    export_limit_kw: float
    capacity_eur_per_kw_month: float
    month_peak_kw: float
    min_billed_peak_kw: float
    peak_floor_kw: float  # max(month_peak_kw, min_billed_peak_kw): capacity is billed above it
    battery: BatteryProblem | None
    evs: tuple[EvProblem, ...]
    heat_pump: HeatPumpProblem | None = None
    appliances: tuple[ApplianceProblem, ...] = ()

    @property
    def needs_integers(self) -> bool:
        """Whether the site's model has binaries of its own (appliance starts, a heat pump's
        minimum power), besides the exclusivity binaries added where an LP answer needs them."""
        return bool(self.appliances) or (self.heat_pump is not None and self.heat_pump.needs_binaries)

    @property
    def own_binaries(self) -> int:
        """How many binaries of its own the site's MILP has (appliance starts, on/off slots)."""
        on = self.n_slots if self.heat_pump is not None and self.heat_pump.needs_binaries else 0
        return on + sum(len(a.starts) for a in self.appliances)

    @property
    def boost_kw(self) -> FloatArray:
        """The summed fixed power of the boost EVs [kW] per slot."""
        total = np.zeros(self.n_slots)
        for ev in self.evs:
            if ev.boost_kw is not None:
                total += ev.boost_kw
        return total

    @property
    def solar_surplus_kw(self) -> FloatArray:
        """max(0, pv_t - base_t): the bound on the (summed) power of solar-mode EVs [kW]."""
        return np.maximum(0.0, self.pv_kw - self.base_kw)

    @property
    def optimised_evs(self) -> tuple[EvProblem, ...]:
        """The EVs whose power is a decision (smart and solar), in scenario order."""
        return tuple(ev for ev in self.evs if ev.mode is not EvMode.BOOST)


@dataclass(frozen=True, slots=True)
class PortfolioProblem:
    """The portfolio terms; NaN in a cap or floor means none in that slot."""

    n_slots: int
    dt_h: float
    net_import_cap_kw: FloatArray
    net_import_floor_kw: FloatArray
    imbalance_eur_per_kwh: FloatArray
    nominated_net_kw: FloatArray

    @property
    def has_caps_or_floors(self) -> bool:
        return bool(np.isfinite(self.net_import_cap_kw).any() or np.isfinite(self.net_import_floor_kw).any())


def _slot_index(moment: datetime, start: datetime, resolution: timedelta, *, ceil: bool) -> int:
    """Exact (integer microsecond) ceil or floor of (moment - start)/resolution."""
    delta_us = (moment - start) // timedelta(microseconds=1)
    step_us = resolution // timedelta(microseconds=1)
    return -(-delta_us // step_us) if ceil else delta_us // step_us


def charge_window(ev: Ev, start: datetime, resolution: timedelta, n_slots: int) -> tuple[int, int]:
    """The spec's window: slots wholly inside [arrival, departure], clipped to the horizon."""
    first = max(0, _slot_index(ev.arrival, start, resolution, ceil=True))
    stop = min(n_slots, _slot_index(ev.departure, start, resolution, ceil=False))
    first = min(first, n_slots)
    return first, max(first, stop)


def boost_profile(ev: Ev, first: int, stop: int, headroom_kw: FloatArray, dt_h: float) -> FloatArray:
    """v_t = min(max_power_kw, remaining/(η·Δ), headroom_t), never below 0, slot by slot."""
    power = np.zeros(len(headroom_kw))
    remaining_kwh = ev.energy_needed_kwh
    for t in range(first, stop):
        if remaining_kwh <= 0.0:
            break
        v = max(0.0, min(ev.max_power_kw, remaining_kwh / (ev.efficiency * dt_h), float(headroom_kw[t])))
        power[t] = v
        remaining_kwh -= v * ev.efficiency * dt_h
    return power


def _prepare_evs(site: Site, scenario: Scenario, base: FloatArray, pv: FloatArray) -> tuple[EvProblem, ...]:
    n, dt_h = scenario.horizon_slots, scenario.dt_h
    # Several boost EVs share the connection: each sees the headroom the earlier ones left.
    headroom = site.import_limit_kw - base + pv
    evs = []
    for ev in site.evs:
        first, stop = charge_window(ev, scenario.start, scenario.resolution, n)
        mask = np.zeros(n, dtype=bool)
        mask[first:stop] = True
        mask.setflags(write=False)
        boost = None
        if ev.mode is EvMode.BOOST:
            profile = boost_profile(ev, first, stop, headroom, dt_h)
            headroom = headroom - profile
            boost = _frozen(profile)
        evs.append(
            EvProblem(
                ev_id=ev.ev_id,
                mode=ev.mode,
                first_slot=first,
                stop_slot=stop,
                max_power_kw=ev.max_power_kw,
                efficiency=ev.efficiency,
                energy_needed_kwh=ev.energy_needed_kwh,
                charge_mask=mask,
                boost_kw=boost,
            )
        )
    return tuple(evs)


def slot_profile_kw(profile_kw: list[float], resolution_minutes: int) -> FloatArray:
    """An appliance's 15-minute profile as the mean power of each slot from its start."""
    step = math.gcd(APPLIANCE_STEP_MINUTES, resolution_minutes)
    fine = np.repeat(np.asarray(profile_kw, dtype=np.float64), APPLIANCE_STEP_MINUTES // step)
    per_slot = resolution_minutes // step
    n = -(-len(fine) // per_slot)
    padded = np.zeros(n * per_slot)
    padded[: len(fine)] = fine
    return _frozen(padded.reshape(n, per_slot).mean(axis=1))


def _prepare_heat_pump(hp: HeatPump) -> HeatPumpProblem:
    return HeatPumpProblem(
        max_power_kw=hp.max_power_kw,
        min_power_kw=hp.min_power_kw,
        capacity_kwh_per_k=hp.thermal_capacity_kwh_per_k,
        resistance_k_per_kw=hp.thermal_resistance_k_per_kw,
        initial_temp_c=hp.initial_temp_c,
        outdoor_temp_c=_frozen(hp.outdoor_temp_c),
        comfort_min_c=_frozen(hp.comfort_min_c),
        comfort_max_c=_frozen(hp.comfort_max_c),
        cop=_frozen(hp.cop),
    )


def _prepare_appliance(appliance: Appliance, scenario: Scenario) -> ApplianceProblem:
    starts = appliance_starts(appliance, scenario.start, scenario.resolution, scenario.horizon_slots)
    return ApplianceProblem(
        appliance_id=appliance.appliance_id,
        starts=tuple(starts),
        slot_kw=slot_profile_kw(appliance.profile_kw, scenario.resolution_minutes),
        horizon_start=scenario.start,
        resolution=scenario.resolution,
    )


def prepare_site(scenario: Scenario, site: Site) -> SiteProblem:
    n = scenario.horizon_slots
    tariff = scenario.tariff_of(site)
    base = _frozen(site.base_load_kw)
    pv = _frozen(site.pv.forecast_kw if site.pv is not None else np.zeros(n))
    portfolio = scenario.portfolio
    imbalance = portfolio.imbalance_eur_per_kwh if portfolio is not None else None
    bat = site.battery
    battery = None
    if bat is not None:
        battery = BatteryProblem(
            capacity_kwh=bat.capacity_kwh,
            initial_soc_kwh=bat.soc_kwh,
            min_soc_kwh=bat.min_soc_kwh,
            max_charge_kw=bat.max_charge_kw,
            max_discharge_kw=bat.max_discharge_kw,
            charge_efficiency=bat.charge_efficiency,
            discharge_efficiency=bat.discharge_efficiency,
            final_soc_min_kwh=bat.final_soc_min_resolved_kwh,
        )
    return SiteProblem(
        site_id=site.site_id,
        n_slots=n,
        dt_h=scenario.dt_h,
        import_price_eur_per_kwh=_frozen(tariff.import_eur_per_kwh),
        export_price_eur_per_kwh=_frozen(tariff.export_eur_per_kwh),
        imbalance_eur_per_kwh=_frozen(imbalance if imbalance is not None else np.zeros(n)),
        base_kw=base,
        pv_kw=pv,
        pv_curtailable=site.pv.curtailable if site.pv is not None else False,
        import_limit_kw=site.import_limit_kw,
        export_limit_kw=site.export_limit_kw,
        capacity_eur_per_kw_month=tariff.capacity_eur_per_kw_month,
        month_peak_kw=site.month_peak_kw,
        min_billed_peak_kw=site.min_billed_peak_kw,
        peak_floor_kw=max(site.month_peak_kw, site.min_billed_peak_kw),
        battery=battery,
        evs=_prepare_evs(site, scenario, base, pv),
        heat_pump=_prepare_heat_pump(site.heat_pump) if site.heat_pump is not None else None,
        appliances=tuple(_prepare_appliance(a, scenario) for a in site.appliances),
    )


def prepare_sites(scenario: Scenario) -> list[SiteProblem]:
    """One SiteProblem per site, in scenario order."""
    return [prepare_site(scenario, site) for site in scenario.sites]


def prepare_portfolio(scenario: Scenario) -> PortfolioProblem:
    n = scenario.horizon_slots
    p = scenario.portfolio

    def optional(values: list[float | None] | None) -> FloatArray:
        if values is None:
            return _frozen(np.full(n, np.nan))
        return _frozen([np.nan if v is None else v for v in values])

    return PortfolioProblem(
        n_slots=n,
        dt_h=scenario.dt_h,
        net_import_cap_kw=optional(p.net_import_cap_kw if p else None),
        net_import_floor_kw=optional(p.net_import_floor_kw if p else None),
        imbalance_eur_per_kwh=_frozen(
            p.imbalance_eur_per_kwh if p and p.imbalance_eur_per_kwh else np.zeros(n)
        ),
        nominated_net_kw=_frozen(p.nominated_net_kw if p and p.nominated_net_kw else np.zeros(n)),
    )
