"""Fixtures of the device tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sunspec_peer import SunspecServer, pv_inverter


@pytest.fixture
async def pv_server() -> AsyncIterator[SunspecServer]:
    """A SunSpec PV inverter at unit 1: 8 kW nominal, 6 kW of sun."""
    server = SunspecServer(pv_inverter(unit=1, available_w=6000.0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
