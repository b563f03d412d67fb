"""Invalid JSON, fields and parameters: 422 naming the field and the reason; nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vtn_api_client import CheckedApi

from vtn.db.tables import Event, OutboxMessage, Ven

# Refused before anything is stored (the tests check that nothing was): SQLite only. Input that
# fails on PostgreSQL alone is the fuzzers' to find (test_api_fuzz, fuzz/: on both backends).
pytestmark = pytest.mark.db_backends("sqlite")

GOOD_EVENT: dict[str, Any] = {
    "ven_ids": ["ven-1"],
    "signal_name": "SIMPLE",
    "signal_type": "level",
    "intervals": [{"start": "2030-01-01T10:00:00+01:00", "duration_seconds": 900, "value": 1.0}],
}


INTERVAL = GOOD_EVENT["intervals"][0]


def _event(**changes: Any) -> dict[str, Any]:
    return {**GOOD_EVENT, **changes}


def _errors(reply: Any) -> dict[str, str]:
    assert reply.status == 422, reply.json
    assert reply.json["error"] == "invalid_input"
    return {e["field"]: e["reason"] for e in reply.json["errors"]}


async def _count(sessions: async_sessionmaker[AsyncSession], table: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "invalid JSON"),
        ("{not json", "invalid JSON"),
        ('{"ven_name": "a", "site_id": "s"', "invalid JSON"),
        ("[1, 2]", "Input should be an object"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_422_on_body(
    api: CheckedApi, raw: str, reason: str
) -> None:
    reply = await api.post("/vens", data=raw, headers={"Content-Type": "application/json"})
    errors = _errors(reply)
    assert list(errors) == ["body"]
    assert reason in errors["body"]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"site_id": "s"}, "ven_name", "Field required"),
        ({"ven_name": "a", "site_id": "s", "colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"ven_name": "", "site_id": "s"}, "ven_name", "at least 1 character"),
        ({"ven_name": "a" * 129, "site_id": "s"}, "ven_name", "at most 128 characters"),
        ({"ven_name": "bad\x00name", "site_id": "s"}, "ven_name", "should match pattern"),
        ({"ven_name": "a", "site_id": 7}, "site_id", "valid string"),
        (
            {"ven_name": "a", "site_id": "s", "fingerprint": "has space"},
            "fingerprint",
            "should match pattern",
        ),
    ],
)
async def test_bad_ven_fields_are_named(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession], body: dict[str, Any], field: str, reason: str
) -> None:
    errors = _errors(await api.post("/vens", json=body))
    assert reason in errors[field]
    assert await _count(sessions, Ven) == 0


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (_event(ven_ids=[]), "ven_ids", "at least 1 item"),
        (_event(ven_ids=["a", "a"]), "ven_ids", "must not repeat a VEN"),
        (_event(signal_name="LOUD"), "signal_name", "must be one of SIMPLE, simple, ELECTRICITY_PRICE"),
        (_event(signal_name="x-"), "signal_name", "or an extension name starting with 'x-'"),
        (_event(signal_type="volume"), "signal_type", "Input should be 'delta'"),
        (_event(intervals=[]), "intervals", "at least 1 item"),
        (
            _event(intervals=[{"start": "2030-01-01T10:00:00", "duration_seconds": 60, "value": 1}]),
            "intervals[0].start",
            "timezone",
        ),
        (
            _event(intervals=[{"start": "yesterday", "duration_seconds": 60, "value": 1}]),
            "intervals[0].start",
            "valid datetime",
        ),
        (
            _event(intervals=[{"start": "1999-12-31T23:00:00Z", "duration_seconds": 60, "value": 1}]),
            "intervals[0].start",
            "time must be between 2000-01-01 and 2200-01-01",
        ),
        (
            _event(intervals=[{"start": "2030-01-01T10:00:00Z", "duration_seconds": 0, "value": 1}]),
            "intervals[0].duration_seconds",
            "greater than or equal to 1",
        ),
        (
            _event(intervals=[{"start": "2030-01-01T10:00:00Z", "duration_seconds": 60}]),
            "intervals[0].value",
            "Field required",
        ),
        (
            _event(
                intervals=[
                    {"start": "2030-01-01T10:00:00Z", "duration_seconds": 60, "value": 1},
                    {"start": "2030-01-01T10:05:00Z", "duration_seconds": 60, "value": 2},
                ]
            ),
            "intervals",
            "intervals[1].start must equal the end of intervals[0]",
        ),
        (_event(priority=-1), "priority", "greater than or equal to 0"),
        (_event(priority=2**40), "priority", "less than or equal to 2147483647"),
        (_event(ramp_up_seconds="soon"), "ramp_up_seconds", "valid integer"),
        (_event(response_required="sometimes"), "response_required", "'always' or 'never'"),
        (_event(market_context="has spaces"), "market_context", "should match pattern"),
        (_event(event_id="mine"), "event_id", "Extra inputs are not permitted"),
    ],
)
async def test_bad_event_fields_are_named(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession], body: dict[str, Any], field: str, reason: str
) -> None:
    errors = _errors(await api.post("/events", json=body))
    assert field in errors, errors
    assert reason in errors[field]
    assert await _count(sessions, Event) == 0


async def test_an_infinite_value_is_refused(api: CheckedApi) -> None:
    raw = (
        '{"ven_ids": ["v"], "signal_name": "SIMPLE", "signal_type": "level", "intervals": '
        '[{"start": "2030-01-01T10:00:00Z", "duration_seconds": 60, "value": 1e999}]}'
    )
    errors = _errors(await api.post("/events", data=raw, headers={"Content-Type": "application/json"}))
    assert "finite number" in errors["intervals[0].value"]


async def test_the_summary_message_lists_every_field(api: CheckedApi) -> None:
    reply = await api.post("/vens", json={"ven_name": "", "fingerprint": 3})
    errors = _errors(reply)
    assert set(errors) == {"ven_name", "site_id", "fingerprint"}
    for field in errors:
        assert f"{field}:" in reply.json["message"]


async def test_a_bad_patch_is_422_before_looking_up_the_event(api: CheckedApi) -> None:
    errors = _errors(await api.patch("/events/no-such-event", json={"priority": "high"}))
    assert "valid integer" in errors["priority"]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        # Issue 17's probe: this modified an event (start_after_seconds 0) and re-sent it.
        ("PATCH", "/events/no-such-event", {"start_after_seconds": False}, "start_after_seconds"),
        ("PATCH", "/events/no-such-event", {"priority": True}, "priority"),
        ("POST", "/events", _event(priority=True), "priority"),
        ("POST", "/events", _event(intervals=[{**INTERVAL, "value": True}]), "intervals[0].value"),
        ("POST", "/events", _event(intervals=[{**INTERVAL, "duration_seconds": 900.0}]),
         "intervals[0].duration_seconds"),
    ],
)  # fmt: skip
async def test_a_json_boolean_or_fraction_is_not_a_number(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession], method: str, path: str, body: Any, field: str
) -> None:
    reply = await api.call(method, path, json=body)
    errors = _errors(reply)
    assert "valid integer" in errors[field] or "valid number" in errors[field], errors
    assert await _count(sessions, Event) == 0 and await _count(sessions, OutboxMessage) == 0


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ("since=yesterday", "since", "valid datetime"),
        ("since=2030-01-01T10:00:00", "since", "timezone"),
        ("until=", "until", "valid datetime"),
        ("since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z", "until", "must not be before since"),
        ("since=2030-01-01T00:00:00Z&since=2030-01-02T00:00:00Z", "since", "given more than once"),
        ("from=2030-01-01T00:00:00Z", "from", "Extra inputs are not permitted"),
    ],
)
async def test_bad_telemetry_parameters_are_named(
    api: CheckedApi, query: str, field: str, reason: str
) -> None:
    errors = _errors(await api.get(f"/vens/any-ven/telemetry?{query}"))
    assert reason in errors[field], errors


async def test_unknown_paths_and_methods_are_json_errors(api: CheckedApi) -> None:
    missing = await api.get("/nothing-here")
    assert missing.status == 404
    assert missing.json["error"] == "not_found"
    wrong_method = await api.call("PUT", "/vens")
    assert wrong_method.status == 405
    assert wrong_method.json["error"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["Allow"]


async def test_an_oversized_body_is_413_and_nothing_is_stored(
    api: CheckedApi, settings: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    padding = "x" * settings.max_body_bytes
    reply = await api.post("/vens", json={"ven_name": "a", "site_id": "s", "pad": padding})
    assert reply.status == 413
    assert reply.json["error"] == "request_entity_too_large"
    assert await _count(sessions, Ven) == 0


@pytest.mark.parametrize(
    ("signal_name", "signal_type", "takes"),
    [
        ("SIMPLE", "price", "SIMPLE takes level"),
        ("simple", "setpoint", "simple takes level"),
        ("ELECTRICITY_PRICE", "setpoint", "ELECTRICITY_PRICE takes price, priceMultiplier, priceRelative"),
        ("BID_PRICE", "priceRelative", "BID_PRICE takes price"),
        ("LOAD_CONTROL", "setpoint", "LOAD_CONTROL takes x-loadControlCapacity"),
        ("LOAD_DISPATCH", "price", "LOAD_DISPATCH takes delta, level, multiplier, setpoint"),
    ],
)
async def test_a_signal_pair_outside_the_2_0b_table_is_422_naming_it(
    api: CheckedApi,
    sessions: async_sessionmaker[AsyncSession],
    signal_name: str,
    signal_type: str,
    takes: str,
) -> None:
    """Issue 16: SIMPLE with `price` was accepted and distributed; a VEN cannot read it."""
    ven = await api.post("/vens", json={"ven_name": "ven-pair", "site_id": "site-pair"})
    assert ven.status == 201, ven.json
    body = _event(ven_ids=[ven.json["ven_id"]], signal_name=signal_name, signal_type=signal_type)
    errors = _errors(await api.post("/events", json=body))
    assert f"signalName {signal_name} with signalType {signal_type} is not in" in errors["signal_type"]
    assert takes in errors["signal_type"]
    assert await _count(sessions, Event) == 0
    assert await _count(sessions, OutboxMessage) == 0


async def test_a_patch_leaving_the_2_0b_signal_table_is_422_and_changes_nothing(
    api: CheckedApi, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ven = await api.post("/vens", json={"ven_name": "ven-price", "site_id": "site-price"})
    assert ven.status == 201, ven.json
    body = _event(ven_ids=[ven.json["ven_id"]], signal_name="ELECTRICITY_PRICE", signal_type="price")
    event = (await api.post("/events", json=body)).json
    path = f"/events/{event['event_id']}"
    outbox = await _count(sessions, OutboxMessage)
    for patch, pair in [
        ({"signal_type": "setpoint"}, "signalName ELECTRICITY_PRICE with signalType setpoint"),  # stored name
        ({"signal_name": "SIMPLE"}, "signalName SIMPLE with signalType price"),  # stored type
        ({"signal_name": "BID_LOAD", "signal_type": "price"}, "signalName BID_LOAD with signalType price"),
    ]:
        errors = _errors(await api.patch(path, json=patch))
        assert pair in errors["signal_type"], (patch, errors)
    unchanged = (await api.get(path)).json
    assert (unchanged["modification_number"], unchanged["signal_type"]) == (0, "price")
    assert await _count(sessions, OutboxMessage) == outbox
    allowed = await api.patch(path, json={"signal_type": "priceRelative"})
    assert allowed.status == 200 and allowed.json["modification_number"] == 1, allowed.json
