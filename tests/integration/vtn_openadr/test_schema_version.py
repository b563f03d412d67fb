"""An unqualified `schemaVersion` (older VENs): 400 by default; with the setting
accept_unqualified_schema_version, accepted with a warning (issue 16). Only that fault is forgiven."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree
from openleadr.messaging import create_message

from vtn.app import CLOCK, SESSIONS, create_app
from vtn.openadr.xml import NS
from vtn.settings import VtnSettings

from .harness import FakeClock, Vtn, assert_valid
from .helpers import provision_and_register

# The parser's namespace rule, before any query: SQLite only.
pytestmark = pytest.mark.db_backends("sqlite")

EI_SCHEMA_VERSION = "{" + NS["ei"] + "}schemaVersion"


@pytest.fixture
def make_vtn(db_url: str, aiohttp_client: Any) -> Callable[[bool], Any]:
    async def make(accept: bool) -> Vtn:
        settings = VtnSettings.model_validate(
            {"db_url": db_url, "vtn_id": "FLEXVPP-TEST-VTN", "accept_unqualified_schema_version": accept}
        )
        app = create_app(settings)
        clock = FakeClock()
        app[CLOCK] = clock  # type: ignore[misc]
        return Vtn(await aiohttp_client(app), clock, app[SESSIONS], settings)

    return make


def _unqualified(body: str, where: str, value: str = "2.0b") -> bytes:
    """The message with an unqualified schemaVersion on oadrPayload, oadrSignedObject or the message."""
    root = etree.fromstring(body.encode())
    signed = root.find("oadr:oadrSignedObject", NS)
    message = signed[0]
    message.attrib.pop(EI_SCHEMA_VERSION, None)
    target = {"payload": root, "signed": signed, "message": message}[where]
    target.set("schemaVersion", value)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return data


async def _poll_body(vtn: Vtn) -> str:
    ven_id, _ = await provision_and_register(vtn, "ven-old")
    body: str = create_message("oadrPoll", ven_id=ven_id)
    return body


@pytest.mark.parametrize("where", ["payload", "signed", "message"])
async def test_strict_by_default(make_vtn: Callable[[bool], Any], where: str) -> None:
    vtn = await make_vtn(False)
    reply = await vtn.post("OadrPoll", _unqualified(await _poll_body(vtn), where))
    assert reply.status == 400
    assert_valid(reply.body)
    assert reply.message_type == "oadrResponse" and reply.code == 454
    assert "schemaVersion" in (reply.text("ei:eiResponse/ei:responseDescription") or "")


@pytest.mark.parametrize("where", ["payload", "signed", "message"])
async def test_accepted_with_a_warning_when_set(
    make_vtn: Callable[[bool], Any], where: str, caplog: pytest.LogCaptureFixture
) -> None:
    vtn = await make_vtn(True)
    body = await _poll_body(vtn)
    with caplog.at_level(logging.WARNING, logger="vtn.openadr.xml"):
        reply = await vtn.post("OadrPoll", _unqualified(body, where))
    assert reply.status == 200, reply.body
    assert reply.message_type == "oadrResponse" and reply.code == 200
    assert_valid(reply.body)
    assert any("unqualified schemaVersion" in r.getMessage() for r in caplog.records)


async def test_only_the_missing_namespace_is_forgiven(make_vtn: Callable[[bool], Any]) -> None:
    vtn = await make_vtn(True)
    body = await _poll_body(vtn)
    bad_value = await vtn.post("OadrPoll", _unqualified(body, "message", value="not a version"))
    assert bad_value.status == 400
    other_fault = (
        _unqualified(body, "payload")
        .replace(b"<ei:venID>", b"<ei:venId>")
        .replace(b"</ei:venID>", b"</ei:venId>")
    )
    assert (await vtn.post("OadrPoll", other_fault)).status == 400
