"""Hostile and broken input: an error reply, the server stays up, and nothing stored changes."""

from __future__ import annotations

from typing import Any

import pytest
from openleadr.messaging import create_message
from sqlalchemy import func, select

from vtn.db import tables

from .harness import Vtn, assert_valid
from .helpers import poll, provision_and_register

# The parser's refusals, before any query: SQLite only.
pytestmark = pytest.mark.db_backends("sqlite")

TABLES = [
    tables.Ven,
    tables.OutboxMessage,
    tables.Event,
    tables.EventTarget,
    tables.EventResponse,
    tables.Opt,
    tables.ReportRegistration,
    tables.ReportRequest,
    tables.ReportValue,
]


async def snapshot(vtn: Vtn) -> dict[str, Any]:
    """Row counts and the VEN rows: enough to see any write."""
    async with vtn.sessions() as session:
        counts = {t.__tablename__: await session.scalar(select(func.count()).select_from(t)) for t in TABLES}
        vens = (
            await session.execute(
                select(tables.Ven.ven_id, tables.Ven.registration_id, tables.Ven.registered_at)
            )
        ).all()
    return {"counts": counts, "vens": sorted(vens)}


def poll_xml(ven_id: str) -> str:
    body: str = create_message("oadrPoll", ven_id=ven_id)
    return body


def with_doctype(doctype: str, body: str) -> str:
    return body.replace(
        '<?xml version="1.0" encoding="utf-8"?>', f'<?xml version="1.0" encoding="utf-8"?>\n{doctype}', 1
    )


XXE = '<!DOCTYPE oadrPayload [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
)


@pytest.mark.parametrize(
    "case",
    [
        "xxe",
        "billion_laughs",
        "malformed",
        "not_openadr",
        "schema_invalid",
        "oversized",
        "wrong_content_type",
        "empty",
    ],
)
async def test_hostile_input_is_refused_and_changes_nothing(vtn: Vtn, case: str) -> None:
    ven_id, registration_id = await provision_and_register(vtn, "ven-h")
    before = await snapshot(vtn)
    cancel = create_message(
        "oadrCancelPartyRegistration", request_id="r", registration_id=registration_id, ven_id=ven_id
    )
    content_type = "application/xml"
    expected_status = 400
    if case == "xxe":
        body = with_doctype(XXE, cancel).replace(f"<ei:venID>{ven_id}", "<ei:venID>&xxe;")
    elif case == "billion_laughs":
        body = with_doctype(LAUGHS, cancel).replace(f"<ei:venID>{ven_id}", "<ei:venID>&lol4;")
    elif case == "malformed":
        body = cancel[: len(cancel) // 2]
    elif case == "not_openadr":
        body = "<html><body>hello</body></html>"
    elif case == "schema_invalid":
        body = cancel.replace("<ei:registrationID>", "<ei:bogus>x</ei:bogus><ei:registrationID>")
    elif case == "oversized":
        body = cancel.replace("<ei:venID>", "<!--" + "x" * vtn.settings.max_body_bytes + "--><ei:venID>")
        expected_status = 413
    elif case == "wrong_content_type":
        body, content_type, expected_status = cancel, "text/plain", 415
    else:
        body = ""
    reply = await vtn.post("EiRegisterParty", body, content_type=content_type)
    assert reply.status == expected_status
    assert reply.message_type == "oadrResponse" and reply.code is not None and reply.code >= 450
    assert await snapshot(vtn) == before
    # the server is still up and the VEN still registered
    assert (await poll(vtn, ven_id)).code == 200


async def test_xxe_does_not_leak_files_into_replies(vtn: Vtn) -> None:
    body = with_doctype(
        XXE, create_message("oadrQueryRegistration", request_id="&xxe;".replace("&xxe;", "q"))
    )
    body = body.replace(">q</requestID>", ">&xxe;</requestID>")
    assert "&xxe;" in body
    reply = await vtn.post("EiRegisterParty", body)
    assert reply.status == 400
    assert b"root:" not in reply.body


async def test_message_at_the_wrong_service_is_a_compliance_error(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-w")
    reply = await vtn.post("EiEvent", poll_xml(ven_id))
    assert reply.status == 200 and reply.message_type == "oadrResponse" and reply.code == 459


def test_reply_validation_catches_an_invalid_document() -> None:
    """The teardown check of the harness is real: a reply missing a required element fails it."""
    good = create_message(
        "oadrResponse", response={"response_code": 200, "response_description": "OK"}, ven_id="v"
    )
    assert_valid(good.encode())
    bad = good.replace("<ei:responseCode>200</ei:responseCode>", "")
    with pytest.raises(AssertionError):
        assert_valid(bad.encode())
