"""Mutual TLS for the VTN: the server's ssl context and the client certificate of each message.

OpenADR 2.0b names two TLS 1.2 suites, TLS_RSA_WITH_AES_128_CBC_SHA256 and
TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256. Python 3.10+ drops RSA key exchange from its default
cipher list, so the list is set here explicitly: modern AEAD suites first (the server's order
wins), the two OpenADR suites after them, TLS 1.3 as OpenSSL offers it. Each OpenADR suite needs
a server key of its own type, so the VTN takes a second (cert, key) pair of the other type.

The client certificate's OpenADR fingerprint (openleadr's format: the last 10 bytes of the
SHA-256 of the DER, colon-separated upper-case hex) is bound to the provisioned VEN
(`vens.fingerprint`) and checked on every message. Behind a TLS-terminating proxy the verified
client certificate comes from a header (nginx `$ssl_client_escaped_cert`), but only when the
TCP peer is one of the configured proxy addresses; from anyone else the header is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import ssl
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote

from vtn.networks import parse_networks

if TYPE_CHECKING:
    from aiohttp import web

    from aggregator.records import VenCredentials
    from vtn.db.uow import Sessions
    from vtn.settings import VtnSettings

log = logging.getLogger(__name__)

OPENADR_RSA_SUITE = "AES128-SHA256"  # TLS_RSA_WITH_AES_128_CBC_SHA256
OPENADR_ECDSA_SUITE = "ECDHE-ECDSA-AES128-SHA256"  # TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
CIPHERS = f"ECDHE+AESGCM:ECDHE+CHACHA20:{OPENADR_ECDSA_SUITE}:{OPENADR_RSA_SUITE}"

# The provisioned fingerprints are re-read this often, so a change made through the REST API or
# by another worker takes effect within this time without a database read per message.
FINGERPRINT_REFRESH_SECONDS = 10.0


class TlsConfigError(Exception):
    """A certificate, key or CA file cannot be used; the message names the file."""


def fingerprint_from_der(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(44, 64, 2))


@lru_cache(maxsize=16_384)  # a proxy sends the same certificate on every request of a VEN
def fingerprint_from_pem(pem: str) -> str:
    """The fingerprint of a PEM certificate; ValueError if it is not one."""
    return fingerprint_from_der(ssl.PEM_cert_to_DER_cert(pem.strip() + "\n"))


# asyncio gives every TLS connection a 256 KiB read buffer (`SSLProtocol.max_size`, a
# zero-filled bytearray, so resident at once): 0.35 MB a connection in all, which made 20,000
# kept-alive VEN connections cost 3.4 GB a VTN worker. A TLS record carries at most 16 KiB, so a
# 16 KiB buffer reads one (its header split off at worst) per call; measured, 1,000 connections
# took 316 KB each with the default and 70 KB with this (flexvpp bench load, docs/faults-and-load.md).
TLS_READ_BUFFER_BYTES = 16 * 1024


def limit_tls_read_buffers(size_bytes: int = TLS_READ_BUFFER_BYTES) -> None:
    """Make this process's asyncio TLS connections read into `size_bytes` buffers (see above)."""
    from asyncio import sslproto

    # a class attribute of CPython's asyncio (3.11 to 3.14); absent elsewhere, nothing to limit
    if hasattr(sslproto.SSLProtocol, "max_size"):
        sslproto.SSLProtocol.max_size = size_bytes


def server_ssl_context(cert_files: Sequence[tuple[Path, Path]], ca_file: Path | None) -> ssl.SSLContext:
    """TLS 1.2+ with the OpenADR suites; a client certificate signed by `ca_file` is required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CIPHERS)
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    for cert_file, key_file in cert_files:
        try:
            context.load_cert_chain(cert_file, key_file)
        except (OSError, ssl.SSLError) as exc:
            raise TlsConfigError(f"cannot use certificate {cert_file} with key {key_file}: {exc}") from exc
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise TlsConfigError(f"cannot use CA file {ca_file}: {exc}") from exc
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def settings_ssl_context(settings: VtnSettings) -> ssl.SSLContext | None:
    """The VTN's ssl context from its settings, or None when it serves plain HTTP."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    pairs = [(settings.tls_cert_file, settings.tls_key_file)]
    if settings.tls_extra_cert_file is not None and settings.tls_extra_key_file is not None:
        pairs.append((settings.tls_extra_cert_file, settings.tls_extra_key_file))
    if settings.tls_ca_file is None:
        log.warning("TLS without tls_ca_file: VENs are not asked for a client certificate")
    return server_ssl_context(pairs, settings.tls_ca_file)


class Provisioned(NamedTuple):
    """What a VEN was provisioned with that authenticates it."""

    fingerprint: str | None
    xml_signatures: str | None  # required | optional | off; None: the VTN's setting


