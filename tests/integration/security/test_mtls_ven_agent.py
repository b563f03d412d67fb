"""The VEN agent's OpenADR client (ven/agent/vtn_client.py) over mutual TLS with the VTN."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator.vens import NewVen, provision_ven
from ven.agent.buffer import TelemetryBuffer
from ven.agent.runner import _tls_files
from ven.agent.vtn_client import VenClient
from ven.settings import SettingsError, load_agent_settings
from vtn.db.uow import UnitOfWork

from .conftest import OPENADR, Pki, StartVtn

# TLS, not the database: SQLite only.
pytestmark = pytest.mark.db_backends("sqlite")


def _agent_client(url: str, tmp_path: Path, tls: tuple[str, str, str] | None) -> VenClient:
    # The core is not needed for registration; only the OpenADR transport is under test here.
    core: Any = None
    return VenClient(core, TelemetryBuffer(tmp_path / "buffer.db"), "ecdsa-ven", f"{url}{OPENADR}", tls=tls)


async def test_agent_client_registers_with_its_certificate(
    start_vtn: StartVtn, pki: Pki, tmp_path: Path
) -> None:
    vtn = await start_vtn(tls=True, pki=pki)
    ven = await provision_ven(
        UnitOfWork(vtn.sessions),
        NewVen("ecdsa-ven", "site-e", pki.vens["ecdsa-ven"].fingerprint),
        datetime.now(UTC),
    )
    settings = load_agent_settings(
        None,
        vtn_url=f"{vtn.url}{OPENADR}",
        ven_name="ecdsa-ven",
        site_id="site-e",
        tls_cert_file=pki.vens["ecdsa-ven"].cert_path,
        tls_key_file=pki.vens["ecdsa-ven"].key_path,
        tls_ca_file=pki.ca_file,
    )
    client = _agent_client(vtn.url, tmp_path, _tls_files(settings))
    try:
        await client.create_party_registration(ven_id=None)
        assert client.reachable and client.ven_id == ven.ven_id and client.registration_id
    finally:
        await client.stop()


async def test_agent_client_with_a_foreign_certificate_cannot_reach_the_vtn(
    start_vtn: StartVtn, pki: Pki, tmp_path: Path
) -> None:
    vtn = await start_vtn(tls=True, pki=pki)
    await provision_ven(
        UnitOfWork(vtn.sessions),
        NewVen("ecdsa-ven", "site-e", pki.vens["ecdsa-ven"].fingerprint),
        datetime.now(UTC),
    )
    tls = (str(pki.foreign.cert_path), str(pki.foreign.key_path), str(pki.ca_file))
    client = _agent_client(vtn.url, tmp_path, tls)
    try:
        await client.create_party_registration(ven_id=None)
        assert not client.reachable and client.registration_id is None
    finally:
        await client.stop()


def test_agent_tls_settings_come_together(pki: Pki) -> None:
    with pytest.raises(SettingsError, match="tls_cert_file, tls_key_file and tls_ca_file"):
        load_agent_settings(
            None, vtn_url="https://x", ven_name="v", site_id="s", tls_cert_file=pki.vens["rsa-ven"].cert_path
        )
