"""A VEN provisioned without a fingerprint is not trusted on the CA alone (require_ven_fingerprint).

By default that holds when client certificates are required (tls_ca_file): any VEN holding a
certificate of the CA could otherwise act for it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.vens import NewVen, provision_ven
from vtn.db.uow import UnitOfWork
from vtn.settings import VtnSettings

from .conftest import Pki, StartVtn, client_context, register

# TLS, not the database: SQLite only.
pytestmark = pytest.mark.db_backends("sqlite")


@pytest.mark.parametrize(("setting", "refused"), [(None, True), (False, False)], ids=["default", "off"])
async def test_ven_without_fingerprint_under_mutual_tls(
    start_vtn: StartVtn, pki: Pki, setting: bool | None, refused: bool
) -> None:
    vtn = await start_vtn(tls=True, pki=pki, require_ven_fingerprint=setting)
    # no fingerprint
    info = await provision_ven(UnitOfWork(vtn.sessions), NewVen("rsa-ven", "site-rsa"), datetime.now(UTC))
    reply = await register(vtn.url, "rsa-ven", client_context(pki, pki.vens["other-ven"]))
    assert reply.message_type == "oadrCreatedPartyRegistration"
    if refused:
        assert reply.code == 463 and reply.text("ei:registrationID") is None
        assert "without a certificate fingerprint" in (
            reply.text("ei:eiResponse/ei:responseDescription") or ""
        )
    else:
        assert reply.code == 200 and reply.text("ei:venID") == info.ven_id


def test_default_follows_whether_client_certificates_are_required(pki: Pki) -> None:
    plain = VtnSettings()
    assert not plain.ven_fingerprint_required
    assert VtnSettings(trusted_proxy_addresses=["10.0.0.1"]).ven_fingerprint_required
    mtls = VtnSettings(
        tls_cert_file=pki.ca_file, tls_key_file=pki.ca_file, tls_ca_file=pki.ca_file
    )  # only the file names are read here
    assert mtls.ven_fingerprint_required
    assert not mtls.model_copy(update={"require_ven_fingerprint": False}).ven_fingerprint_required
    assert VtnSettings(require_ven_fingerprint=True).ven_fingerprint_required
