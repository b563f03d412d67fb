"""A VEN's authentication settings over REST: its fingerprint and its XML signature policy."""

from __future__ import annotations

import pytest
from vtn_api_client import CheckedApi

# A VEN's authentication settings over REST (their columns are test_api_routes' on both).
pytestmark = pytest.mark.db_backends("sqlite")


async def test_signature_policy_is_set_at_provisioning_and_patched(api: CheckedApi) -> None:
    created = await api.post(
        "/vens",
        json={"ven_name": "home-1", "site_id": "s", "fingerprint": "AB:CD", "xml_signatures": "required"},
    )
    assert created.status == 201 and created.json["xml_signatures"] == "required"
    ven_id = created.json["ven_id"]
    default = await api.post("/vens", json={"ven_name": "home-2", "site_id": "s"})
    assert default.json["xml_signatures"] is None  # follows the VTN's setting

    patched = await api.patch(f"/vens/{ven_id}", json={"xml_signatures": "off"})
    assert patched.status == 200
    assert patched.json["xml_signatures"] == "off" and patched.json["fingerprint"] == "AB:CD"  # kept
    cleared = await api.patch(f"/vens/{ven_id}", json={"fingerprint": None, "xml_signatures": None})
    assert cleared.json["fingerprint"] is None and cleared.json["xml_signatures"] is None
    refingered = await api.patch(f"/vens/{ven_id}", json={"fingerprint": "01:02"})
    assert refingered.json["fingerprint"] == "01:02"
    assert (await api.get(f"/vens/{ven_id}")).json == refingered.json


async def test_bad_signature_policy_and_unknown_ven(api: CheckedApi) -> None:
    bad = await api.post("/vens", json={"ven_name": "home-1", "site_id": "s", "xml_signatures": "sometimes"})
    assert bad.status == 422 and [e["field"] for e in bad.json["errors"]] == ["xml_signatures"]
    assert (await api.patch("/vens/nope", json={"xml_signatures": "off"})).status == 404
    created = await api.post("/vens", json={"ven_name": "home-1", "site_id": "s"})
    wrong = await api.patch(f"/vens/{created.json['ven_id']}", json={"xml_signatures": 1})
    assert wrong.status == 422
