"""The household app's routes on the real app (vtn/api/customer.py and the other /sites routes):
a customer token reaches its own site only, bad input names its field, a change re-plans."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from vtn_api_client import CheckedApi

from vtn.api.routes import ROUTES
from vtn.api.tokens import create_token

pytestmark = pytest.mark.db_backends("sqlite")  # the subject is authorization and validation

SITE_ROUTES = [e for e in ROUTES.endpoints if e.path.startswith("/sites/{site_id}")]
BODIES: dict[str, dict[str, Any]] = {
    "/sites/{site_id}/preferences": {"charge_mode": "boost"},
    "/sites/{site_id}/charging": {"action": "stop"},
    "/sites/{site_id}/webhook": {"url": "https://app.example/hooks"},
    "/sites/{site_id}/pv": {
        "latitude": 50.85,
        "longitude": 4.35,
        "peak_power_kw": 5.0,
        "tilt_deg": 35,
        "azimuth_deg": 180,
    },
}


@pytest.fixture
async def two_sites(api: CheckedApi) -> None:
    """Two sites, each with a VEN and a webhook (so that every /sites route has something)."""
    for n in (1, 2):
        reply = await api.post("/vens", json={"ven_name": f"home-{n}", "site_id": f"site-{n}"})
        assert reply.status == 201, reply.json
        hook = await api.call("PUT", f"/sites/site-{n}/webhook", json={"url": f"https://app.example/{n}"})
        assert hook.status == 201, hook.json


def _concrete(path: str, site_id: str) -> str:
    return path.replace("{site_id}", site_id).replace("{", "").replace("}", "")


def test_the_household_routes_are_served() -> None:
    paths = {(e.method, e.path) for e in SITE_ROUTES}
    assert {
        ("GET", "/sites/{site_id}"),
        ("GET", "/sites/{site_id}/preferences"),
        ("PUT", "/sites/{site_id}/preferences"),
        ("POST", "/sites/{site_id}/charging"),
        ("GET", "/sites/{site_id}/schedule"),
    } <= paths


@pytest.mark.parametrize("endpoint", SITE_ROUTES, ids=lambda e: f"{e.method} {e.path}")
async def test_a_customer_never_reaches_another_site_and_an_operator_reaches_every_one(
    api: CheckedApi, db_url: str, two_sites: None, endpoint: Any
) -> None:
    mine = await create_token(db_url, "customer", site_id="site-1")
    body = BODIES.get(endpoint.path) if endpoint.method in ("PUT", "POST") else None
    for site_id in ("site-2", "no-such-site"):
        reply = await api.call(endpoint.method, _concrete(endpoint.path, site_id), token=mine, json=body)
        assert reply.status == 404, (site_id, reply.json)
    own = await api.call(endpoint.method, _concrete(endpoint.path, "site-1"), token=mine, json=body)
    other = await api.call(endpoint.method, _concrete(endpoint.path, "site-2"), json=body)  # operator
    # 409: the schedule before any run planned the site; 422 a query a route requires
    answered = (200, 201, 202, 204, 409, 422)
    assert own.status in answered and other.status in answered, (own.json, other.json)
    assert own.status == other.status


async def test_preferences_round_trip_and_a_change_re_plans(
    api: CheckedApi, db_url: str, two_sites: None
) -> None:
    mine = await create_token(db_url, "customer", site_id="site-1")
    assert (await api.call("DELETE", "/sites/site-1/webhook", token=mine)).status == 204
    assert (await api.get("/sites/site-1/preferences", token=mine)).json["charge_mode"] == "smart"
    wanted = {
        "charge_mode": "solar", "ev_target_kwh": 30.0, "departure_local": "07:30",
        "departure_by_weekday": {"sat": "10:00"}, "solar_min_kwh": 5.0, "battery_reserve_percent": 20.0,
        "max_peak_kw": 4.5, "notify_url": "https://app.example/hooks/site-1",
    }  # fmt: skip
    put = await api.call("PUT", "/sites/site-1/preferences", token=mine, json=wanted)
    assert put.status == 200, put.json
    assert put.json["webhook_secret"]  # notify_url set the site's webhook: its secret, shown once
    again = await api.call("PUT", "/sites/site-1/preferences", token=mine, json=wanted)
    assert again.json["webhook_secret"] is None
    got = (await api.get("/sites/site-1/preferences", token=mine)).json
    assert {k: got[k] for k in wanted} == wanted
    stop = await api.post("/sites/site-1/charging", token=mine, json={"action": "stop"})
    assert (
        stop.status == 202 and stop.json["charging_action"] == "stop" and stop.json["charge_mode"] == "solar"
    )
    # Each change asked the portfolio loop for a run (it records an error: no prices yet).
    for _ in range(100):
        triggers = [r["trigger"] for r in (await api.get("/portfolio/runs")).json]
        if any("charging stop (site-1)" in t for t in triggers):
            break
        await asyncio.sleep(0.05)
    assert any("preferences changed (site-1)" in t for t in triggers), triggers
    assert any("charging stop (site-1)" in t for t in triggers), triggers


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"charge_mode": "turbo"}, "charge_mode"),
        ({"departure_local": "7:30"}, "departure_local"),
        ({"departure_by_weekday": {"someday": "07:00"}, "departure_local": "07:00"}, "departure_by_weekday"),
        ({"departure_by_weekday": {"mon": "07:00"}}, "departure_local"),
        ({"ev_target_kwh": -1}, "ev_target_kwh"),
        ({"ev_target_kwh": 10, "solar_min_kwh": 12}, "solar_min_kwh"),
        ({"battery_reserve_percent": 101}, "battery_reserve_percent"),
        ({"max_peak_kw": 0}, "max_peak_kw"),
        ({"notify_url": "ftp://example.org/x"}, "notify_url"),
        ({"colour": "green"}, "colour"),
    ],
)
async def test_bad_preferences_are_422_naming_the_field(
    api: CheckedApi, two_sites: None, body: dict[str, Any], field: str
) -> None:
    reply = await api.call("PUT", "/sites/site-1/preferences", json=body)
    assert reply.status == 422, reply.json
    assert field in str(reply.json), reply.json
    assert (await api.get("/sites/site-1/preferences")).json["charge_mode"] == "smart"  # nothing stored


async def test_a_bad_charging_action_is_422(api: CheckedApi, two_sites: None) -> None:
    reply = await api.post("/sites/site-1/charging", json={"action": "pause"})
    assert reply.status == 422 and "action" in str(reply.json)
