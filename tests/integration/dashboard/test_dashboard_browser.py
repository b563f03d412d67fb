"""The operator's dashboard in headless chromium (Playwright): log in with an operator token, every
page renders the seeded fleet and its plots hold data, the overview refreshes itself, an event is
created and cancelled from the form (and the REST API sees both); a page without a session goes
to the login form, a customer token cannot log in, a POST without the CSRF token is refused, and
a revoked token ends its session."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dashboard_rig import Fleet, Vtn, log_in

from vtn.api.tokens import create_token, revoke_token

pytestmark = [pytest.mark.db_backends("sqlite"), pytest.mark.slow]  # the subject is the web UI


async def plot_points(page: Any, plot_id: str) -> int:
    """The values the page's script handed uPlot (0 when the plot was not drawn), once its canvas exists."""
    await page.wait_for_selector(f"#{plot_id} canvas")
    return int(await page.get_attribute(f"#{plot_id}", "data-points") or 0)


async def measured(page: Any, plot_id: str) -> int:
    """The plot's measured quarter-hours (the JSON the page drew it from)."""
    data = json.loads(await page.inner_text(f"#{plot_id}-data"))
    return sum(1 for v in data["measured"] if v is not None)


async def test_every_page_renders_the_fleet_and_an_event_is_created_and_cancelled(
    page: Any, vtn: Vtn, fleet: Fleet
) -> None:
    await log_in(page, vtn)
    await page.wait_for_url(f"{vtn.base_url}/dashboard/")
    # overview: both VENs, one online (it polled), the measured portfolio and the plan in the plot
    await page.wait_for_selector("#ven-rows tr >> nth=1")
    rows = await page.locator("#ven-rows tr").all_inner_texts()
    assert any(f"ven-{fleet.home.site_id}" in r and "online" in r for r in rows), rows
    assert any(f"idle-{fleet.home.site_id}" in r and "offline" in r for r in rows), rows
    assert await page.inner_text("#vens-online") == "1"
    assert await plot_points(page, "portfolio-plot") > 10
    # (the last quarter-hour's tile may be blank if a quarter-hour just ended: the plot's data holds
    # the 90 minutes the agent reported, five whole quarter-hours at least)
    assert await measured(page, "portfolio-plot") >= 5
    assert fleet.run_id[:8] in await page.inner_text("#run-rows")
    assert fleet.event_id in await page.inner_text("#event-rows")
    # it refreshes itself from overview.json, without reloading
    # (the page's CSP forbids eval, so Playwright's wait_for_function cannot watch it: the body's
    # data-refreshes attribute, set by the script after each refresh, is awaited instead)
    await page.wait_for_selector("body[data-refreshes]", timeout=15_000)
    assert await plot_points(page, "portfolio-plot") > 10

    # the VEN's page: telemetry plot with measured and scheduled values, site entry, opts, notifications
    await page.click(f"text=ven-{fleet.home.site_id}")
    await page.wait_for_selector("#ven-id")
    assert await page.inner_text("#ven-id") == fleet.home.ven_id
    assert await plot_points(page, "ven-plot") > 10
    assert await measured(page, "ven-plot") >= 5
    assert '"evs"' in await page.inner_text("#site-entry")
    assert fleet.run_id[:8] in await page.inner_text("#schedule")
    assert "avail-evse-1" in await page.inner_text("#ven-opts")
    assert fleet.event_id in await page.inner_text("#ven-events")
    assert "schedule_changed" in await page.inner_text("#ven-notifications")

    # planning runs: the run with its method, timings and violations; its own page with its plot
    await page.click("nav >> text=Planning runs")
    row = await page.inner_text("#run-rows")
    assert fleet.run_id[:8] in row and "highs" in row
    await page.click(f"text={fleet.run_id[:8]}")
    assert await page.inner_text("#run-id") == fleet.run_id
    assert await plot_points(page, "run-plot") > 10
    await page.wait_for_selector("#violations")

    # DR performance: the event under way, against the meter before it (the program's method)
    await page.click("nav >> text=DR performance")
    assert fleet.under_way_id in await page.inner_text("#performance-events")
    assert "meter_before" in await page.inner_text("#program-month")
    await page.click(f"text={fleet.under_way_id}")
    assert "meter_before" in await page.inner_text("#method")
    assert fleet.home.ven_id in await page.inner_text("#performance-homes")
    assert await plot_points(page, "performance-plot") > 0
    assert await measured(page, "performance-plot") >= 1
    data = json.loads(await page.inner_text("#performance-plot-data"))
    assert any(v is not None for v in data["baseline"]) and any(v is not None for v in data["requested"])

    # settlement: the month's statement of the home for that event
    await page.click("nav >> text=Settlement")
    statements = await page.inner_text("#settlement-statements")
    assert fleet.under_way_id in statements and fleet.home.site_id in statements
    assert "evening" in await page.inner_text("#settlement-programs")

    # events: create, modify and cancel one from the form (on the same fleet: seeding takes seconds)
    await page.click("nav >> text=Events")
    await create_modify_and_cancel_an_event(page, vtn, fleet)
    assert page.script_errors == []


