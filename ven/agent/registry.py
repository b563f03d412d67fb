"""What the agent knows of the home's devices: discovered from retained `config`, then kept
up to date from `telemetry`, `state` and `ack`. Bad payloads and unknown devices are logged
and ignored. Bus callbacks arrive on the MQTT thread, so every access takes the lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ven.messages import (
    AGENT_DEVICE_ID,
    Ack,
    DeviceConfig,
    DeviceState,
    DeviceType,
    MalformedPayload,
    Measurement,
    TopicKind,
    parse_ack,
    parse_config,
    parse_state,
    parse_telemetry,
    parse_topic,
)

log = logging.getLogger(__name__)

TelemetryListener = Callable[[str, list[Measurement]], None]


@dataclass(frozen=True, slots=True)
class DeviceView:
    """One device as the agent last saw it (an immutable snapshot)."""

    config: DeviceConfig
    state: DeviceState | None = None
    readings: dict[str, Measurement] = field(default_factory=dict)

    @property
    def device_id(self) -> str:
        return self.config.device_id

    @property
    def device_type(self) -> DeviceType:
        return self.config.device_type

    @property
    def power_kw(self) -> float:
        reading = self.readings.get("power")
        return 0.0 if reading is None else reading.value / 1000.0

    def reading(self, name: str) -> float | None:
        reading = self.readings.get(name)
        return None if reading is None else reading.value

    @property
    def overridden(self) -> bool:
        return self.state is not None and self.state.overridden

    @property
    def online(self) -> bool:
        return self.state is None or self.state.online


@dataclass(frozen=True, slots=True)
class HomeSnapshot:
    """All devices at one moment; `now_s` is when the snapshot was taken."""

    now_s: float
    devices: dict[str, DeviceView]
    # The house's own load (meter minus every device) at the last moment every device had
    # reported together; None before that. Readings of different moments do not mix.
    house_kw: float | None = None

    def of_type(self, device_type: DeviceType) -> list[DeviceView]:
        return [d for d in self.devices.values() if d.device_type == device_type]

    def first(self, device_type: DeviceType) -> DeviceView | None:
        found = self.of_type(device_type)
        return found[0] if found else None

    @property
    def meter_kw(self) -> float | None:
        meter = self.first(DeviceType.METER)
        return None if meter is None or "power" not in meter.readings else meter.power_kw


class DeviceRegistry:
    """Fed by bus messages of one site; `snapshot()` gives a consistent copy."""

    def __init__(self, site_id: str) -> None:
        self.site_id = site_id
        self._lock = threading.Lock()
        self._configs: dict[str, DeviceConfig] = {}
        self._states: dict[str, DeviceState] = {}
        self._readings: dict[str, dict[str, Measurement]] = {}
        self.acks: dict[str, Ack] = {}
        self.ignored = 0  # messages dropped (malformed or unknown device): for tests and logs
        self._listeners: list[TelemetryListener] = []

    def on_telemetry(self, listener: TelemetryListener) -> None:
        self._listeners.append(listener)

    def handle(self, topic_name: str, payload: bytes) -> None:
        """The bus handler for `flexvpp/{site_id}/+/+`."""
        try:
            self._handle(topic_name, payload)
        except MalformedPayload as exc:
            with self._lock:
                self.ignored += 1
            log.warning("dropped: %s", exc)

    def _handle(self, topic_name: str, payload: bytes) -> None:
        topic = parse_topic(topic_name)
        if topic.site_id != self.site_id or topic.device_id == AGENT_DEVICE_ID or topic.kind == TopicKind.SET:
            return
        if topic.kind == TopicKind.CONFIG:
            if not payload:  # an empty retained message removes the device
                self._forget(topic.device_id)
                return
            config = parse_config(topic_name, payload)
            if config.device_id != topic.device_id:
                raise MalformedPayload(
                    f"topic {topic_name}: device_id {config.device_id!r} differs from the topic"
                )
            with self._lock:
                known = topic.device_id in self._configs
                self._configs[topic.device_id] = config
            if not known:
                log.info("discovered %s %s", config.device_type, config.device_id)
            return
        with self._lock:
            known = topic.device_id in self._configs
        if not known:
            with self._lock:
                self.ignored += 1
            log.warning("ignored %s from unknown device %r (no config yet)", topic.kind, topic.device_id)
            return
        self._update(topic.device_id, topic.kind, topic_name, payload)

    def _update(self, device_id: str, kind: TopicKind, topic_name: str, payload: bytes) -> None:
        if kind == TopicKind.STATE:
            state = parse_state(topic_name, payload)
            with self._lock:
                self._states[device_id] = state
        elif kind == TopicKind.TELEMETRY:
            measurements = parse_telemetry(topic_name, payload)
            with self._lock:
                readings = self._readings.setdefault(device_id, {})
                for m in measurements:
                    if m.name not in readings or readings[m.name].time_s <= m.time_s:
                        readings[m.name] = m
            for listener in self._listeners:
                listener(device_id, measurements)
        elif kind == TopicKind.ACK:
            ack = parse_ack(topic_name, payload)
            with self._lock:
                self.acks[ack.command_id] = ack
            if not ack.accepted:
                log.warning("%s rejected command %s: %s", device_id, ack.command_id, ack.reason)

    def _forget(self, device_id: str) -> None:
        with self._lock:
            self._configs.pop(device_id, None)
            self._states.pop(device_id, None)
            self._readings.pop(device_id, None)
        log.info("device %s removed", device_id)

    def snapshot(self, now_s: float) -> HomeSnapshot:
        with self._lock:
            devices = {
                d_id: DeviceView(config, self._states.get(d_id), dict(self._readings.get(d_id, {})))
                for d_id, config in self._configs.items()
            }
        return HomeSnapshot(now_s, devices)
