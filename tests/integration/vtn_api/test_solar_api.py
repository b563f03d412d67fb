"""The solar forecast's routes on the real app (vtn/api/solar.py, SQLite): the PV array and the
irradiance forecast stored over REST give a pvlib forecast, the home's report a home one, and
bad input a 422 naming its field. Authorization across sites: test_customer_api.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vtn_api_client import API, CheckedApi

from flexmodel.flexreport import REPORT_NAME as FLEX_REPORT_NAME
from flexmodel.flexreport import site_to_points
from vtn.api.tokens import create_token
from vtn.app import CLOCK, create_app
from vtn.db.uow import UnitOfWork
from vtn.settings import VtnSettings

pytestmark = pytest.mark.db_backends(
    "sqlite"
)  # the subject is the routes; the repository: tests/integration/db

NOW = datetime(2025, 6, 21, 9, 50, tzinfo=UTC)  # in the slot 09:45-10:00, a June morning
SLOT_START = datetime(2025, 6, 21, 9, 45, tzinfo=UTC)
ARRAY = {"latitude": 50.85, "longitude": 4.35, "peak_power_kw": 5.0, "tilt_deg": 35, "azimuth_deg": 180}
IRRADIANCE = {
    "latitude": 50.9, "longitude": 4.4, "start": "2025-06-21T00:00:00+00:00", "resolution_minutes": 60,
    "ghi_w_per_m2": [0, 0, 0, 5, 60, 170, 300, 430, 550, 650, 720, 760, 770, 740, 680, 590, 480, 350,
                     220, 100, 25, 0, 0, 0] * 2,
    "temp_air_c": [15.0] * 48,
}  # fmt: skip


@pytest.fixture
async def api(aiohttp_client: Any, settings: VtnSettings, operator_token: str) -> CheckedApi:
    """The app on a fixed clock (NOW): the forecast's slots depend on it."""
    app = create_app(settings)
    app[CLOCK] = lambda: NOW
    client = await aiohttp_client(app)
    async with client.get(f"{API}/openapi.json") as resp:
        doc = await resp.json()
    checked = CheckedApi(client, doc, operator_token)
    for n in (1, 2):
        reply = await checked.post("/vens", json={"ven_name": f"home-{n}", "site_id": f"site-{n}"})
        assert reply.status == 201, reply.json
    return checked


async def _home_reports(
    sessions: async_sessionmaker[AsyncSession], api: CheckedApi, pv_kw: list[float]
) -> None:
    """Store site-1's flexibility snapshot as the OpenADR side would (tests/integration/vtn_site)."""
    ven_id = next(v["ven_id"] for v in (await api.get("/vens")).json if v["site_id"] == "site-1")
    site = {
        "site_id": "site-1", "import_limit_kw": 9.2, "export_limit_kw": 6.0,
        "base_load_kw": [0.3] * len(pv_kw), "pv": {"forecast_kw": pv_kw, "curtailable": True},
    }  # fmt: skip
    rows = [
        {"ven_id": ven_id, "report_request_id": "flex", "report_name": FLEX_REPORT_NAME, "r_id": p.r_id,
         "dtstart": i.start, "duration_seconds": int(i.duration.total_seconds()), "value": i.value,
         "received_at": NOW - timedelta(minutes=5)}
        for p in site_to_points(site, SLOT_START, timedelta(minutes=15))
        for i in p.intervals
    ]  # fmt: skip
    async with UnitOfWork(sessions) as uow:
        await uow.reports.replace_values(ven_id, FLEX_REPORT_NAME, rows)
        await uow.commit()


