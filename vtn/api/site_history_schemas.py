"""Bodies of the customer app's history routes (vtn/api/site_history.py): sessions and savings."""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from vtn.api.schemas import UtcTime

_MONTH = re.compile(r"(\d{4})-(\d{2})")


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionsQuery(_Query):
    """Sessions that started in [from, to); `to` defaults to now, `from` to 30 days before `to`."""

    from_: UtcTime | None = Field(None, alias="from")
    to: UtcTime | None = None

    @field_validator("to")
    @classmethod
    def _after_from(cls, to: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("from_")
        if start is not None and to is not None and to <= start:
            raise ValueError("must be after from")
        return to


class SavingsQuery(_Query):
    month: str | None = Field(
        None, description="YYYY-MM, the month in the VTN's time zone (default: the current month)"
    )

    @field_validator("month")
    @classmethod
    def _a_month(cls, value: str | None) -> str | None:
        if value is None:
            return None
        found = _MONTH.fullmatch(value)
        if found is None:
            raise ValueError("must be YYYY-MM")
        year, month = int(found[1]), int(found[2])
        if not 1 <= month <= 12:
            raise ValueError(f"month {month:02d} is not 01-12")
        if not 2000 <= year < 2200:
            raise ValueError("year must be between 2000 and 2199")
        return value

    def first_day(self) -> date | None:
        return None if self.month is None else date(int(self.month[:4]), int(self.month[5:]), 1)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SessionOut(_Out):
    device_id: str = Field(description="the charger")
    start: datetime
    end: datetime | None = Field(description="null: the car is still on the charger")
    energy_kwh: float
    cost_eur: float | None = Field(
        description="measured energy per quarter-hour x that quarter-hour's import price; "
        "null when energy fell in a quarter-hour without a stored price"
    )
    mode: str | None = Field(description="smart | solar | boost, as the agent reported it; null: not known")
    target_kwh: float | None
    target_met: bool | None = Field(description="null: no target known, or the car is still charging")
    boundary: str = Field(description="what start and end were found from: plugged_in | power")
    estimated: list[str] = Field(description="the fields that are estimates rather than measurements")


class SessionsOut(_Out):
    site_id: str
    start: datetime
    end: datetime
    sessions: list[SessionOut]


class MonthCostOut(_Out):
    import_kwh: float
    export_kwh: float
    energy_eur: float = Field(description="import cost minus export revenue")
    peak_kw: float = Field(description="the month's highest quarter-hour mean import")
    peak_at: datetime | None = Field(description="the start of that quarter-hour")
    capacity_eur: float | None = Field(
        description="capacity_eur_per_kw_month x max(peak_kw, min billed); null: no capacity price"
    )
    total_eur: float | None


class SavedOut(BaseModel):
    energy_eur: float
    capacity_eur: float | None
    total_eur: float | None


class SavingsOut(BaseModel):
    site_id: str
    month: str
    start: datetime = Field(description="the month's first quarter-hour (UTC)")
    end: datetime = Field(description="the end of the last quarter-hour counted (the month so far)")
    measured: MonthCostOut
    baseline: MonthCostOut = Field(description="each car charged at full power from its arrival")
    saved: SavedOut = Field(description="baseline minus measured")
    sessions: int
    full_power_kw: float | None = Field(description="the baseline's charging power")
    slots: int
    unmeasured_slots: int = Field(description="quarter-hours without meter data, counted as zero")
    unpriced_slots: int = Field(description="quarter-hours with energy but no price, left out of energy_eur")
    estimated: list[str]
