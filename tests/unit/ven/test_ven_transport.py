"""The agent's OpenADR transport (ven/agent/transport.py): each way an exchange fails has its own
error. A real aiohttp server plays the VTN; the signed replies are signed by oadrsign, the
signing the VTN uses, with keys made here."""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from openleadr.messaging import create_message
from openleadr.utils import certificate_fingerprint
from ven_rig import Rig

from oadrsign import MessageSigner
from ven.agent.buffer import TelemetryBuffer
from ven.agent.transport import BadSignature, InvalidXml, VtnHttpError, VtnTransport, VtnUnreachable
from ven.agent.vtn_client import VenClient

OPENADR = "/OpenADR2/Simple/2.0b"
Serve = Callable[[Callable[[web.Request], Awaitable[web.Response]]], Awaitable[str]]


def oadr_response() -> bytes:
    response = {"response_code": 200, "response_description": "OK", "request_id": "r-1"}
    return str(create_message("oadrResponse", response=response, ven_id="ven-1")).encode()


def key_pair(directory: Path, name: str) -> tuple[Path, Path, str]:
    """A self-signed EC certificate and its key, as files; and the certificate's fingerprint."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file, certificate_fingerprint(cert_pem)


@pytest.fixture
def serve(aiohttp_server: Any) -> Serve:
    async def start(handler: Callable[[web.Request], Awaitable[web.Response]]) -> str:
        app = web.Application()
        app.router.add_post(OPENADR + "/{service}", handler)
        server = await aiohttp_server(app)
        return str(server.make_url(OPENADR))

    return start


def replying(status: int, body: bytes) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=status, body=body, content_type="application/xml")

    return handler


async def exchange(url: str, vtn_fingerprint: str | None = None) -> tuple[str | None, dict[str, Any]]:
    transport = VtnTransport(url, vtn_fingerprint=vtn_fingerprint)
    try:
        return await transport.exchange("OadrPoll", "oadrPoll", ven_id="ven-1")
    finally:
        await transport.close()


async def test_a_valid_answer_is_its_type_and_payload(serve: Serve) -> None:
    message_type, payload = await exchange(await serve(replying(200, oadr_response())))
    assert (message_type, payload["response"]["request_id"]) == ("oadrResponse", "r-1")


async def test_an_http_error_carries_its_status_and_the_start_of_its_body(serve: Serve) -> None:
    url = await serve(replying(500, b"database down " + b"x" * 1000))
    with pytest.raises(VtnHttpError) as raised:
        await exchange(url)
    assert raised.value.status == 500
    assert raised.value.body.startswith("database down") and len(raised.value.body) == 300


@pytest.mark.parametrize(
    "body",
    [b"<<< not xml", b"<oadrPayload/>", oadr_response().replace(b"oadrResponse>", b"oadrNoSuchMessage>")],
    ids=["not-xml", "not-the-schema", "unknown-message"],
)
async def test_an_answer_that_is_not_openadr_xml_is_invalid_xml(serve: Serve, body: bytes) -> None:
    with pytest.raises(InvalidXml):
        await exchange(await serve(replying(200, body)))


async def test_an_answer_signed_with_another_key_is_a_bad_signature(serve: Serve, tmp_path: Path) -> None:
    vtn_cert, vtn_key, vtn_fingerprint = key_pair(tmp_path, "vtn")
    other_cert, other_key, _ = key_pair(tmp_path, "intruder")
    signed_by_vtn = MessageSigner(vtn_cert, vtn_key).sign(oadr_response())
    signed_by_other = MessageSigner(other_cert, other_key).sign(oadr_response())

    message_type, _ = await exchange(await serve(replying(200, signed_by_vtn)), vtn_fingerprint)
    assert message_type == "oadrResponse"  # the VTN's own signature passes
    with pytest.raises(BadSignature, match="fingerprint"):
        await exchange(await serve(replying(200, signed_by_other)), vtn_fingerprint)
    with pytest.raises(BadSignature):  # no signature at all, where the VTN's is expected
        await exchange(await serve(replying(200, oadr_response())), vtn_fingerprint)


async def test_an_answer_whose_signed_content_was_changed_is_a_bad_signature(
    serve: Serve, tmp_path: Path
) -> None:
    cert, key, fingerprint = key_pair(tmp_path, "vtn")
    signed = MessageSigner(cert, key).sign(oadr_response())
    tampered = signed.replace(b">r-1<", b">r-2<")
    assert tampered != signed
    with pytest.raises(BadSignature):
        await exchange(await serve(replying(200, tampered)), fingerprint)


async def test_nothing_listening_is_vtn_unreachable() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(VtnUnreachable):
        await exchange(f"http://127.0.0.1:{port}{OPENADR}")


async def test_the_client_logs_each_failure_by_its_kind_and_keeps_the_reachable_flag(
    serve: Serve, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    answers = [replying(500, b"boom"), replying(200, b"<<< not xml"), replying(200, oadr_response())]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}{OPENADR}"
    caplog.set_level(logging.INFO, logger="ven.agent.vtn_client")
    seen = []
    for url in [await serve(answer) for answer in answers] + [closed]:
        client = VenClient(Rig().core, TelemetryBuffer(tmp_path / "buffer.db"), "ven-test", url)
        client.reachable = True  # it was reachable before this exchange
        try:
            seen.append((await client.poll(), client.reachable))
        finally:
            await client.stop()
    assert [reachable for _, reachable in seen] == [True, True, True, False]
    assert [answer for answer, _ in seen][:2] == [(None, {}), (None, {})]
    assert seen[2][0][0] == "oadrResponse" and seen[3][0] == (None, {})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert warnings[0].startswith("VTN answered HTTP 500 to OadrPoll: boom")
    assert "not OpenADR 2.0b XML" in warnings[1]
    assert warnings[2].startswith(f"VTN {closed} unreachable")