async def test_the_arrays_pvlib_forecast_for_the_next_36_hours(api: CheckedApi, db_url: str) -> None:
    mine = await create_token(db_url, "customer", site_id="site-1")
    market = await create_token(db_url, "market")
    assert (await api.call("PUT", "/weather/irradiance", token=mine, json=IRRADIANCE)).status == 403
    stored = await api.call("PUT", "/weather/irradiance", token=market, json=IRRADIANCE)
    assert stored.status == 200, stored.json
    assert stored.json["end"] == "2025-06-23T00:00:00Z"
    put = await api.call("PUT", "/sites/site-1/pv", token=mine, json=ARRAY)
    assert put.status == 200, put.json
    assert put.json["losses_percent"] == 14.0

    got = (await api.get("/sites/site-1/forecast/solar", token=mine)).json
    assert got["source"] == "pvlib"
    assert got["distance_km"] == pytest.approx(6.6, abs=0.5)
    assert len(got["slots"]) == 144
    assert got["slots"][0]["start"] == "2025-06-21T09:45:00Z"
    assert got["until"] == "2025-06-22T21:45:00Z"
    noonish = max(s["pv_kw"] for s in got["slots"][:20])
    assert 3.0 < noonish < 4.5  # 770 W/m² at noon on 5 kWp south-facing
    assert got["slots"][60]["pv_kw"] == 0.0  # 00:45 the next night


async def test_the_homes_forecast_without_an_array_and_on_request(
    api: CheckedApi, db_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    conflict = await api.get("/sites/site-1/forecast/solar")
    assert conflict.status == 409
    assert "no PV parameters" in conflict.json["message"] and "home:" in conflict.json["message"]
    await _home_reports(sessions, api, [0.5, 1.0, 1.5])
    got = (await api.get("/sites/site-1/forecast/solar")).json
    assert got["source"] == "home"
    assert got["until"] == "2025-06-21T10:30:00Z"
    assert [s["pv_kw"] for s in got["slots"]] == [0.5, 1.0, 1.5]
    # The array and a near forecast make pvlib the default; the home's stays on request.
    assert (await api.call("PUT", "/weather/irradiance", json=IRRADIANCE)).status == 200
    assert (await api.call("PUT", "/sites/site-1/pv", json=ARRAY)).status == 200
    assert (await api.get("/sites/site-1/forecast/solar")).json["source"] == "pvlib"
    assert (await api.get("/sites/site-1/forecast/solar?source=home")).json["source"] == "home"
    far = await api.get("/sites/site-2/forecast/solar?source=pvlib")
    assert far.status == 409 and "no PV parameters" in far.json["message"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/sites/site-1/pv", {**ARRAY, "latitude": 91}, "latitude"),
        ("/sites/site-1/pv", {**ARRAY, "peak_power_kw": 0}, "peak_power_kw"),
        ("/sites/site-1/pv", {**ARRAY, "tilt_deg": 95}, "tilt_deg"),
        ("/sites/site-1/pv", {**ARRAY, "azimuth_deg": 360}, "azimuth_deg"),
        ("/sites/site-1/pv", {**ARRAY, "losses_percent": 100}, "losses_percent"),
        ("/sites/site-1/pv", {k: v for k, v in ARRAY.items() if k != "tilt_deg"}, "tilt_deg"),
        ("/weather/irradiance", {**IRRADIANCE, "ghi_w_per_m2": [100, -1]}, "ghi_w_per_m2[1]"),
        ("/weather/irradiance", {**IRRADIANCE, "temp_air_c": [15.0]}, "temp_air_c"),
        ("/weather/irradiance", {**IRRADIANCE, "resolution_minutes": 20}, "resolution_minutes"),
        ("/weather/irradiance", {**IRRADIANCE, "start": "2025-06-21T00:10:00+00:00"}, "start"),
        ("/weather/irradiance", {**IRRADIANCE, "longitude": 181}, "longitude"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(api: CheckedApi, path: str, body: Any, field: str) -> None:
    reply = await api.call("PUT", path, json=body)
    assert reply.status == 422, reply.json
    assert [e["field"] for e in reply.json["errors"]] == [field]


async def test_an_unknown_source_is_a_422(api: CheckedApi) -> None:
    reply = await api.get("/sites/site-1/forecast/solar?source=sky")
    assert reply.status == 422
    assert reply.json["errors"] == [{"field": "source", "reason": "Input should be 'home' or 'pvlib'"}]
