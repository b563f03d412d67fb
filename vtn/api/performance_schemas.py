"""Bodies of the DR performance and settlement routes (vtn/api/performance.py, settlement.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from flexmodel.mv import BaselineMethod
from vtn.api.site_history_schemas import SavingsQuery

Price = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False, description="[EUR/kWh]")]
Eur = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False, description="[EUR]")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class MethodQuery(_In):
    method: BaselineMethod | None = Field(
        None, description="x_of_y | meter_before | plan_baseline (default: the program's terms', else x_of_y)"
    )


class MonthQuery(SavingsQuery):
    """month=YYYY-MM in the VTN's time zone (default: the current month)."""


class AccuracyQuery(_In):
    days: int = Field(20, ge=1, le=90, description="the days before today to score on")


# ---- performance ---------------------------------------------------------------------------------


class IntervalOut(_Out):
    start: datetime
    requested_kw: float | None = Field(description="in the event's direction; null: the signal asks no kW")
    baseline_kw: float | None
    measured_kw: float | None = Field(description="15-minute mean of the meter's net import")
    delivered_kwh: float | None


class HomeOut(_Out):
    ven_id: str
    site_id: str
    opted_out: bool
    baseline_kwh: float | None
    measured_kwh: float | None
    delivered_kwh: float | None


class EventPerformanceOut(_Out):
    event_id: str
    method: BaselineMethod
    intervals: list[IntervalOut] = Field(description="summed over the homes that did not opt out")
    homes: list[HomeOut]
    delivered_kwh: float | None
    participation: float | None = Field(description="the share of targeted homes that did not opt out")


class EventSummaryOut(_Out):
    event_id: str
    start: datetime
    targeted: int
    participating: int
    requested_kwh: float | None
    delivered_kwh: float | None


class ProgramMonthOut(_Out):
    market_context: str
    month: str
    method: BaselineMethod
    events: list[EventSummaryOut]
    participation: float | None
    requested_kwh: float | None
    delivered_kwh: float
    delivery_ratio: float | None = Field(description="delivered / requested kWh")


class MethodAccuracyOut(_Out):
    method: BaselineMethod
    relative_error: float | None = Field(description="sum |baseline - measured| / sum |measured|")
    bias: float | None = Field(description="sum (baseline - measured) / sum |measured|; > 0 over-estimates")
    days: int
    intervals: int


class AccuracyOut(_Out):
    site_id: str
    window_start_local: str = Field(description="HH:MM in the VTN's time zone, each test day")
    window_hours: float
    methods: list[MethodAccuracyOut]


# ---- settlement ----------------------------------------------------------------------------------


class TermsIn(_In):
    reward_eur_per_kwh: Price
    penalty_eur_per_kwh: Price = 0.0
    baseline_method: BaselineMethod = BaselineMethod.X_OF_Y
    committed_kw: float | None = Field(
        None, gt=0, le=1000, description="per home; null: the event's own request of the home"
    )
    reward_cap_eur: Eur | None = Field(None, description="the most a home earns in a month")
    penalty_cap_eur: Eur | None = Field(None, description="the most a home is charged in a month")


class TermsOut(_Out):
    market_context: str
    reward_eur_per_kwh: float
    penalty_eur_per_kwh: float
    baseline_method: BaselineMethod
    committed_kw: float | None
    reward_cap_eur: float | None
    penalty_cap_eur: float | None
    updated_at: datetime


class LineOut(_Out):
    event_id: str
    start: datetime
    method: str
    method_version: str
    baseline_kwh: float | None
    measured_kwh: float | None
    delivered_kwh: float
    committed_kwh: float
    shortfall_kwh: float
    reward_eur: float
    penalty_eur: float
    note: str | None


class StatementOut(_Out):
    month: str
    market_context: str
    site_id: str
    ven_id: str
    lines: list[LineOut]
    reward_eur: float
    penalty_eur: float
    total_eur: float
    reward_capped: bool
    penalty_capped: bool
    version: str
    computed_at: datetime
    closed: bool


class ProgramTotalOut(_Out):
    market_context: str
    homes: int
    events: int
    delivered_kwh: float
    reward_eur: float
    penalty_eur: float
    total_eur: float


class SettlementOut(_Out):
    month: str
    closed: bool = Field(description="true: stored, re-runs give these figures")
    statements: list[StatementOut]
    programs: list[ProgramTotalOut]
