"""A household's preferences (aggregator/preferences.py): stored per site, seen only by its own
customer, and applied to the home's site entry at each planning run."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeUnitOfWork
from home_telemetry import device_rows, registration
from samples import REGISTERED_VEN, T0
from test_loop_store import flexibility

from aggregator.errors import InvalidInput, NotFound
from aggregator.loop_store import load_inputs
from aggregator.preferences import (
    ChargeMode,
    ChargingAction,
    PreferencesChange,
    Weekday,
    apply_preferences,
    default_preferences,
    get_preferences,
    next_departure,
    put_preferences,
    set_charging,
)
from aggregator.records import PreferencesRecord, ReportValueRecord
from flexmodel.flexreport import REPORT_NAME as FLEX_REPORT_NAME
from flexmodel.flexreport import site_to_points

BRUSSELS = ZoneInfo("Europe/Brussels")
NOW = datetime(2030, 1, 7, 17, 0, tzinfo=UTC)  # a Monday, 18:00 in Brussels
PLUGGED = datetime(2030, 1, 7, 16, 0, tzinfo=UTC)


def site(**extra: Any) -> dict[str, Any]:
    return {
        "site_id": "site-1",
        "import_limit_kw": 9.2,
        "export_limit_kw": 6.0,
        "base_load_kw": [0.5, 3.0, 0.5, 0.5],
        "evs": [
            {
                "ev_id": "evse-1",
                "arrival": PLUGGED.isoformat(),
                "departure": (NOW + timedelta(hours=14)).isoformat(),
                "energy_needed_kwh": 20.0,
                "max_power_kw": 11.0,
                "mode": "smart",
            }
        ],
        **extra,
    }


def flexibility_of(ven_id: str, entry: dict[str, Any]) -> list[ReportValueRecord]:
    """The stored values of a flexibility report of `entry` on the 15-minute grid from T0."""
    return [
        ReportValueRecord(
            ven_id, "flex", FLEX_REPORT_NAME, p.r_id, i.start, int(i.duration.total_seconds()), i.value, T0
        )
        for p in site_to_points(entry, T0, timedelta(minutes=15))
        for i in p.intervals
    ]


def prefs(**fields: Any) -> PreferencesRecord:
    return replace(default_preferences("site-1", NOW), **fields)


def the_ev(entry: dict[str, Any]) -> dict[str, Any]:
    return dict(entry["evs"][0])


# ---- applied to the site entry ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["smart", "solar", "boost"])
def test_the_charge_mode_becomes_the_evs_mode(mode: str) -> None:
    ev = the_ev(apply_preferences(site(), prefs(charge_mode=mode), NOW, BRUSSELS))
    assert (ev["mode"], ev["energy_needed_kwh"]) == (mode, 20.0)


def test_off_asks_for_no_energy_and_keeps_the_ev_so_the_charger_is_held_at_zero() -> None:
    ev = the_ev(apply_preferences(site(), prefs(charge_mode="off"), NOW, BRUSSELS))
    assert ev["energy_needed_kwh"] == 0.0 and ev["ev_id"] == "evse-1"


def test_the_site_entry_the_vtn_stores_is_not_changed() -> None:
    original = site()
    apply_preferences(original, prefs(charge_mode="off", max_peak_kw=4.0), NOW, BRUSSELS)
    assert original == site()


def test_stop_holds_for_the_car_that_is_there_and_start_boosts_it() -> None:
    stopped = prefs(charging_action="stop", charging_action_at=NOW)
    assert the_ev(apply_preferences(site(), stopped, NOW, BRUSSELS))["energy_needed_kwh"] == 0.0
    started = prefs(charge_mode="solar", charging_action="start", charging_action_at=NOW)
    assert the_ev(apply_preferences(site(), started, NOW, BRUSSELS))["mode"] == "boost"


def test_a_car_that_arrives_after_a_stop_is_a_new_session_planned_by_the_preferences() -> None:
    stopped = prefs(charging_action="stop", charging_action_at=PLUGGED - timedelta(days=1))
    ev = the_ev(apply_preferences(site(), stopped, NOW, BRUSSELS))
    assert (ev["mode"], ev["energy_needed_kwh"]) == ("smart", 20.0)


def test_the_target_counts_what_the_car_got_already_when_that_is_known() -> None:
    target = prefs(ev_target_kwh=30.0)
    assert (
        the_ev(apply_preferences(site(), target, NOW, BRUSSELS, {"evse-1": 12.5}))["energy_needed_kwh"]
        == 17.5
    )
    assert (
        the_ev(apply_preferences(site(), target, NOW, BRUSSELS, {"evse-1": 31.0}))["energy_needed_kwh"] == 0.0
    )
    # unknown: the agent's own remaining need stands
    assert the_ev(apply_preferences(site(), target, NOW, BRUSSELS))["energy_needed_kwh"] == 20.0


def test_the_departure_is_the_next_local_time_and_may_differ_by_weekday() -> None:
    every_day = prefs(departure_local="07:30")
    ev = the_ev(apply_preferences(site(), every_day, NOW, BRUSSELS))
    assert ev["departure"] == datetime(2030, 1, 8, 6, 30, tzinfo=UTC).isoformat()  # Tue 07:30 CET
    by_day = prefs(departure_local="07:30", departure_by_weekday={"tue": "09:00"})
    assert next_departure(by_day, NOW, BRUSSELS) == datetime(2030, 1, 8, 8, 0, tzinfo=UTC)
    only_saturdays = prefs(departure_by_weekday={"sat": "10:00"})
    assert next_departure(only_saturdays, NOW, BRUSSELS) == datetime(2030, 1, 12, 9, 0, tzinfo=UTC)
    summer = datetime(2030, 7, 1, 17, 0, tzinfo=UTC)  # CEST: 07:30 is 05:30 UTC
    assert next_departure(every_day, summer, BRUSSELS) == datetime(2030, 7, 2, 5, 30, tzinfo=UTC)
    assert next_departure(prefs(), NOW, BRUSSELS) is None


def test_the_battery_reserve_raises_the_floor_but_never_above_the_present_charge() -> None:
    battery = {"capacity_kwh": 10.0, "soc_kwh": 6.0, "min_soc_kwh": 1.0, "max_charge_kw": 5.0,
               "max_discharge_kw": 5.0}  # fmt: skip
    out = apply_preferences(site(battery=battery), prefs(battery_reserve_percent=40), NOW, BRUSSELS)
    assert out["battery"]["min_soc_kwh"] == 4.0
    out = apply_preferences(site(battery=battery), prefs(battery_reserve_percent=80), NOW, BRUSSELS)
    assert out["battery"]["min_soc_kwh"] == 6.0


def test_max_peak_bounds_the_import_but_not_below_the_houses_own_load() -> None:
    assert apply_preferences(site(), prefs(max_peak_kw=5.0), NOW, BRUSSELS)["import_limit_kw"] == 5.0
    assert apply_preferences(site(), prefs(max_peak_kw=2.0), NOW, BRUSSELS)["import_limit_kw"] == 3.0


# ---- the use cases ----------------------------------------------------------------------------------


async def test_preferences_are_stored_per_site_and_the_defaults_stand_before() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN])
    assert (await get_preferences(uow, "site-1", "site-1", T0)).charge_mode == "smart"
    change = PreferencesChange(
        charge_mode=ChargeMode.SOLAR, ev_target_kwh=30.0, departure_local="07:00",
        departure_by_weekday={Weekday.SAT: "10:00"}, solar_min_kwh=5.0, max_peak_kw=4.0,
    )  # fmt: skip
    stored = (await put_preferences(uow, "site-1", "site-1", change, T0)).preferences
    assert uow.committed
    again = await get_preferences(uow, "site-1", None, T0 + timedelta(hours=1))
    assert again == stored and again.departure_by_weekday == {"sat": "10:00"} and again.updated_at == T0


async def test_another_customers_site_cannot_be_read_or_changed() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN])
    with pytest.raises(NotFound):
        await get_preferences(uow, "site-1", "site-2", T0)
    with pytest.raises(NotFound):
        await put_preferences(uow, "site-1", "site-2", PreferencesChange(), T0)
    with pytest.raises(NotFound):
        await set_charging(uow, "site-1", "site-2", ChargingAction.STOP, T0)
    assert not uow.committed


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (PreferencesChange(departure_local="7:30"), "departure_local"),
        (PreferencesChange(departure_by_weekday={Weekday.MON: "24:00"}), "departure_by_weekday.mon"),
        (PreferencesChange(departure_by_weekday={Weekday.MON: "07:00"}), "departure_local"),
        (PreferencesChange(ev_target_kwh=10.0, solar_min_kwh=12.0), "solar_min_kwh"),
    ],
)
async def test_a_meaningless_change_names_its_field(change: PreferencesChange, field: str) -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN])
    with pytest.raises(InvalidInput) as raised:
        await put_preferences(uow, "site-1", None, change, T0)
    assert raised.value.field == field and not uow.committed


async def test_start_and_stop_are_stored_with_their_time_and_keep_the_preferences() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN])
    await put_preferences(uow, "site-1", None, PreferencesChange(charge_mode=ChargeMode.SOLAR), T0)
    stopped = await set_charging(uow, "site-1", "site-1", ChargingAction.STOP, T0 + timedelta(minutes=5))
    assert (stopped.charge_mode, stopped.charging_action) == ("solar", "stop")
    assert stopped.charging_action_at == T0 + timedelta(minutes=5)
    # a later change of preferences does not undo the stop
    changed = await put_preferences(uow, "site-1", None, PreferencesChange(), T0 + timedelta(minutes=9))
    assert changed.preferences.charging_action == "stop"


async def test_notify_url_sets_the_sites_webhook_whose_secret_is_shown_once() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN])
    first = await put_preferences(
        uow, "site-1", "site-1", PreferencesChange(notify_url=" https://a.example/h "), T0
    )
    assert first.webhook_secret and first.preferences.notify_url == "https://a.example/h"
    assert uow.stored.webhooks["site-1"].secret == first.webhook_secret
    moved = await put_preferences(
        uow, "site-1", "site-1", PreferencesChange(notify_url="https://b.example/h"), T0
    )
    assert moved.webhook_secret is None  # the same webhook, the same secret
    assert (await get_preferences(uow, "site-1", "site-1", T0)).notify_url == "https://b.example/h"
    cleared = await put_preferences(uow, "site-1", "site-1", PreferencesChange(), T0)
    assert cleared.webhook_secret is None and "site-1" not in uow.stored.webhooks
    with pytest.raises(InvalidInput) as raised:
        await put_preferences(uow, "site-1", None, PreferencesChange(notify_url="ftp://x.example"), T0)
    assert raised.value.field == "notify_url"


async def test_start_and_stop_notify_the_household_when_it_has_a_webhook() -> None:
    uow = FakeUnitOfWork(vens=[REGISTERED_VEN])
    await set_charging(uow, "site-1", None, ChargingAction.STOP, T0)
    assert not uow.stored.notifications  # nobody listens yet
    await put_preferences(uow, "site-1", None, PreferencesChange(notify_url="https://a.example/h"), T0)
    await set_charging(uow, "site-1", None, ChargingAction.START, T0 + timedelta(minutes=1))
    await set_charging(uow, "site-1", None, ChargingAction.STOP, T0 + timedelta(minutes=2))
    sent = sorted(uow.stored.notifications.values(), key=lambda n: n.created_at)
    assert [(n.kind.value, n.site_id) for n in sent] == [
        ("charging_started", "site-1"),
        ("charging_stopped", "site-1"),
    ]


async def test_a_planning_run_reads_each_home_as_its_household_wants_it() -> None:
    other = replace(REGISTERED_VEN, ven_id="ven-2", ven_name="home 2", site_id="site-2", registration_id="r2")
    off = replace(default_preferences("site-1", T0), charge_mode="off", max_peak_kw=0.1)
    uow = FakeUnitOfWork(
        vens=[REGISTERED_VEN, other],
        report_values=[*flexibility("ven-1", "site-1"), *flexibility("ven-2", "site-2")],
        preferences=[off],
    )
    homes = {h.site_id: h for h in (await load_inputs(uow, T0, {}, BRUSSELS)).homes}
    assert homes["site-1"].site is not None and homes["site-2"].site is not None
    assert homes["site-1"].site["import_limit_kw"] == 0.3  # its own load (0.3 kW) is the least bound
    assert homes["site-2"].site["import_limit_kw"] == 9.2  # no preferences: as reported


def test_what_the_car_got_counts_after_the_chargers_efficiency() -> None:
    lossy = site()
    lossy["evs"][0]["efficiency"] = 0.9
    ev = the_ev(apply_preferences(lossy, prefs(ev_target_kwh=30.0), NOW, BRUSSELS, {"evse-1": 10.0}))
    assert ev["energy_needed_kwh"] == pytest.approx(21.0)  # 30 - 10 kWh drawn * 0.9


async def test_a_planning_run_counts_what_the_charger_drew_this_session_against_the_target() -> None:
    """The car plugged in at T0 - 2 h and drew 7 kW for one hour (7 kWh): 30 kWh wanted, 23 to go."""
    plugged_at = T0 - timedelta(hours=2)
    rows = device_rows(
        "ven-1", "evse-1", T0 - timedelta(hours=3), T0 + timedelta(minutes=1), timedelta(minutes=5),
        lambda at: 7.0 if plugged_at <= at < plugged_at + timedelta(hours=1) else 0.0,
        plugged=lambda at: at >= plugged_at,
    )  # fmt: skip
    entry = {**site(), "base_load_kw": [0.5] * 8}
    entry["evs"][0]["arrival"] = (T0 - timedelta(minutes=30)).isoformat()  # the agent's: the grid's start
    entry["evs"][0]["departure"] = (T0 + timedelta(hours=10)).isoformat()
    flex = flexibility_of("ven-1", entry)
    uow = FakeUnitOfWork(
        vens=[REGISTERED_VEN],
        report_values=[*rows, *flex],
        report_registrations=registration("ven-1", {"evse-1": True}, T0 - timedelta(days=1)),
        preferences=[replace(default_preferences("site-1", T0), ev_target_kwh=30.0)],
    )
    (home,) = (await load_inputs(uow, T0, {}, BRUSSELS)).homes
    assert home.site is not None
    assert home.site["evs"][0]["energy_needed_kwh"] == pytest.approx(23.0)
