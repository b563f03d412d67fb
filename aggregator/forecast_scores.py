"""How well the day-ahead forecasts predict a site: its base load and its PV production, played
over its last days and scored against its telemetry (GET /sites/{site_id}/forecast/scores).

    forecast_scores(uow, site_id, own_site, now, zone, days=14) -> SiteForecastScores

Each of the last `days` completed days is forecast as it would have been at noon the day before
(flexmodel/forecast: the base load's profile by day type and slot, PV's clear-sky model times
the expected clear-sky index) and scored per lead-time band: MAE, RMSE and the skill against
persistence (yesterday's same slot). A kind that cannot be scored (too little history, no PV
inverter, no PV parameters) says why instead: never a demo profile in its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aggregator.device_series import home_series
from aggregator.errors import InvalidInput
from aggregator.sites import site_ven
from aggregator.solar_forecast import pv_array
from aggregator.solar_records import PvParametersRecord
from aggregator.uow import UnitOfWork
from flexmodel.forecast.backtests import base_load_backtest, pv_backtest
from flexmodel.forecast.base_load import BaseLoadOptions
from flexmodel.forecast.pv import PvCalibration, PvDayAheadOptions
from flexmodel.forecast.scores import ISSUE_HOUR, Backtest, Score, scores_by_lead
from flexmodel.solar import SLOT

MAX_DAYS = 60
BASE_LOAD = BaseLoadOptions()
PV = PvDayAheadOptions()
# The history read before the first scored day: what either forecast looks back over.
LOOKBACK = max(timedelta(weeks=BASE_LOAD.weeks), timedelta(days=PV.window_days + 1)) + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class KindScores:
    """One forecast's scores; `reason` says why there are none (then `bands` is empty)."""

    days: int  # the days scored
    bands: tuple[Score, ...]
    overall: Score | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SiteForecastScores:
    site_id: str
    first_day: date  # the first and last day scored (local days; PV's are solar days)
    last_day: date
    issue_hour_local: int
    base_load: KindScores
    pv: KindScores
    pv_calibration: PvCalibration | None  # fitted on the history before first_day


async def forecast_scores(
    uow: UnitOfWork, site_id: str, own_site: str | None, now: datetime, zone: ZoneInfo, days: int = 14
) -> SiteForecastScores:
    """The site's base-load and PV forecasts over its last `days` completed days. NotFound when
    the caller may not see the site; InvalidInput ('days') outside 1-MAX_DAYS."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput("days", f"must be 1-{MAX_DAYS}")
    last = now.astimezone(zone).date() - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    since = datetime.combine(first, time(0), zone).astimezone(UTC) - LOOKBACK
    # A PV solar day may end after the local one (UTC+0 in Belgium): up to a day later, or now.
    until = min(now, datetime.combine(last, time(0), zone).astimezone(UTC) + timedelta(days=2))
    async with uow:
        ven = await site_ven(uow, site_id, own_site)
        series = await home_series(uow, ven.ven_id, since, until)
        pv_parameters = await uow.solar.pv_of(site_id)
    if series.base_load_kw:
        backtest = base_load_backtest(series.base_load_kw, zone, SLOT, first, last, BASE_LOAD)
        base = _scored(backtest, "base load")
    else:
        base = _unavailable(f"no meter readings ({series.meter}) since {since.isoformat()}")
    pv, calibration = _pv_scores(site_id, series.pv_kw, series.pv_devices, pv_parameters, first, last)
    return SiteForecastScores(site_id, first, last, ISSUE_HOUR, base, pv, calibration)


def _pv_scores(
    site_id: str,
    measured: dict[datetime, float],
    devices: tuple[str, ...],
    parameters: PvParametersRecord | None,
    first: date,
    last: date,
) -> tuple[KindScores, PvCalibration | None]:
    if not devices:
        return _unavailable("no PV inverter in the site's telemetry (a device that exports)"), None
    if parameters is None:
        return _unavailable(f"site {site_id!r} has no PV parameters (PUT /sites/{site_id}/pv)"), None
    backtest, calibration = pv_backtest(measured, pv_array(parameters), SLOT, first, last, PV)
    return _scored(backtest, "PV"), calibration


def _unavailable(reason: str) -> KindScores:
    return KindScores(0, (), None, reason)


def _scored(backtest: Backtest, kind: str) -> KindScores:
    if backtest.days == 0:
        why = backtest.skipped[-1] if backtest.skipped else "no day to score"
        return _unavailable(f"no {kind} forecast could be scored: {why}")
    bands, overall = scores_by_lead(backtest)
    return KindScores(backtest.days, bands, overall)
