"""The bus payloads parse as the spec shows them, and malformed ones fail naming what is wrong."""

from __future__ import annotations

import pytest

from ven.messages import (
    ControlName,
    DeviceType,
    MalformedPayload,
    TopicKind,
    parse_ack,
    parse_config,
    parse_set,
    parse_state,
    parse_telemetry,
    parse_topic,
)

SPEC_CONFIG = """{"device_id": "evse-1", "device_type": "ev_charger",
 "sensors": [{"name": "power", "unit": "W"}, {"name": "energy_import", "unit": "Wh"}],
 "controls": [{"name": "power_kw", "min": 0.0, "max": 11.0}],
 "params": {"phases": 3}}"""
SPEC_TELEMETRY = """[{"bn": "urn:dev:evse-1:", "bt": 1741560300.0, "n": "power", "u": "W", "v": 7350.0},
 {"n": "energy_import", "u": "Wh", "v": 123456.0},
 {"n": "soc", "u": "%", "v": 41.0}]"""
SPEC_STATE = """{"ts": 1741560300.0, "online": true, "plugged_in": true, "mode": "smart",
 "ev_target_kwh": 30.0, "ev_departure": "2025-03-10T07:00:00+01:00"}"""
T = "flexvpp/home-1/evse-1/x"


def test_spec_examples_parse() -> None:
    config = parse_config(T, SPEC_CONFIG)
    assert config.device_type is DeviceType.EV_CHARGER
    assert config.control(ControlName.POWER_KW).max == 11.0  # type: ignore[union-attr]
    values = parse_telemetry(T, SPEC_TELEMETRY)
    assert [(m.name, m.value, m.time_s) for m in values] == [
        ("power", 7350.0, 1741560300.0),
        ("energy_import", 123456.0, 1741560300.0),
        ("soc", 41.0, 1741560300.0),
    ]
    state = parse_state(T, SPEC_STATE)
    assert state.plugged_in and state.ev_target_kwh == 30.0 and not state.overridden
    cmd = parse_set(
        T, '{"command_id": "6f1c", "ts": 1741560300.0, "power_kw": 7.4, "valid_until": 1741561200.0}'
    )
    assert cmd.control_name is ControlName.POWER_KW and cmd.value == 7.4
    ack = parse_ack(T, '{"command_id": "6f1d", "accepted": false, "reason": "power_kw 40 above max 11"}')
    assert not ack.accepted and ack.reason


@pytest.mark.parametrize(
    ("parser", "payload", "needle"),
    [
        (parse_config, b"\xff\xfe", "not UTF-8 JSON"),
        (parse_config, '{"device_id": "x", "device_type": "toaster"}', "device_type"),
        (parse_config, '{"device_id": "x", "device_type": "meter", "colour": 1}', "colour"),
        (parse_telemetry, "{}", "non-empty JSON array"),
        (parse_telemetry, '[{"n": "power", "v": 1}]', "base time"),
        (parse_telemetry, '[{"bt": 1, "n": "power", "v": "high"}]', "v"),
        (parse_set, '{"command_id": "a", "ts": 1, "valid_until": 2}', "exactly one control"),
        (
            parse_set,
            '{"command_id": "a", "ts": 1, "valid_until": 2, "power_kw": 1, "on": true}',
            "exactly one",
        ),
        (parse_set, '{"command_id": "a", "ts": 1, "power_kw": 1}', "valid_until"),
        (parse_state, '{"ts": 1, "ev_departure": "2025-03-10T07:00:00"}', "UTC offset"),
    ],
)
def test_malformed_payloads_name_the_problem(parser, payload, needle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MalformedPayload) as err:
        parser(T, payload)
    assert needle in str(err.value) and T in str(err.value)


def test_topics() -> None:
    assert parse_topic("flexvpp/home-1/evse-1/set").kind is TopicKind.SET
    assert parse_topic("flexvpp/home-1/agent/status").kind is TopicKind.STATUS
    for bad in ("flexvpp/home-1/evse-1", "other/home-1/evse-1/set", "flexvpp/home-1/evse-1/reboot"):
        with pytest.raises(MalformedPayload):
            parse_topic(bad)


def test_override_modes() -> None:
    assert parse_state(T, '{"ts": 1, "mode": "boost"}').overridden
    assert not parse_state(T, '{"ts": 1, "mode": "auto"}').overridden
    assert not parse_state(T, '{"ts": 1}').overridden
