"""What a planning run reads and records: its inputs from the stored state, and the run itself.

`LoopStoreOverUow` is the closed loop's LoopStore (aggregator/ports.py) over a unit of work.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aggregator.inputs import (
    Home,
    Imbalance,
    PlanningInputs,
    PortfolioWindow,
    Prices,
    Series,
)
from aggregator.notification_sources import targets_at_risk
from aggregator.ports import RunRecord
from aggregator.preferences import apply_preferences
from aggregator.records import ImbalanceRecord, PreferencesRecord, PriceRecord, VenRecord
from aggregator.site import NoFlexibilityYet, site_flexibility
from aggregator.site_history import charged_this_session
from aggregator.uow import UnitOfWork

UTC_ZONE = ZoneInfo("UTC")
FIXED_SLOTS = 96  # an excluded home's load is held fixed for a day of 15-minute slots


class ExclusionReason(enum.StrEnum):
    """Why the loop stopped steering a home (shown as the home's `excluded` in a run's inputs)."""

    OFFLINE = "offline"
    OPTED_OUT = "opted out"
    DEVIATES = "deviates from its schedule"


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A home the planner must not steer, with its expected net import [kW] held fixed."""

    reason: ExclusionReason
    fixed_kw: float


async def load_inputs(
    uow: UnitOfWork, now: datetime, exclusions: Mapping[str, Exclusion], zone: ZoneInfo = UTC_ZONE
) -> PlanningInputs:
    """The current prices, imbalance signal and DR windows not over yet, and each registered home
    by site: its flexibility (None when it has sent none yet) as its household's preferences
    want it planned (aggregator/preferences.py; `zone` is the sites' time zone), or its fixed
    load if excluded."""
    async with uow:
        prices = await uow.prices.latest()
        imbalance = await uow.imbalance.latest()
        requests = await uow.requests.live()
        vens = await uow.vens.registered()
        preferences = await uow.preferences.of_sites({v.site_id for v in vens})
    homes = [
        await _home(uow, v, now, exclusions, preferences.get(v.site_id), zone)
        for v in sorted(vens, key=lambda v: v.site_id)
    ]
    return PlanningInputs(
        now=now,
        homes=tuple(homes),
        prices=_prices(prices),
        imbalance=_imbalance(imbalance),
        windows=tuple(
            PortfolioWindow(r.request_id, r.kind, r.start, r.end, r.power_kw, r.reason)
            for r in requests
            if r.end > now
        ),
    )


async def _home(
    uow: UnitOfWork,
    ven: VenRecord,
    now: datetime,
    exclusions: Mapping[str, Exclusion],
    preferences: PreferencesRecord | None,
    zone: ZoneInfo,
) -> Home:
    excluded = exclusions.get(ven.ven_id)
    if excluded is not None:
        return Home(
            ven.ven_id,
            ven.site_id,
            None,
            fixed_kw=(excluded.fixed_kw,) * FIXED_SLOTS,
            excluded_reason=excluded.reason.value,
        )
    try:
        flex = await site_flexibility(uow, ven.ven_id, now)
    except NoFlexibilityYet:
        return Home(ven.ven_id, ven.site_id, None)
    if preferences is None:
        return Home(ven.ven_id, ven.site_id, flex.site, grid_start=flex.start)
    charged: dict[str, float] = {}
    if preferences.ev_target_kwh is not None and flex.site.get("evs"):
        async with uow:
            charged = await charged_this_session(uow, ven.ven_id, now)
    site = apply_preferences(flex.site, preferences, now, zone, charged)
    return Home(ven.ven_id, ven.site_id, site, grid_start=flex.start)


async def save_run(uow: UnitOfWork, run: RunRecord) -> None:
    async with uow:
        previous = await uow.runs.latest_planned()
        uow.runs.add(run)
        await targets_at_risk(uow, run, previous)
        await uow.commit()


class LoopStoreOverUow:
    """The LoopStore port over a unit of work; `exclusions` are the ones the loop's watch found
    (aggregator/watch.py), read at each run."""

    def __init__(
        self, uow: UnitOfWork, exclusions: Mapping[str, Exclusion], zone: ZoneInfo = UTC_ZONE
    ) -> None:
        self._uow = uow
        self._exclusions = exclusions
        self._zone = zone

    async def load_inputs(self, now: datetime) -> PlanningInputs:
        return await load_inputs(self._uow, now, self._exclusions, self._zone)

    async def save_run(self, run: RunRecord) -> None:
        await save_run(self._uow, run)


def _series(start: datetime, resolution_minutes: int, values: Sequence[float]) -> Series:
    return Series(start, timedelta(minutes=resolution_minutes), tuple(values))


def _prices(record: PriceRecord | None) -> Prices | None:
    if record is None:
        return None
    return Prices(
        _series(record.start, record.resolution_minutes, record.import_eur_per_kwh),
        _series(record.start, record.resolution_minutes, record.export_eur_per_kwh),
        record.capacity_eur_per_kw_month,
    )


def _imbalance(record: ImbalanceRecord | None) -> Imbalance | None:
    if record is None:
        return None
    nominated = record.nominated_net_kw
    return Imbalance(
        _series(record.start, record.resolution_minutes, record.imbalance_eur_per_kwh),
        _series(record.start, record.resolution_minutes, nominated) if nominated else None,
    )
