"""What the operator's dashboard shows that no other use case gathers: the portfolio's day at a
glance (the fleet, live events, the measured net import against the plan and the caps, the day's
planning runs) and one home's measured net import against its dispatched schedule.

"Measured" is each home's meter as M&V measures it (aggregator/meter_series.py: its
`energy_import` / `energy_export` counters, else its power integrated), averaged per quarter-hour;
a quarter-hour is shown once it has ended, so the newest measured value is the last completed one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aggregator.dispatch import MARKET_CONTEXT as SCHEDULE_CONTEXT
from aggregator.event_rules import EventStatus
from aggregator.events import EventInfo, load_infos
from aggregator.inputs import WindowKind
from aggregator.meter_series import meter_net_kw
from aggregator.performance import EventPerformance
from aggregator.ports import RecentPolls, RunRecord
from aggregator.records import RequestRecord
from aggregator.uow import UnitOfWork
from aggregator.vens import VenInfo, ven_info
from flexmodel.energy_counter import SlotGrid, floor_to
from flexmodel.mv import Direction

SLOT = timedelta(minutes=15)
SLOT_H = SLOT / timedelta(hours=1)
# The overview's window: the last 12 hours measured, the next 12 planned.
PAST = timedelta(hours=12)
AHEAD = timedelta(hours=12)
# Runs read to find the plan in force over the window (each run re-plans the rest of the horizon).
RUNS_READ = 48
LIVE = (EventStatus.ACTIVE, EventStatus.NEAR, EventStatus.FAR)

Series = tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class PortfolioDay:
    """The portfolio's net import per quarter-hour of `grid` [kW]; None where unknown."""

    grid: SlotGrid
    measured_kw: Series  # the homes' meters summed (None: no home measured that slot)
    planned_kw: Series  # the plan in force: each slot from the newest run that began before it
    cap_kw: Series  # the lowest live DR cap over the slot
    floor_kw: Series  # the highest live DR floor over the slot
    homes_measured: int  # homes with at least one measured slot in the window

    def value_at(self, series: Series, at: datetime) -> float | None:
        index = self.grid.index(at)
        return series[index] if 0 <= index < self.grid.slots else None


@dataclass(frozen=True, slots=True)
class Overview:
    now: datetime
    vens: list[VenInfo]
    events: list[EventInfo]  # DR events: active first, then upcoming by start
    schedules_live: int  # the loop's schedule events (one per steered home) not yet over
    runs_today: list[RunRecord]  # since midnight in the operator's zone, newest first
    portfolio: PortfolioDay

    @property
    def online(self) -> int:
        return sum(1 for v in self.vens if v.online)

    @property
    def measured_now_kw(self) -> float | None:
        """The last completed quarter-hour's measured net import."""
        return self.portfolio.value_at(self.portfolio.measured_kw, floor_to(self.now, SLOT) - SLOT)

    @property
    def planned_now_kw(self) -> float | None:
        return self.portfolio.value_at(self.portfolio.planned_kw, self.now)

    @property
    def cap_now_kw(self) -> float | None:
        return self.portfolio.value_at(self.portfolio.cap_kw, self.now)


@dataclass(frozen=True, slots=True)
class HomeDay:
    """One home's measured net import and dispatched schedule over `grid` [kW]."""

    grid: SlotGrid
    measured_kw: Series
    scheduled_kw: Series


def window(now: datetime) -> SlotGrid:
    start = floor_to(now, SLOT) - PAST
    return SlotGrid(start, SLOT, int((PAST + AHEAD) / SLOT))


def _sum(series: Iterable[Series], slots: int) -> Series:
    out: list[float | None] = [None] * slots
    for values in series:
        for t, v in enumerate(values):
            if v is not None:
                out[t] = (out[t] or 0.0) + v
    return tuple(out)