class ClientCertificates:
    """Who presented which certificate, and what each VEN was provisioned with (fingerprint, signing)."""

    def __init__(
        self,
        trusted_proxies: Sequence[str] = (),
        header: str = "X-SSL-Client-Cert",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.trusted_proxies = parse_networks(trusted_proxies)
        self.header = header
        self._clock = clock
        self._by_id: dict[str, Provisioned] = {}
        self._by_name: dict[str, Provisioned] = {}
        self._loaded_at = -float("inf")
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None

    # -- what the VEN presented --------------------------------------------------------------
    def presented(self, request: web.Request) -> str | None:
        """The fingerprint of the request's verified client certificate, if it has one."""
        transport = request.transport
        if transport is None:
            return None
        if self._from_trusted_proxy(transport.get_extra_info("peername")):
            return self._from_header(request.headers.get(self.header))
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return None
        der = ssl_object.getpeercert(binary_form=True)
        return fingerprint_from_der(der) if der else None

    def _from_trusted_proxy(self, peername: object) -> bool:
        if not self.trusted_proxies or not isinstance(peername, tuple) or not peername:
            return False
        try:
            address = ipaddress.ip_address(peername[0])
        except ValueError:
            return False
        return any(address in network for network in self.trusted_proxies)

    def _from_header(self, value: str | None) -> str | None:
        if not value or value == "-":  # the proxy saw no client certificate
            return None
        try:
            return fingerprint_from_pem(unquote(value))
        except ValueError:
            log.warning("the %s header from a trusted proxy holds no PEM certificate", self.header)
            return None

    # -- what the VEN was provisioned with ---------------------------------------------------
    async def provisioned(self, sessions: Sessions, ven_id: str | None, ven_name: str | None) -> str | None:
        """The fingerprint provisioned for the VEN (by venID, else venName); None if none or unknown."""
        record = await self.provisioned_record(sessions, ven_id, ven_name)
        return record.fingerprint if record is not None else None

    async def provisioned_record(
        self, sessions: Sessions, ven_id: str | None, ven_name: str | None
    ) -> Provisioned | None:
        """What the VEN (by venID, else venName) was provisioned with; None for an unknown VEN."""
        if self._clock() - self._loaded_at > FINGERPRINT_REFRESH_SECONDS:
            if self._loaded_at == -float("inf"):
                await self._reload(sessions)  # the first message: nothing to serve yet
            else:
                self._refresh_in_background(sessions)
        kind, key = ("id", ven_id) if ven_id else ("name", ven_name or "")
        table = self._by_id if kind == "id" else self._by_name
        if key in table:
            return table[key]
        # Not remembered when unknown: a VEN provisioned a moment later must be checked at once.
        return await self._load_one(sessions, kind, key)

    def _refresh_in_background(self, sessions: Sessions) -> None:
        """Reload in one background task and keep serving what is loaded meanwhile.

        Awaiting the reload here made every message of a busy VTN queue behind it, and when the
        database pool was drained by a burst of reports the reload waited for a connection while
        all polls waited for the reload: they all timed out. A change is now seen within
        FINGERPRINT_REFRESH_SECONDS plus one reload; a VEN that is not in memory is still read
        from the database at once (`_load_one`)."""
        if self._refreshing is not None and not self._refreshing.done():
            return
        self._refreshing = asyncio.get_running_loop().create_task(self._reload(sessions))
        self._refreshing.add_done_callback(_log_reload_failure)

    async def settle(self) -> None:
        """Wait for a background reload in progress (for tests and orderly shutdown)."""
        if self._refreshing is not None:
            with contextlib.suppress(Exception):
                await self._refreshing

    async def _reload(self, sessions: Sessions) -> None:
        from vtn.db.uow import UnitOfWork  # late: the TLS helpers need no database

        async with self._lock:
            if self._clock() - self._loaded_at <= FINGERPRINT_REFRESH_SECONDS:
                return  # another request reloaded while this one waited
            async with UnitOfWork(sessions) as uow:
                every = await uow.vens.credentials()
            self._by_id = {c.ven_id: _provisioned(c) for c in every}
            self._by_name = {c.ven_name: _provisioned(c) for c in every}
            self._loaded_at = self._clock()

    async def _load_one(self, sessions: Sessions, kind: str, key: str) -> Provisioned | None:
        """A VEN provisioned since the last reload, or None for an unknown one."""
        from vtn.db.uow import UnitOfWork

        async with UnitOfWork(sessions) as uow:
            if kind == "id":
                found = await uow.vens.credentials_of(ven_id=key)
            else:
                found = await uow.vens.credentials_of(ven_name=key)
        if found is None:
            return None
        record = _provisioned(found)
        self._by_id[found.ven_id] = record
        self._by_name[found.ven_name] = record
        return record


def _log_reload_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        # The last loaded provisioning stays in force; the next message past the interval retries.
        log.warning("reloading the provisioned fingerprints failed: %s", task.exception())


def _provisioned(credentials: VenCredentials) -> Provisioned:
    return Provisioned(credentials.fingerprint, credentials.xml_signatures)


def check_fingerprint(provisioned: str | None, presented: str | None) -> str | None:
    """Why the presented certificate may not act for the VEN, or None when it may.

    A VEN provisioned without a fingerprint is authenticated by the CA alone.
    """
    if not provisioned:
        return None
    if presented is None:
        return "this VEN must present the client certificate it was provisioned with"
    if presented.upper() != provisioned.strip().upper():
        return "the client certificate does not match the VEN's provisioned fingerprint"
    return None
