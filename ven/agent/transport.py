"""The agent's OpenADR 2.0b transport: one message out, one message back, or an error saying why.

One aiohttp session (mutual TLS when configured; the headers and timeouts openleadr's client
used), messages built with openleadr's public `create_message` and signed with oadrsign when
configured, replies checked against the 2.0b XSD and, with the VTN's fingerprint, its signature.
The caller learns what went wrong from the exception's type:

- VtnUnreachable: no HTTP answer (connection refused, TLS handshake failed, timeout);
- VtnHttpError: an answer other than 200 (its status and the start of its body);
- InvalidXml: a 200 answer that is not an OpenADR 2.0b message (not XML, not the schema, not parseable);
- BadSignature: a reply whose signature does not verify or is not the VTN's certificate.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from lxml import etree
from openleadr.messaging import create_message, parse_message, validate_xml_schema, validate_xml_signature

from oadrsign import MessageSigner

log = logging.getLogger(__name__)

HEADERS = {"content-type": "application/xml"}
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0
BODY_EXCERPT = 300  # characters of a refused answer kept in VtnHttpError


class TransportError(Exception):
    """The exchange failed; the subclass says where."""


class VtnUnreachable(TransportError):
    """No HTTP answer: connection refused or reset, TLS handshake failed, timeout."""


class VtnHttpError(TransportError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class InvalidXml(TransportError):
    """The answer is not an OpenADR 2.0b message: not XML, against the XSD, or not parseable."""


class BadSignature(TransportError):
    """The answer's XML signature does not verify, or was not made with the VTN's certificate."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: Path  # the agent's client certificate (and, when signing, its signing certificate)
    key: Path
    ca: Path  # the CA that issued the VTN's server certificate


class VtnTransport:
    def __init__(
        self,
        vtn_url: str,
        tls: TlsFiles | None = None,
        sign: bool = False,
        vtn_fingerprint: str | None = None,
        validate_outgoing: bool = False,
    ) -> None:
        if sign and tls is None:
            raise ValueError("signing needs the TLS client certificate and key")
        self.vtn_url = vtn_url.rstrip("/")
        self.tls = tls
        self.signer = MessageSigner(tls.cert, tls.key) if sign and tls is not None else None
        self.vtn_fingerprint = vtn_fingerprint  # a reply not signed by this certificate is refused
        # Check every outgoing message against the OpenADR 2.0b XSD (tests; costs CPU on a gateway).
        self.validate_outgoing = validate_outgoing
        self.invalid_outgoing = 0
        self._session: aiohttp.ClientSession | None = None

    def message(self, message_type: str, **payload: Any) -> bytes:
        """The oadrPayload document of this message, signed when configured."""
        document = str(create_message(message_type, disable_signature=True, **payload)).encode()
        return self.signer.sign(document) if self.signer is not None else document

    async def exchange(
        self, service: str, message_type: str, **payload: Any
    ) -> tuple[str | None, dict[str, Any]]:
        """Send the message to the VTN's `service` endpoint; the reply's type and payload.

        An empty 200 answer (no message) is (None, {}). Raises a TransportError subclass.
        """
        return await self.post(service, self.message(message_type, **payload))

    async def post(self, service: str, document: bytes) -> tuple[str | None, dict[str, Any]]:
        if self.validate_outgoing:
            self._check_outgoing(service, document)
        status, content = await self._send(service, document)
        if status != 200:
            raise VtnHttpError(status, content[:BODY_EXCERPT].decode("utf-8", "replace"))
        if not content:
            return None, {}
        try:
            tree = validate_xml_schema(content)
        except (etree.LxmlError, ValueError) as exc:  # XMLSyntaxError, DocumentInvalid
            raise InvalidXml(str(exc)) from exc
        if self.vtn_fingerprint:  # signed by the VTN's certificate, fresh, nonce not seen
            try:
                validate_xml_signature(tree, cert_fingerprint=self.vtn_fingerprint)
            except Exception as exc:  # FingerprintMismatch, signxml's, and openleadr's own on a missing part
                raise BadSignature(str(exc) or type(exc).__name__) from exc
        try:
            message_type, message_payload = parse_message(content)
        except Exception as exc:  # openleadr's parser raises what its templates and xmltodict raise
            raise InvalidXml(f"cannot parse: {exc}") from exc
        return str(message_type), message_payload

    async def _send(self, service: str, document: bytes) -> tuple[int, bytes]:
        session = self._ensure_session()
        try:
            async with session.post(f"{self.vtn_url}/{service}", data=document) as reply:
                return reply.status, await reply.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise VtnUnreachable(str(exc) or type(exc).__name__) from exc

    def _check_outgoing(self, service: str, document: bytes) -> None:
        try:
            validate_xml_schema(document)
        except (etree.LxmlError, ValueError) as exc:  # lxml's XMLSyntaxError and DocumentInvalid
            self.invalid_outgoing += 1
            log.error("our own %s message fails the OpenADR 2.0b XSD: %s", service, exc)

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = None
            if self.tls is not None:  # mutual TLS: our certificate, the VTN's checked against the CA
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.load_verify_locations(str(self.tls.ca))
                context.load_cert_chain(str(self.tls.cert), str(self.tls.key))
                connector = aiohttp.TCPConnector(ssl=context)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=HEADERS,
                timeout=aiohttp.ClientTimeout(sock_connect=CONNECT_TIMEOUT_S, sock_read=READ_TIMEOUT_S),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
