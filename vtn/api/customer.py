"""The household app's routes: its site, preferences, start/stop and schedule (docs/customer-api.md).

A `customer` token reaches only its own site (another is 404, as one that does not exist); an
`operator` token every site. A change of preferences or a start/stop asks the portfolio loop for
a re-plan: the new schedule reaches the charger at the VEN's next poll after that run.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aggregator import preferences as prefs
from aggregator.site_views import site_schedule, site_view
from vtn.api import customer_schemas as cs
from vtn.api.endpoints import OPERATOR, Call
from vtn.api.routes import CUSTOMER, ROUTES, own_site
from vtn.db.uow import UnitOfWork
from vtn.portfolio.loop import PORTFOLIO

HOUSEHOLD = OPERATOR | CUSTOMER


async def _replan(call: Call[Any, Any], why: str) -> None:
    loop = call.request.config_dict.get(PORTFOLIO)
    if loop is not None:
        await loop.request_replan(f"{why} ({call.path['site_id']})")


@ROUTES.route(
    "GET", "/sites/{site_id}", summary="The site, its VEN and devices", roles=HOUSEHOLD,
    response=cs.SiteViewOut, errors=(404,),
)  # fmt: skip
async def get_site(call: Call[None, None]) -> Any:
    """The devices' newest status and measured power from the VEN's telemetry."""
    return await site_view(UnitOfWork(call.sessions), call.path["site_id"], own_site(call), call.poll_cache)


@ROUTES.route(
    "GET", "/sites/{site_id}/preferences", summary="The household's preferences", roles=HOUSEHOLD,
    response=cs.PreferencesOut, errors=(404,),
)  # fmt: skip
async def get_preferences(call: Call[None, None]) -> Any:
    return await prefs.get_preferences(
        UnitOfWork(call.sessions), call.path["site_id"], own_site(call), call.now
    )


@ROUTES.route(
    "PUT", "/sites/{site_id}/preferences", summary="Set the household's preferences", roles=HOUSEHOLD,
    body=cs.PreferencesIn, response=cs.PreferencesSavedOut, errors=(404,),
)  # fmt: skip
async def put_preferences(call: Call[cs.PreferencesIn, None]) -> Any:
    """Replaces the whole set and re-plans; the next schedule dispatched to the home follows it."""
    body = call.body
    change = prefs.PreferencesChange(
        charge_mode=body.charge_mode,
        ev_target_kwh=body.ev_target_kwh,
        departure_local=body.departure_local,
        departure_by_weekday=body.departure_by_weekday,
        solar_min_kwh=body.solar_min_kwh,
        battery_reserve_percent=body.battery_reserve_percent,
        max_peak_kw=body.max_peak_kw,
        notify_url=None if body.notify_url is None else str(body.notify_url),
    )
    saved = await prefs.put_preferences(
        UnitOfWork(call.sessions), call.path["site_id"], own_site(call), change, call.now
    )
    await _replan(call, "preferences changed")
    return cs.PreferencesSavedOut(**asdict(saved.preferences), webhook_secret=saved.webhook_secret)


@ROUTES.route(
    "POST", "/sites/{site_id}/charging", summary="Start or stop charging now", roles=HOUSEHOLD,
    body=cs.ChargingIn, response=cs.PreferencesOut, status=202, errors=(404,),
)  # fmt: skip
async def post_charging(call: Call[cs.ChargingIn, None]) -> Any:
    """start: full power until the target (or a stop); stop: no charging until start or the car
    leaves. Accepted now, it reaches the charger with the re-plan at the VEN's next poll."""
    stored = await prefs.set_charging(
        UnitOfWork(call.sessions), call.path["site_id"], own_site(call), call.body.action, call.now
    )
    await _replan(call, f"charging {call.body.action.value}")
    return stored


@ROUTES.route(
    "GET", "/sites/{site_id}/schedule", summary="The planned 15-minute slots ahead", roles=HOUSEHOLD,
    response=cs.ScheduleOut, errors=(404, 409),
)  # fmt: skip
async def get_schedule(call: Call[None, None]) -> Any:
    """From the latest planning run; 409 until a run has planned the site."""
    return await site_schedule(UnitOfWork(call.sessions), call.path["site_id"], own_site(call), call.now)
