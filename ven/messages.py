"""The home's device bus payloads (../shared/spec/mqtt-devices.md) as pydantic models.

Everything that crosses MQTT is parsed here. A payload that does not parse raises
`MalformedPayload` naming the topic and the reason; callers log it and drop the message.
Power inside flexvpp is consumption-positive (a PV inverter reports negative `power`).
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

TOPIC_ROOT = "flexvpp"
AGENT_DEVICE_ID = "agent"


class MalformedPayload(ValueError):
    """A bus message that does not follow the spec; the message says which topic and why."""


class DeviceType(enum.StrEnum):
    METER = "meter"
    EV_CHARGER = "ev_charger"
    BATTERY = "battery"
    PV_INVERTER = "pv_inverter"
    HEAT_PUMP = "heat_pump"
    SMART_PLUG = "smart_plug"


class TopicKind(enum.StrEnum):
    CONFIG = "config"
    TELEMETRY = "telemetry"
    STATE = "state"
    SET = "set"
    ACK = "ack"
    STATUS = "status"


class ControlName(enum.StrEnum):
    POWER_KW = "power_kw"
    CURTAIL_PERCENT = "curtail_percent"
    ON = "on"
    SETPOINT_C = "setpoint_c"


# Modes in `state.mode` under which the agent may command a device; any other mode is the
# user's own choice (an override) and wins over every event.
AGENT_MODES = frozenset({"smart", "auto"})


@dataclass(frozen=True, slots=True)
class Topic:
    site_id: str
    device_id: str
    kind: TopicKind

    def __str__(self) -> str:
        return f"{TOPIC_ROOT}/{self.site_id}/{self.device_id}/{self.kind}"


def topic(site_id: str, device_id: str, kind: TopicKind) -> str:
    return str(Topic(site_id, device_id, kind))


def parse_topic(name: str) -> Topic:
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != TOPIC_ROOT or not parts[1] or not parts[2]:
        raise MalformedPayload(f"topic {name!r}: expected {TOPIC_ROOT}/<site_id>/<device_id>/<kind>")
    try:
        kind = TopicKind(parts[3])
    except ValueError:
        raise MalformedPayload(f"topic {name!r}: unknown kind {parts[3]!r}") from None
    return Topic(parts[1], parts[2], kind)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SensorSpec(_Model):
    name: str = Field(min_length=1)
    unit: str


class ControlSpec(_Model):
    name: ControlName
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ControlSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"control {self.name}: min {self.min} above max {self.max}")
        return self


class DeviceConfig(_Model):
    device_id: str = Field(min_length=1)
    device_type: DeviceType
    sensors: list[SensorSpec] = []
    controls: list[ControlSpec] = []
    params: dict[str, float | int | str | bool | None] = {}

    def control(self, name: ControlName) -> ControlSpec | None:
        return next((c for c in self.controls if c.name == name), None)

    def param_float(self, name: str, default: float) -> float:
        value = self.params.get(name)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


class DeviceState(BaseModel):
    """The retained state. Device-specific fields beyond the spec's are kept (extra="allow")."""

    model_config = ConfigDict(extra="allow", frozen=True)

    ts: float
    online: bool = True
    mode: str | None = None
    plugged_in: bool | None = None
    ev_target_kwh: float | None = Field(None, ge=0)
    ev_departure: datetime | None = None

    @field_validator("ev_departure")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("ev_departure needs a UTC offset")
        return value

    @property
    def overridden(self) -> bool:
        """True when the user has taken the device out of the agent's hands."""
        return self.mode is not None and self.mode not in AGENT_MODES


class SetCommand(_Model):
    command_id: str = Field(min_length=1)
    ts: float
    valid_until: float
    power_kw: float | None = None
    curtail_percent: float | None = None
    on: bool | None = None
    setpoint_c: float | None = None

    @model_validator(mode="after")
    def _one_control(self) -> SetCommand:
        given = self.controls()
        if len(given) != 1:
            raise ValueError(f"a set command carries exactly one control, got {sorted(given) or 'none'}")
        for name, value in given.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{name} is not a finite number")
        return self

    def controls(self) -> dict[str, float | bool]:
        names = [c.value for c in ControlName]
        return {n: v for n in names if (v := getattr(self, n)) is not None}

    @property
    def control_name(self) -> ControlName:
        return ControlName(next(iter(self.controls())))

    @property
    def value(self) -> float | bool:
        return next(iter(self.controls().values()))


