"""Pydantic models of the planning scenario and the plan (../shared/spec/plan-format.md).

These are the edge of the planning domain: `parse_scenario` turns a JSON document (or a dict)
into a validated `Scenario`, or raises `ScenarioInvalid` carrying *every* problem found, each
message naming the place, the field and the reason, e.g.
`sites[3].battery.soc_kwh: 12.0 is above capacity_kwh 10.0`.

Array lengths are checked where the array lives (so a wrong length in `sites[2].pv` is reported
together with a wrong type in `sites[5]`); the horizon length reaches the nested models through a
context variable set by the top-level `Scenario` validator, whatever entry point is used.
"""

from __future__ import annotations

import contextvars
import enum
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

DEFAULT_MIN_BILLED_PEAK_KW = 2.5  # the Flemish capacity-tariff floor

# Set by Scenario's wrap validator while its nested models validate; None outside.
_HORIZON_SLOTS: contextvars.ContextVar[int | None] = contextvars.ContextVar("horizon_slots", default=None)


class ScenarioInvalid(ValueError):
    """A scenario document is malformed; `messages` lists every problem found."""

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = list(messages)
        super().__init__("invalid scenario:\n" + "\n".join(self.messages))


class EvMode(enum.StrEnum):
    SMART = "smart"
    SOLAR = "solar"
    BOOST = "boost"


def _problem(messages: list[str]) -> None:
    """Raise the collected cross-field problems of one model ("field: reason" lines)."""
    if messages:
        raise PydanticCustomError("scenario", "{problems}", {"problems": "\n".join(messages)})


def _horizon_length(values: list[Any] | None) -> list[Any] | None:
    """Field validator: an array must have horizon_slots values."""
    horizon = _HORIZON_SLOTS.get()
    if values is not None and horizon is not None and len(values) != horizon:
        raise PydanticCustomError(
            "scenario_field", "has {n} values, horizon_slots is {h}", {"n": len(values), "h": horizon}
        )
    return values


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
Efficiency = Annotated[float, Field(gt=0.0, le=1.0)]


class Tariff(_Strict):
    """Prices per slot [EUR/kWh] (may be negative) and the monthly capacity price [EUR/kW/month]."""

    import_eur_per_kwh: list[float]
    export_eur_per_kwh: list[float]
    capacity_eur_per_kw_month: NonNegative = 0.0

    _lengths = field_validator("import_eur_per_kwh", "export_eur_per_kwh")(_horizon_length)


class Pv(_Strict):
    """PV forecast [kW] per slot; curtailable=False means all of it must be used or exported."""

    forecast_kw: list[NonNegative]
    curtailable: bool = False

    _lengths = field_validator("forecast_kw")(_horizon_length)


class Battery(_Strict):
    capacity_kwh: Positive
    soc_kwh: NonNegative
    min_soc_kwh: NonNegative = 0.0
    max_charge_kw: NonNegative
    max_discharge_kw: NonNegative
    charge_efficiency: Efficiency = 1.0
    discharge_efficiency: Efficiency = 1.0
    final_soc_min_kwh: NonNegative | None = None  # None: the starting soc_kwh

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        messages: list[str] = []
        cap = self.capacity_kwh
        if self.soc_kwh > cap:
            messages.append(f"soc_kwh: {self.soc_kwh} is above capacity_kwh {cap}")
        if self.min_soc_kwh > cap:
            messages.append(f"min_soc_kwh: {self.min_soc_kwh} is above capacity_kwh {cap}")
        elif self.soc_kwh < self.min_soc_kwh:
            messages.append(f"soc_kwh: {self.soc_kwh} is below min_soc_kwh {self.min_soc_kwh}")
        final = self.final_soc_min_kwh
        if final is not None and final > cap:
            messages.append(f"final_soc_min_kwh: {final} is above capacity_kwh {cap}")
        _problem(messages)
        return self

    @property
    def final_soc_min_resolved_kwh(self) -> float:
        return self.soc_kwh if self.final_soc_min_kwh is None else self.final_soc_min_kwh


class Ev(_Strict):
    ev_id: Annotated[str, Field(min_length=1)]
    arrival: AwareDatetime
    departure: AwareDatetime
    energy_needed_kwh: NonNegative
    max_power_kw: NonNegative
    efficiency: Efficiency = 1.0
    mode: EvMode = EvMode.SMART

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        messages: list[str] = []
        if self.departure < self.arrival:
            messages.append(
                f"departure: {self.departure.isoformat()} is before arrival {self.arrival.isoformat()}"
            )
        _problem(messages)
        return self


