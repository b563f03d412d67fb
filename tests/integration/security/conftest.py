"""Mutual-TLS fixtures: a test PKI made by vtn.certs, and the VTN on a real TLS port.

The PKI is made once per session (RSA key generation is the slow part); each test gets a fresh
database (`db_url`, SQLite and PostgreSQL) and its own VTN on a free port of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import http.client
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from lxml import etree
from openleadr.messaging import create_message

from vtn.app import POLL_CACHE, SESSIONS, create_app
from vtn.certs import IssuedCert, KeyType, init_certificates
from vtn.openadr.xml import NS
from vtn.services.poll_cache import PollCache
from vtn.settings import VtnSettings
from vtn.tls import settings_ssl_context

OPENADR = "/OpenADR2/Simple/2.0b"
REGISTRATION = dict(
    http_pull_model=True,
    xml_signature=False,
    report_only=False,
    profile_name="2.0b",
    transport_name="simpleHttp",
    transport_address=None,
    ven_id=None,
    registration_id=None,
)


@dataclass(frozen=True)
class Pki:
    directory: Path
    ca_file: Path
    vtn: dict[KeyType, IssuedCert]
    vens: dict[str, IssuedCert]  # "rsa-ven", "ecdsa-ven", "other-ven" (RSA)
    foreign: IssuedCert  # the same name as rsa-ven, signed by another CA


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    vtn, rsa_vens = init_certificates(directory, ["rsa-ven", "other-ven"], KeyType.RSA)
    _, ecdsa_vens = init_certificates(directory, ["ecdsa-ven"], KeyType.ECDSA)
    _, foreign = init_certificates(tmp_path_factory.mktemp("foreign-pki"), ["rsa-ven"], KeyType.RSA)
    vens = {cert.name: cert for cert in [*rsa_vens, *ecdsa_vens]}
    return Pki(directory, directory / "ca.pem", {c.key_type: c for c in vtn}, vens, foreign[0])


def client_context(
    pki: Pki, cert: IssuedCert | None, suite: str | None = None, tls12: bool = False
) -> ssl.SSLContext:
    """A VEN's ssl context: trusts the test CA; optionally one cipher suite over TLS 1.2 only."""
    context = ssl.create_default_context(cafile=str(pki.ca_file))
    if cert is not None:
        context.load_cert_chain(cert.cert_path, cert.key_path)
    if suite is not None or tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if suite is not None:
        context.set_ciphers(suite)
    return context


@dataclass(frozen=True)
class Reply:
    status: int
    message_type: str | None
    element: Any
    cipher: str | None  # the negotiated suite (OpenSSL name)

    def text(self, path: str) -> str | None:
        found = self.element.find(path, NS) if self.element is not None else None
        return None if found is None or found.text is None else found.text.strip()

    @property
    def code(self) -> int | None:
        value = self.text("ei:eiResponse/ei:responseCode")
        return int(value) if value is not None else None


async def send(
    base_url: str,
    service: str,
    message_type: str,
    context: ssl.SSLContext | None = None,
    headers: dict[str, str] | None = None,
    **payload: Any,
) -> Reply:
    """POST one OpenADR message (openleadr's VEN-side templates) on a fresh connection.

    http.client in a thread, because it shows the negotiated cipher of its socket. A refused
    handshake raises OSError (ssl.SSLError, ConnectionResetError, ...).
    """
    body = create_message(message_type, **payload)
    status, raw, cipher = await asyncio.to_thread(_post, base_url, service, body, context, headers or {})
    message_type_out, element = None, None
    if raw:
        signed = etree.fromstring(raw).find("oadr:oadrSignedObject", NS)
        if signed is not None and len(signed):
            element = signed[0]
            message_type_out = etree.QName(element).localname
    return Reply(status, message_type_out, element, cipher)


def _post(
    base_url: str, service: str, body: str, context: ssl.SSLContext | None, headers: dict[str, str]
) -> tuple[int, bytes, str | None]:
    url = urlsplit(base_url)
    assert url.hostname and url.port
    conn: http.client.HTTPConnection
    if url.scheme == "https":
        conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=10)
    else:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request(
            "POST",
            f"{OPENADR}/{service}",
            body=body.encode(),
            headers={"Content-Type": "application/xml", **headers},
        )
        resp = conn.getresponse()
        raw = resp.read()
        negotiated = conn.sock.cipher() if isinstance(conn.sock, ssl.SSLSocket) else None
        return resp.status, raw, negotiated[0] if negotiated else None
    finally:
        conn.close()


async def register(base_url: str, ven_name: str, context: ssl.SSLContext | None, **kw: Any) -> Reply:
    return await send(
        base_url,
        "EiRegisterParty",
        "oadrCreatePartyRegistration",
        context,
        request_id="req-1",
        ven_name=ven_name,
        **{**REGISTRATION, **kw},
    )


@dataclass(frozen=True)
class RunningVtn:
    url: str  # scheme://127.0.0.1:port
    sessions: Any
    settings: VtnSettings
    cache: PollCache  # for use cases a test calls directly (a PollNotifier, RecentPolls)


StartVtn = Callable[..., Awaitable[RunningVtn]]


@pytest.fixture
async def start_vtn(db_url: str) -> AsyncIterator[StartVtn]:
    """`await start_vtn(tls=True, **settings)`: a VTN on a free port; all are stopped at teardown."""
    runners: list[web.AppRunner] = []

    async def start(tls: bool, pki: Pki | None = None, **extra: Any) -> RunningVtn:
        values: dict[str, Any] = {"db_url": db_url, "vtn_id": "FLEXVPP-TLS", "poll_interval_seconds": 1}
        if tls:
            assert pki is not None
            rsa, ecdsa = pki.vtn[KeyType.RSA], pki.vtn[KeyType.ECDSA]
            values.update(
                tls_cert_file=rsa.cert_path,
                tls_key_file=rsa.key_path,
                tls_extra_cert_file=ecdsa.cert_path,
                tls_extra_key_file=ecdsa.key_path,
                tls_ca_file=pki.ca_file,
            )
        settings = VtnSettings.model_validate({**values, **extra})
        app = create_app(settings)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=settings_ssl_context(settings))
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        scheme = "https" if tls else "http"
        return RunningVtn(f"{scheme}://127.0.0.1:{port}", app[SESSIONS], settings, app[POLL_CACHE])

    yield start
    for runner in reversed(runners):
        await runner.cleanup()