class Ack(_Model):
    command_id: str = Field(min_length=1)
    accepted: bool
    reason: str | None = None


class AgentStatus(_Model):
    online: bool


class SenmlRecord(BaseModel):
    """One SenML record (RFC 8428); only the fields flexvpp uses are named, others are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    bn: str | None = None
    bt: float | None = None
    n: str = ""
    u: str | None = None
    v: float | None = None
    vb: bool | None = None
    t: float = 0.0


@dataclass(frozen=True, slots=True)
class Measurement:
    """A resolved SenML record: the base name and base time applied."""

    name: str
    unit: str | None
    value: float
    time_s: float


def resolve_senml(records: list[SenmlRecord]) -> list[Measurement]:
    """Apply base name/time (RFC 8428 §4.6). `name` is the record's own name (the device is in the topic)."""
    base_time = 0.0
    out: list[Measurement] = []
    for record in records:
        if record.bt is not None:
            base_time = record.bt
        if record.v is None:
            continue  # boolean/string values carry nothing flexvpp measures
        if not math.isfinite(record.v):
            raise ValueError(f"record {record.n!r}: value is not finite")
        out.append(Measurement(record.n, record.u, record.v, base_time + record.t))
    return out


def senml_pack(device_id: str, time_s: float, values: list[tuple[str, str, float]]) -> list[dict[str, Any]]:
    """Build a SenML pack from (name, unit, value) triples, base name `urn:dev:{device_id}:`."""
    pack: list[dict[str, Any]] = []
    for i, (name, unit, value) in enumerate(values):
        record: dict[str, Any] = {"n": name, "u": unit, "v": value}
        if i == 0:
            record = {"bn": f"urn:dev:{device_id}:", "bt": time_s, **record}
        pack.append(record)
    return pack


def _json(topic_name: str, payload: bytes | str) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedPayload(f"topic {topic_name}: not UTF-8 JSON ({exc})") from None


def _validate(model: type[BaseModel], topic_name: str, data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<payload>'}: {err['msg']}" for err in exc.errors()
        )
        raise MalformedPayload(f"topic {topic_name}: {problems}") from None


def parse_config(topic_name: str, payload: bytes | str) -> DeviceConfig:
    config: DeviceConfig = _validate(DeviceConfig, topic_name, _json(topic_name, payload))
    return config


def parse_state(topic_name: str, payload: bytes | str) -> DeviceState:
    state: DeviceState = _validate(DeviceState, topic_name, _json(topic_name, payload))
    return state


def parse_set(topic_name: str, payload: bytes | str) -> SetCommand:
    command: SetCommand = _validate(SetCommand, topic_name, _json(topic_name, payload))
    return command


def parse_ack(topic_name: str, payload: bytes | str) -> Ack:
    ack: Ack = _validate(Ack, topic_name, _json(topic_name, payload))
    return ack


def parse_telemetry(topic_name: str, payload: bytes | str) -> list[Measurement]:
    data = _json(topic_name, payload)
    if not isinstance(data, list) or not data:
        raise MalformedPayload(f"topic {topic_name}: a SenML pack is a non-empty JSON array")
    records = [_validate(SenmlRecord, f"{topic_name}[{i}]", r) for i, r in enumerate(data)]
    if records[0].bt is None:
        raise MalformedPayload(f"topic {topic_name}: the first record needs a base time 'bt'")
    try:
        return resolve_senml(records)
    except ValueError as exc:
        raise MalformedPayload(f"topic {topic_name}: {exc}") from None


def dumps(model: BaseModel | dict[str, Any] | list[Any]) -> str:
    if isinstance(model, BaseModel):
        return model.model_dump_json(exclude_none=True)
    return json.dumps(model, separators=(",", ":"))