class HeatPump(_Strict):
    """A heat pump heating a one-node thermal model of the building (docs/plan-format-extensions.md).

    T[t+1] = T[t] + Δ/C·(COP_t·P_t - (T[t] - T_out[t])/R), comfort_min_c[t] <= T[t+1] <= comfort_max_c[t];
    COP_t = cop_per_slot[t], or cop_intercept + cop_slope_per_k·T_out[t] (exactly one of the two)."""

    max_power_kw: Positive
    min_power_kw: NonNegative = 0.0  # > 0: the power is 0 or in [min, max] (a binary per slot)
    thermal_capacity_kwh_per_k: Positive  # C
    thermal_resistance_k_per_kw: Positive  # R
    initial_temp_c: float  # T[0]
    outdoor_temp_c: list[float]
    comfort_min_c: list[float]
    comfort_max_c: list[float]
    cop_intercept: float | None = None
    cop_slope_per_k: float | None = None
    cop_per_slot: list[Positive] | None = None

    _lengths = field_validator("outdoor_temp_c", "comfort_min_c", "comfort_max_c", "cop_per_slot")(
        _horizon_length
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        messages: list[str] = []
        if self.min_power_kw > self.max_power_kw:
            messages.append(f"min_power_kw: {self.min_power_kw} is above max_power_kw {self.max_power_kw}")
        for t, (low, high) in enumerate(zip(self.comfort_min_c, self.comfort_max_c, strict=False)):
            if low > high:
                messages.append(f"comfort_min_c[{t}]: {low} is above comfort_max_c[{t}] {high}")
        line = (self.cop_intercept, self.cop_slope_per_k)
        if self.cop_per_slot is None:
            if None in line:
                messages.append("cop_intercept: give cop_intercept and cop_slope_per_k, or cop_per_slot")
            else:
                for t, cop in enumerate(self.cop_line()):
                    if cop <= 0.0:
                        messages.append(
                            f"cop_intercept: the COP at outdoor_temp_c[{t}] {self.outdoor_temp_c[t]} "
                            f"is {cop:.6g}, not positive"
                        )
                        break
        elif line != (None, None):
            messages.append(
                "cop_per_slot: give either cop_per_slot or cop_intercept/cop_slope_per_k, not both"
            )
        _problem(messages)
        return self

    def cop_line(self) -> list[float]:
        a, b = self.cop_intercept or 0.0, self.cop_slope_per_k or 0.0
        return [a + b * t_out for t_out in self.outdoor_temp_c]

    @property
    def cop(self) -> list[float]:
        """COP per slot."""
        return list(self.cop_per_slot) if self.cop_per_slot is not None else self.cop_line()


APPLIANCE_STEP_MINUTES = 15  # an appliance's profile_kw has one value per 15 minutes


class Appliance(_Strict):
    """A shiftable appliance: a fixed power profile started once, at a slot boundary, with the
    start in [earliest_start, latest_start] and the end by deadline (docs/plan-format-extensions.md)."""

    appliance_id: Annotated[str, Field(min_length=1)]
    profile_kw: Annotated[list[NonNegative], Field(min_length=1)]  # per 15-minute step
    earliest_start: AwareDatetime
    latest_start: AwareDatetime | None = None  # None: only the deadline limits the start
    deadline: AwareDatetime

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=APPLIANCE_STEP_MINUTES * len(self.profile_kw))

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        messages: list[str] = []
        if self.earliest_start + self.duration > self.deadline:
            messages.append(
                f"deadline: {self.deadline.isoformat()} is before earliest_start + the profile's "
                f"{self.duration} ({(self.earliest_start + self.duration).isoformat()})"
            )
        if self.latest_start is not None and self.latest_start < self.earliest_start:
            messages.append(
                f"latest_start: {self.latest_start.isoformat()} is before earliest_start "
                f"{self.earliest_start.isoformat()}"
            )
        _problem(messages)
        return self


class Site(_Strict):
    site_id: Annotated[str, Field(min_length=1)]
    import_limit_kw: NonNegative
    export_limit_kw: NonNegative
    month_peak_kw: NonNegative = 0.0
    min_billed_peak_kw: NonNegative = DEFAULT_MIN_BILLED_PEAK_KW
    base_load_kw: list[float]
    tariff: Tariff | None = None
    pv: Pv | None = None
    battery: Battery | None = None
    evs: list[Ev] = Field(default_factory=list)
    heat_pump: HeatPump | None = None  # extension: docs/plan-format-extensions.md
    appliances: list[Appliance] = Field(default_factory=list)  # extension, idem

    _lengths = field_validator("base_load_kw")(_horizon_length)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        messages: list[str] = []
        seen: set[str] = set()
        for i, ev in enumerate(self.evs):
            if ev.ev_id in seen:
                messages.append(f"evs[{i}].ev_id: {ev.ev_id!r} is used twice in this site")
            seen.add(ev.ev_id)
        seen_appliances: set[str] = set()
        for i, appliance in enumerate(self.appliances):
            if appliance.appliance_id in seen_appliances:
                messages.append(
                    f"appliances[{i}].appliance_id: {appliance.appliance_id!r} is used twice in this site"
                )
            seen_appliances.add(appliance.appliance_id)
        _problem(messages)
        return self


