"""A household's preferences from its app, and the start/stop action: stored, then applied to the
home's site entry at every planning run (the VEN's own report stays as it was sent).

What each setting does to the site entry (plan-format.md):
- `charge_mode` sets every EV's `mode`; `off` asks for no energy (the EV stays in the entry,
  with `energy_needed_kwh` 0, so the schedule holds the charger at zero);
- `ev_target_kwh` is the energy the car should get in its session: what the charger drew so far
  in the session (from its telemetry, aggregator.site_history) times the EV's efficiency counts
  as delivered; where that is unknown, the agent's remaining need stands;
- `departure_local` (per weekday where `departure_by_weekday` names the day) is the next such
  local time after now, in the site's time zone;
- `battery_reserve_percent` raises the battery's `min_soc_kwh` (never above its present charge,
  which the planner could not reach back in time);
- `max_peak_kw` bounds the site's import where the house's own load leaves room for it;
- the charging action: `stop` = no charging, `start` = `boost` until the target, both for the
  session the car is in when the household acts; a car that arrives later is planned by the
  preferences again (`charging_action_applies`).
"""

from __future__ import annotations

import copy
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aggregator.errors import InvalidInput
from aggregator.notification_records import NotificationKind
from aggregator.notifications import check_url, enqueue_many, put_webhook
from aggregator.records import PreferencesRecord
from aggregator.sites import site_ven
from aggregator.uow import UnitOfWork


class ChargeMode(enum.StrEnum):
    SMART = "smart"  # the cheapest plan to the target by departure
    SOLAR = "solar"  # from PV surplus only
    BOOST = "boost"  # full power from now until the target
    OFF = "off"  # no charging


class ChargingAction(enum.StrEnum):
    START = "start"
    STOP = "stop"


class Weekday(enum.StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAYS = tuple(Weekday)  # in datetime.weekday() order
HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True, slots=True)
class PreferencesChange:
    """What `PUT /sites/{site_id}/preferences` asks for: the whole set (absent = not set)."""

    charge_mode: ChargeMode = ChargeMode.SMART
    ev_target_kwh: float | None = None
    departure_local: str | None = None
    departure_by_weekday: Mapping[Weekday, str] | None = None
    solar_min_kwh: float | None = None
    battery_reserve_percent: float | None = None
    max_peak_kw: float | None = None
    notify_url: str | None = None


def default_preferences(site_id: str, now: datetime) -> PreferencesRecord:
    """A site whose household set nothing: the smart plan, everything else as the VEN reports."""
    return PreferencesRecord(site_id=site_id, charge_mode=ChargeMode.SMART.value, updated_at=now)


def _check(change: PreferencesChange) -> None:
    """InvalidInput naming the field; the REST edge checks types and ranges, this the meaning."""
    times = {"departure_local": change.departure_local} | {
        f"departure_by_weekday.{day}": value for day, value in (change.departure_by_weekday or {}).items()
    }
    for name, value in times.items():
        if value is not None and not HH_MM.match(value):
            raise InvalidInput(name, f"{value!r} is not a time HH:MM")
    if change.departure_by_weekday and change.departure_local is None:
        missing = [d.value for d in WEEKDAYS if d not in change.departure_by_weekday]
        if missing:
            raise InvalidInput(
                "departure_local",
                f"needed for the days departure_by_weekday leaves out: {', '.join(missing)}",
            )
    target, solar_min = change.ev_target_kwh, change.solar_min_kwh
    if target is not None and solar_min is not None and solar_min > target:
        raise InvalidInput("solar_min_kwh", "above ev_target_kwh")


async def get_preferences(
    uow: UnitOfWork, site_id: str, own_site: str | None, now: datetime
) -> PreferencesRecord:
    """The site's preferences (the defaults if none were set), `notify_url` its webhook's (set here
    or with PUT /webhook); NotFound as aggregator.sites says."""
    async with uow:
        await site_ven(uow, site_id, own_site)
        stored = await uow.preferences.get(site_id) or default_preferences(site_id, now)
        hook = await uow.webhooks.get(site_id)
    return replace(stored, notify_url=None if hook is None else hook.url)


@dataclass(frozen=True, slots=True)
class PreferencesSaved:
    preferences: PreferencesRecord
    webhook_secret: str | None = None  # set when `notify_url` created the site's webhook: shown once


async def put_preferences(
    uow: UnitOfWork, site_id: str, own_site: str | None, change: PreferencesChange, now: datetime
) -> PreferencesSaved:
    """Store the whole set (the charging action stays as it is) and, in the same transaction, the
    site's webhook: `notify_url` sets it (a new one's secret is returned, shown once), no
    `notify_url` removes it. The caller asks for a re-plan."""
    _check(change)
    url = None
    if change.notify_url is not None:
        try:
            url = check_url(change.notify_url)
        except InvalidInput as exc:
            raise InvalidInput("notify_url", exc.reason) from exc
    async with uow:
        await site_ven(uow, site_id, own_site)
        stored = await uow.preferences.get(site_id) or default_preferences(site_id, now)
        weekdays = change.departure_by_weekday or {}
        updated = replace(
            stored,
            charge_mode=change.charge_mode.value,
            ev_target_kwh=change.ev_target_kwh,
            departure_local=change.departure_local,
            departure_by_weekday={d.value: weekdays[d] for d in WEEKDAYS if d in weekdays}
            if weekdays
            else None,
            solar_min_kwh=change.solar_min_kwh,
            battery_reserve_percent=change.battery_reserve_percent,
            max_peak_kw=change.max_peak_kw,
            notify_url=url,
            updated_at=now,
        )
        await uow.preferences.put(updated)
        secret = None
        if url is not None:
            secret = await put_webhook(uow, site_id, url, now)
        elif stored.notify_url is not None:  # set here before: cleared here (PUT /webhook's stays)
            await uow.webhooks.remove(site_id)
        await uow.commit()
    return PreferencesSaved(updated, secret)


