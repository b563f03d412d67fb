"""How well each baseline method predicts a home, on its days without a DR event.

    baseline_accuracy(uow, site_id, own_site, now, zone, days=20) -> SiteAccuracy

Each method plays an event over ACCURACY_WINDOW (17:00-20:00 local, the evening peak where DR
events fall) on each test day, from the history before it, and is scored against the meter
(flexmodel/mv/accuracy.py: relative error and bias).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aggregator.errors import InvalidInput
from aggregator.meter_series import meter_net_kw
from aggregator.performance import METER_BEFORE_INTERVALS, event_days
from aggregator.sites import site_ven
from aggregator.uow import UnitOfWork
from flexmodel.mv.accuracy import Accuracy, backtest
from flexmodel.mv.baselines import BaselineMethod, XOfY, meter_before, x_of_y

ACCURACY_WINDOW = (time(17), timedelta(hours=3))


@dataclass(frozen=True, slots=True)
class MethodAccuracy:
    method: BaselineMethod
    accuracy: Accuracy


@dataclass(frozen=True, slots=True)
class SiteAccuracy:
    site_id: str
    window_start_local: time
    window: timedelta
    methods: tuple[MethodAccuracy, ...]


async def baseline_accuracy(
    uow: UnitOfWork, site_id: str, own_site: str | None, now: datetime, zone: ZoneInfo, days: int = 20
) -> SiteAccuracy:
    """x_of_y and meter_before played on the home's last `days` days without an event (the
    evening window, ACCURACY_WINDOW), scored against its meter. NotFound when the caller may not
    see the site. plan_baseline is not scored: a day without an event has no event creation to
    pick the plan before."""
    if not 1 <= days <= 90:
        raise InvalidInput("days", "must be 1-90")
    options = XOfY()
    today = now.astimezone(zone).date()
    since = datetime.combine(today - timedelta(days=days + options.lookback_days), time(0), zone)
    async with uow:
        ven = await site_ven(uow, site_id, own_site)
        measured = await meter_net_kw(uow, ven.ven_id, since.astimezone(UTC), now)
        excluded = event_days(await uow.events.live_for_ven(ven.ven_id), zone)
    test_days = [d for k in range(days, 0, -1) if (d := today - timedelta(days=k)) not in excluded]
    window_start, window = ACCURACY_WINDOW
    scored = (
        (BaselineMethod.X_OF_Y, lambda s, e: x_of_y(measured, s, e, zone, excluded, options)),
        (BaselineMethod.METER_BEFORE, lambda s, e: meter_before(measured, s, e, METER_BEFORE_INTERVALS)),
    )
    return SiteAccuracy(
        site_id,
        window_start,
        window,
        tuple(
            MethodAccuracy(m, backtest(measured, zone, test_days, window_start, window, fn))
            for m, fn in scored
        ),
    )