class Portfolio(_Strict):
    """Portfolio coupling: caps/floors on the summed net import [kW] and imbalance pricing."""

    net_import_cap_kw: list[float | None] | None = None
    net_import_floor_kw: list[float | None] | None = None
    imbalance_eur_per_kwh: list[float] | None = None
    nominated_net_kw: list[float] | None = None

    _lengths = field_validator(
        "net_import_cap_kw", "net_import_floor_kw", "imbalance_eur_per_kwh", "nominated_net_kw"
    )(_horizon_length)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        messages: list[str] = []
        if self.net_import_cap_kw is not None and self.net_import_floor_kw is not None:
            for t, (cap, floor) in enumerate(
                zip(self.net_import_cap_kw, self.net_import_floor_kw, strict=False)
            ):
                if cap is not None and floor is not None and floor > cap:
                    messages.append(
                        f"net_import_floor_kw[{t}]: {floor} is above net_import_cap_kw[{t}] {cap}"
                    )
        _problem(messages)
        return self

    @property
    def has_caps_or_floors(self) -> bool:
        return any(
            v is not None for arr in (self.net_import_cap_kw, self.net_import_floor_kw) for v in (arr or [])
        )


class Scenario(_Strict):
    start: AwareDatetime
    resolution_minutes: Annotated[int, Field(gt=0, le=1440)]
    horizon_slots: Annotated[int, Field(gt=0)]
    tariff: Tariff | None = None
    sites: list[Site]
    portfolio: Portfolio | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _with_horizon(cls, data: Any, handler: ModelWrapValidatorHandler[Scenario]) -> Scenario:
        horizon = data.get("horizon_slots") if isinstance(data, dict) else None
        valid = isinstance(horizon, int) and not isinstance(horizon, bool) and horizon > 0
        token = _HORIZON_SLOTS.set(horizon if valid else None)
        try:
            return handler(data)
        finally:
            _HORIZON_SLOTS.reset(token)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        messages: list[str] = []
        seen: set[str] = set()
        for i, site in enumerate(self.sites):
            if site.site_id in seen:
                messages.append(f"sites[{i}].site_id: {site.site_id!r} is used twice")
            seen.add(site.site_id)
            if site.tariff is None and self.tariff is None:
                messages.append(f"sites[{i}].tariff: missing, and there is no top-level tariff")
            messages.extend(self._final_soc_reachable(i, site))
            messages.extend(self._appliances_fit(i, site))
        _problem(messages)
        return self

    def _appliances_fit(self, i: int, site: Site) -> list[str]:
        """An appliance needs at least one allowed start inside the horizon (slot boundaries)."""
        messages = []
        for j, appliance in enumerate(site.appliances):
            if not appliance_starts(appliance, self.start, self.resolution, self.horizon_slots):
                messages.append(
                    f"sites[{i}].appliances[{j}].earliest_start: no slot boundary from "
                    f"{appliance.earliest_start.isoformat()} lets the {appliance.duration} profile "
                    f"finish by the deadline {appliance.deadline.isoformat()} within the horizon"
                )
        return messages

    def _final_soc_reachable(self, i: int, site: Site) -> list[str]:
        """A final SoC target above what full-power charging reaches can never hold: reject it."""
        bat = site.battery
        if bat is None:
            return []
        reach = bat.soc_kwh + bat.max_charge_kw * bat.charge_efficiency * self.dt_h * self.horizon_slots
        final = bat.final_soc_min_resolved_kwh
        if final > reach + 1e-9:
            return [
                f"sites[{i}].battery.final_soc_min_kwh: {final} cannot be reached from soc_kwh "
                f"{bat.soc_kwh} within the horizon (at most {reach:.6g} kWh at max_charge_kw)"
            ]
        return []

    @property
    def resolution(self) -> timedelta:
        return timedelta(minutes=self.resolution_minutes)

    @property
    def dt_h(self) -> float:
        return self.resolution_minutes / 60.0

    @property
    def end(self) -> datetime:
        return self.start + self.horizon_slots * self.resolution

    def tariff_of(self, site: Site) -> Tariff:
        tariff = site.tariff or self.tariff
        assert tariff is not None  # guaranteed by _consistent
        return tariff


