"""The OpenADR 3.1 use cases on the in-memory fakes: auth, the event mapping, targets, reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeNotifier, FakeUnitOfWork

from aggregator.errors import InvalidInput, Unauthorized
from aggregator.event_rules import EventSpec, IntervalSpec
from aggregator.events import create_event
from aggregator.openadr3 import event_signal, iso_duration, parse_duration
from aggregator.openadr3_auth import AuthFailed, authenticate, create_client, issue_token
from aggregator.openadr3_common import Caller, Page
from aggregator.openadr3_events import create_event_3, list_events
from aggregator.openadr3_programs import create_program, list_programs
from aggregator.openadr3_records import ROLE_SCOPES, ClientRole, ObjectType, Scope
from aggregator.openadr3_reports import create_report
from aggregator.outbox import DISTRIBUTE_EVENT
from aggregator.records import VenRecord

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
BL = Caller("bl-1", ClientRole.BL, ROLE_SCOPES[ClientRole.BL])


def _vens(*names: str) -> list[VenRecord]:
    return [VenRecord(f"id-{n}", n, n, NOW) for n in names]


def _body(program_id: str, kind: str = "PRICE", **extra: object) -> dict[str, object]:
    return {
        "programID": program_id,
        "intervalPeriod": {"start": "2026-12-03T10:00:00Z", "duration": "PT15M"},
        "intervals": [{"id": k, "payloads": [{"type": kind, "values": [k + 0.5]}]} for k in range(2)],
        **extra,
    }


def test_durations_round_trip_and_months_are_refused() -> None:
    assert parse_duration("d", "PT1H30M") == timedelta(minutes=90)
    assert parse_duration("d", "P1W") == timedelta(days=7)
    assert iso_duration(900) == "PT15M" and iso_duration(86430) == "P1DT30S" and iso_duration(0) == "PT0S"
    with pytest.raises(InvalidInput, match="months"):
        parse_duration("d", "P1M")
    with pytest.raises(InvalidInput, match="ISO 8601"):
        parse_duration("d", "1 hour")


def test_a_3_1_event_is_one_2_0b_signal_with_contiguous_intervals() -> None:
    signal, intervals = event_signal(_body("p", "DISPATCH_SETPOINT"), NOW)
    assert (signal.name, signal.type, signal.units) == ("LOAD_DISPATCH", "setpoint", "KW")
    start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    assert intervals == (IntervalSpec(start, 900, 0.5), IntervalSpec(start + timedelta(minutes=15), 900, 1.5))
    with pytest.raises(InvalidInput, match="exactly one payload"):
        event_signal({"intervals": [{"id": 0, "payloads": []}]}, NOW)
    with pytest.raises(InvalidInput, match="no start"):
        event_signal({"intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [1]}]}]}, NOW)


async def test_a_token_is_issued_for_the_right_secret_and_expires() -> None:
    uow = FakeUnitOfWork()
    client = await create_client(uow, ClientRole.VEN, NOW, "ven-a")
    with pytest.raises(AuthFailed) as refused:
        await issue_token(uow, "client_credentials", client.client_id, "wrong", None, NOW)
    assert refused.value.error == "invalid_client"
    token = await issue_token(uow, "client_credentials", client.client_id, client.client_secret, None, NOW)
    assert Scope.WRITE_REPORTS in token.scopes and Scope.WRITE_EVENTS not in token.scopes
    assert all(client.client_secret not in str(c) for c in uow.stored.oa3_clients.values())  # hashed
    caller = await authenticate(uow, token.access_token, NOW + timedelta(minutes=59))
    assert caller.ven_name == "ven-a" and caller.role == ClientRole.VEN
    with pytest.raises(AuthFailed, match="expired"):
        await authenticate(uow, token.access_token, NOW + timedelta(hours=1))


async def test_an_untargeted_3_1_event_goes_to_every_ven_and_a_targeted_one_to_its_own() -> None:
    uow = FakeUnitOfWork(vens=_vens("a", "b"))
    program = await create_program(uow, BL, {"programName": "tou"}, NOW)
    notifier = FakeNotifier()
    everyone = await create_event_3(uow, BL, _body(program["id"]), NOW, notifier, 3600)
    assert sorted(uow.stored.event_targets[everyone["id"]]) == ["id-a", "id-b"]
    assert sorted(notifier.pending) == ["id-a", "id-b"]
    later = _body(program["id"], targets=["b"])
    later["intervalPeriod"] = {"start": "2026-12-03T12:00:00Z", "duration": "PT15M"}
    only_b = await create_event_3(uow, BL, later, NOW, notifier, 3600)
    assert uow.stored.event_targets[only_b["id"]] == ("id-b",)
    distributes = {m.ven_id for m in uow.stored.outbox.values() if m.message_type == DISTRIBUTE_EVENT}
    assert distributes == {"id-a", "id-b"}
    ven_a = Caller("c-a", ClientRole.VEN, ROLE_SCOPES[ClientRole.VEN], "a")
    seen = await list_events(uow, ven_a, None, None, None, Page(), NOW)
    assert [e["id"] for e in seen] == [everyone["id"]]
    with pytest.raises(Unauthorized):
        await create_event_3(uow, ven_a, _body(program["id"]), NOW, notifier, 3600)


async def test_an_event_made_over_rest_makes_its_contexts_program() -> None:
    uow = FakeUnitOfWork(vens=_vens("a"))
    start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    spec = EventSpec(["id-a"], "SIMPLE", "level", (IntervalSpec(start, 600, 1.0),), "urn:example:ctx")
    await create_event(uow, spec, NOW, FakeNotifier())
    programs = await list_programs(uow, BL, None, Page())
    assert [p["programName"] for p in programs] == ["urn:example:ctx"]
    shown = await list_events(uow, BL, programs[0]["id"], None, None, Page(), NOW)
    assert shown[0]["payloadDescriptors"][0]["payloadType"] == "SIMPLE" and shown[0]["targets"] == ["a"]


async def test_a_ven_report_lands_in_the_telemetry_values() -> None:
    uow = FakeUnitOfWork(vens=_vens("a"))
    program = await create_program(uow, BL, {"programName": "tou"}, NOW)
    event = await create_event_3(uow, BL, _body(program["id"]), NOW, FakeNotifier(), 3600)
    ven_a = Caller("c-a", ClientRole.VEN, ROLE_SCOPES[ClientRole.VEN], "a")
    report = {
        "eventID": event["id"],
        "clientName": "a",
        "resources": [
            {
                "resourceName": "meter",
                "intervals": [
                    {
                        "id": 1,
                        "payloads": [{"type": "DEMAND", "values": [4.0]}, {"type": "NOTE", "values": ["x"]}],
                    }
                ],
            }
        ],
    }
    made = await create_report(uow, ven_a, report, NOW)
    values = list(uow.stored.report_values.values())
    assert [(v.ven_id, v.r_id, v.value, v.dtstart) for v in values] == [
        ("id-a", "meter/DEMAND", 4.0, datetime(2026, 12, 3, 10, 15, tzinfo=UTC))  # the event's interval 1
    ]
    assert (ObjectType.REPORT, made["id"]) in uow.stored.oa3_objects
    with pytest.raises(Unauthorized):
        await create_report(uow, BL, report, NOW)
