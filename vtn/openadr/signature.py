"""XML signatures of OpenADR 2.0b messages: verify what a VEN signed, sign the VTN's replies.

The format is openleadr's (OpenADR 2.0b XMLDSig): a `ds:Signature` before `oadrSignedObject`
in the `oadrPayload`, with two references, `#oadrSignedObject` and the `ds:Object` that holds
`dsp:ReplayProtect` (a timestamp and a nonce); inclusive C14N 1.0; RSA-SHA256 or ECDSA-SHA256;
the signer's certificate in `KeyInfo/X509Data`.

A signature is checked against the VEN's certificate: the certificate in the signature must have
the VEN's provisioned fingerprint (or, for a VEN provisioned without one, the fingerprint of the
TLS client certificate of the connection). The ReplayProtect timestamp must be within
`xml_signature_max_skew_seconds` of the VTN's clock, either way (clock skew), and its nonce must
be new: nonces are claimed in the `signature_nonces` table, whose primary key makes the claim
atomic across VTN processes sharing the database.

What openleadr does per message and we do once: parse the signing certificate (cached by its
base64 text) and load the VTN's private key (at start-up, in oadrsign.MessageSigner: an RSA key
load costs ~0.4 s with current `cryptography`, and openleadr's `create_message` loads it twice
per message).
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml.algorithms import SignatureMethod
from signxml.exceptions import SignXMLException
from signxml.verifier import SignatureConfiguration, XMLVerifier

from oadrsign import DSP, MessageSigner, SigningKeyError
from vtn.openadr.xml import OADR
from vtn.tls import TlsConfigError, fingerprint_from_der

if TYPE_CHECKING:
    from vtn.db.uow import Sessions
    from vtn.settings import VtnSettings

log = logging.getLogger(__name__)

DS = "http://www.w3.org/2000/09/xmldsig#"
SIGNATURE = f"{{{DS}}}Signature"
_X509_CERTIFICATE = f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"
_REFERENCE = f"{{{DS}}}SignedInfo/{{{DS}}}Reference"
_REPLAY_PROTECT = f"{{{DSP}}}ReplayProtect"
SIGNED_OBJECT = f"{OADR}oadrSignedObject"
MAX_NONCE_LENGTH = 128  # signature_nonces.nonce

# Asymmetric methods only (no HMAC, no SHA-1); exactly the two references openleadr makes.
VERIFY_CONFIG = SignatureConfiguration(
    require_x509=True,
    expect_references=2,
    signature_methods=frozenset(
        {
            SignatureMethod.RSA_SHA256,
            SignatureMethod.RSA_SHA384,
            SignatureMethod.RSA_SHA512,
            SignatureMethod.ECDSA_SHA256,
            SignatureMethod.ECDSA_SHA384,
            SignatureMethod.ECDSA_SHA512,
        }
    ),
)


class SignaturePolicy(StrEnum):
    REQUIRED = "required"  # every message must carry a valid signature
    OPTIONAL = "optional"  # a signature is verified when present; unsigned messages pass
    OFF = "off"  # signatures are neither verified nor made


class SignatureRefused(Exception):
    """The message's signature is missing, invalid, stale or replayed; the text says which."""


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    fingerprint: str  # of the signing certificate
    nonce: str
    signed_at: datetime


def signature_element(root: etree._Element) -> etree._Element | None:
    """The payload's `ds:Signature` (a direct child of oadrPayload), if the message is signed."""
    found: etree._Element | None = root.find(SIGNATURE)
    return found


@functools.lru_cache(maxsize=4096)
def _certificate(b64: str) -> tuple[x509.Certificate, str]:
    """The parsed signing certificate and its fingerprint, once per distinct certificate."""
    der = base64.b64decode("".join(b64.split()), validate=True)
    return x509.load_der_x509_certificate(der), fingerprint_from_der(der)


def verify_signature(
    root: etree._Element, expected_fingerprint: str | None, now: datetime, max_skew: timedelta
) -> VerifiedSignature:
    """Check the payload's signature and ReplayProtect timestamp (not the nonce: see NonceStore).

    `expected_fingerprint` is the VEN's certificate; None (nothing to bind the signature to)
    refuses the message. Raises SignatureRefused naming the problem.
    """
    signature = signature_element(root)
    if signature is None:
        raise SignatureRefused("the message is not signed")
    cert_element = signature.find(_X509_CERTIFICATE)
    if cert_element is None or not (cert_element.text or "").strip():
        raise SignatureRefused("the signature carries no X509Certificate")
    try:
        certificate, fingerprint = _certificate(cert_element.text or "")
    except (ValueError, binascii.Error) as exc:
        raise SignatureRefused(f"the signature's X509Certificate cannot be read: {exc}") from None
    if expected_fingerprint is None:
        raise SignatureRefused(
            "the signature cannot be checked: the VEN has no provisioned fingerprint and the "
            "connection no client certificate"
        )
    if fingerprint != expected_fingerprint.strip().upper():
        raise SignatureRefused(
            f"the message is signed with another certificate ({fingerprint}) than the VEN's"
        )
    try:
        results = XMLVerifier().verify(root, x509_cert=certificate, expect_config=VERIFY_CONFIG)
    except (SignXMLException, ValueError, etree.LxmlError) as exc:
        raise SignatureRefused(f"the signature does not verify: {exc}") from None
    nonce, signed_at = _signed_parts(root, signature, results if isinstance(results, list) else [results])
    if abs(signed_at - now) > max_skew:
        raise SignatureRefused(
            f"the signature's timestamp {signed_at.isoformat()} is more than "
            f"{int(max_skew.total_seconds())} s from the VTN's clock"
        )
    return VerifiedSignature(fingerprint, nonce, signed_at)


