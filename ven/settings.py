"""Agent settings: one source (defaults < config file < environment < command line), read once."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ven.devices.config import DEFAULT_BROKER_URL, DeviceEntry, MqttDevices


class SettingsError(ValueError):
    """The agent's settings are wrong; the message names the setting."""


class AgentSettings(BaseSettings):
    """Settings of `flexvpp ven run`. Environment variables are prefixed `FLEXVPP_VEN_`."""

    model_config = SettingsConfigDict(env_prefix="FLEXVPP_VEN_", extra="forbid")

    vtn_url: str = Field(description="the VTN's OpenADR base URL, e.g. http://vtn:8080/OpenADR2/Simple/2.0b")
    ven_name: str = Field(min_length=1)
    site_id: str = Field(min_length=1, pattern=r"^[^/+#]+$")
    broker_url: str = DEFAULT_BROKER_URL
    # Where the devices are: mqtt, ocpp, sunspec, s2 entries (ven.devices.config);
    # none means the MQTT devices on broker_url.
    devices: list[DeviceEntry] = Field(default_factory=list, description="device sources, one per entry")
    # Home Assistant MQTT discovery (ven/ha/, docs/devices.md). On by default: a household that
    # runs HA with its MQTT integration finds the home there without setup; on a broker without
    # HA it costs a few retained messages.
    home_assistant: bool = Field(True, description="announce the home to Home Assistant (MQTT discovery)")
    home_assistant_broker_url: str | None = Field(
        None, description="HA's MQTT broker, mqtt://host[:port] (default: the MQTT devices' broker)"
    )
    home_assistant_prefix: str = Field(
        "homeassistant", pattern=r"^[^/+#]+$", description="HA's discovery prefix"
    )
    speed: float = Field(1.0, gt=0, description="clock speed; match `ven simulate --speed`")
    import_limit_kw: float = Field(9.2, gt=0)
    export_limit_kw: float = Field(10.0, ge=0)
    month_peak_kw: float = Field(0.0, ge=0, description="the month's peak so far when the agent starts")
    min_billed_peak_kw: float = Field(2.5, ge=0)
    # The capacity-peak guard (ven/agent/peak_guard.py, docs/ven.md): off unless one of these two.
    peak_guard: bool = Field(
        False, description="shed the EV and battery when a quarter would set a new month peak"
    )
    max_peak_kw: float | None = Field(
        None, gt=0, description="never a quarter-hour mean import above this [kW]"
    )
    peak_margin_kw: float = Field(0.2, ge=0, description="the guard aims this far under its limit [kW]")
    peak_guard_period_s: float = Field(10.0, gt=0, description="the guard checks this often (agent time)")
    peak_guard_discharge: bool = Field(
        True, description="the guard may discharge the battery, not only stop it"
    )
    timezone: str = Field(
        "Europe/Brussels", description="the site's time zone: the month's peak resets at its midnight"
    )
    dispatch_period_s: float = Field(
        60.0, gt=0, description="setpoints are recomputed this often (agent time)"
    )
    command_ttl_s: float = Field(300.0, gt=0, description="valid_until = now + this")
    buffer_path: Path | None = Field(None, description="telemetry buffer file (default ./ven-<site>.db)")
    discovery_wait_s: float = Field(
        5.0, ge=0, description="wait this long for devices before offering reports"
    )
    housekeeping_every: int = Field(5, ge=1, description="opts, availability, new devices every N steps")
    dispatch_device: str | None = Field(
        None, description="LOAD_DISPATCH events without a device target steer this device (default: the site)"
    )
    validate_messages: bool = Field(False, description="check outgoing OpenADR messages against the XSD")
    replan_every_s: float = Field(
        900.0, gt=0, description="re-plan with known prices this often (agent time)"
    )
    # Mutual TLS with the VTN (an https vtn_url): this VEN's client certificate and the CA of the VTN's.
    tls_cert_file: Path | None = Field(None, description="client certificate (PEM)")
    tls_key_file: Path | None = Field(None, description="private key of tls_cert_file (PEM)")
    tls_ca_file: Path | None = Field(None, description="CA that signed the VTN's server certificate")
    # XML signatures: sign every OpenADR message with the TLS client certificate's key.
    sign_messages: bool = Field(False, description="sign OpenADR messages (needs the tls_* files)")
    vtn_fingerprint: str | None = Field(
        None,
        pattern=r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){9}$",
        description="the VTN signing certificate's fingerprint: its replies must be signed with it",
    )

    def device_entries(self) -> list[DeviceEntry]:
        return list(self.devices) or [MqttDevices(broker_url=self.broker_url)]

    def devices_broker_url(self) -> str | None:
        """The MQTT devices' broker (None: no MQTT devices)."""
        return next((e.broker_url for e in self.device_entries() if isinstance(e, MqttDevices)), None)

    @field_validator("home_assistant_broker_url")
    @classmethod
    def _ha_broker(cls, value: str | None) -> str | None:
        if value is not None:
            from ven.device_bus import BadBrokerUrl, BrokerAddress

            try:
                BrokerAddress.parse(value)
            except BadBrokerUrl as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Brussels)") from None
        return value

    def site_tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _tls_files(self) -> AgentSettings:
        given = [self.tls_cert_file is not None, self.tls_key_file is not None, self.tls_ca_file is not None]
        if any(given) and not all(given):
            raise ValueError("tls_cert_file, tls_key_file and tls_ca_file must be given together")
        if self.sign_messages and self.tls_cert_file is None:
            raise ValueError("sign_messages needs tls_cert_file and tls_key_file (the signing key)")
        return self


def load_agent_settings(config_file: Path | None = None, **overrides: Any) -> AgentSettings:
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            text = config_file.read_text()
            data = tomllib.loads(text) if config_file.suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as exc:
            raise SettingsError(f"--config {config_file}: {exc}") from None
        values = data.get("ven", data) if isinstance(data, dict) else {}
        if not isinstance(values, dict):
            raise SettingsError(f"--config {config_file}: [ven] must be a table")
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return AgentSettings(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise SettingsError(problems) from None
