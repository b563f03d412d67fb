"""The customer app's history routes: a site's charging sessions and its month's savings.

A customer token sees its own site only (another is 404, like a missing one); an operator any.
The use cases are aggregator/site_history.py; docs/customer-api.md describes the answers.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aggregator import site_history
from vtn.api import site_history_schemas as hs
from vtn.api.endpoints import OPERATOR, Call
from vtn.api.routes import CUSTOMER, ROUTES, own_site
from vtn.db.uow import UnitOfWork

DEFAULT_SESSIONS_WINDOW = timedelta(days=30)


@ROUTES.route(
    "GET",
    "/sites/{site_id}/sessions",
    summary="The site's charging sessions, measured",
    roles=OPERATOR | CUSTOMER,
    query=hs.SessionsQuery,
    response=hs.SessionsOut,
    errors=(404,),
)
async def site_sessions(call: Call[None, hs.SessionsQuery]) -> Any:
    """Sessions that started in [from, to) (default: the 30 days up to now), each with its
    measured energy, cost, and the mode and target the agent reported (null when unknown)."""
    end = call.query.to or call.now
    start = call.query.from_ or end - DEFAULT_SESSIONS_WINDOW
    site_id = call.path["site_id"]
    sessions = await site_history.list_sessions(
        UnitOfWork(call.sessions), site_id, own_site(call), start, end
    )
    return hs.SessionsOut(
        site_id=site_id,
        start=start,
        end=end,
        sessions=[hs.SessionOut.model_validate(s, from_attributes=True) for s in sessions],
    )


@ROUTES.route(
    "GET",
    "/sites/{site_id}/savings",
    summary="The month's cost against charging at full power on arrival",
    roles=OPERATOR | CUSTOMER,
    query=hs.SavingsQuery,
    response=hs.SavingsOut,
    errors=(404,),
)
async def site_savings(call: Call[None, hs.SavingsQuery]) -> Any:
    """Energy and capacity-tariff cost and the month's peak, measured and for the uncontrolled
    baseline (each car at full power from its arrival); what is estimated is listed."""
    zone = ZoneInfo(call.settings.timezone)
    month = call.query.first_day() or _this_month(call.now, zone)
    result = await site_history.month_savings(
        UnitOfWork(call.sessions), call.path["site_id"], own_site(call), month, call.now, zone
    )
    s = result.savings
    capacity_saved = s.capacity_saved_eur
    return hs.SavingsOut(
        site_id=result.site_id,
        month=result.month,
        start=result.start,
        end=result.end,
        measured=hs.MonthCostOut.model_validate(s.measured, from_attributes=True),
        baseline=hs.MonthCostOut.model_validate(s.baseline, from_attributes=True),
        saved=hs.SavedOut(
            energy_eur=s.energy_saved_eur,
            capacity_eur=capacity_saved,
            total_eur=None if capacity_saved is None else s.energy_saved_eur + capacity_saved,
        ),
        sessions=result.sessions,
        full_power_kw=result.full_power_kw,
        slots=s.slots,
        unmeasured_slots=s.unmeasured_slots,
        unpriced_slots=s.unpriced_slots,
        estimated=list(result.estimated),
    )


def _this_month(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date().replace(day=1)
