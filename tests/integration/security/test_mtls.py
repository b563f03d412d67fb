"""Mutual TLS on the OpenADR endpoints (issue 6, "Done when" item 1).

A VEN without a certificate, or with one from another CA, does not get through the handshake;
a VEN holding another VEN's certificate (valid CA, wrong fingerprint) gets 463 in the reply type
of its message, on registration and on every later message; RSA and ECDSA VENs each negotiate
their OpenADR 2.0b suite over TLS 1.2.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

import pytest

from aggregator.vens import NewVen, provision_ven
from vtn.db.uow import UnitOfWork
from vtn.tls import OPENADR_ECDSA_SUITE, OPENADR_RSA_SUITE

from .conftest import Pki, RunningVtn, StartVtn, client_context, register, send

# TLS, not the database: SQLite only.
pytestmark = pytest.mark.db_backends("sqlite")


async def _provision(vtn: RunningVtn, pki: Pki, *names: str) -> dict[str, str]:
    """Provision each VEN with its certificate's fingerprint; name -> venID."""
    sessions = vtn.sessions
    ids = {}
    for name in names:
        info = await provision_ven(
            UnitOfWork(sessions), NewVen(name, f"site-{name}", pki.vens[name].fingerprint), datetime.now(UTC)
        )
        ids[name] = info.ven_id
    return ids


@pytest.mark.parametrize("tls12", [False, True], ids=["tls13", "tls12"])
async def test_ven_without_certificate_fails_the_handshake(
    start_vtn: StartVtn, pki: Pki, tls12: bool
) -> None:
    vtn = await start_vtn(tls=True, pki=pki)
    await _provision(vtn, pki, "rsa-ven")
    with pytest.raises(OSError):
        await register(vtn.url, "rsa-ven", client_context(pki, None, tls12=tls12))
    # the same request with the certificate gets through: the refusal above was the certificate
    reply = await register(vtn.url, "rsa-ven", client_context(pki, pki.vens["rsa-ven"], tls12=tls12))
    assert reply.code == 200


async def test_certificate_of_another_ca_fails_the_handshake(start_vtn: StartVtn, pki: Pki) -> None:
    vtn = await start_vtn(tls=True, pki=pki)
    await _provision(vtn, pki, "rsa-ven")
    with pytest.raises(OSError):
        await register(vtn.url, "rsa-ven", client_context(pki, pki.foreign))


async def test_server_refuses_tls_below_1_2(start_vtn: StartVtn, pki: Pki) -> None:
    vtn = await start_vtn(tls=True, pki=pki)
    context = client_context(pki, pki.vens["rsa-ven"])
    context.set_ciphers("ALL:@SECLEVEL=0")  # let this client offer TLS 1.1 at all
    context.minimum_version = ssl.TLSVersion.TLSv1_1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(OSError):
        await register(vtn.url, "rsa-ven", context)


async def test_another_vens_certificate_gets_463_on_every_message(start_vtn: StartVtn, pki: Pki) -> None:
    vtn = await start_vtn(tls=True, pki=pki)
    ids = await _provision(vtn, pki, "rsa-ven", "other-ven")
    mine, theirs = client_context(pki, pki.vens["rsa-ven"]), client_context(pki, pki.vens["other-ven"])

    stolen = await register(vtn.url, "rsa-ven", theirs)
    assert stolen.message_type == "oadrCreatedPartyRegistration" and stolen.code == 463
    assert stolen.text("ei:registrationID") is None

    ok = await register(vtn.url, "rsa-ven", mine)
    assert ok.code == 200 and ok.text("ei:venID") == ids["rsa-ven"]

    # after a genuine registration, each later message is checked again
    poll = await send(vtn.url, "OadrPoll", "oadrPoll", theirs, ven_id=ids["rsa-ven"])
    assert poll.message_type == "oadrResponse" and poll.code == 463
    request_event = await send(
        vtn.url, "EiEvent", "oadrRequestEvent", theirs, ven_id=ids["rsa-ven"], request_id="r-2"
    )
    assert request_event.message_type == "oadrDistributeEvent" and request_event.code == 463
    own_poll = await send(vtn.url, "OadrPoll", "oadrPoll", mine, ven_id=ids["rsa-ven"])
    assert own_poll.status == 200 and own_poll.message_type == "oadrRegisterReport"


async def test_fingerprint_provisioned_but_no_certificate_gets_463(start_vtn: StartVtn, pki: Pki) -> None:
    vtn = await start_vtn(tls=False)  # plain HTTP: no certificate can be presented
    ids = await _provision(vtn, pki, "rsa-ven")
    # no fingerprint: no certificate needed
    await provision_ven(UnitOfWork(vtn.sessions), NewVen("open-ven", "site-open"), datetime.now(UTC))
    refused = await register(vtn.url, "rsa-ven", None)
    assert refused.message_type == "oadrCreatedPartyRegistration" and refused.code == 463
    poll = await send(vtn.url, "OadrPoll", "oadrPoll", None, ven_id=ids["rsa-ven"])
    assert poll.code == 463
    assert (await register(vtn.url, "open-ven", None)).code == 200


@pytest.mark.parametrize(
    ("ven", "suite"), [("rsa-ven", OPENADR_RSA_SUITE), ("ecdsa-ven", OPENADR_ECDSA_SUITE)]
)
async def test_each_openadr_suite_is_negotiated(start_vtn: StartVtn, pki: Pki, ven: str, suite: str) -> None:
    vtn = await start_vtn(tls=True, pki=pki)
    ids = await _provision(vtn, pki, ven)
    context = client_context(pki, pki.vens[ven], suite=suite)
    reply = await register(vtn.url, ven, context)
    assert reply.code == 200 and reply.text("ei:venID") == ids[ven]
    assert reply.cipher == suite
    poll = await send(vtn.url, "OadrPoll", "oadrPoll", context, ven_id=ids[ven])
    assert poll.cipher == suite and poll.message_type == "oadrRegisterReport"


async def test_modern_client_gets_tls_1_3(start_vtn: StartVtn, pki: Pki) -> None:
    vtn = await start_vtn(tls=True, pki=pki)
    await _provision(vtn, pki, "ecdsa-ven")
    reply = await register(vtn.url, "ecdsa-ven", client_context(pki, pki.vens["ecdsa-ven"]))
    assert reply.code == 200 and reply.cipher is not None and reply.cipher.startswith("TLS_")
