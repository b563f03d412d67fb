"""Signing the agent's OpenADR messages (XML signature), with the key loaded once.

openleadr's `create_message` signs in the OpenADR 2.0b format (a `ds:Signature` over
`oadrSignedObject` and a `dsp:ReplayProtect` timestamp and nonce), but it parses the PEM key
twice per message: about 0.4 s for an RSA key with current `cryptography`. This signs the same
way with the key and certificate parsed once. (The VTN's vtn/openadr/signature.py does the same
for its replies; the VEN cannot import the server package.)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from openleadr.messaging import create_message
from signxml.algorithms import CanonicalizationMethod, SignatureConstructionMethod, SignatureMethod
from signxml.signer import XMLSigner

OADR = "http://openadr.org/oadr-2.0b/2012/07"
DSP = "http://openadr.org/oadr-2.0b/2012/07/xmldsig-properties"


class SigningKeyError(ValueError):
    """The certificate or key cannot be used for signing; the message names the file."""


class MessageSigner:
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

    def create_message(self, message_type: str, **payload: Any) -> str:
        """openleadr's message, signed: a drop-in for `OpenADRClient._create_message`."""
        document: str = create_message(message_type, disable_signature=True, **payload)
        start = document.index("<oadr:oadrSignedObject")
        end = document.rindex("</oadr:oadrSignedObject>") + len("</oadr:oadrSignedObject>")
        signer = XMLSigner(
            method=SignatureConstructionMethod.detached,
            signature_algorithm=self.method,
            c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0,
        )
        signer.namespaces["oadr"] = OADR
        signature = signer.sign(
            etree.fromstring(document[start:end].encode()),
            key=self.key,
            cert=[self.certificate],
            reference_uri="#oadrSignedObject",
            signature_properties=_replay_protect(),
        )
        signed: str = document[:start] + etree.tostring(signature).decode() + "\n" + document[start:]
        return signed


def _replay_protect() -> etree._Element:
    element = etree.Element(
        f"{{{DSP}}}ReplayProtect", nsmap={"dsp": DSP}, attrib={"Id": "myid", "Target": "#mytarget"}
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    etree.SubElement(element, f"{{{DSP}}}timestamp").text = stamp
    etree.SubElement(element, f"{{{DSP}}}nonce").text = uuid.uuid4().hex
    return element
