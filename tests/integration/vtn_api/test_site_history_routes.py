"""GET /sites/{site_id}/sessions and /savings through the real VTN app on SQLite and PostgreSQL:
the telemetry stored as the report writer stores it, prices PUT by the market, customers kept
to their own site, bad parameters a 422 naming the parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vtn_api_client import CheckedApi

from vtn.api.tokens import create_token
from vtn.db.uow import UnitOfWork

DAY = datetime(2026, 3, 4, tzinfo=UTC)  # a past month, in Brussels (the VTN's default zone) too
STEP = timedelta(minutes=5)
ARRIVAL, DEPARTURE = DAY + timedelta(hours=18), DAY + timedelta(hours=23)


def _charger_kw(at: datetime) -> float:
    return 7.0 if DAY + timedelta(hours=19) <= at < DAY + timedelta(hours=20) else 0.0


def telemetry(ven_id: str) -> list[dict[str, Any]]:
    """A day of 5-minute samples: the charger's power, counter and plug state; the meter's."""
    rows: list[dict[str, Any]] = []

    def add(report: str, r_id: str, at: datetime, value: float) -> None:
        rows.append(
            {"ven_id": ven_id, "report_request_id": f"rr-{report}", "report_name": report, "r_id": r_id,
             "dtstart": at, "duration_seconds": 0, "value": value, "received_at": at}
        )  # fmt: skip

    counters = {"evse-1": 0.0, "meter-1": 0.0}
    at = DAY
    while at < DAY + timedelta(days=1):
        power = {"evse-1": _charger_kw(at), "meter-1": 0.5 + _charger_kw(at)}
        for device, kw in power.items():
            add("TELEMETRY_USAGE", f"{device}.power", at, kw * 1000)
            add("TELEMETRY_USAGE", f"{device}.energy_import", at, counters[device])
            counters[device] += kw * 1000 * (STEP / timedelta(hours=1))
        add("TELEMETRY_STATUS", "evse-1.plugged_in", at, 1.0 if ARRIVAL <= at < DEPARTURE else 0.0)
        at += STEP
    return rows


@pytest.fixture
async def home(api: CheckedApi, sessions: async_sessionmaker[AsyncSession], db_url: str) -> dict[str, str]:
    """A VEN of site-1 with a day of telemetry, the day's prices, and three tokens."""
    created = await api.post("/vens", json={"ven_name": "home 1", "site_id": "site-1"})
    assert created.status == 201, created.json
    ven_id = created.json["ven_id"]
    async with UnitOfWork(sessions) as uow:
        await uow.reports.add_values(telemetry(ven_id))
        await uow.commit()
    prices = {
        "start": DAY.isoformat(),
        "resolution_minutes": 60,
        "import_eur_per_kwh": [0.30] * 24,
        "capacity_eur_per_kw_month": 4.0,
    }
    assert (await api.call("PUT", "/prices", json=prices)).status == 200
    return {
        "own": await create_token(db_url, "customer", name="owner", site_id="site-1"),
        "other": await create_token(db_url, "customer", name="neighbour", site_id="site-2"),
        "operator": api.token or "",
    }


async def test_the_sites_customer_and_the_operator_read_its_sessions_and_savings(
    api: CheckedApi, home: dict[str, str]
) -> None:
    for token in (home["own"], home["operator"]):
        reply = await api.get(
            "/sites/site-1/sessions?from=2026-03-04T00:00:00Z&to=2026-03-05T00:00:00Z", token=token
        )
        assert reply.status == 200, reply.json
        [session] = reply.json["sessions"]
        assert (session["start"], session["end"]) == ("2026-03-04T18:00:00Z", "2026-03-04T23:00:00Z")
        assert session["energy_kwh"] == pytest.approx(7.0)
        assert session["cost_eur"] == pytest.approx(7.0 * 0.30)
        assert (session["mode"], session["target_kwh"], session["boundary"]) == (None, None, "plugged_in")

        savings = await api.get("/sites/site-1/savings?month=2026-03", token=token)
        assert savings.status == 200, savings.json
        body = savings.json
        assert (body["month"], body["sessions"]) == ("2026-03", 1)
        assert body["measured"]["peak_kw"] == pytest.approx(7.5)
        assert body["measured"]["capacity_eur"] == pytest.approx(4.0 * 7.5)
        assert body["full_power_kw"] == pytest.approx(7.0)  # measured, so estimated
        assert "full_power_kw" in body["estimated"] and "baseline" in body["estimated"]
        # The car charged at full power an hour after arriving, at the same price: nothing saved.
        assert body["saved"]["energy_eur"] == pytest.approx(0.0, abs=1e-9)


async def test_another_customers_site_is_404_like_a_missing_one(
    api: CheckedApi, home: dict[str, str]
) -> None:
    for path in ("/sites/site-1/sessions", "/sites/site-1/savings?month=2026-03"):
        hidden = await api.get(path, token=home["other"])
        missing = await api.get(path.replace("site-1", "site-9"), token=home["operator"])
        assert hidden.status == missing.status == 404
        assert hidden.json["message"] == "site 'site-1' not found"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/savings?month=2025-13", "month"),
        ("/savings?month=march", "month"),
        ("/savings?month=2099-01", "month"),  # not begun
        ("/sessions?from=2026-03-05T00:00:00Z&to=2026-03-04T00:00:00Z", "to"),
        ("/sessions?from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z", "to"),  # over 92 days
        ("/sessions?from=yesterday", "from"),
        ("/sessions?since=2026-03-01T00:00:00Z", "since"),
    ],
)
async def test_bad_parameters_are_422_naming_the_parameter(
    api: CheckedApi, home: dict[str, str], query: str, field: str
) -> None:
    reply = await api.get(f"/sites/site-1{query}", token=home["own"])
    assert reply.status == 422, reply.json
    assert [e["field"] for e in reply.json["errors"]] == [field]


async def test_garbled_parameters_never_break_the_server(api: CheckedApi, home: dict[str, str]) -> None:
    texts = [
        "", " ", "\x00", "x" * 5000, "2030-01-01T00:00:00", "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00:00+00:00", "2030-02-30T00:00:00Z", "0000-00", "2026-00", "99999-01", "2026-3",
        "1999-12", "2026-03-04T00:00:00+14:00",
    ]  # fmt: skip
    for text in texts:
        for path, name in (("sessions", "from"), ("sessions", "to"), ("savings", "month")):
            reply = await api.get(f"/sites/site-1/{path}", params={name: text}, token=home["own"])
            assert reply.status in (200, 422), (path, name, text, reply.json)