def appliance_starts(appliance: Appliance, start: datetime, resolution: timedelta, n_slots: int) -> list[int]:
    """The slots s at whose start the appliance may start: earliest_start <= start + s·Δ <=
    latest_start, start + s·Δ + duration <= deadline and <= the horizon's end."""
    out = []
    for s in range(n_slots):
        at = start + s * resolution
        if at < appliance.earliest_start:
            continue
        if appliance.latest_start is not None and at > appliance.latest_start:
            break
        finish = at + appliance.duration
        if finish > appliance.deadline or finish > start + n_slots * resolution:
            break
        out.append(s)
    return out


def _format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _messages(exc: ValidationError) -> Iterator[str]:
    for err in exc.errors(include_url=False):
        # Drop pydantic's union/function markers ("function-after[...]") from the location.
        loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
        place = _format_loc(loc)
        if err["type"] == "scenario":
            for line in str(err["msg"]).splitlines():
                yield f"{place}.{line}" if place else line
            continue
        if err["type"] == "scenario_field":
            yield f"{place}: {err['msg']}"
            continue
        value = err.get("input")
        shown = "" if err["type"] in ("missing",) or isinstance(value, dict | list) else f" (got {value!r})"
        yield f"{place or '(document)'}: {err['msg']}{shown}"


def parse_scenario(data: str | bytes | dict[str, Any]) -> Scenario:
    """Validate a scenario (JSON text or decoded dict); raise ScenarioInvalid with all problems."""
    try:
        if isinstance(data, str | bytes):
            return Scenario.model_validate_json(data)
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioInvalid(list(_messages(exc))) from None


# ---------------------------------------------------------------- plan (the planner's answer)


class PlanStatus(enum.StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    BEST_EFFORT = "best_effort"
    ERROR = "error"


class Violation(_Strict):
    """Something that could not be met, with its size [kWh]."""

    kind: str  # ev_shortfall | import_limit | export_limit | net_import_cap | net_import_floor | comfort
    kwh: float
    ev_id: str | None = None

    def model_dump_spec(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class SiteCost(_Strict):
    energy: float
    export: float
    capacity: float
    total: float


class HeatPumpOut(_Strict):
    """Extension: the heat pump's electrical power per slot and the indoor temperature at the
    n_slots + 1 slot boundaries."""

    power_kw: list[float]
    temp_c: list[float]


class ApplianceOut(_Strict):
    """Extension: when the appliance starts and its power per slot."""

    start: AwareDatetime
    power_kw: list[float]


class SitePlanOut(_Strict):
    site_id: str
    status: PlanStatus
    grid_import_kw: list[float]
    grid_export_kw: list[float]
    pv_used_kw: list[float]
    battery_kw: list[float]
    battery_soc_kwh: list[float]
    ev_kw: dict[str, list[float]]
    ev_energy_kwh: dict[str, float]
    peak_kw: float
    cost_eur: SiteCost
    violations: list[Violation] = Field(default_factory=list)
    gap: float | None = None
    message: str | None = None
    heat_pump: HeatPumpOut | None = None  # extension, only for a site with a heat pump
    appliances: dict[str, ApplianceOut] | None = None  # extension, only for a site with appliances


class SolverInfo(_Strict):
    name: str
    seconds: float


class PortfolioOut(_Strict):
    net_import_kw: list[float]
    imbalance_eur: float
    violations: list[Violation] = Field(default_factory=list)


class Plan(_Strict):
    status: PlanStatus
    # None (and absent from the JSON, which leaves out None) in a plan with status error.
    objective_eur: float | None = None
    solver: SolverInfo
    portfolio: PortfolioOut | None = None
    sites: list[SitePlanOut]
    message: str | None = None
    gap: float | None = None

    def to_json(self, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent, exclude_none=True)


__all__ = [
    "Appliance",
    "ApplianceOut",
    "Battery",
    "Ev",
    "EvMode",
    "HeatPump",
    "HeatPumpOut",
    "Plan",
    "PlanStatus",
    "Portfolio",
    "PortfolioOut",
    "Pv",
    "Scenario",
    "ScenarioInvalid",
    "Site",
    "SiteCost",
    "SitePlanOut",
    "SolverInfo",
    "Tariff",
    "Violation",
    "appliance_starts",
    "parse_scenario",
]
