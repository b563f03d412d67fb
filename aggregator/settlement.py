"""Settlement: what each home earns or owes per DR program and month, from its delivery.

Use cases (a server-rendered page calls them as the REST routes do):

    put_terms(uow, market_context, terms: TermsInput, now) -> ProgramTermsRecord
    get_terms(uow, market_context) -> ProgramTermsRecord
    settle_month(uow, month: date, now, zone, own_site=None) -> MonthSettlement

Per home, program and month, for each event of the program that started in the month and that
the home did not opt out of (aggregator/performance.py, the baseline method of the terms):
reward = max(0, delivered kWh) x reward price; shortfall = max(0, committed kWh - delivered
kWh); penalty = shortfall x penalty price; the month's rewards capped at `reward_cap_eur`, its
penalties at `penalty_cap_eur`; total = rewards - penalties. An event without a baseline or a
measurement for the home (the line's `note` says why) is neither paid nor charged.

A month is closed CLOSE_AFTER after its end (time for telemetry a VEN backfills). The first
settlement of a closed month stores each statement with its inputs (per event: baseline,
measured, delivered and committed kWh, method and version) and the terms it used; every later
run prices those stored inputs with the same rule, so a closed month's figures never change,
whatever telemetry arrives or terms change later. An open month is computed afresh each time.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aggregator.errors import NotFound
from aggregator.performance import measure_event, month_bounds, program_events
from aggregator.settlement_records import ProgramTermsRecord, StatementRecord
from aggregator.sites import check_visible
from aggregator.uow import UnitOfWork
from flexmodel.mv.baselines import BaselineMethod

CLOSE_AFTER = timedelta(days=3)
SETTLEMENT_VERSION = "settlement/1"  # raised whenever `price` changes


@dataclass(frozen=True, slots=True)
class TermsInput:
    reward_eur_per_kwh: float
    penalty_eur_per_kwh: float
    baseline_method: BaselineMethod
    committed_kw: float | None = None
    reward_cap_eur: float | None = None
    penalty_cap_eur: float | None = None


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One event of the home's month: the inputs, then the money."""

    event_id: str
    start: datetime
    method: str
    method_version: str
    baseline_kwh: float | None
    measured_kwh: float | None
    delivered_kwh: float  # 0 when there was no baseline or no measurement (`note` says why)
    committed_kwh: float
    shortfall_kwh: float
    reward_eur: float
    penalty_eur: float
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    month: str
    market_context: str
    site_id: str
    ven_id: str
    lines: tuple[StatementLine, ...]
    reward_eur: float  # after the cap
    penalty_eur: float  # after the cap
    total_eur: float  # reward - penalty
    reward_capped: bool
    penalty_capped: bool
    terms: dict[str, Any]  # the terms used (prices, caps, method)
    version: str
    computed_at: datetime
    closed: bool  # stored: re-runs give these figures


@dataclass(frozen=True, slots=True)
class ProgramTotal:
    market_context: str
    homes: int
    events: int
    delivered_kwh: float
    reward_eur: float
    penalty_eur: float
    total_eur: float


@dataclass(frozen=True, slots=True)
class MonthSettlement:
    month: str
    closed: bool
    statements: tuple[Statement, ...]
    programs: tuple[ProgramTotal, ...]


# ---- terms ---------------------------------------------------------------------------------------


async def put_terms(
    uow: UnitOfWork, market_context: str, terms: TermsInput, now: datetime
) -> ProgramTermsRecord:
    """Set (or replace) the program's terms. The edge checks values (prices >= 0, caps > 0)."""
    record = ProgramTermsRecord(
        market_context=market_context,
        reward_eur_per_kwh=terms.reward_eur_per_kwh,
        penalty_eur_per_kwh=terms.penalty_eur_per_kwh,
        baseline_method=terms.baseline_method.value,
        updated_at=now,
        committed_kw=terms.committed_kw,
        reward_cap_eur=terms.reward_cap_eur,
        penalty_cap_eur=terms.penalty_cap_eur,
    )
    async with uow:
        await uow.programs.put(record)
        await uow.commit()
    return record


async def get_terms(uow: UnitOfWork, market_context: str) -> ProgramTermsRecord:
    """NotFound when the program has no terms."""
    async with uow:
        terms = await uow.programs.get(market_context)
    if terms is None:
        raise NotFound("program", market_context)
    return terms


# ---- pricing (pure: the same for a fresh month and a stored one) ---------------------------------


def _terms_dict(terms: ProgramTermsRecord) -> dict[str, Any]:
    out = asdict(terms)
    out["updated_at"] = terms.updated_at.isoformat()
    return out


def _line(inputs: dict[str, Any], terms: dict[str, Any]) -> StatementLine:
    delivered = float(inputs["delivered_kwh"])
    committed = float(inputs["committed_kwh"])
    shortfall = max(0.0, committed - delivered)
    return StatementLine(
        event_id=inputs["event_id"],
        start=datetime.fromisoformat(inputs["start"]),
        method=inputs["method"],
        method_version=inputs["method_version"],
        baseline_kwh=inputs["baseline_kwh"],
        measured_kwh=inputs["measured_kwh"],
        delivered_kwh=delivered,
        committed_kwh=committed,
        shortfall_kwh=shortfall,
        reward_eur=max(0.0, delivered) * float(terms["reward_eur_per_kwh"]),
        penalty_eur=shortfall * float(terms["penalty_eur_per_kwh"]),
        note=inputs.get("note"),
    )


