"""How well the day-ahead forecasts predict a site: GET /sites/{site_id}/forecast/scores
(aggregator/forecast_scores.py, docs/forecasts.md). A customer token sees its own site only."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aggregator import forecast_scores as fs
from flexmodel.forecast.scores import Score
from vtn.api.customer import HOUSEHOLD
from vtn.api.endpoints import Call
from vtn.api.performance import zone_of
from vtn.api.routes import ROUTES, own_site
from vtn.db.uow import UnitOfWork


class ScoresQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(14, ge=1, le=fs.MAX_DAYS, description="the completed days before today to score")


class ScoreOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    lead_from_h: float = Field(description="the band's first lead time [h] after the issue (noon, D-1)")
    lead_to_h: float = Field(description="the band's end [h], excluded")
    slots: int = Field(description="the 15-minute slots scored")
    mae_kw: float | None = Field(description="mean absolute error [kW]; null: no slot")
    rmse_kw: float | None = Field(description="root mean square error [kW]")
    persistence_mae_kw: float | None = Field(description="persistence's (yesterday's same slot) MAE [kW]")
    persistence_rmse_kw: float | None = Field(description="persistence's RMSE [kW]")
    skill_mae: float | None = Field(description="1 - MAE / persistence's MAE: > 0 beats persistence")
    skill_rmse: float | None = Field(description="1 - RMSE / persistence's RMSE")


class KindScoresOut(BaseModel):
    days: int = Field(description="the days scored")
    reason: str | None = Field(description="why nothing was scored (then bands is empty and overall null)")
    overall: ScoreOut | None
    bands: list[ScoreOut] = Field(description="per lead-time band: 12-18, 18-24, 24-30, 30-36 h")


class CalibrationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    scale: float = Field(description="measured / modelled clear-sky energy on the clearest days")
    clear_days: int
    bounded: bool = Field(description="the fit fell outside [0.5, 1.5] and was clipped: check the PV array")


class ForecastScoresOut(BaseModel):
    site_id: str
    first_day: date = Field(description="the first day scored (local)")
    last_day: date
    issue_hour_local: int = Field(description="each day's forecast is issued at this hour the day before")
    base_load: KindScoresOut
    pv: KindScoresOut
    pv_calibration: CalibrationOut | None


def _kind(k: fs.KindScores) -> KindScoresOut:
    def out(s: Score) -> ScoreOut:
        return ScoreOut.model_validate(s)

    return KindScoresOut(
        days=k.days,
        reason=k.reason,
        overall=None if k.overall is None else out(k.overall),
        bands=[out(b) for b in k.bands],
    )


@ROUTES.route(
    "GET", "/sites/{site_id}/forecast/scores",
    summary="How well the day-ahead base-load and PV forecasts predicted the site's last days",
    roles=HOUSEHOLD, query=ScoresQuery, response=ForecastScoresOut, errors=(404,),
)  # fmt: skip
async def forecast_scores(call: Call[None, ScoresQuery]) -> Any:
    """Each of the last `days` days forecast as at noon the day before and scored against the
    site's telemetry: MAE, RMSE and skill against persistence per lead-time band. A kind that
    cannot be scored (too little history, no PV inverter or PV array) carries its `reason`."""
    uow = UnitOfWork(call.sessions)
    site_id, days = call.path["site_id"], call.query.days
    result = await fs.forecast_scores(uow, site_id, own_site(call), call.now, zone_of(call), days)
    calibration = result.pv_calibration
    return ForecastScoresOut(
        site_id=result.site_id,
        first_day=result.first_day,
        last_day=result.last_day,
        issue_hour_local=result.issue_hour_local,
        base_load=_kind(result.base_load),
        pv=_kind(result.pv),
        pv_calibration=None if calibration is None else CalibrationOut.model_validate(calibration),
    )
