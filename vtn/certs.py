"""A test certificate authority for mutual TLS: the CA, the VTN's server certificates, VEN clients.

For tests and the demo, not for production (keys are written unencrypted). The VTN gets two
server certificates, RSA and ECDSA P-256, because each OpenADR 2.0b cipher suite needs its own
server key type (TLS_RSA_WITH_AES_128_CBC_SHA256 an RSA key, TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
an ECDSA key). Files already present are reused, so running `init` again adds VENs to the same CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vtn.tls import fingerprint_from_pem

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

RSA_BITS = 2048
CA_DAYS = 3650
LEAF_DAYS = 825  # the longest leaf lifetime common TLS clients still accept
CA_NAME = "ca"


class KeyType(StrEnum):
    RSA = "rsa"
    ECDSA = "ecdsa"


@dataclass(frozen=True, slots=True)
class IssuedCert:
    """A certificate on disk with its private key and its OpenADR fingerprint."""

    name: str
    key_type: KeyType
    cert_path: Path
    key_path: Path
    fingerprint: str


class CertificateError(Exception):
    """A certificate file is unreadable or a name is not usable as a file name."""


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type is KeyType.RSA:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    return ec.generate_private_key(ec.SECP256R1())


def _write(cert: x509.Certificate, key: PrivateKey, cert_path: Path, key_path: Path) -> None:
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # The key is created 0600 from the start, so it is never readable by others, even briefly.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _builder(subject: str, issuer: x509.Name, key: PrivateKey, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate a little clock skew
        .not_valid_after(now + dt.timedelta(days=days))
    )


@dataclass(frozen=True, slots=True)
class Authority:
    cert: x509.Certificate
    key: PrivateKey

    def issue(self, common_name: str, key_type: KeyType, server: bool) -> tuple[x509.Certificate, PrivateKey]:
        key = _new_key(key_type)
        builder = _builder(common_name, self.cert.subject, key, LEAF_DAYS)
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                # RSA key exchange (the RSA OpenADR suite) encrypts the premaster secret to this key.
                key_encipherment=key_type is KeyType.RSA,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        if server:
            names: list[x509.GeneralName] = [
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key


def _new_authority() -> Authority:
    key = _new_key(KeyType.ECDSA)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flexvpp test CA")])
    builder = _builder("flexvpp test CA", name, key, CA_DAYS)
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=True,
            key_cert_sign=True,
            crl_sign=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    return Authority(builder.sign(key, hashes.SHA256()), key)


def load_or_create_authority(directory: Path) -> Authority:
    cert_path, key_path = directory / f"{CA_NAME}.pem", directory / f"{CA_NAME}.key"
    if cert_path.exists() and key_path.exists():
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise CertificateError(f"{cert_path} / {key_path}: not a usable CA: {exc}") from exc
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise CertificateError(f"{key_path}: the CA key must be RSA or ECDSA")
        return Authority(cert, key)
    authority = _new_authority()
    _write(authority.cert, authority.key, cert_path, key_path)
    return authority


def _check_name(name: str) -> str:
    if not name or any(ch in name for ch in "/\\\x00") or name.startswith(".") or len(name) > 64:
        raise CertificateError(f"VEN name {name!r} cannot be used as a certificate file name")
    return name


def _issue_file(
    authority: Authority, directory: Path, stem: str, common_name: str, key_type: KeyType, server: bool
) -> IssuedCert:
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    if cert_path.exists() and key_path.exists():
        try:
            public_key = x509.load_pem_x509_certificate(cert_path.read_bytes()).public_key()
        except ValueError as exc:
            raise CertificateError(f"{cert_path}: not a PEM certificate: {exc}") from exc
        key_type = KeyType.RSA if isinstance(public_key, rsa.RSAPublicKey) else KeyType.ECDSA
    else:
        cert, key = authority.issue(common_name, key_type, server=server)
        _write(cert, key, cert_path, key_path)
    return IssuedCert(common_name, key_type, cert_path, key_path, fingerprint_from_pem(cert_path.read_text()))


def init_certificates(
    directory: Path, ven_names: list[str], ven_key_type: KeyType = KeyType.RSA
) -> tuple[list[IssuedCert], list[IssuedCert]]:
    """Make (or reuse) the CA, the VTN's RSA and ECDSA certificates and one certificate per VEN.

    Returns (the VTN's certificates, the VENs' certificates). VEN files are `vens/<name>.pem/.key`;
    existing files are kept (with their key type).
    """
    names = [_check_name(name) for name in ven_names]
    (directory / "vens").mkdir(parents=True, exist_ok=True)
    authority = load_or_create_authority(directory)
    vtn = [
        _issue_file(authority, directory, f"vtn-{kind.value}", "localhost", kind, server=True)
        for kind in KeyType
    ]
    vens = [
        _issue_file(authority, directory / "vens", name, name, ven_key_type, server=False) for name in names
    ]
    return vtn, vens