def _signed_parts(
    root: etree._Element, signature: etree._Element, results: list[Any]
) -> tuple[str, datetime]:
    """Make sure what was signed is what the VTN reads; return the signed nonce and timestamp.

    signxml resolves `#id` references by any attribute named Id and refuses an ambiguous one,
    so a reference to the Id of the payload's own oadrSignedObject signed exactly that element.
    """
    signed_object = root.find(SIGNED_OBJECT)
    ids = {
        value
        for name, value in (signed_object.attrib.items() if signed_object is not None else ())
        if etree.QName(name).localname == "Id"
    }
    uris = [reference.get("URI") or "" for reference in signature.findall(_REFERENCE)]
    if len(uris) != len(results) or not any(uri[:1] == "#" and uri[1:] in ids for uri in uris):
        raise SignatureRefused("the signature does not cover the payload's oadrSignedObject")
    replay = [
        found
        for result in results
        if result.signed_xml is not None
        for found in result.signed_xml.iter(_REPLAY_PROTECT)
    ]
    if len(replay) != 1:
        raise SignatureRefused("the signature must cover exactly one ReplayProtect element")
    nonce = (replay[0].findtext(f"{{{DSP}}}nonce") or "").strip()
    stamp = (replay[0].findtext(f"{{{DSP}}}timestamp") or "").strip()
    if not nonce or len(nonce) > MAX_NONCE_LENGTH:
        raise SignatureRefused(f"the ReplayProtect nonce must have 1 to {MAX_NONCE_LENGTH} characters")
    try:
        signed_at = datetime.fromisoformat(stamp)
    except ValueError:
        raise SignatureRefused(f"the ReplayProtect timestamp {stamp[:40]!r} is not a date-time") from None
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=UTC)
    return nonce, signed_at.astimezone(UTC)


# ---- the nonce store ------------------------------------------------------------------------


class NonceStore:
    """Claims nonces in the `signature_nonces` table: the first claim wins, in any process.

    Rows older than the replay window are deleted at most every `prune_every_seconds` (per
    process), in the claiming transaction: one indexed DELETE.
    """

    def __init__(
        self,
        window: timedelta,
        prune_every_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.prune_every_seconds = prune_every_seconds
        self._monotonic = monotonic
        self._pruned_at = -float("inf")

    async def claim(
        self, sessions: Sessions, signed: VerifiedSignature, ven_id: str | None, now: datetime
    ) -> bool:
        """True if the nonce is new (and is now recorded); False if it was seen before."""
        from vtn.db.uow import UnitOfWork

        async with UnitOfWork(sessions) as uow:
            claimed = await uow.nonces.claim(signed.nonce, ven_id, signed.signed_at, now)
            if self._monotonic() - self._pruned_at >= self.prune_every_seconds:
                self._pruned_at = self._monotonic()
                await uow.nonces.prune(now - self.window)
            await uow.commit()
        return claimed


# ---- signing the VTN's replies --------------------------------------------------------------


class ReplySigner(MessageSigner):
    """Signs oadrPayload documents (from vtn.openadr.render) with the VTN's key and certificate,
    both loaded once (oadrsign: the signing the agent uses too); knows its certificate's fingerprint."""

    def __init__(self, cert_file: Path, key_file: Path) -> None:
        try:
            super().__init__(cert_file, key_file)
        except SigningKeyError as exc:  # the VTN's start-up errors are TlsConfigError
            raise TlsConfigError(f"XML signing: {exc}") from exc
        self.fingerprint = fingerprint_from_der(self.certificate.public_bytes(serialization.Encoding.DER))


def reply_signer(cert_file: Path | None, key_file: Path | None) -> ReplySigner | None:
    return ReplySigner(cert_file, key_file) if cert_file is not None and key_file is not None else None


class Signatures:
    """The VTN's signature state: the default policy, the replay window, nonces, its signing key."""

    def __init__(
        self,
        default: SignaturePolicy,
        max_skew: timedelta,
        signer: ReplySigner | None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.default = default
        self.max_skew = max_skew
        self.signer = signer
        self.nonces = NonceStore(max_skew)
        self.wall_clock = wall_clock  # real time: VENs stamp real time, whatever the VTN's clock

    @classmethod
    def from_settings(cls, settings: VtnSettings) -> Signatures:
        cert, key = settings.xml_signing_cert_file, settings.xml_signing_key_file
        if cert is None:  # the TLS server certificate (the first, RSA in `flexvpp certs init`)
            cert, key = settings.tls_cert_file, settings.tls_key_file
        return cls(
            SignaturePolicy(settings.xml_signatures),
            timedelta(seconds=settings.xml_signature_max_skew_seconds),
            reply_signer(cert, key),
        )

    def policy(self, provisioned: str | None) -> SignaturePolicy:
        """The VEN's own policy (`vens.xml_signatures`), else the VTN's."""
        return SignaturePolicy(provisioned) if provisioned else self.default

    async def check(
        self,
        sessions: Sessions,
        root: etree._Element,
        policy: SignaturePolicy,
        expected_fingerprint: str | None,
        ven_id: str | None,
    ) -> VerifiedSignature | None:
        """Verify the message's signature as `policy` says; claim its nonce. SignatureRefused if not."""
        if policy is SignaturePolicy.OFF:
            return None
        if signature_element(root) is None:
            if policy is SignaturePolicy.REQUIRED:
                raise SignatureRefused("this VEN must sign its messages (XML signature)")
            return None
        now = self.wall_clock()
        signed = verify_signature(root, expected_fingerprint, now, self.max_skew)
        if not await self.nonces.claim(sessions, signed, ven_id, now):
            raise SignatureRefused(f"the ReplayProtect nonce {signed.nonce[:40]} was used before (a replay)")
        return signed
