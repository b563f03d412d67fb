"""XML signatures per VEN, the replay window and the nonce store shared through the database.

Real peers: the stock `openleadr.OpenADRClient` (it signs with its key and, given
`vtn_fingerprint`, drops any reply not signed by the VTN), and raw messages signed in openleadr's
format over mutual TLS. A refused message is 463 in the reply type of the message and changes no
stored row (the poll times, written in batches, aside).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from openleadr import OpenADRClient
from openleadr.messaging import create_message
from sqlalchemy import func, select

from aggregator.vens import NewVen, get_ven, provision_ven, update_ven
from ven.agent.buffer import TelemetryBuffer
from ven.agent.runner import _tls_files
from ven.agent.vtn_client import VenClient
from ven.settings import SettingsError, load_agent_settings
from vtn.certs import KeyType
from vtn.db import tables
from vtn.db.uow import UnitOfWork
from vtn.openadr.signature import ReplySigner
from vtn.openadr.xml import NS

from .conftest import OPENADR, REGISTRATION, Pki, Reply, RunningVtn, StartVtn, _post, client_context

# Signatures are checked before any query: SQLite only, but for the nonce store that two VTNs
# share through the database, which stays on both backends.
pytestmark = pytest.mark.db_backends("sqlite")

VEN = "ecdsa-ven"  # ECDSA: openleadr's client re-parses its key per message, fast for EC only


def signer_of(pki: Pki, name: str = VEN) -> ReplySigner:
    cert = pki.vens[name]
    return ReplySigner(cert.cert_path, cert.key_path)


def signed(
    signer: ReplySigner | None, message_type: str, at: datetime | None = None, **payload: Any
) -> bytes:
    """openleadr's VEN message, signed in openleadr's format at `at` (default now), or unsigned."""
    body = create_message(message_type, **payload).encode()
    return body if signer is None else signer.sign(body, now=at)


async def post(vtn: RunningVtn, pki: Pki, service: str, body: bytes, cert: str = VEN) -> Reply:
    context = client_context(pki, pki.vens[cert])
    status, raw, cipher = await asyncio.to_thread(_post, vtn.url, service, body.decode(), context, {})
    root = etree.fromstring(raw)
    element = root.find("oadr:oadrSignedObject", NS)[0]
    return Reply(status, etree.QName(element).localname, element, cipher)


def registration(**kw: Any) -> dict[str, Any]:
    return {**REGISTRATION, "request_id": "req-1", "ven_name": VEN, **kw}


async def rows(vtn: RunningVtn) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the batched poll time and what the 3.1 notifications' delivery
    rounds write in the background (the notification rows themselves count)."""
    found = {}
    async with vtn.sessions() as session:
        for table in tables.Base.metadata.sorted_tables:
            columns = [
                c
                for c in table.columns
                if (table.name, c.name) != ("vens", "last_poll_at")
                and (
                    table.name != "oa3_notifications"
                    or c.name in ("id", "object_type", "operation", "object_id")
                )
            ]
            found[table.name] = sorted(map(tuple, (await session.execute(select(*columns))).all()), key=repr)
    return found


async def nonces(vtn: RunningVtn) -> int:
    async with vtn.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(tables.SignatureNonce)) or 0)


async def provision(vtn: RunningVtn, pki: Pki, xml_signatures: str | None = "required") -> str:
    info = await provision_ven(
        UnitOfWork(vtn.sessions),
        NewVen(VEN, "site-e", pki.vens[VEN].fingerprint, xml_signatures),
        datetime.now(UTC),
    )
    return info.ven_id


# ---- a stock openleadr client ------------------------------------------------------------------


def stock_client(vtn: RunningVtn, pki: Pki, vtn_fingerprint: str) -> OpenADRClient:
    cert = pki.vens[VEN]
    return OpenADRClient(
        ven_name=VEN,
        vtn_url=f"{vtn.url}{OPENADR}",
        cert=str(cert.cert_path),
        key=str(cert.key_path),
        ca_file=str(pki.ca_file),
        vtn_fingerprint=vtn_fingerprint,
        show_fingerprint=False,
    )


