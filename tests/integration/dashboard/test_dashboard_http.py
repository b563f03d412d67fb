"""The dashboard's HTTP rules without a browser (aiohttp's client on the whole VTN app): the login
form's own CSRF token, failed logins rate-limited like REST authentication, what a request without
a session gets (a redirect; 401 for the overview's JSON), public static files, error pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from dashboard_rig import Vtn

pytestmark = pytest.mark.db_backends("sqlite")  # the subject is the web edge


async def login_form(client: Any) -> str:
    async with client.get("/dashboard/login") as reply:
        assert reply.status == 200
        found = re.search(r'name="csrf_token" value="([^"]+)"', await reply.text())
    assert found
    return found[1]


async def test_the_login_form_needs_its_csrf_token(vtn: Vtn) -> None:
    client = vtn.api.client
    await login_form(client)
    async with client.post(
        "/dashboard/login", data={"token": vtn.operator_token, "csrf_token": "x"}, allow_redirects=False
    ) as reply:
        assert reply.status == 403
        assert "CSRF token did not match" in await reply.text()
    csrf = await login_form(client)
    async with client.post(
        "/dashboard/login", data={"token": vtn.operator_token, "csrf_token": csrf}, allow_redirects=False
    ) as reply:
        assert reply.status == 303 and reply.headers["Location"] == "/dashboard/"
    async with client.get("/dashboard/overview.json") as reply:
        assert reply.status == 200
        assert (await reply.json())["vens_total"] == 0


async def test_failed_logins_are_rate_limited_per_address(vtn: Vtn) -> None:
    client = vtn.api.client
    statuses = []
    for _ in range(11):  # auth_failure_limit is 10
        csrf = await login_form(client)
        async with client.post("/dashboard/login", data={"token": "fvp_guess", "csrf_token": csrf}) as reply:
            statuses.append(reply.status)
            text = await reply.text()
    assert statuses == [401] * 10 + [429], statuses
    assert "Too many failed logins" in text
    csrf = await login_form(client)
    async with client.post(
        "/dashboard/login", data={"token": vtn.operator_token, "csrf_token": csrf}, allow_redirects=False
    ) as reply:
        assert reply.status == 429, "the right token does not reset a guesser's count"


@pytest.mark.parametrize(
    ("token", "says"),
    [("", "not an API token"), ("nonsense", "not an API token"), ("fvp_" + "x" * 43, "unknown token")],
)
async def test_a_bad_token_is_named(vtn: Vtn, token: str, says: str) -> None:
    client = vtn.api.client
    csrf = await login_form(client)
    async with client.post("/dashboard/login", data={"token": token, "csrf_token": csrf}) as reply:
        assert reply.status == 401
        assert says in await reply.text()


async def test_without_a_session(vtn: Vtn) -> None:
    client = vtn.api.client
    async with client.get("/dashboard", allow_redirects=False) as reply:
        assert reply.status == 308 and reply.headers["Location"] == "/dashboard/"
    for path in ("/dashboard/", "/dashboard/runs", "/dashboard/vens/x"):
        async with client.get(path, allow_redirects=False) as reply:
            assert reply.status == 303
            assert reply.headers["Location"].startswith(f"/dashboard/login?next={path}")
    async with client.post("/dashboard/runs", data={"csrf_token": "x"}, allow_redirects=False) as reply:
        assert reply.status == 303, "a POST without a session changes nothing and goes to the login"
    async with client.get("/dashboard/overview.json") as reply:
        assert reply.status == 401 and "log in" in (await reply.json())["error"]
    async with client.get("/dashboard/static/uPlot.iife.min.js") as reply:
        assert reply.status == 200 and "uPlot" in await reply.text()
    async with client.get("/dashboard/static/uPlot.LICENSE") as reply:
        assert reply.status == 200 and "MIT" in await reply.text()
    # a forged cookie is no session
    client.session.cookie_jar.update_cookies(
        {"fvp_dashboard": "ab" * 32 + ".9999999999.nonce-nonce-nonce.00"}
    )
    async with client.get("/dashboard/", allow_redirects=False) as reply:
        assert reply.status == 303


async def test_error_pages(vtn: Vtn) -> None:
    client = vtn.api.client
    csrf = await login_form(client)
    await client.post("/dashboard/login", data={"token": vtn.operator_token, "csrf_token": csrf})
    async with client.get("/dashboard/vens/no-such-ven") as reply:
        assert reply.status == 404
        assert "no-such-ven" in await reply.text()
    async with client.get("/dashboard/runs/no-such-run") as reply:
        assert reply.status == 404
    async with client.get("/dashboard/events/no-such-event/edit") as reply:
        assert reply.status == 404
    async with client.get("/dashboard/nothing-here") as reply:
        assert reply.status == 404 and "text/html" in reply.headers["Content-Type"]


async def logged_in_csrf(client: Any, vtn: Vtn) -> str:
    csrf = await login_form(client)
    await client.post("/dashboard/login", data={"token": vtn.operator_token, "csrf_token": csrf})
    async with client.get("/dashboard/events") as reply:
        found = re.search(r'name="csrf_token" value="([^"]+)"', await reply.text())
    assert found
    return found[1]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"start": "tomorrow"}, "start", "must be a date and time"),
        ({"interval_minutes": "0"}, "interval_minutes", "from 1 to 1440"),
        ({"values": ""}, "values", "numbers separated by commas"),
        ({"ven_ids": "no-such-ven"}, "ven_ids", "unknown VEN"),
        ({"ven_ids": ""}, "ven_ids", ""),
        ({"start": "2001-01-01T10:00"}, "intervals", "would already be over"),
        ({"values": "1, 7"}, "values (interval 2)", "levels 0, 1, 2 or 3"),
        ({"signal_type": "bogus"}, "signal_type", ""),
        ({"priority": "-1"}, "priority", ""),
    ],
)
async def test_a_bad_event_form_names_the_field_and_stores_nothing(
    vtn: Vtn, change: dict[str, str], field: str, reason: str
) -> None:
    client = vtn.api.client
    ven = await vtn.api.call("POST", "/vens", json={"ven_name": "home", "site_id": "home"})
    form = {
        "csrf_token": await logged_in_csrf(client, vtn),
        "ven_ids": ven.json["ven_id"],
        "signal_name": "SIMPLE",
        "signal_type": "level",
        "start": "2099-01-01T18:00",
        "interval_minutes": "60",
        "values": "1",
        **change,
    }
    async with client.post("/dashboard/events", data=form) as reply:
        text = await reply.text()
        assert reply.status == 422, text[-2000:]
    errors = re.search(r'<ul class="error" id="form-errors">(.*?)</ul>', text, re.S)
    assert errors and f"<strong>{field}" in errors[1] and reason in errors[1], errors and errors[1]
    assert (await vtn.api.call("GET", "/events")).json == []


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/dashboard/settlement?month=2026-13", 422, "month: must be YYYY-MM"),
        ("/dashboard/settlement?month=soon", 422, "month: must be YYYY-MM"),
        ("/dashboard/performance?month=x", 422, "month: must be YYYY-MM"),
        ("/dashboard/events/nope/performance?method=guess", 422, "method: must be one of x_of_y"),
        ("/dashboard/events/nope/performance", 404, "nope"),
    ],
)
async def test_bad_performance_and_settlement_queries_are_named(
    vtn: Vtn, path: str, status: int, says: str
) -> None:
    client = vtn.api.client
    csrf = await login_form(client)
    await client.post("/dashboard/login", data={"token": vtn.operator_token, "csrf_token": csrf})
    async with client.get(path) as reply:
        assert reply.status == status
        assert says in await reply.text()
    async with client.get("/dashboard/settlement") as reply:
        assert reply.status == 200, "an empty month is a page, not an error"
    async with client.get("/dashboard/performance") as reply:
        assert reply.status == 200
