"""Signing OpenADR 2.0b messages (XML signature), written once for the VEN agent and the VTN.

The format is openleadr's: a detached `ds:Signature` before `oadrSignedObject` in the
`oadrPayload`, over `#oadrSignedObject` and a `dsp:ReplayProtect` (timestamp and nonce) in a
`ds:Object`; inclusive C14N 1.0; RSA-SHA256 or ECDSA-SHA256; the signer's certificate in
`KeyInfo/X509Data`. openleadr's `create_message` parses the PEM key twice per message (about
0.4 s for an RSA key with current `cryptography`); this parses key and certificate once.

A top-level package of its own because the agent (`ven`) and the server (`vtn`) may not import
each other, and `flexmodel`, the one package both import, is the pure domain model. It imports
none of our packages (an import-linter contract), only `cryptography`, `lxml` and `signxml`,
which both the `ven` and the `server` extras install.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from signxml.algorithms import CanonicalizationMethod, SignatureConstructionMethod, SignatureMethod
from signxml.signer import XMLSigner

OADR_NS = "http://openadr.org/oadr-2.0b/2012/07"
DSP = "http://openadr.org/oadr-2.0b/2012/07/xmldsig-properties"
C14N = CanonicalizationMethod.CANONICAL_XML_1_0

_START = b"<oadr:oadrSignedObject"
_END = b"</oadr:oadrSignedObject>"


class SigningKeyError(ValueError):
    """The certificate or key cannot be used for signing; the message names the file."""


class MessageSigner:
    """Signs oadrPayload documents with one key and certificate, both loaded once."""

    def __init__(self, cert_file: Path, key_file: Path) -> None:
        try:
            self.certificate = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
        except (OSError, ValueError) as exc:
            raise SigningKeyError(f"cannot use signing certificate {cert_file}: {exc}") from exc
        try:
            key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise SigningKeyError(f"cannot use signing key {key_file}: {exc}") from exc
        if isinstance(key, rsa.RSAPrivateKey):
            self.method = SignatureMethod.RSA_SHA256
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            self.method = SignatureMethod.ECDSA_SHA256
        else:
            raise SigningKeyError(f"signing key {key_file} must be an RSA or EC key")
        self.key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = key

    def sign(self, document: bytes, now: datetime | None = None) -> bytes:
        """`document` (an unsigned oadrPayload) with a ds:Signature added before its oadrSignedObject.

        The oadrSignedObject is signed as openleadr signs it, standalone, so its inclusive C14N
        matches what a verifier computes inside the payload (whose root declares only `oadr`).
        """
        start = document.find(_START)
        end = document.rfind(_END)
        if start < 0 or end < 0:
            raise ValueError("not an oadrPayload with an oadrSignedObject")
        end += len(_END)
        signer = XMLSigner(
            method=SignatureConstructionMethod.detached, signature_algorithm=self.method, c14n_algorithm=C14N
        )
        signer.namespaces["oadr"] = OADR_NS
        signature = signer.sign(
            etree.fromstring(document[start:end]),
            key=self.key,
            cert=[self.certificate],
            reference_uri="#oadrSignedObject",
            signature_properties=replay_protect(now or datetime.now(UTC)),
        )
        signed: bytes = document[:start] + etree.tostring(signature) + b"\n" + document[start:]
        return signed


def replay_protect(now: datetime) -> etree._Element:
    """The signed `dsp:ReplayProtect`: when it was signed and a nonce never used before."""
    element = etree.Element(
        f"{{{DSP}}}ReplayProtect", nsmap={"dsp": DSP}, attrib={"Id": "myid", "Target": "#mytarget"}
    )
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    etree.SubElement(element, f"{{{DSP}}}timestamp").text = stamp
    etree.SubElement(element, f"{{{DSP}}}nonce").text = uuid.uuid4().hex
    return element