@pytest.mark.slow
async def test_stock_client_signing_and_verifying_the_vtn(start_vtn: StartVtn, pki: Pki) -> None:
    vtn = await start_vtn(tls=True, pki=pki)
    ven_id = await provision(vtn, pki)
    client = stock_client(vtn, pki, pki.vtn[KeyType.RSA].fingerprint)
    try:
        await client.create_party_registration(ven_id=None)
        # each reply was signed by the VTN's certificate, or the client would have dropped it
        assert client.ven_id == ven_id and client.registration_id
        message_type, payload = await client.poll()
        assert message_type == "oadrRegisterReport" and payload["ven_id"] == ven_id
        assert await nonces(vtn) == 2  # both of its messages were verified and their nonces kept
    finally:
        await client.stop()


async def test_stock_client_drops_replies_not_signed_by_its_vtn(start_vtn: StartVtn, pki: Pki) -> None:
    vtn = await start_vtn(tls=True, pki=pki)
    await provision(vtn, pki)
    client = stock_client(vtn, pki, pki.vtn[KeyType.ECDSA].fingerprint)  # not the signing certificate
    try:
        await client.create_party_registration(ven_id=None)
        assert client.registration_id is None  # the (registered) reply was ignored by the client
    finally:
        await client.stop()


# ---- refusals ----------------------------------------------------------------------------------


def _tamper(body: bytes) -> bytes:
    return body.replace(b">req-1</", b">req-2</")  # the requestID, inside the signed object


@pytest.mark.parametrize("how", ["content changed", "signed by another VEN", "unsigned"])
async def test_bad_or_missing_signature_is_refused_and_stores_nothing(
    start_vtn: StartVtn, pki: Pki, how: str
) -> None:
    vtn = await start_vtn(tls=True, pki=pki)
    await provision(vtn, pki)  # xml_signatures required
    if how == "content changed":
        body = _tamper(signed(signer_of(pki), "oadrCreatePartyRegistration", **registration()))
        assert b"req-2" in body
    elif how == "signed by another VEN":
        body = signed(signer_of(pki, "other-ven"), "oadrCreatePartyRegistration", **registration())
    else:
        body = signed(None, "oadrCreatePartyRegistration", **registration())
    before = await rows(vtn)
    reply = await post(vtn, pki, "EiRegisterParty", body)
    assert reply.message_type == "oadrCreatedPartyRegistration" and reply.code == 463
    assert reply.text("ei:registrationID") is None
    assert await rows(vtn) == before

    good = signed(signer_of(pki), "oadrCreatePartyRegistration", **registration())
    assert (await post(vtn, pki, "EiRegisterParty", good)).code == 200  # the refusal was the signature


async def test_the_vens_policy_overrides_the_vtns(start_vtn: StartVtn, pki: Pki) -> None:
    vtn = await start_vtn(tls=True, pki=pki, xml_signatures="required")
    ven_id = await provision(vtn, pki, xml_signatures=None)  # follows the VTN: required
    unsigned = signed(None, "oadrCreatePartyRegistration", **registration())
    assert (await post(vtn, pki, "EiRegisterParty", unsigned)).code == 463
    info = await update_ven(
        UnitOfWork(vtn.sessions), ven_id, datetime.now(UTC), vtn.cache, xml_signatures="optional"
    )
    assert info.xml_signatures == "optional"
    vtn2 = await start_vtn(tls=True, pki=pki, xml_signatures="required")  # a fresh provisioning cache
    assert (await post(vtn2, pki, "EiRegisterParty", unsigned)).code == 200
    assert (await get_ven(UnitOfWork(vtn.sessions), ven_id, datetime.now(UTC), vtn.cache)).registered


@pytest.mark.db_backends("sqlite", "postgresql")
async def test_replayed_message_is_refused_by_a_second_vtn_on_the_same_database(
    start_vtn: StartVtn, pki: Pki
) -> None:
    first, second = await start_vtn(tls=True, pki=pki), await start_vtn(tls=True, pki=pki)
    ven_id = await provision(first, pki)
    signer = signer_of(pki)
    register = signed(signer, "oadrCreatePartyRegistration", **registration())
    ok = await post(first, pki, "EiRegisterParty", register)
    assert ok.code == 200
    cancel = signed(
        signer,
        "oadrCancelPartyRegistration",
        request_id="req-3",
        ven_id=ven_id,
        registration_id=ok.text("ei:registrationID"),
    )
    assert (await post(first, pki, "EiRegisterParty", cancel)).code == 200
    assert not (await get_ven(UnitOfWork(first.sessions), ven_id, datetime.now(UTC), first.cache)).registered

    before = await rows(first)
    for vtn in (second, first):  # the replay would register the VEN again
        replay = await post(vtn, pki, "EiRegisterParty", register)
        assert replay.message_type == "oadrCreatedPartyRegistration" and replay.code == 463
    assert await rows(first) == before
    fresh = signed(signer, "oadrCreatePartyRegistration", **registration())
    assert (await post(second, pki, "EiRegisterParty", fresh)).code == 200


