"""Settlement routes: a program's terms (operator), the month's statements per home and program,
and a site's own (its customer sees it). Use cases: aggregator/settlement.py. JSON, or CSV with
`Accept: text/csv`."""

from __future__ import annotations

from typing import Any

from aggregator import settlement
from vtn.api import csv_tables
from vtn.api import performance_schemas as ps
from vtn.api.endpoints import OPERATOR, Call
from vtn.api.performance import month_of, zone_of
from vtn.api.routes import CUSTOMER, ROUTES, own_site
from vtn.db.uow import UnitOfWork


@ROUTES.route(
    "PUT",
    "/programs/{market_context}/terms",
    summary="Set a DR program's terms: reward, penalty, caps, baseline method",
    roles=OPERATOR,
    body=ps.TermsIn,
    response=ps.TermsOut,
    csv=csv_tables.terms,
)
async def put_terms(call: Call[ps.TermsIn, None]) -> Any:
    """The program is an event market context. Replaces earlier terms; a closed month's
    statements keep the terms they were made with."""
    body = call.body
    terms = settlement.TermsInput(
        reward_eur_per_kwh=body.reward_eur_per_kwh,
        penalty_eur_per_kwh=body.penalty_eur_per_kwh,
        baseline_method=body.baseline_method,
        committed_kw=body.committed_kw,
        reward_cap_eur=body.reward_cap_eur,
        penalty_cap_eur=body.penalty_cap_eur,
    )
    return await settlement.put_terms(UnitOfWork(call.sessions), call.path["market_context"], terms, call.now)


@ROUTES.route(
    "GET",
    "/programs/{market_context}/terms",
    summary="A DR program's terms",
    roles=OPERATOR,
    response=ps.TermsOut,
    errors=(404,),
    csv=csv_tables.terms,
)
async def get_terms(call: Call[None, None]) -> Any:
    return await settlement.get_terms(UnitOfWork(call.sessions), call.path["market_context"])


@ROUTES.route(
    "GET",
    "/settlement",
    summary="The month's settlement statements, per home and per program",
    roles=OPERATOR,
    query=ps.MonthQuery,
    response=ps.SettlementOut,
    csv=csv_tables.settlement,
)
async def month_settlement(call: Call[None, ps.MonthQuery]) -> Any:
    """Per home and program: for each event the home did not opt out of, reward = delivered kWh
    x reward price, penalty = shortfall below the committed kWh x penalty price, capped per
    month. A month closed (3 days after its end) is stored at its first settlement with its
    inputs: later runs give the same figures."""
    result = await settlement.settle_month(UnitOfWork(call.sessions), month_of(call), call.now, zone_of(call))
    return ps.SettlementOut.model_validate(result)


@ROUTES.route(
    "GET",
    "/sites/{site_id}/settlement",
    summary="A site's settlement statements of the month",
    roles=OPERATOR | CUSTOMER,
    query=ps.MonthQuery,
    response=ps.SettlementOut,
    errors=(404,),
    csv=csv_tables.settlement,
)
async def site_settlement(call: Call[None, ps.MonthQuery]) -> Any:
    """As /settlement, the site's statements only; a customer token sees its own site only."""
    result = await settlement.site_settlement(
        UnitOfWork(call.sessions),
        call.path["site_id"],
        own_site(call),
        month_of(call),
        call.now,
        zone_of(call),
    )
    return ps.SettlementOut.model_validate(result)
