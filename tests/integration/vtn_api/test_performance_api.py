"""The DR performance and settlement routes through the real VTN app on SQLite and PostgreSQL:
three homes' meters stored as the report writer stores them, a DR event one home opted out of,
program terms PUT by the operator; JSON in exactly the documented shape, CSV on request,
customers kept to their own site, bad parameters a 422 naming the parameter."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vtn_api_client import CheckedApi

from aggregator.records import EventInterval, EventRecord
from vtn.api.tokens import create_token
from vtn.db.uow import UnitOfWork

PROGRAM = "http://flexvpp.org/market/evening-dr"
PATH = quote(PROGRAM, safe="")
START = datetime(2026, 3, 10, 17, tzinfo=UTC)  # a Tuesday of a closed month
END = START + timedelta(hours=1)
STEP = timedelta(minutes=5)
DURING_KW = {"a": 0.5, "b": 1.5, "c": 2.0}  # against 2 kW before


def meter(ven_id: str, during_kw: float) -> list[dict[str, Any]]:
    """The meter's power and import counter every 5 minutes, 14:00-20:00 UTC."""
    rows, counter_wh, at = [], 0.0, START - timedelta(hours=3)
    while at < END + timedelta(hours=2):
        kw = during_kw if START <= at < END else 2.0
        for r_id, value in (("meter-1.power", kw * 1000), ("meter-1.energy_import", counter_wh)):
            rows.append(
                {"ven_id": ven_id, "report_request_id": "rr-usage", "report_name": "TELEMETRY_USAGE",
                 "r_id": r_id, "dtstart": at, "duration_seconds": 0, "value": value, "received_at": at}
            )  # fmt: skip
        counter_wh += kw * 1000 * (STEP / timedelta(hours=1))
        at += STEP
    return rows


@pytest.fixture
async def homes(api: CheckedApi, sessions: async_sessionmaker[AsyncSession], db_url: str) -> dict[str, str]:
    ven_ids = {}
    for name in DURING_KW:
        created = await api.post("/vens", json={"ven_name": f"home {name}", "site_id": f"site-{name}"})
        assert created.status == 201, created.json
        ven_ids[name] = created.json["ven_id"]
    event = EventRecord(
        "dr-1", 0, PROGRAM, "LOAD_DISPATCH", "delta", "s-1", (EventInterval(START, 3600, -1.0),),
        START, 3600, START - timedelta(hours=8), START - timedelta(hours=8),
    )  # fmt: skip
    async with UnitOfWork(sessions) as uow:
        for name, ven_id in ven_ids.items():
            await uow.reports.add_values(meter(ven_id, DURING_KW[name]))
        uow.events.add(event)
        await uow.events.set_targets("dr-1", sorted(ven_ids.values()))
        await uow.commit()
    async with UnitOfWork(sessions) as uow:
        await uow.events.record_response(ven_ids["c"], "dr-1", 0, "optOut", "200", START - timedelta(hours=7))
        await uow.commit()
    terms = {"reward_eur_per_kwh": 0.5, "penalty_eur_per_kwh": 0.2, "baseline_method": "meter_before"}
    put = await api.call("PUT", f"/programs/{PATH}/terms", json=terms)
    assert put.status == 200, put.json
    return {
        "own": await create_token(db_url, "customer", name="a", site_id="site-a"),
        "operator": api.token or "",
        **{f"ven-{k}": v for k, v in ven_ids.items()},
    }


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_an_events_performance_in_the_documented_shape(api: CheckedApi, homes: dict[str, str]) -> None:
    reply = await api.get("/events/dr-1/performance")  # the terms' method
    assert reply.status == 200, reply.json
    got = reply.json
    assert set(got) == {"event_id", "method", "intervals", "homes", "delivered_kwh", "participation"}
    assert {k for i in got["intervals"] for k in i} == {
        "start", "requested_kw", "baseline_kw", "measured_kw", "delivered_kwh"
    }  # fmt: skip
    assert {k for h in got["homes"] for k in h} == {
        "ven_id", "site_id", "opted_out", "baseline_kwh", "measured_kwh", "delivered_kwh"
    }  # fmt: skip
    assert got["method"] == "meter_before" and len(got["intervals"]) == 4
    assert got["delivered_kwh"] == pytest.approx(2.0)  # A 1.5 + B 0.5; C opted out
    assert got["participation"] == pytest.approx(2 / 3)
    for i in got["intervals"]:
        assert (i["requested_kw"], i["baseline_kw"], i["measured_kw"]) == pytest.approx((2.0, 4.0, 2.0))
        assert i["delivered_kwh"] == pytest.approx((i["baseline_kw"] - i["measured_kw"]) / 4)
    c = next(h for h in got["homes"] if h["site_id"] == "site-c")
    assert c["opted_out"] is True
    x = await api.get("/events/dr-1/performance?method=x_of_y")  # no history: no baseline, said so
    assert x.status == 200 and x.json["method"] == "x_of_y" and x.json["delivered_kwh"] is None

    table = await api.get("/events/dr-1/performance", headers={"Accept": "text/csv"})
    assert table.status == 200 and table.headers["Content-Type"].startswith("text/csv")
    lines = rows(table.json)
    assert [r["row"] for r in lines] == ["interval"] * 4 + ["home"] * 3 + ["total"]
    assert float(lines[-1]["delivered_kwh"]) == pytest.approx(2.0)