@pytest.mark.parametrize(
    ("offset_s", "accepted"), [(-50, True), (50, True), (-70, False), (70, False), (-3600, False)]
)
async def test_timestamp_within_the_configured_skew(
    start_vtn: StartVtn, pki: Pki, offset_s: int, accepted: bool
) -> None:
    vtn = await start_vtn(tls=True, pki=pki, xml_signature_max_skew_seconds=60)
    ven_id = await provision(vtn, pki)
    register = signed(signer_of(pki), "oadrCreatePartyRegistration", **registration())
    assert (await post(vtn, pki, "EiRegisterParty", register)).code == 200

    at = datetime.now(UTC) + timedelta(seconds=offset_s)
    poll = signed(signer_of(pki), "oadrPoll", at=at, ven_id=ven_id)
    before = await rows(vtn)
    reply = await post(vtn, pki, "OadrPoll", poll)
    if accepted:
        assert reply.status == 200 and reply.message_type == "oadrRegisterReport"
    else:
        assert reply.message_type == "oadrResponse" and reply.code == 463
        assert "timestamp" in (reply.text("ei:eiResponse/ei:responseDescription") or "")
        assert await rows(vtn) == before


@pytest.mark.db_backends("sqlite", "postgresql")
async def test_old_nonces_are_pruned(start_vtn: StartVtn, pki: Pki) -> None:
    vtn = await start_vtn(tls=True, pki=pki, xml_signature_max_skew_seconds=60)
    await provision(vtn, pki)
    async with vtn.sessions() as session:
        session.add(tables.SignatureNonce(nonce="old", signed_at=datetime.now(UTC) - timedelta(seconds=61)))
        session.add(
            tables.SignatureNonce(nonce="recent", signed_at=datetime.now(UTC) - timedelta(seconds=50))
        )
        await session.commit()
    body = signed(signer_of(pki), "oadrCreatePartyRegistration", **registration())
    assert (await post(vtn, pki, "EiRegisterParty", body)).code == 200
    async with vtn.sessions() as session:
        kept = set((await session.scalars(select(tables.SignatureNonce.nonce))).all())
    assert "old" not in kept and "recent" in kept and len(kept) == 2


# ---- our VEN agent ------------------------------------------------------------------------------


@pytest.mark.parametrize("sign", [True, False])
async def test_agent_signs_when_configured(start_vtn: StartVtn, pki: Pki, tmp_path: Path, sign: bool) -> None:
    vtn = await start_vtn(tls=True, pki=pki)
    ven_id = await provision(vtn, pki)  # required
    settings = load_agent_settings(
        None,
        vtn_url=f"{vtn.url}{OPENADR}",
        ven_name=VEN,
        site_id="site-e",
        tls_cert_file=pki.vens[VEN].cert_path,
        tls_key_file=pki.vens[VEN].key_path,
        tls_ca_file=pki.ca_file,
        sign_messages=sign,
        vtn_fingerprint=pki.vtn[KeyType.RSA].fingerprint,
    )
    core: Any = None  # registration needs no agent core
    client = VenClient(
        core,
        TelemetryBuffer(tmp_path / "buffer.db"),
        VEN,
        settings.vtn_url,
        tls=_tls_files(settings),
        sign=settings.sign_messages,
        vtn_fingerprint=settings.vtn_fingerprint,
    )
    try:
        await client.create_party_registration(ven_id=None)
        assert client.reachable
        assert (client.ven_id, bool(client.registration_id)) == ((ven_id, True) if sign else (None, False))
        assert await nonces(vtn) == (1 if sign else 0)
    finally:
        await client.stop()


def test_agent_signing_needs_the_key() -> None:
    with pytest.raises(SettingsError, match="sign_messages"):
        load_agent_settings(None, vtn_url="https://vtn", ven_name="v", site_id="s", sign_messages=True)
