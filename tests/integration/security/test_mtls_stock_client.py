"""A stock `openleadr.OpenADRClient` with cert/key/ca_file against the VTN's mutual-TLS port.

It registers, polls, sends telemetry and receives an event, all over TLS with its RSA client
certificate (and signed messages: openleadr signs when given a key; the VTN accepts them).
The same client holding another VEN's certificate never gets registered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openleadr import OpenADRClient

from aggregator.event_rules import EventSpec, IntervalSpec
from aggregator.events import create_event, get_event
from aggregator.telemetry import query_telemetry
from aggregator.vens import NewVen, provision_ven
from vtn.db.uow import UnitOfWork

from .conftest import OPENADR, Pki, StartVtn

# TLS, not the database: SQLite only.
pytestmark = [pytest.mark.slow, pytest.mark.db_backends("sqlite")]


async def wait_for(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def _client(url: str, pki: Pki, ven_name: str, cert_of: str) -> OpenADRClient:
    cert = pki.vens[cert_of]
    return OpenADRClient(
        ven_name=ven_name,
        vtn_url=f"{url}{OPENADR}",
        cert=str(cert.cert_path),
        key=str(cert.key_path),
        ca_file=str(pki.ca_file),
        show_fingerprint=False,
    )


async def test_stock_client_with_certificates(start_vtn: StartVtn, pki: Pki) -> None:
    vtn = await start_vtn(tls=True, pki=pki, report_interval_seconds=2)
    ven = await provision_ven(
        UnitOfWork(vtn.sessions),
        NewVen("rsa-ven", "site-rsa", pki.vens["rsa-ven"].fingerprint),
        datetime.now(UTC),
    )
    seen: list[str] = []

    async def on_event(event: dict[str, Any]) -> str:
        seen.append(event["event_descriptor"]["event_id"])
        return "optIn"

    client = _client(vtn.url, pki, "rsa-ven", "rsa-ven")
    client.add_handler("on_event", on_event)
    client.add_report(
        callback=lambda: 2.5,
        resource_id="meter",
        measurement="power",
        report_name="TELEMETRY_USAGE",
        sampling_rate=timedelta(seconds=2),
    )
    await client.run()
    try:
        assert client.ven_id == ven.ven_id and client.registration_id
        points = await wait_for(
            lambda: query_telemetry(UnitOfWork(vtn.sessions), ven.ven_id, None, None), "telemetry"
        )
        assert points[0].value == 2.5

        now = datetime.now(UTC)
        spec = EventSpec(
            ven_ids=[ven.ven_id],
            signal_name="SIMPLE",
            signal_type="level",
            intervals=(IntervalSpec(now + timedelta(hours=1), 1800, 1.0),),
        )
        event = await create_event(UnitOfWork(vtn.sessions), spec, now, vtn.cache)

        async def opted_in() -> bool:
            info = await get_event(UnitOfWork(vtn.sessions), event.event_id, datetime.now(UTC))
            return info.responses.get(ven.ven_id) == "optIn"

        await wait_for(opted_in, "the optIn")
        assert seen == [event.event_id]
    finally:
        await client.stop()


async def test_stock_client_with_another_vens_certificate_is_not_registered(
    start_vtn: StartVtn, pki: Pki
) -> None:
    vtn = await start_vtn(tls=True, pki=pki)
    await provision_ven(
        UnitOfWork(vtn.sessions),
        NewVen("rsa-ven", "site-rsa", pki.vens["rsa-ven"].fingerprint),
        datetime.now(UTC),
    )
    await provision_ven(
        UnitOfWork(vtn.sessions),
        NewVen("other-ven", "site-other", pki.vens["other-ven"].fingerprint),
        datetime.now(UTC),
    )
    client = _client(vtn.url, pki, "rsa-ven", "other-ven")
    try:
        await client.create_party_registration(ven_id=None)
        assert client.ven_id is None and client.registration_id is None
    finally:
        await client.stop()
