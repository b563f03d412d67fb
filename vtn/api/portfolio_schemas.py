"""Bodies of the closed loop's REST routes (vtn/api/portfolio.py)."""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from vtn.api.schemas import UtcTime  # years 2000-2199: found by schemathesis (year 1 was a 500 on PG)

MAX_SLOTS = 2000


def _finite(values: list[float]) -> list[float]:
    for i, value in enumerate(values):
        if not math.isfinite(value):
            raise ValueError(f"[{i}] must be a finite number")
    return values


Curve = Annotated[list[float], Field(min_length=1, max_length=MAX_SLOTS), AfterValidator(_finite)]
Kw = Annotated[float, Field(allow_inf_nan=False, ge=-1e6, le=1e6)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PricesIn(_In):
    start: UtcTime
    resolution_minutes: int = Field(15, ge=1, le=1440)
    import_eur_per_kwh: Curve
    export_eur_per_kwh: Curve | None = None
    capacity_eur_per_kw_month: float = Field(0.0, ge=0, le=1000, allow_inf_nan=False)

    @model_validator(mode="after")
    def _same_length(self) -> PricesIn:
        if self.export_eur_per_kwh is None:
            self.export_eur_per_kwh = [0.0] * len(self.import_eur_per_kwh)
        elif len(self.export_eur_per_kwh) != len(self.import_eur_per_kwh):
            raise ValueError(
                f"export_eur_per_kwh: has {len(self.export_eur_per_kwh)} values, "
                f"import_eur_per_kwh has {len(self.import_eur_per_kwh)}"
            )
        return self


class PricesOut(BaseModel):
    id: int
    start: datetime
    end: datetime
    resolution_minutes: int
    import_eur_per_kwh: list[float]
    export_eur_per_kwh: list[float]
    capacity_eur_per_kw_month: float


class ImbalanceIn(_In):
    start: UtcTime
    resolution_minutes: int = Field(15, ge=1, le=1440)
    imbalance_eur_per_kwh: Curve
    nominated_net_kw: Curve | None = None
    reason: str | None = Field(None, max_length=256)

    @model_validator(mode="after")
    def _same_length(self) -> ImbalanceIn:
        if self.nominated_net_kw is not None and len(self.nominated_net_kw) != len(
            self.imbalance_eur_per_kwh
        ):
            raise ValueError("nominated_net_kw: must have as many values as imbalance_eur_per_kwh")
        return self


class ImbalanceOut(BaseModel):
    id: int
    start: datetime
    slots: int
    replan: str


class WindowKindIn(StrEnum):
    CAP = "cap"
    FLOOR = "floor"


class RequestIn(_In):
    kind: WindowKindIn
    start: UtcTime
    end: UtcTime
    power_kw: Kw
    reason: str = Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: datetime, info: Any) -> datetime:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError("must be after start")
        return end


class RequestOut(BaseModel):
    request_id: str
    kind: WindowKindIn
    start: datetime
    end: datetime
    power_kw: float
    reason: str
    created_at: datetime
    cancelled_at: datetime | None


class RunOut(BaseModel):
    run_id: str
    trigger: str
    started_at: datetime
    seconds: float
    status: str
    solver: str
    gap: float | None
    message: str | None


class RunDetail(RunOut):
    inputs: dict[str, Any]
    plan: dict[str, Any] | None
    dispatch: dict[str, Any] | None


class ScheduleOut(BaseModel):
    ven_id: str
    event_id: str
    run_id: str
    start: datetime
    resolution_minutes: int
    setpoint_kw: list[float]


class SlotOfferOut(BaseModel):
    """One 15-minute slot of the offer (aggregator/bidding.py says what each figure means)."""

    start: datetime
    planned_kw: float = Field(description="the portfolio's planned net import in the slot [kW]")
    up_kw: float = Field(description="how far the net import can rise above the plan in the slot [kW]")
    up_held_s: int = Field(
        description="for how long from the slot's start the rise of up_kw can be kept in every "
        "slot at once [s] (whole slots; 0 when up_kw is 0)"
    )
    down_kw: float = Field(description="how far the net import can fall below the plan in the slot [kW]")
    down_held_s: int = Field(description="likewise for down_kw [s]")


class FlexibilityOut(BaseModel):
    run_id: str = Field(description="the planning run whose plan the offer is around")
    planned_at: datetime
    resolution_s: int
    homes: int = Field(description="homes the plan steers (each offers its own flexibility)")
    fixed_homes: int = Field(description="homes left out of steering: in planned_kw, offering nothing")
    compute_s: float = Field(description="how long the offer took to compute (once per planning run)")
    slots: list[SlotOfferOut]
