"""Regressions for what the OpenADR fuzzer found (each was an HTTP 500 on PostgreSQL)."""

from __future__ import annotations

import requests
from lxml import etree

from .live import LiveVtn
from .messages import build
from .target import FuzzTarget


def test_an_overlong_id_is_refused_naming_the_field(fuzz_target: FuzzTarget) -> None:
    """A 700-character optID passed the XSD and overflowed VARCHAR(64): now 454, nothing stored."""
    state = fuzz_target.state()
    service, body = build("create_opt", state)
    before = fuzz_target.live.snapshot()
    answer = fuzz_target.post(service, body.replace(state.opt_id.encode(), b"y" * 700))
    assert (answer.status, answer.message_type, answer.code) == (200, "oadrCreatedOpt", 454)
    assert b"optID: longer than 64 characters" in answer.body
    assert fuzz_target.live.snapshot() == before


def test_a_report_offered_twice_under_one_specifier_is_refused(fuzz_target: FuzzTarget) -> None:
    """Two oadrReport elements with one reportSpecifierID broke the primary key: now 454."""
    service, body = build("register_report", fuzz_target.state())
    root = etree.fromstring(body)
    message = root[0][0]
    first = message.find("{*}oadrReport")
    assert first is not None
    first.addnext(etree.fromstring(etree.tostring(first)))
    before = fuzz_target.live.snapshot()
    answer = fuzz_target.post(service, etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    assert (answer.status, answer.message_type, answer.code) == (200, "oadrRegisteredReport", 454)
    assert b"reportSpecifierID" in answer.body
    assert fuzz_target.live.snapshot() == before


def test_a_dr_request_in_year_one_is_a_422(rest_vtn: tuple[LiveVtn, str]) -> None:
    """schemathesis: a start of 0001-01-01T00:00:00+03:01 (year 0 in UTC) was a 500 on PostgreSQL."""
    live, token = rest_vtn
    before = live.snapshot()
    reply = requests.post(
        f"{live.url}/api/v1/portfolio/requests",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "kind": "cap",
            "power_kw": 0.0,
            "reason": "r",
            "start": "0001-01-01T00:00:00+03:01",
            "end": "2030-01-01T00:00:00Z",
        },
        timeout=30,
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["errors"][0]["field"] == "start"
    assert live.snapshot() == before
