"""Device sources in the agent's settings and on its command line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ven.clock import WallClock
from ven.device_bus import Will
from ven.devices.config import (
    DeviceSetupError,
    MqttDevices,
    OcppChargers,
    SunspecDevice,
    parse_listen,
    parse_modbus_address,
)
from ven.devices.factory import build_router
from ven.settings import SettingsError, load_agent_settings

BASE = {"vtn_url": "http://vtn", "ven_name": "v", "site_id": "s"}
WILL = Will("flexvpp/s/agent/status", '{"online": false}')


def test_addresses() -> None:
    assert parse_listen("0.0.0.0:9000") == ("0.0.0.0", 9000)
    assert parse_listen(":9000") == ("0.0.0.0", 9000)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_modbus_address("10.0.0.5") == ("10.0.0.5", 502, 1)
    assert parse_modbus_address("inverter.local:1502/3") == ("inverter.local", 1502, 3)
    for bad in ("host", "host:port", "host:70000"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_listen(bad)
    for bad in ("host:502/300", "host:x/1", ":502"):
        with pytest.raises(ValueError):
            parse_modbus_address(bad)


def test_without_devices_the_agent_uses_the_broker() -> None:
    settings = load_agent_settings(None, **BASE, broker_url="mqtt://gw:1884")
    assert settings.device_entries() == [MqttDevices(broker_url="mqtt://gw:1884")]


def test_one_entry_per_kind_from_a_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "ven.toml"
    config.write_text(
        """
[ven]
vtn_url = "http://vtn"
ven_name = "v"
site_id = "s"

[[ven.devices]]
kind = "mqtt"
broker_url = "mqtt://127.0.0.1:1883"

[[ven.devices]]
kind = "ocpp"
listen = "0.0.0.0:9000"
voltage_v = 230
phases = 1
max_current_a = 32

[[ven.devices]]
kind = "sunspec"
address = "192.0.2.10:502/1"
device_id = "pv-roof"
"""
    )
    entries = load_agent_settings(config).device_entries()
    assert [e.kind for e in entries] == ["mqtt", "ocpp", "sunspec"]
    ocpp = entries[1]
    assert isinstance(ocpp, OcppChargers) and ocpp.max_power_kw == pytest.approx(7.36)
    sunspec = entries[2]
    assert isinstance(sunspec, SunspecDevice) and sunspec.id == "pv-roof" and sunspec.endpoint[2] == 1
    assert SunspecDevice(address="192.0.2.10").id == "sunspec-192.0.2.10-502-1"


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"kind": "ocpp", "listen": "nowhere"}, "HOST:PORT"),
        ({"kind": "sunspec", "address": "h:1/999"}, "unit id"),
        ({"kind": "sunspec", "address": "h", "device_id": "a/b"}, "device_id"),
        ({"kind": "zigbee"}, "kind"),
        ({"kind": "ocpp", "listen": ":9000", "phases": 2}, "phases"),
    ],
)
def test_bad_entries_name_the_problem(entry: dict[str, object], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        load_agent_settings(None, **BASE, devices=[entry])


def test_the_router_has_one_adapter_per_entry_and_refuses_what_it_cannot_serve() -> None:
    settings = load_agent_settings(
        None,
        **BASE,
        devices=[
            {"kind": "ocpp", "listen": ":0"},
            {"kind": "sunspec", "address": "h"},
            {"kind": "sunspec", "address": "h2"},
            {"kind": "s2", "listen": ":9100"},
        ],
    )
    router = build_router("s", settings.device_entries(), WallClock(), WILL)
    assert router.mqtt is None
    assert [a.name for a in router.adapters] == ["ocpp :0", "sunspec h", "sunspec h2", "s2 :9100"]
    twice = load_agent_settings(None, **BASE, devices=[{"kind": "sunspec", "address": "h"}] * 2)
    with pytest.raises(DeviceSetupError, match="give each a device_id"):
        build_router("s", twice.device_entries(), WallClock(), WILL)


def test_command_line_device_flags() -> None:
    from ven.cli import _device_flags

    args = argparse.Namespace(broker=None, ocpp_listen=None, s2_listen=None, sunspec=None)
    assert _device_flags(args) is None  # the configured devices (or the default broker)
    args = argparse.Namespace(
        broker="mqtt://b", ocpp_listen=":9000", s2_listen=":9100", sunspec=["h1", "h2:1502/2"]
    )
    assert _device_flags(args) == [
        {"kind": "mqtt", "broker_url": "mqtt://b"},
        {"kind": "ocpp", "listen": ":9000"},
        {"kind": "s2", "listen": ":9100"},
        {"kind": "sunspec", "address": "h1"},
        {"kind": "sunspec", "address": "h2:1502/2"},
    ]
