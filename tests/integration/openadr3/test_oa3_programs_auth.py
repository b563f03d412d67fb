"""Auth and programs of the OpenADR 3.1 face, every reply checked against the spec."""

from __future__ import annotations

from typing import Any

import pytest
from oa3_client import Oa3Client, ven_client

pytestmark = pytest.mark.db_backends("sqlite")


async def test_auth_server_names_the_token_endpoint(http: Any) -> None:
    reply = await Oa3Client(http, None).get("/auth/server")
    assert reply.status == 200
    assert reply.json["tokenURL"].endswith("/openadr3/auth/token")


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "password", "client_id": "a", "client_secret": "b"}, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "client_id": "a"}, 400, "invalid_request"),
        (
            {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
            401,
            "invalid_client",
        ),
    ],
)
async def test_token_requests_refused_say_why(
    http: Any, form: dict[str, str], status: int, error: str
) -> None:
    async with http.post("/openadr3/auth/token", data=form) as resp:
        body = await resp.json()
    assert resp.status == status
    assert body["error"] == error and body["status"] == status


async def test_wrong_secret_and_foreign_scope_are_refused(http: Any, db_url: str) -> None:
    from vtn.openadr3.clients import cli_create_client

    client = await cli_create_client(db_url, "ven", "ven-a")
    form = {"grant_type": "client_credentials", "client_id": client.client_id, "client_secret": "wrong"}
    async with http.post("/openadr3/auth/token", data=form) as resp:
        assert resp.status == 401
    form = {**form, "client_secret": client.client_secret, "scope": "write_programs"}
    async with http.post("/openadr3/auth/token", data=form) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_scope"


async def test_no_token_or_an_unknown_one_is_401(http: Any) -> None:
    reply = await Oa3Client(http, None).get("/programs")
    assert reply.status == 401
    reply = await Oa3Client(http, "not-a-token").get("/programs")
    assert reply.status == 401 and "unknown" in reply.json["detail"]


async def test_bl_creates_reads_updates_and_deletes_a_program(bl: Oa3Client) -> None:
    created = await bl.post("/programs", {"programName": "ResTOU", "targets": ["group-1"]})
    assert created.status == 201
    program_id = created.json["id"]
    assert created.json["objectType"] == "PROGRAM"
    assert (await bl.post("/programs", {"programName": "ResTOU"})).status == 409
    listed = await bl.get("/programs")
    assert [p["programName"] for p in listed.json] == ["ResTOU"]
    assert (await bl.get("/programs?targets=group-2")).json == []
    assert len((await bl.get("/programs?targets=group-1")).json) == 1
    updated = await bl.put(f"/programs/{program_id}", {"programName": "ResTOU-2"})
    assert updated.status == 200 and updated.json["programName"] == "ResTOU-2"
    deleted = await bl.delete(f"/programs/{program_id}")
    assert deleted.status == 200
    assert (await bl.get(f"/programs/{program_id}")).status == 404


async def test_bad_program_bodies_are_400_naming_the_field(bl: Oa3Client) -> None:
    reply = await bl.post("/programs", {"programName": ""})
    assert reply.status == 400 and "programName" in reply.json["detail"]
    reply = await bl.call(
        "POST", "/programs", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400 and "JSON" in reply.json["detail"]
    reply = await bl.get("/programs?limit=51")
    assert reply.status == 400 and "limit" in reply.json["detail"]


async def test_a_ven_client_sees_untargeted_programs_and_its_own_and_may_not_write(
    http: Any, db_url: str, bl: Oa3Client
) -> None:
    for name, targets in (("open", None), ("mine", ["ven-a"]), ("theirs", ["ven-b"])):
        body: dict[str, Any] = {"programName": name}
        if targets:
            body["targets"] = targets
        assert (await bl.post("/programs", body)).status == 201
    await bl.post("/vens", {"objectType": "BL_VEN_REQUEST", "venName": "ven-a", "clientID": "x"}, check=False)
    ven = await ven_client(http, db_url, "ven-a")
    names = {p["programName"] for p in (await ven.get("/programs")).json}
    assert names == {"open", "mine"}
    assert (await ven.post("/programs", {"programName": "no"})).status == 403


async def test_the_spec_document_is_served_for_schemathesis(http: Any) -> None:
    import yaml

    async with http.get("/openadr3/openapi.yaml") as resp:
        assert resp.status == 200
        doc = yaml.safe_load(await resp.text())
    assert doc["openapi"] == "3.0.0" and "/events/{eventID}" in doc["paths"]
