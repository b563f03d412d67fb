"""`flexvpp client create`: CLIENT_ID CLIENT_SECRET alone on the last line, and they get a token."""

from __future__ import annotations

from typing import Any

import pytest
from cli_in_process import run_flexvpp
from oa3_client import Oa3Client, token_for

pytestmark = pytest.mark.db_backends("sqlite")


async def test_a_created_client_gets_a_token_with_its_roles_scopes(http: Any, db_url: str) -> None:
    result = run_flexvpp("client", "create", "--role", "ven", "--ven-name", "home-1", "--db", db_url)
    assert result.returncode == 0, result.stderr
    client_id, secret = result.stdout.strip().splitlines()[-1].split(" ")
    token = await token_for(http, client_id, secret)
    assert (await Oa3Client(http, token).get("/vens")).json == []  # its VEN does not exist yet


def test_a_bl_client_with_a_ven_name_is_a_usage_error(db_url: str) -> None:
    result = run_flexvpp("client", "create", "--role", "bl", "--ven-name", "x", "--db", db_url)
    assert result.returncode == 2 and "only a ven client" in result.stderr
