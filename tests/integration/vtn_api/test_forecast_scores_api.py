"""GET /sites/{site_id}/forecast/scores through the real VTN app (SQLite; the use case's own
test is tests/unit/aggregator/test_forecast_scores.py): the meter's telemetry as the report
writer stores it, the answer checked against the served OpenAPI document, customers kept to
their own site, a bad `days` a 422 naming it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vtn_api_client import API, CheckedApi

from vtn.api.tokens import create_token
from vtn.app import CLOCK, create_app
from vtn.db.uow import UnitOfWork
from vtn.settings import VtnSettings

pytestmark = pytest.mark.db_backends("sqlite")

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
NOW = datetime(2026, 3, 18, 9, tzinfo=UTC)  # Wednesday: the 16th and 17th scored
STEP = timedelta(minutes=15)


def _house_kw(at: datetime) -> float:
    """0.4 kW; 2 kW 18:00-20:00 UTC, and 3 kW on even days of the month."""
    evening = 18 <= at.hour < 20
    return (3.0 if at.day % 2 == 0 else 2.0) if evening else 0.4


def meter_rows(ven_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    imported_wh, at = 0.0, START
    while at < NOW:
        for r_id, value in (("meter-1.power", _house_kw(at) * 1000), ("meter-1.energy_import", imported_wh)):
            rows.append(
                {"ven_id": ven_id, "report_request_id": "rr-usage", "report_name": "TELEMETRY_USAGE",
                 "r_id": r_id, "dtstart": at, "duration_seconds": 0, "value": value, "received_at": at}
            )  # fmt: skip
        imported_wh += _house_kw(at) * 1000 * (STEP / timedelta(hours=1))
        at += STEP
    return rows


@pytest.fixture
async def api(
    aiohttp_client: Any,
    settings: VtnSettings,
    operator_token: str,
    sessions: async_sessionmaker[AsyncSession],
) -> CheckedApi:
    app = create_app(settings)
    app[CLOCK] = lambda: NOW
    client = await aiohttp_client(app)
    async with client.get(f"{API}/openapi.json") as resp:
        checked = CheckedApi(client, await resp.json(), operator_token)
    created = await checked.post("/vens", json={"ven_name": "home 1", "site_id": "site-1"})
    assert created.status == 201, created.json
    async with UnitOfWork(sessions) as uow:
        await uow.reports.add_values(meter_rows(created.json["ven_id"]))
        await uow.commit()
    return checked


async def test_the_sites_forecast_scores(api: CheckedApi, db_url: str) -> None:
    own = await create_token(db_url, "customer", name="owner", site_id="site-1")
    other = await create_token(db_url, "customer", name="neighbour", site_id="site-2")
    for token in (own, api.token):
        reply = await api.get("/sites/site-1/forecast/scores?days=2", token=token)
        assert reply.status == 200, reply.json
        body = reply.json
        assert (body["first_day"], body["last_day"], body["issue_hour_local"]) == (
            "2026-03-16",
            "2026-03-17",
            12,
        )
        base = body["base_load"]
        assert base["reason"] is None and base["days"] == 2 and len(base["bands"]) == 4
        # The evenings alternate 2 and 3 kW: persistence is 1 kW off for 2 h a day, the
        # profile (between the two) about half that, less its smoothing of the edges.
        assert base["overall"]["skill_mae"] > 0.2
        assert body["pv"]["reason"] == "no PV inverter in the site's telemetry (a device that exports)"
        assert body["pv_calibration"] is None
    assert (await api.get("/sites/site-1/forecast/scores", token=other)).status == 404
    bad = await api.get("/sites/site-1/forecast/scores?days=0")
    assert bad.status == 422 and bad.json["errors"][0]["field"] == "days", bad.json
