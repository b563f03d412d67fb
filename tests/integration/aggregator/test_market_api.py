"""The closed loop's REST side on SQLite and PostgreSQL: market inputs, runs, schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vtn.api.tokens import create_token
from vtn.app import create_app
from vtn.settings import VtnSettings

API = "/api/v1"
START = datetime(2026, 3, 10, tzinfo=UTC)


@pytest.fixture
async def client(aiohttp_client: Any, db_url: str) -> Any:
    settings = VtnSettings(db_url=db_url, portfolio_loop=False)
    return await aiohttp_client(create_app(settings))


async def _headers(db_url: str, role: str, site: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {await create_token(db_url, role, name='t', site_id=site)}"}


def _prices(n: int = 96) -> dict[str, Any]:
    return {
        "start": START.isoformat(),
        "resolution_minutes": 15,
        "import_eur_per_kwh": [0.2 + 0.1 * (t >= 68 and t < 84) for t in range(n)],
        "export_eur_per_kwh": [0.05] * n,
        "capacity_eur_per_kw_month": 3.37,
    }


async def test_prices_round_trip_for_market_and_operator(client: Any, db_url: str) -> None:
    market = await _headers(db_url, "market")
    async with client.put(f"{API}/prices", json=_prices(), headers=market) as reply:
        assert reply.status == 200, await reply.text()
        body = await reply.json()
    assert datetime.fromisoformat(body["end"]) == START + timedelta(days=1)
    async with client.get(f"{API}/prices", headers=await _headers(db_url, "operator")) as reply:
        assert reply.status == 200
        assert (await reply.json())["import_eur_per_kwh"][70] == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("path", "method", "body", "field"),
    [
        ("/prices", "PUT", {**_prices(), "export_eur_per_kwh": [0.1] * 3}, "export_eur_per_kwh"),
        ("/prices", "PUT", {**_prices(), "start": "2026-03-10T00:00:00"}, "start"),
        ("/prices", "PUT", {**_prices(), "resolution_minutes": 0}, "resolution_minutes"),
        ("/prices", "PUT", {**_prices(), "import_eur_per_kwh": []}, "import_eur_per_kwh"),
        (
            "/portfolio/requests",
            "POST",
            {
                "kind": "cap",
                "start": START.isoformat(),
                "end": START.isoformat(),
                "power_kw": 5,
                "reason": "x",
            },
            "end",
        ),
        (
            "/portfolio/requests",
            "POST",
            {
                "kind": "ceiling",
                "start": START.isoformat(),
                "end": "2026-03-11T00:00:00+00:00",
                "power_kw": 5,
                "reason": "x",
            },
            "kind",
        ),
        (
            "/imbalance",
            "PUT",
            {"start": START.isoformat(), "imbalance_eur_per_kwh": [0.1, 0.2], "nominated_net_kw": [1.0]},
            "nominated_net_kw",
        ),
    ],
)
async def test_invalid_input_is_422_naming_the_field(
    client: Any, db_url: str, path: str, method: str, body: dict[str, Any], field: str
) -> None:
    async with client.request(
        method, f"{API}{path}", json=body, headers=await _headers(db_url, "market")
    ) as r:
        assert r.status == 422
        assert field in await r.text()


async def test_customer_may_not_send_market_inputs(client: Any, db_url: str) -> None:
    customer = await _headers(db_url, "customer", site="home-1")
    async with client.put(f"{API}/prices", json=_prices(), headers=customer) as reply:
        assert reply.status == 403


async def test_dr_request_is_stored_and_listed(client: Any, db_url: str) -> None:
    market = await _headers(db_url, "market")
    request = {
        "kind": "cap",
        "start": (START + timedelta(hours=17)).isoformat(),
        "end": (START + timedelta(hours=21)).isoformat(),
        "power_kw": 40.0,
        "reason": "DSO congestion",
    }
    async with client.post(f"{API}/portfolio/requests", json=request, headers=market) as reply:
        assert reply.status == 201, await reply.text()
        made = await reply.json()
    async with client.get(f"{API}/portfolio/requests", headers=market) as reply:
        listed = await reply.json()
    assert [r["request_id"] for r in listed] == [made["request_id"]]
    assert listed[0]["power_kw"] == 40.0 and listed[0]["reason"] == "DSO congestion"


async def test_a_run_without_prices_is_recorded_as_an_error(client: Any, db_url: str) -> None:
    market = await _headers(db_url, "market")
    async with client.post(f"{API}/portfolio/plan", headers=market) as reply:
        assert reply.status == 200
        run = await reply.json()
    assert run["status"] == "error" and "prices" in run["message"]
    async with client.get(f"{API}/portfolio/runs/{run['run_id']}", headers=market) as reply:
        detail = await reply.json()
    assert detail["trigger"] == "on demand" and detail["plan"] is None
    async with client.get(f"{API}/portfolio/plan", headers=market) as reply:
        assert reply.status == 404  # no run has planned anything yet