async def _measured_kw(uow: UnitOfWork, ven_id: str, grid: SlotGrid, now: datetime) -> Series:
    """The home's metered net import per slot ended by `now` [kW], as M&V measures it
    (aggregator/meter_series.py: whole slots only, counters read summarised per slot); call
    inside `uow`. A slot under way is left out: its energy so far is not its mean power."""
    by_slot = await meter_net_kw(uow, ven_id, grid.start, min(grid.end, floor_to(now, SLOT)))
    return tuple(by_slot.get(at) for at in grid.starts())


def planned_kw(runs: Sequence[RunRecord], grid: SlotGrid) -> Series:
    """Each slot from the newest planned run that began before it (the future: the newest run),
    the portfolio's planned net import plus the fixed homes' load, as the loop dispatched it."""
    out: list[float | None] = [None] * grid.slots
    for run in sorted(runs, key=lambda r: r.started_at):
        portfolio = (run.plan or {}).get("portfolio")
        scenario = run.inputs.get("scenario")
        if not portfolio or not scenario:
            continue
        net = list(portfolio["net_import_kw"])
        fixed = run.inputs.get("fixed_kw") or [0.0] * len(net)
        start = datetime.fromisoformat(scenario["start"])
        resolution = timedelta(minutes=int(scenario.get("resolution_minutes", 15)))
        for t, at in enumerate(grid.starts()):
            k = (at - start) // resolution
            if 0 <= k < len(net) and at + SLOT > run.started_at:
                out[t] = net[k] + (fixed[k] if k < len(fixed) else 0.0)
    return tuple(out)


def bounds_kw(requests: Iterable[RequestRecord], grid: SlotGrid, kind: WindowKind) -> Series:
    """The tightest live cap (lowest) or floor (highest) over each slot."""
    out: list[float | None] = [None] * grid.slots
    pick = min if kind is WindowKind.CAP else max
    for request in requests:
        if request.kind is not kind or request.cancelled_at is not None:
            continue
        for t, at in enumerate(grid.starts()):
            if request.start < at + SLOT and at < request.end:
                current = out[t]
                out[t] = request.power_kw if current is None else pick(current, request.power_kw)
    return tuple(out)


def _live_events(infos: Iterable[EventInfo]) -> list[EventInfo]:
    live = [e for e in infos if e.status in LIVE]
    return sorted(live, key=lambda e: (e.status is not EventStatus.ACTIVE, e.intervals[0].start))


async def overview(
    uow: UnitOfWork,
    now: datetime,
    polls: RecentPolls,
    poll_interval_seconds: int,
    near_window_seconds: int,
    zone: ZoneInfo,
) -> Overview:
    """The fleet, live events, the portfolio over `window(now)`, and today's planning runs."""
    grid = window(now)
    midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    async with uow:
        vens = await uow.vens.all()
        infos = await load_infos(uow, await uow.events.all(), now, near_window_seconds)
        runs = await uow.runs.newest(RUNS_READ)
        requests = await uow.requests.all()
        measured = [await _measured_kw(uow, v.ven_id, grid, now) for v in vens]
    portfolio = PortfolioDay(
        grid=grid,
        measured_kw=_sum(measured, grid.slots),
        planned_kw=planned_kw(runs, grid),
        cap_kw=bounds_kw(requests, grid, WindowKind.CAP),
        floor_kw=bounds_kw(requests, grid, WindowKind.FLOOR),
        homes_measured=sum(1 for m in measured if any(v is not None for v in m)),
    )
    return Overview(
        now=now,
        vens=[ven_info(v, now, poll_interval_seconds, polls.last_poll(v.ven_id)) for v in vens],
        events=_live_events(e for e in infos if e.market_context != SCHEDULE_CONTEXT),
        schedules_live=len(_live_events(e for e in infos if e.market_context == SCHEDULE_CONTEXT)),
        runs_today=[r for r in runs if r.started_at >= midnight],
        portfolio=portfolio,
    )


