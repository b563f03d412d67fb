"""The dashboard tests' helpers: what the fixtures (conftest.py) hand the tests, and logging in."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any

from test_site_agent import Home
from vtn_api_client import CheckedApi

from vtn.db.uow import Sessions

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@dataclass
class Vtn:
    api: CheckedApi
    sessions: Sessions
    base_url: str  # http://127.0.0.1:port
    db_url: str
    operator_token: str


@dataclass
class Fleet:
    home: Home
    idle_ven_id: str
    run_id: str
    event_id: str  # a DR event for the home an hour ahead
    under_way_id: str  # a DR event of the home's since 30 minutes, in a program with terms


async def log_in(page: Any, vtn: Vtn, token: str | None = None) -> None:
    await page.goto(f"{vtn.base_url}/dashboard/login")
    await page.fill("input[name=token]", token or vtn.operator_token)
    await page.click("button[type=submit]")
