"""Error replies to a VEN the VTN does not know (issue 16): no `<ei:venID>None</ei:venID>`.

Every message type a VEN sends, built as the seeds of the fuzzer are, goes to its service
twice: without a venID (where the XSD lets it out) and naming a venID nobody provisioned.
Every reply must be XSD-valid, and its venID is absent or the one the message named; the
transport errors (wrong Content-Type, malformed XML) carry none either.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fuzz.messages import BUILDERS, VenState
from lxml import etree
from openleadr.messaging import create_message

from vtn.openadr.xml import NS, schema

from .harness import Reply, Vtn, assert_valid

# What is answered to a VEN that a lookup does not find, not how it is looked up: SQLite only.
pytestmark = pytest.mark.db_backends("sqlite")

UNKNOWN = "ven-nobody-knows"
STATE = VenState(
    ven_id=UNKNOWN,
    ven_name="ven-not-provisioned",
    registration_id="reg-unknown",
    event_id="event-unknown",
    report_request_id="rr-unknown",
    opt_id="opt-unknown",
)
# VEN-initiated report messages the fuzz seeds lack: a VEN asking the VTN for reports.
EXTRA: dict[str, tuple[str, str, dict[str, Any]]] = {
    "create_report": (
        "EiReport",
        "oadrCreateReport",
        {
            "request_id": "req-cr",
            "ven_id": UNKNOWN,
            "report_requests": [
                {
                    "report_request_id": "rr-1",
                    "report_specifier": {
                        "report_specifier_id": "METADATA",
                        "granularity": timedelta(0),
                        "report_back_duration": timedelta(0),
                        "specifier_payloads": [{"r_id": "x", "reading_type": "x-notApplicable"}],
                    },
                }
            ],
        },
    ),
    "cancel_report": (
        "EiReport",
        "oadrCancelReport",
        {"request_id": "req-cx", "ven_id": UNKNOWN, "report_request_id": "rr-1", "report_to_follow": False},
    ),
}


def _messages() -> dict[str, tuple[str, str, bytes]]:
    found = {}
    for name, (service, message_type, payload) in BUILDERS.items():
        found[name] = (service, message_type, create_message(message_type, **payload(STATE)).encode())
    for name, (service, message_type, fields) in EXTRA.items():
        found[name] = (service, message_type, create_message(message_type, **fields).encode())
    return found


MESSAGES = _messages()


def _without_ven_id(body: bytes) -> bytes | None:
    """The message with every venID removed, or None when the XSD requires one."""
    root = etree.fromstring(body)
    found = root.findall(".//ei:venID", NS)
    if not found:
        return None
    for element in found:
        element.getparent().remove(element)
    return etree.tostring(root) if schema().validate(root) else None


def _ven_ids(reply: Reply) -> list[str | None]:
    root = etree.fromstring(reply.body)
    return [e.text for e in root.iter(f"{{{NS['ei']}}}venID")]


@pytest.mark.parametrize("name", sorted(MESSAGES))
async def test_replies_to_an_unknown_or_absent_ven_id_carry_no_none(vtn: Vtn, name: str) -> None:
    service, message_type, body = MESSAGES[name]
    assert schema().validate(etree.fromstring(body)), f"{message_type} seed is not XSD-valid"
    variants = {"unknown venID": body}
    stripped = _without_ven_id(body)
    if stripped is not None:
        variants["no venID"] = stripped
    for variant, data in variants.items():
        reply = await vtn.post(service, data)
        assert reply.status == 200, (variant, reply.body)
        assert_valid(reply.body)
        ven_ids = _ven_ids(reply)
        assert "None" not in ven_ids, f"{message_type} ({variant}) got {reply.message_type}: {reply.body!r}"
        expected = [UNKNOWN] if variant == "unknown venID" else []
        assert set(ven_ids) <= set(expected), (variant, reply.body)


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [("text/plain", b"<x/>", 415), ("application/xml", b"<not-closed", 400)],
)
async def test_transport_errors_carry_no_ven_id(
    vtn: Vtn, content_type: str, body: bytes, status: int
) -> None:
    reply = await vtn.post("OadrPoll", body, content_type=content_type)
    assert reply.status == status
    assert reply.message_type == "oadrResponse"
    assert _ven_ids(reply) == []