async def test_a_programs_month_and_its_settlement(api: CheckedApi, homes: dict[str, str]) -> None:
    month = await api.get(f"/programs/{PATH}/performance?month=2026-03")
    assert month.status == 200, month.json
    assert (month.json["delivered_kwh"], month.json["requested_kwh"], month.json["delivery_ratio"]) == (
        pytest.approx(2.0),
        pytest.approx(2.0),
        pytest.approx(1.0),
    )
    assert [e["event_id"] for e in month.json["events"]] == ["dr-1"]
    csv_month = await api.get(f"/programs/{PATH}/performance?month=2026-03", headers={"Accept": "text/csv"})
    assert [r["row"] for r in rows(csv_month.json)] == ["event", "total"]

    settled = await api.get("/settlement?month=2026-03")
    assert settled.status == 200, settled.json
    assert settled.json["closed"] is True
    by_site = {s["site_id"]: s for s in settled.json["statements"]}
    assert sorted(by_site) == ["site-a", "site-b"]  # C opted out
    assert by_site["site-a"]["total_eur"] == pytest.approx(0.75)
    assert (by_site["site-b"]["reward_eur"], by_site["site-b"]["penalty_eur"]) == pytest.approx((0.25, 0.1))
    # New terms after the month closed: its statements stand.
    await api.call("PUT", f"/programs/{PATH}/terms", json={"reward_eur_per_kwh": 9.0})
    again = await api.get("/settlement?month=2026-03")
    assert again.json == settled.json

    mine = await api.get("/sites/site-a/settlement?month=2026-03", token=homes["own"])
    assert [s["site_id"] for s in mine.json["statements"]] == ["site-a"]
    assert (await api.get("/sites/site-b/settlement?month=2026-03", token=homes["own"])).status == 404
    assert (await api.get("/settlement?month=2026-03", token=homes["own"])).status == 403
    table = await api.get("/sites/site-a/settlement?month=2026-03", headers={"Accept": "text/csv"})
    assert [r["row"] for r in rows(table.json)] == ["event", "statement"]
    assert float(rows(table.json)[1]["total_eur"]) == pytest.approx(0.75)


async def test_terms_and_accuracy(api: CheckedApi, homes: dict[str, str]) -> None:
    terms = await api.get(f"/programs/{PATH}/terms")
    assert terms.status == 200 and terms.json["baseline_method"] == "meter_before"
    assert (await api.get("/programs/nope/terms")).status == 404
    accuracy = await api.get("/sites/site-a/baselines/accuracy?days=3", token=homes["own"])
    assert accuracy.status == 200, accuracy.json
    assert [m["method"] for m in accuracy.json["methods"]] == ["x_of_y", "meter_before"]


async def test_bad_parameters_are_422_naming_them(api: CheckedApi, homes: dict[str, str]) -> None:
    for path, name in (
        ("/events/dr-1/performance?method=guess", "method"),
        ("/settlement?month=2026-13", "month"),
        (f"/programs/{PATH}/performance?month=March", "month"),
        ("/sites/site-a/baselines/accuracy?days=0", "days"),
    ):
        reply = await api.get(path)
        assert reply.status == 422, (path, reply.json)
        assert name in str(reply.json["errors"]), reply.json
    bad = await api.call("PUT", f"/programs/{PATH}/terms", json={"reward_eur_per_kwh": -1})
    assert bad.status == 422 and "reward_eur_per_kwh" in str(bad.json["errors"])
    assert (await api.get("/events/nope/performance")).status == 404
