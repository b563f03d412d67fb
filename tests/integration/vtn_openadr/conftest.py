"""Conformance fixtures: a VTN app on each database with a settable clock.

Every reply body the VTN sends during a test is recorded; at teardown each one must validate
against openleadr's OpenADR 2.0b XSD (issue 2, "Done when" item 4).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from vtn.app import CLOCK, SESSIONS, create_app
from vtn.settings import VtnSettings

from .harness import FakeClock, Vtn, assert_valid


@pytest.fixture
async def vtn(db_url: str, aiohttp_client: Any) -> AsyncIterator[Vtn]:
    settings = VtnSettings.model_validate(
        {"db_url": db_url, "vtn_id": "FLEXVPP-TEST-VTN", "poll_interval_seconds": 10}
    )
    clock = FakeClock()
    app = create_app(settings)
    app[CLOCK] = clock  # type: ignore[misc]
    client = await aiohttp_client(app)
    harness = Vtn(client, clock, app[SESSIONS], settings)
    yield harness
    for body in harness.replies:
        assert_valid(body)