async def set_charging(
    uow: UnitOfWork, site_id: str, own_site: str | None, action: ChargingAction, now: datetime
) -> PreferencesRecord:
    """Start (boost to the target) or stop charging the car that is there now. The caller asks
    for a re-plan; the new schedule reaches the charger at the VEN's next poll."""
    async with uow:
        await site_ven(uow, site_id, own_site)
        stored = await uow.preferences.get(site_id) or default_preferences(site_id, now)
        updated = replace(stored, charging_action=action.value, charging_action_at=now, updated_at=now)
        await uow.preferences.put(updated)
        started = action is ChargingAction.START
        kind = NotificationKind.CHARGING_STARTED if started else NotificationKind.CHARGING_STOPPED
        await enqueue_many(uow, [(site_id, kind, {"action": action.value, "by": "household"})], now)
        await uow.commit()
    return updated


# ---- applied to the site entry ------------------------------------------------------------------


def charging_action_applies(preferences: PreferencesRecord, ev: Mapping[str, Any]) -> bool:
    """The action holds for the session the car was in when the household acted: the EV's
    arrival (the agent reports it, or the grid's start for a car plugged in before) is not after
    the action. A car that arrived later is a new session."""
    if preferences.charging_action is None or preferences.charging_action_at is None:
        return False
    return datetime.fromisoformat(str(ev["arrival"])) <= preferences.charging_action_at


def next_departure(preferences: PreferencesRecord, after: datetime, zone: ZoneInfo) -> datetime | None:
    """The first departure time the household set that is later than `after` (None: none set)."""
    by_day = preferences.departure_by_weekday or {}
    if preferences.departure_local is None and not by_day:
        return None
    local = after.astimezone(zone)
    for days_ahead in range(8):
        day = local.date() + timedelta(days=days_ahead)
        text = by_day.get(WEEKDAYS[day.weekday()].value, preferences.departure_local)
        if text is None:
            continue
        hour, minute = (int(part) for part in text.split(":"))
        moment = datetime.combine(day, time(hour, minute), zone)
        if moment > local:
            return moment.astimezone(after.tzinfo)
    return None


def _ev(
    ev: dict[str, Any],
    preferences: PreferencesRecord,
    now: datetime,
    zone: ZoneInfo,
    charged_kwh: float | None,
) -> None:
    if preferences.ev_target_kwh is not None and charged_kwh is not None:
        delivered_kwh = charged_kwh * float(ev.get("efficiency", 1.0))  # into the car
        ev["energy_needed_kwh"] = round(max(0.0, preferences.ev_target_kwh - delivered_kwh), 4)
    departure = next_departure(preferences, max(now, datetime.fromisoformat(str(ev["arrival"]))), zone)
    if departure is not None:
        ev["departure"] = departure.isoformat()
    mode = ChargeMode(preferences.charge_mode)
    if charging_action_applies(preferences, ev):
        mode = ChargeMode.BOOST if preferences.charging_action == ChargingAction.START else ChargeMode.OFF
    if mode is ChargeMode.OFF:
        ev["energy_needed_kwh"] = 0.0
        ev["mode"] = ChargeMode.SMART.value
    else:
        ev["mode"] = mode.value


def apply_preferences(
    site: Mapping[str, Any],
    preferences: PreferencesRecord,
    now: datetime,
    zone: ZoneInfo,
    charged_kwh: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The site entry as the household wants it planned (a new dict; `site` is not changed).
    `charged_kwh`: what each EV's charger (by ev_id) drew in the session so far, where known."""
    out = copy.deepcopy(dict(site))
    for ev in out.get("evs") or []:
        _ev(ev, preferences, now, zone, (charged_kwh or {}).get(str(ev["ev_id"])))
    battery = out.get("battery")
    if battery is not None and preferences.battery_reserve_percent is not None:
        reserve_kwh = battery["capacity_kwh"] * preferences.battery_reserve_percent / 100.0
        floor_kwh = min(reserve_kwh, battery["soc_kwh"])
        battery["min_soc_kwh"] = max(battery.get("min_soc_kwh") or 0.0, floor_kwh)
        if battery.get("final_soc_min_kwh") is not None:
            battery["final_soc_min_kwh"] = max(battery["final_soc_min_kwh"], battery["min_soc_kwh"])
    if preferences.max_peak_kw is not None:
        # The house's own load (net of PV) is not ours to cut: the bound never goes below it.
        pv = (out.get("pv") or {}).get("forecast_kw") or [0.0] * len(out["base_load_kw"])
        own_kw = max((b - p for b, p in zip(out["base_load_kw"], pv, strict=False)), default=0.0)
        out["import_limit_kw"] = min(out["import_limit_kw"], max(preferences.max_peak_kw, own_kw))
    return out