async def home_day(uow: UnitOfWork, ven_id: str, now: datetime) -> HomeDay:
    """The home's measured net import and the schedule last dispatched to it, over `window(now)`
    (call after the VEN was found: an unknown VEN has nothing measured)."""
    grid = window(now)
    async with uow:
        measured = await _measured_kw(uow, ven_id, grid, now)
        dispatch = await uow.dispatches.get(ven_id)
    scheduled: list[float | None] = [None] * grid.slots
    if dispatch is not None:
        resolution = timedelta(minutes=dispatch.resolution_minutes)
        for t, at in enumerate(grid.starts()):
            k = (at - dispatch.start) // resolution
            if 0 <= k < len(dispatch.setpoint_kw):
                scheduled[t] = dispatch.setpoint_kw[k]
    return HomeDay(grid, measured, tuple(scheduled))


def series_json(grid: SlotGrid, **series: Series) -> dict[str, Any]:
    """A plot's data: epoch seconds of each slot start and each named series (null: unknown)."""
    return {
        "t": [int(at.timestamp()) for at in grid.starts()],
        **{name: [None if v is None else round(v, 3) for v in values] for name, values in series.items()},
    }


@dataclass(frozen=True, slots=True)
class Violation:
    where: str  # a site id, or "portfolio"
    kind: str  # ev_shortfall | import_limit | export_limit | net_import_cap | net_import_floor
    kwh: float


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What the operator reads of a planning run: how it was made, how long each step took, how
    close to optimal (gap) and what it could not meet."""

    run: RunRecord
    method: str | None  # the planner's formulation (flexmodel.planner), with its rounds/iterations
    timings_s: dict[str, float]  # inputs_s, solve_s, dispatch_s
    homes_planned: int
    homes_skipped: int
    violations: tuple[Violation, ...]

    @property
    def violation_kwh(self) -> float:
        return sum(v.kwh for v in self.violations)


def summarize_run(run: RunRecord) -> RunSummary:
    facts = run.inputs.get("method") or {}
    method = facts.get("method")
    if method and ("rounds" in facts or "iterations" in facts):
        extra = ", ".join(f"{k} {facts[k]}" for k in ("rounds", "iterations") if k in facts)
        method = f"{method} ({extra})"
    homes = run.inputs.get("homes") or []
    plan = run.plan or {}
    found = [
        Violation("portfolio", v["kind"], float(v["kwh"]))
        for v in (plan.get("portfolio") or {}).get("violations", [])
    ]
    for site in plan.get("sites", []):
        found += [Violation(site["site_id"], v["kind"], float(v["kwh"])) for v in site.get("violations", [])]
    return RunSummary(
        run=run,
        method=method,
        timings_s={k: float(v) for k, v in (run.inputs.get("timings") or {}).items()},
        homes_planned=len(plan.get("sites", [])),
        homes_skipped=sum(1 for h in homes if not h.get("usable")),
        violations=tuple(found),
    )


def run_windows(run: RunRecord) -> list[RequestRecord]:
    """The DR requests (caps, floors) a run planned against, from its recorded inputs."""
    return [
        RequestRecord(
            request_id=str(w["request_id"]),
            kind=WindowKind(w["kind"]),
            start=datetime.fromisoformat(w["start"]),
            end=datetime.fromisoformat(w["end"]),
            power_kw=float(w["power_kw"]),
            reason=str(w.get("reason", "")),
            created_at=run.started_at,
        )
        for w in run.inputs.get("windows") or []
    ]


def performance_series(result: EventPerformance) -> tuple[SlotGrid, dict[str, Series]]:
    """An event's plot (summed over the homes that took part): the baseline, the measured net
    import and the level the event asked for (the baseline less the requested reduction, or plus
    the requested increase) [kW]."""
    slots = result.intervals
    grid = SlotGrid(slots[0].start if slots else result.start, SLOT, len(slots))
    sign = -1.0 if result.direction is Direction.REDUCTION else 1.0
    requested = tuple(
        None if s.baseline_kw is None or s.requested_kw is None else s.baseline_kw + sign * s.requested_kw
        for s in slots
    )
    return grid, {
        "baseline": tuple(s.baseline_kw for s in slots),
        "measured": tuple(s.measured_kw for s in slots),
        "requested": requested,
    }
