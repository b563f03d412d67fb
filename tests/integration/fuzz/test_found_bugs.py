"""Regressions for what the OpenADR fuzzer found (each was an HTTP 500 on PostgreSQL)."""

from __future__ import annotations

from lxml import etree

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
