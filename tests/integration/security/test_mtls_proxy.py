"""Behind a TLS-terminating proxy: the client certificate header counts only from a trusted proxy.

The header carries the proxy-verified certificate URL-encoded, as nginx's
`$ssl_client_escaped_cert` does. From any other peer the header is ignored, and the VEN is
judged by the certificate of its own TLS connection (or by none on plain HTTP).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from aggregator.vens import NewVen, provision_ven
from vtn.db.uow import UnitOfWork

from .conftest import Pki, RunningVtn, StartVtn, client_context, register, send

# TLS, not the database: SQLite only.
pytestmark = pytest.mark.db_backends("sqlite")

HEADER = "X-SSL-Client-Cert"


def _header(pki: Pki, ven: str) -> dict[str, str]:
    return {HEADER: quote(pki.vens[ven].cert_path.read_text(), safe="")}


async def _provision(vtn: RunningVtn, pki: Pki) -> str:
    sessions = vtn.sessions
    await provision_ven(
        UnitOfWork(sessions),
        NewVen("other-ven", "site-other", pki.vens["other-ven"].fingerprint),
        datetime.now(UTC),
    )
    info = await provision_ven(
        UnitOfWork(sessions),
        NewVen("rsa-ven", "site-rsa", pki.vens["rsa-ven"].fingerprint),
        datetime.now(UTC),
    )
    return info.ven_id


async def test_header_from_a_trusted_proxy_is_the_client_certificate(start_vtn: StartVtn, pki: Pki) -> None:
    vtn = await start_vtn(tls=False, trusted_proxy_addresses=["10.1.2.3", "127.0.0.0/8"])
    ven_id = await _provision(vtn, pki)
    assert (await register(vtn.url, "rsa-ven", None, headers=_header(pki, "other-ven"))).code == 463
    assert (await register(vtn.url, "rsa-ven", None)).code == 463  # the proxy saw no certificate
    assert (await register(vtn.url, "rsa-ven", None, headers={HEADER: "not%20a%20cert"})).code == 463
    reply = await register(vtn.url, "rsa-ven", None, headers=_header(pki, "rsa-ven"))
    assert reply.code == 200 and reply.text("ei:venID") == ven_id
    poll = await send(vtn.url, "OadrPoll", "oadrPoll", None, _header(pki, "other-ven"), ven_id=ven_id)
    assert poll.message_type == "oadrResponse" and poll.code == 463
    poll = await send(vtn.url, "OadrPoll", "oadrPoll", None, _header(pki, "rsa-ven"), ven_id=ven_id)
    assert poll.message_type == "oadrRegisterReport"


async def test_configured_header_name_is_used(start_vtn: StartVtn, pki: Pki) -> None:
    vtn = await start_vtn(tls=False, trusted_proxy_addresses=["127.0.0.1"], client_cert_header="X-Cert")
    await _provision(vtn, pki)
    assert (await register(vtn.url, "rsa-ven", None, headers=_header(pki, "rsa-ven"))).code == 463
    cert = {"X-Cert": _header(pki, "rsa-ven")[HEADER]}
    assert (await register(vtn.url, "rsa-ven", None, headers=cert)).code == 200


async def test_header_from_an_untrusted_peer_is_ignored(start_vtn: StartVtn, pki: Pki) -> None:
    vtn = await start_vtn(tls=False, trusted_proxy_addresses=["10.0.0.0/8"])
    await _provision(vtn, pki)
    reply = await register(vtn.url, "rsa-ven", None, headers=_header(pki, "rsa-ven"))
    assert reply.message_type == "oadrCreatedPartyRegistration" and reply.code == 463


async def test_header_cannot_override_the_tls_certificate(start_vtn: StartVtn, pki: Pki) -> None:
    vtn = await start_vtn(tls=True, pki=pki)  # no trusted proxies at all
    await _provision(vtn, pki)
    theirs = client_context(pki, pki.vens["other-ven"])
    reply = await register(vtn.url, "rsa-ven", theirs, headers=_header(pki, "rsa-ven"))
    assert reply.code == 463
