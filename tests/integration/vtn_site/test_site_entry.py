"""The VTN side of the home's flexibility: what a VEN reports over OpenADR comes back from
`GET /vens/{id}/site` as the same, valid plan-format site entry; status; errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from site_messages import (
    SiteVtn,
    flex_values,
    metadata,
    provision_and_register,
    register_reports,
    update_report,
)

from aggregator.site import NoFlexibilityYet, get_site_entry
from flexmodel.flexreport import REPORT_NAME, site_to_points
from flexmodel.scenario import Site
from ven.agent.openadr_mapping import FLEX_SPECIFIER, STATUS_SPECIFIER
from vtn.api.tokens import create_token
from vtn.db.uow import UnitOfWork

STEP = timedelta(minutes=15)
SLOTS = 96
STATUS = {
    "evse-1.online": "evse-1",
    "evse-1.plugged_in": "evse-1",
    "evse-1.soc": "evse-1",
    "evse-1.manual_override": "evse-1",
    "battery-1.online": "battery-1",
    "battery-1.soc": "battery-1",
}


def grid_start(now: datetime) -> datetime:
    return now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)


def entry(site_id: str, start: datetime, *, with_evs: bool = True, base_shift: float = 0.0) -> dict[str, Any]:
    """A full plan-format site entry; values are deliberately not round numbers."""
    site: dict[str, Any] = {
        "site_id": site_id,
        "import_limit_kw": 9.2,
        "export_limit_kw": 6.0,
        "month_peak_kw": 3.137,
        "min_billed_peak_kw": 2.5,
        "base_load_kw": [round(0.3 + 0.01 * (t % 13) + base_shift, 6) / 3 for t in range(SLOTS)],
        "pv": {
            "forecast_kw": [max(0.0, 4.1 - abs(t - 48) * 0.11) for t in range(SLOTS)],
            "curtailable": True,
        },
        "battery": {
            "capacity_kwh": 10.0,
            "soc_kwh": 4.25,
            "min_soc_kwh": 1.0,
            "max_charge_kw": 5.0,
            "max_discharge_kw": 4.6,
            "charge_efficiency": 0.95,
            "discharge_efficiency": 0.93,
            "final_soc_min_kwh": 5.0,
        },
    }
    if with_evs:
        site["evs"] = [
            {  # plugged in before the grid starts
                "ev_id": "evse-1",
                "arrival": (start - timedelta(minutes=40)).isoformat(),
                "departure": (start + timedelta(hours=7, minutes=5)).astimezone().isoformat(),
                "energy_needed_kwh": 21.7,
                "max_power_kw": 11.0,
                "efficiency": 0.92,
                "mode": "smart",
            },
            {
                "ev_id": "evse-2",
                "arrival": (start + timedelta(hours=2)).isoformat(),
                "departure": (start + timedelta(hours=9)).isoformat(),
                "energy_needed_kwh": 8.0,
                "max_power_kw": 7.4,
                "efficiency": 1.0,
                "mode": "solar",
            },
        ]
    return site


def same_site(got: dict[str, Any], sent: dict[str, Any]) -> None:
    assert Site.model_validate(got) == Site.model_validate(sent)


async def reporting_ven(vtn: SiteVtn, name: str, start: datetime) -> tuple[str, dict[str, str]]:
    ven_id = await provision_and_register(vtn, name, f"site-{name}")
    points = site_to_points(entry(f"site-{name}", start), start, STEP)
    requests = await register_reports(vtn, ven_id, metadata(points, STATUS))
    assert set(requests) == {FLEX_SPECIFIER, STATUS_SPECIFIER}, "the VTN requests the flexibility report"
    return ven_id, requests


async def send_flex(
    vtn: SiteVtn, ven_id: str, request_id: str, site: dict[str, Any], start: datetime
) -> None:
    values = flex_values(site_to_points(site, start, STEP))
    assert await update_report(vtn, ven_id, request_id, FLEX_SPECIFIER, REPORT_NAME, values) == 200


async def test_reported_flexibility_comes_back_as_the_same_site_entry(vtn: SiteVtn) -> None:
    now = datetime.now(UTC)
    start = grid_start(now)
    ven_id, requests = await reporting_ven(vtn, "flex-1", start)
    sent = entry("site-flex-1", start)
    await send_flex(vtn, ven_id, requests[FLEX_SPECIFIER], sent, start)

    same_site(await get_site_entry(UnitOfWork(vtn.sessions), ven_id, start), sent)

    reply = await vtn.api.call("GET", f"/vens/{ven_id}/site")
    assert reply.status == 200, reply.json
    body = reply.json
    assert body["ven_id"] == ven_id and body["site_id"] == "site-flex-1"
    assert body["resolution_minutes"] == 15
    # the entry starts at the current slot (the test may straddle a slot boundary)
    skipped = int((datetime.fromisoformat(body["start"]) - start) / STEP)
    assert skipped in (0, 1) and body["horizon_slots"] == SLOTS - skipped
    expected = {**sent, "base_load_kw": sent["base_load_kw"][skipped:]}
    expected["pv"] = {**sent["pv"], "forecast_kw": sent["pv"]["forecast_kw"][skipped:]}
    same_site(body["site"], expected)


async def test_the_latest_snapshot_replaces_the_previous_one(vtn: SiteVtn) -> None:
    start = grid_start(datetime.now(UTC))
    ven_id, requests = await reporting_ven(vtn, "flex-2", start)
    await send_flex(vtn, ven_id, requests[FLEX_SPECIFIER], entry("site-flex-2", start), start)
    # same slots, new values, and the cars have left: nothing of the first snapshot remains
    second = entry("site-flex-2", start, with_evs=False, base_shift=0.5)
    await send_flex(vtn, ven_id, requests[FLEX_SPECIFIER], second, start)
    got = await get_site_entry(UnitOfWork(vtn.sessions), ven_id, start)
    same_site(got, second)
    assert "evs" not in got
    # a re-sent snapshot changes nothing
    await send_flex(vtn, ven_id, requests[FLEX_SPECIFIER], second, start)
    same_site(await get_site_entry(UnitOfWork(vtn.sessions), ven_id, start), second)


async def test_status_shows_the_newest_values_per_device(vtn: SiteVtn) -> None:
    start = grid_start(datetime.now(UTC))
    ven_id, requests = await reporting_ven(vtn, "flex-3", start)
    early, late = start, start + timedelta(minutes=1)
    first = [
        ("evse-1.online", early, None, 1.0),
        ("evse-1.plugged_in", early, None, 0.0),
        ("evse-1.soc", early, None, -1.0),
        ("battery-1.soc", early, None, 40.0),
    ]
    second = [
        ("evse-1.online", late, None, 1.0),
        ("evse-1.plugged_in", late, None, 1.0),
        ("evse-1.soc", late, None, 63.5),
        ("evse-1.manual_override", late, None, 1.0),
    ]
    for values in (second, first):  # out of order on purpose: the newest by time wins
        code = await update_report(
            vtn, ven_id, requests[STATUS_SPECIFIER], STATUS_SPECIFIER, "TELEMETRY_STATUS", values
        )
        assert code == 200
    reply = await vtn.api.call("GET", f"/vens/{ven_id}/status")
    assert reply.status == 200, reply.json
    devices = {d["device_id"]: d for d in reply.json["devices"]}
    assert devices["evse-1"]["online"] is True and devices["evse-1"]["plugged_in"] is True
    assert devices["evse-1"]["soc_percent"] == 63.5 and devices["evse-1"]["manual_override"] is True
    assert devices["battery-1"]["soc_percent"] == 40.0 and devices["battery-1"]["online"] is None
    assert datetime.fromisoformat(reply.json["updated_at"]) == late
    # the values also stay in the time series
    telemetry = await vtn.api.call("GET", f"/vens/{ven_id}/telemetry")
    assert len([p for p in telemetry.json if p["report_name"] == "TELEMETRY_STATUS"]) == 8
    # two days on, only the charger still reports: the battery drops out of the status
    code = await update_report(
        vtn,
        ven_id,
        requests[STATUS_SPECIFIER],
        STATUS_SPECIFIER,
        "TELEMETRY_STATUS",
        [("evse-1.online", late + timedelta(days=2), None, 0.0)],
    )
    assert code == 200
    later = (await vtn.api.call("GET", f"/vens/{ven_id}/status")).json
    assert [(d["device_id"], d["online"], d["plugged_in"]) for d in later["devices"]] == [
        ("evse-1", False, None)
    ]


async def test_errors_name_what_is_missing(vtn: SiteVtn) -> None:
    start = grid_start(datetime.now(UTC))
    for path in ("site", "status"):
        missing = await vtn.api.call("GET", f"/vens/no-such-ven/{path}")
        assert missing.status == 404 and "no-such-ven" in missing.json["message"]
    ven_id, requests = await reporting_ven(vtn, "flex-4", start)
    nothing = await vtn.api.call("GET", f"/vens/{ven_id}/site")
    assert nothing.status == 409 and REPORT_NAME in nothing.json["message"]
    assert (await vtn.api.call("GET", f"/vens/{ven_id}/status")).status == 409
    # a snapshot without the site's import limit cannot make a site entry: 409 naming the rID
    points = [p for p in site_to_points(entry("x", start), start, STEP) if p.r_id != "site.import_limit_kw"]
    code = await update_report(
        vtn, ven_id, requests[FLEX_SPECIFIER], FLEX_SPECIFIER, REPORT_NAME, flex_values(points)
    )
    assert code == 200
    broken = await vtn.api.call("GET", f"/vens/{ven_id}/site")
    assert broken.status == 409 and "site.import_limit_kw" in broken.json["message"]
    # a snapshot whose slots are all past is not current
    await send_flex(vtn, ven_id, requests[FLEX_SPECIFIER], entry("x", start), start)
    with pytest.raises(NoFlexibilityYet, match="past"):
        await get_site_entry(UnitOfWork(vtn.sessions), ven_id, start + SLOTS * STEP)
    # an invalid entry (SoC below its minimum) is refused with the field named
    bad = entry("x", start)
    bad["battery"] = {**bad["battery"], "min_soc_kwh": 5.0}
    await send_flex(vtn, ven_id, requests[FLEX_SPECIFIER], bad, start)
    invalid = await vtn.api.call("GET", f"/vens/{ven_id}/site")
    assert invalid.status == 409 and "soc_kwh" in invalid.json["message"], invalid.json


async def test_customers_see_only_their_own_site(vtn: SiteVtn) -> None:
    start = grid_start(datetime.now(UTC))
    ven_id, requests = await reporting_ven(vtn, "flex-5", start)
    await send_flex(vtn, ven_id, requests[FLEX_SPECIFIER], entry("site-flex-5", start), start)
    own = await create_token(vtn.db_url, "customer", name="owner", site_id="site-flex-5")
    other = await create_token(vtn.db_url, "customer", name="neighbour", site_id="site-elsewhere")
    market = await create_token(vtn.db_url, "market", name="market")
    assert (await vtn.api.call("GET", f"/vens/{ven_id}/site", token=own)).status == 200
    hidden = await vtn.api.call("GET", f"/vens/{ven_id}/site", token=other)
    assert hidden.status == 404, "another site's VEN looks like no VEN at all"
    assert (await vtn.api.call("GET", f"/vens/{ven_id}/status", token=other)).status == 404
    assert (await vtn.api.call("GET", f"/vens/{ven_id}/site", token=market)).status == 403
    assert (await vtn.api.call("GET", f"/vens/{ven_id}/site", token=None)).status == 401


async def test_openapi_describes_the_site_routes(vtn: SiteVtn) -> None:
    doc = (await vtn.api.call("GET", "/openapi.json")).json
    for path in ("/vens/{ven_id}/site", "/vens/{ven_id}/status"):
        operation = doc["paths"][path]["get"]
        assert {"200", "401", "403", "404", "409"} <= set(operation["responses"])
        assert operation["x-roles"] == ["customer", "operator"]
    assert "Site" in str(doc["components"]["schemas"]["SiteOut"])
