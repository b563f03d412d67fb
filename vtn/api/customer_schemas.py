"""Bodies of the household app's routes (vtn/api/customer.py): what the app sets and reads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from aggregator.preferences import ChargeMode, ChargingAction, Weekday

HhMm = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["07:30"])]
Kwh = Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)]
Kw = Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PreferencesIn(_In):
    """The whole set: a field left out is not set (the VEN's own value stands)."""

    charge_mode: ChargeMode = ChargeMode.SMART
    ev_target_kwh: Kwh | None = Field(None, description="energy the car should get in its session [kWh]")
    departure_local: HhMm | None = Field(None, description="when the car leaves, site's time zone")
    departure_by_weekday: dict[Weekday, HhMm] | None = Field(
        None, description="per weekday (mon..sun), instead of departure_local on those days"
    )
    solar_min_kwh: Kwh | None = Field(None, description="solar mode: energy from the grid by departure [kWh]")
    battery_reserve_percent: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    max_peak_kw: Kw | None = Field(None, description="own cap on the month's quarter-hour peak [kW]")
    notify_url: AnyHttpUrl | None = Field(None, description="where notifications are posted (webhooks)")


class PreferencesOut(_Out):
    site_id: str
    charge_mode: ChargeMode
    ev_target_kwh: float | None
    departure_local: str | None
    departure_by_weekday: dict[str, str] | None
    solar_min_kwh: float | None
    battery_reserve_percent: float | None
    max_peak_kw: float | None
    notify_url: str | None
    charging_action: ChargingAction | None = Field(description="the last start/stop (POST .../charging)")
    charging_action_at: datetime | None
    updated_at: datetime


class PreferencesSavedOut(PreferencesOut):
    webhook_secret: str | None = Field(
        None,
        description="the key of the notifications' signature, when notify_url set a new webhook: "
        "shown this once (docs/customer-api.md)",
    )


class ChargingIn(_In):
    action: ChargingAction


class DeviceOut(_Out):
    device_id: str
    kind: Literal["ev_charger", "battery", "meter", "other"] = Field(description="as its values show it")
    online: bool | None
    power_kw: float | None = Field(description="newest measured power [kW], positive = consumption")
    soc_percent: float | None
    plugged_in: bool | None
    updated_at: datetime


class SiteViewOut(_Out):
    site_id: str
    ven_id: str
    ven_name: str
    registered: bool
    last_seen_at: datetime | None = Field(description="the VEN's last poll")
    devices: list[DeviceOut]


class ScheduleSlotOut(_Out):
    start: datetime
    grid_kw: float = Field(description="net import [kW], negative = export")
    ev_kw: float
    battery_kw: float = Field(description="positive = charging [kW]")
    pv_kw: float = Field(description="PV used [kW]")
    import_eur_per_kwh: float


class ScheduleOut(_Out):
    site_id: str
    run_id: str
    planned_at: datetime
    status: str
    slots: list[ScheduleSlotOut]
    expected_cost_eur: float = Field(description="energy bought minus sold over these slots [EUR]")
    ev_energy_at_departure_kwh: float | None