async def create_modify_and_cancel_an_event(page: Any, vtn: Vtn, fleet: Fleet) -> None:
    start = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    await page.check(f"input[name=ven_ids][value='{fleet.idle_ven_id}']")
    await page.fill("input[name=start]", start.strftime("%Y-%m-%dT%H:%M"))
    await page.fill("input[name=interval_minutes]", "30")
    await page.fill("input[name=values]", "1, 2")
    await page.click("#event-form button[type=submit]")
    notice = await page.inner_text("#notice")
    event_id = re.fullmatch(r"event (\S+) created", notice)
    assert event_id, notice
    event = (await vtn.api.call("GET", f"/events/{event_id[1]}")).json
    assert event["ven_ids"] == [fleet.idle_ven_id] and event["status"] == "far"
    assert [(i["duration_seconds"], i["value"]) for i in event["intervals"]] == [(1800, 1.0), (1800, 2.0)]
    assert datetime.fromisoformat(event["intervals"][0]["start"]) == start

    # modify: the form comes back filled in; one more interval
    await page.click(f"tr[data-event-id='{event_id[1]}'] >> text=modify")
    assert await page.input_value("input[name=values]") == "1, 2"
    await page.fill("input[name=values]", "1, 2, 3")
    await page.click("#event-form button[type=submit]")
    assert "modified (modification 1)" in await page.inner_text("#notice")
    assert len((await vtn.api.call("GET", f"/events/{event_id[1]}")).json["intervals"]) == 3

    # bad input: the form names the field and keeps what was typed; nothing is stored
    await page.check(f"input[name=ven_ids][value='{fleet.idle_ven_id}']")
    await page.fill("input[name=values]", "1, lots")
    await page.click("#event-form button[type=submit]")
    assert "values" in await page.inner_text("#form-errors")
    assert await page.input_value("input[name=values]") == "1, lots"
    listed = (await vtn.api.call("GET", "/events")).json
    assert {e["event_id"] for e in listed if e["signal_name"] != "LOAD_DISPATCH"} == {
        event_id[1],
        fleet.event_id,
    }

    # cancel
    await page.goto(f"{vtn.base_url}/dashboard/events")
    await page.click(f"tr[data-event-id='{event_id[1]}'] >> button:has-text('cancel')")
    assert "cancelled" in await page.inner_text("#notice")
    assert (await vtn.api.call("GET", f"/events/{event_id[1]}")).json["status"] == "cancelled"
    assert await page.inner_text(f"tr[data-event-id='{event_id[1]}'] .status") == "cancelled"


async def test_only_a_live_operator_token_opens_a_session(page: Any, vtn: Vtn) -> None:
    # a page without a session goes to the login form, and after it where the operator was going
    await page.goto(f"{vtn.base_url}/dashboard/events")
    assert page.url.startswith(f"{vtn.base_url}/dashboard/login?next=/dashboard/events")
    await page.fill("input[name=token]", vtn.operator_token)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{vtn.base_url}/dashboard/events")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "fvp_dashboard")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert vtn.operator_token not in cookie["value"], "the cookie holds no token"

    # what a VEN is named is shown as text, never run as markup (server-rendered and refreshed)
    name = "<img src=x id=injected onerror=document.title='owned'>"
    await vtn.api.call("POST", "/vens", json={"ven_name": name, "site_id": "<b>site</b>"})
    await page.goto(f"{vtn.base_url}/dashboard/")
    assert name in await page.inner_text("#ven-rows")
    await page.wait_for_selector("body[data-refreshes]", timeout=15_000)
    assert name in await page.inner_text("#ven-rows")
    assert await page.locator("#injected").count() == 0 and await page.title() != "owned"
    await page.click("header button:has-text('Log out')")
    await page.goto(f"{vtn.base_url}/dashboard/")
    assert "/dashboard/login" in page.url

    # a customer or market token cannot log in
    for role in ("customer", "market"):
        token = await create_token(vtn.db_url, role, site_id="home-001" if role == "customer" else None)
        await log_in(page, vtn, token)
        assert f"A {role} token cannot open the dashboard" in await page.inner_text("#login-message")
        assert not [c for c in await page.context.cookies() if c["name"] == "fvp_dashboard"]
        await page.goto(f"{vtn.base_url}/dashboard/")
        assert "/dashboard/login" in page.url

    # a revoked token ends its session at the next page
    token = await create_token(vtn.db_url, "operator", name="leaving")
    await log_in(page, vtn, token)
    await page.wait_for_url(f"{vtn.base_url}/dashboard/")
    await revoke_token(vtn.sessions, token, datetime.now(UTC))
    await page.goto(f"{vtn.base_url}/dashboard/runs")
    assert "/dashboard/login" in page.url
    assert "token revoked" in await page.inner_text("#login-message")
    assert page.script_errors == []


async def test_a_post_without_the_csrf_token_is_refused(page: Any, vtn: Vtn) -> None:
    await log_in(page, vtn)
    await page.wait_for_url(f"{vtn.base_url}/dashboard/")
    before = len((await vtn.api.call("GET", "/portfolio/runs")).json)
    await page.goto(f"{vtn.base_url}/dashboard/runs")
    # the form as another page would send it: the session cookie, without (or with a wrong) token
    for value in (None, "0" * 64):
        await page.evaluate(
            """(value) => { const input = document.querySelector('#plan-now input[name=csrf_token]');
                 if (value === null) input.remove(); else input.value = value; }""",
            value,
        )
        await page.click("#plan-now button")
        assert "CSRF token is missing or wrong" in await page.inner_text("#error-message")
        await page.goto(f"{vtn.base_url}/dashboard/runs")
    assert len((await vtn.api.call("GET", "/portfolio/runs")).json) == before, "nothing ran"
    await page.click("#plan-now button")  # with its token the same form plans
    assert "run " in await page.inner_text("#notice")
    assert len((await vtn.api.call("GET", "/portfolio/runs")).json) == before + 1