def price(record: StatementRecord, closed: bool) -> Statement:
    """The statement of stored (or freshly gathered) inputs: the one pricing rule."""
    terms = record.content["terms"]
    lines = tuple(_line(i, terms) for i in record.content["events"])
    reward = sum(line.reward_eur for line in lines)
    penalty = sum(line.penalty_eur for line in lines)
    reward_cap, penalty_cap = terms.get("reward_cap_eur"), terms.get("penalty_cap_eur")
    capped_reward = min(reward, reward_cap) if reward_cap is not None else reward
    capped_penalty = min(penalty, penalty_cap) if penalty_cap is not None else penalty
    return Statement(
        month=record.month,
        market_context=record.market_context,
        site_id=record.site_id,
        ven_id=record.ven_id,
        lines=lines,
        reward_eur=capped_reward,
        penalty_eur=capped_penalty,
        total_eur=capped_reward - capped_penalty,
        reward_capped=capped_reward < reward,
        penalty_capped=capped_penalty < penalty,
        terms=terms,
        version=record.content["version"],
        computed_at=record.computed_at,
        closed=closed,
    )


# ---- gathering the inputs ------------------------------------------------------------------------


async def _gather(
    uow: UnitOfWork,
    terms: ProgramTermsRecord,
    month: date,
    now: datetime,
    zone: ZoneInfo,
    only_vens: Collection[str] | None = None,
) -> list[StatementRecord]:
    """The program's month as statement inputs, one per home that took part in an event."""
    start, end = month_bounds(month, zone)
    method = BaselineMethod(terms.baseline_method)
    by_site: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for event in await program_events(uow, terms.market_context, start, end, now):
        performance = await measure_event(uow, event, method, zone, only_vens)
        hours = (event.end - event.dtstart) / timedelta(hours=1)
        for home in performance.homes:
            if home.opted_out:
                continue
            settled = home.delivered_kwh is not None  # a baseline and a measurement
            if not settled:
                committed = 0.0  # nothing to hold the home to: neither paid nor charged
            elif terms.committed_kw is not None:
                committed = terms.committed_kw * hours
            else:
                committed = home.requested_kwh or 0.0
            by_site.setdefault((home.site_id, home.ven_id), []).append(
                {
                    "event_id": event.event_id,
                    "start": event.dtstart.isoformat(),
                    "method": performance.method.value,
                    "method_version": performance.method_version,
                    "direction": performance.direction.value,
                    "baseline_kwh": home.baseline_kwh,
                    "measured_kwh": home.measured_kwh,
                    "delivered_kwh": home.delivered_kwh or 0.0,
                    "committed_kwh": committed,
                    "note": None if settled else (home.error or "no slot of the event was measured"),
                }
            )
    content_terms = _terms_dict(terms)
    return [
        StatementRecord(
            month=f"{month:%Y-%m}",
            market_context=terms.market_context,
            site_id=site_id,
            ven_id=ven_id,
            computed_at=now,
            content={"version": SETTLEMENT_VERSION, "terms": content_terms, "events": events},
        )
        for (site_id, ven_id), events in sorted(by_site.items())
    ]


def _totals(statements: Sequence[Statement]) -> tuple[ProgramTotal, ...]:
    out = []
    for context in sorted({s.market_context for s in statements}):
        mine = [s for s in statements if s.market_context == context]
        out.append(
            ProgramTotal(
                market_context=context,
                homes=len(mine),
                events=len({line.event_id for s in mine for line in s.lines}),
                delivered_kwh=sum(line.delivered_kwh for s in mine for line in s.lines),
                reward_eur=sum(s.reward_eur for s in mine),
                penalty_eur=sum(s.penalty_eur for s in mine),
                total_eur=sum(s.total_eur for s in mine),
            )
        )
    return tuple(out)


async def settle_month(
    uow: UnitOfWork, month: date, now: datetime, zone: ZoneInfo, own_site: str | None = None
) -> MonthSettlement:
    """Every program's statements of the month (so far); a closed month's as first stored.
    `own_site`: only that site's statements (a customer; any other site is not there)."""
    _, end = month_bounds(month, zone)
    closed = now >= end + CLOSE_AFTER
    key = f"{month:%Y-%m}"
    async with uow:
        records = await uow.statements.of_month(key) if closed else []
        # An open month's statement of one site measures that site's homes only; a closed month
        # is settled whole, since its first settlement is stored for everyone.
        only_vens = None
        if own_site is not None and not closed:
            only_vens = {v.ven_id for v in await uow.vens.of_site(own_site)}
        if not records:
            records = []
            for terms in await uow.programs.all():
                records += await _gather(uow, terms, month, now, zone, only_vens)
            if closed and records:
                await uow.statements.add_new(records)
                await uow.commit()
                records = await uow.statements.of_month(key)  # another run may have stored first
    statements = [price(r, closed) for r in records]
    if own_site is not None:
        statements = [s for s in statements if s.site_id == own_site]
    return MonthSettlement(key, closed, tuple(statements), _totals(statements))


async def site_settlement(
    uow: UnitOfWork, site_id: str, own_site: str | None, month: date, now: datetime, zone: ZoneInfo
) -> MonthSettlement:
    """One site's statements; NotFound when the caller may not see the site or it has no VEN."""
    check_visible(site_id, own_site)
    async with uow:
        if not await uow.vens.of_site(site_id):
            raise NotFound("site", site_id)
    return await settle_month(uow, month, now, zone, own_site=site_id)
