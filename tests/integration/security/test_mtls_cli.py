"""`flexvpp certs init` and `flexvpp vtn serve --tls-*` as an operator runs them: the server as a
process of its own, the other command lines in this process (tests/cli_in_process.py)."""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.request import Request, urlopen

import pytest
from cli_in_process import run_flexvpp as flexvpp
from openleadr.utils import certificate_fingerprint

from vtn.tls import OPENADR_ECDSA_SUITE, OPENADR_RSA_SUITE

from .conftest import register

pytestmark = pytest.mark.slow
FINGERPRINT_LINE = re.compile(
    r"^VEN (\S+) \((rsa|ecdsa)\) fingerprint ((?:[0-9A-F]{2}:){9}[0-9A-F]{2}) cert (\S+)$"
)


def _fingerprints(stdout: str) -> dict[str, tuple[str, str, Path]]:
    found = {}
    for line in stdout.splitlines():
        match = FINGERPRINT_LINE.match(line)
        if match:
            found[match[1]] = (match[2], match[3], Path(match[4]))
    return found


def test_certs_init_prints_openleadr_fingerprints_and_reuses_the_ca(tmp_path: Path) -> None:
    first = flexvpp("certs", "init", "--dir", str(tmp_path), "--vens", "2")
    assert first.returncode == 0, first.stderr
    vens = _fingerprints(first.stdout)
    assert set(vens) == {"ven-1", "ven-2"}
    for kind, fingerprint, cert_path in vens.values():
        assert kind == "rsa" and fingerprint == certificate_fingerprint(cert_path.read_text())
        assert (cert_path.with_suffix(".key").stat().st_mode & 0o077) == 0  # keys are private
    ca = (tmp_path / "ca.pem").read_bytes()

    second = flexvpp(
        "certs", "init", "--dir", str(tmp_path), "--ven", "ven-1", "--ven", "e-home", "--key-type", "ecdsa"
    )
    assert second.returncode == 0, second.stderr
    again = _fingerprints(second.stdout)
    assert again["ven-1"] == vens["ven-1"]  # kept, not re-issued
    assert again["e-home"][0] == "ecdsa"
    assert (tmp_path / "ca.pem").read_bytes() == ca
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    context.load_cert_chain(again["e-home"][2], again["e-home"][2].with_suffix(".key"))  # a valid pair


def test_certs_init_refuses_a_bad_ven_name(tmp_path: Path) -> None:
    result = flexvpp("certs", "init", "--dir", str(tmp_path), "--ven", "../escape")
    assert result.returncode == 2 and "'../escape'" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    result = flexvpp(
        "certs", "init", "--dir", str(tmp_path / "pki"), "--ven", "home-e", "--key-type", "ecdsa"
    )
    assert result.returncode == 0, result.stderr
    result = flexvpp("certs", "init", "--dir", str(tmp_path / "pki"), "--ven", "home-r")
    assert result.returncode == 0, result.stderr
    return tmp_path / "pki"


@pytest.fixture
def served(pki_dir: Path, tmp_path: Path) -> Iterator[tuple[int, str]]:
    db = f"sqlite:///{tmp_path / 'vtn.db'}"
    port = _free_port()
    p = pki_dir
    args = ["vtn", "serve", "--db", db, "--port", str(port), "--migrate", "--tls-ca", str(p / "ca.pem")]
    for kind in ("rsa", "ecdsa"):
        args += ["--tls-cert", str(p / f"vtn-{kind}.pem"), "--tls-key", str(p / f"vtn-{kind}.key")]
    log = (tmp_path / "vtn.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "flexvpp", *args], stdout=log, stderr=subprocess.STDOUT)
    try:
        yield port, db
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _https(
    port: int, pki_dir: Path, ven: str, method: str, path: str, token: str, body: object = None
) -> object:
    context = ssl.create_default_context(cafile=str(pki_dir / "ca.pem"))
    context.load_cert_chain(pki_dir / "vens" / f"{ven}.pem", pki_dir / "vens" / f"{ven}.key")
    data = json.dumps(body).encode() if body is not None else None
    request = Request(f"https://127.0.0.1:{port}/api/v1{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urlopen(request, context=context, timeout=10) as resp:
        return json.loads(resp.read())


def _wait_up(port: int, pki_dir: Path) -> None:
    deadline = time.monotonic() + 120  # only stops a hang (a busy machine may take a minute)
    while True:
        try:
            _https(port, pki_dir, "home-r", "GET", "/health", "none")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


async def test_vtn_serve_with_tls_options_negotiates_both_suites(
    served: tuple[int, str], pki_dir: Path
) -> None:
    port, db = served
    _wait_up(port, pki_dir)  # /health is public; it answers once the schema is migrated
    created = flexvpp("token", "create", "--role", "operator", "--db", db)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    url = f"https://127.0.0.1:{port}"
    for ven, suite in (("home-r", OPENADR_RSA_SUITE), ("home-e", OPENADR_ECDSA_SUITE)):
        fingerprint = certificate_fingerprint((pki_dir / "vens" / f"{ven}.pem").read_text())
        _https(
            port,
            pki_dir,
            ven,
            "POST",
            "/vens",
            token,
            {"ven_name": ven, "site_id": f"s-{ven}", "fingerprint": fingerprint},
        )
        context = ssl.create_default_context(cafile=str(pki_dir / "ca.pem"))
        context.load_cert_chain(pki_dir / "vens" / f"{ven}.pem", pki_dir / "vens" / f"{ven}.key")
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(suite)
        reply = await register(url, ven, context)
        assert reply.code == 200 and reply.cipher == suite


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tls-cert", "ca.pem"], "--tls-cert and --tls-key together"),
        (["--tls-cert", "missing.pem", "--tls-key", "ca.key"], "missing.pem does not exist"),
        (
            ["--trusted-proxy", "nonsense"],
            "trusted_proxy_addresses: 'nonsense' is not an IP address or network",
        ),
        (
            ["--trusted-proxy", "10.0.0.0/8", "--client-cert-header", ""],
            "client_cert_header: String should have",
        ),
    ],
)
def test_vtn_serve_refuses_bad_tls_options(
    pki_dir: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    args = [str(pki_dir / a) if a.endswith((".pem", ".key")) else a for a in extra]
    result = flexvpp("vtn", "serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--migrate", *args)
    assert result.returncode == 2 and message in result.stderr


def test_vtn_serve_names_an_unusable_certificate(pki_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    result = flexvpp(
        "vtn",
        "serve",
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
        "--migrate",
        "--port",
        str(_free_port()),
        "--tls-cert",
        str(broken),
        "--tls-key",
        str(pki_dir / "vtn-rsa.key"),
    )
    assert result.returncode == 1 and f"cannot use certificate {broken}" in result.stderr
