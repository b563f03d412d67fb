"""End-to-end fixtures: a real `flexvpp vtn serve` subprocess on each backend, an operator token and
REST client, and an unmodified openleadr.OpenADRClient running in the test's event loop."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_support import RestApi, Ven, VtnProcess, create_operator_token, free_port
from openleadr import OpenADRClient, enums, objects

# Short cycles so a test sees several polls and reports within seconds.
VTN_ENV = {"FLEXVPP_POLL_INTERVAL_SECONDS": "1", "FLEXVPP_REPORT_INTERVAL_SECONDS": "2"}


@pytest.fixture
def vtn(empty_db_url: str, tmp_path: Path) -> Iterator[VtnProcess]:
    process = VtnProcess(empty_db_url, free_port(), tmp_path / "vtn.log", VTN_ENV)
    yield process
    process.stop()


@pytest.fixture
async def rest(vtn: VtnProcess) -> AsyncIterator[RestApi]:
    await vtn.start()
    token = create_operator_token(vtn.db_url)
    async with aiohttp.ClientSession() as session:
        yield RestApi(session, vtn.base_url, token)


@pytest.fixture
async def ven(rest: RestApi, vtn: VtnProcess) -> AsyncIterator[Ven]:
    """A VEN pre-provisioned over REST, then registered by a stock OpenADRClient."""
    name = f"e2e-home-{uuid.uuid4().hex[:8]}"
    provisioned = await rest.call("POST", "/vens", 201, json={"ven_name": name, "site_id": f"site-{name}"})
    client = OpenADRClient(ven_name=name, vtn_url=vtn.openadr_url)
    state = Ven(client, provisioned["ven_id"])

    async def on_event(event: dict[str, Any]) -> str:
        state.events.append(event)
        return "optIn"

    def meter_reading() -> float:
        value = 1.5 + len(state.reported)
        state.reported.append(value)
        return value

    client.add_handler("on_event", on_event)
    client.add_handler("on_update_event", on_event)
    client.add_hook("before_send_xml", lambda xml: state.sent.append(xml))
    client.add_hook("after_receive_xml", lambda xml: state.received.append(xml))
    client.add_report(
        callback=meter_reading,
        resource_id="meter-1",
        measurement="power_real",
        unit="W",
        report_name=enums.REPORT_NAME.TELEMETRY_USAGE,
        data_collection_mode="incremental",
        report_specifier_id="usage-1",
        r_id="meter-1-power",
        report_duration=timedelta(hours=1),
        sampling_rate=objects.SamplingRate(
            min_period=timedelta(seconds=1), max_period=timedelta(hours=1), on_change=False
        ),
    )
    await client.run()
    try:
        yield state
    finally:
        await client.stop()
