"""Home Assistant MQTT discovery: what the agent announces and the values it keeps updated.

Pure functions of what the agent knows (its device snapshot, its commands, its events and
local plan); `ven/ha/publisher.py` puts them on the broker. The payloads follow HA's
documented MQTT discovery schema (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery):
one retained config per entity at `<prefix>/<component>/<node_id>/<object_id>/config` with
`name`, `unique_id`, `state_topic` + `value_template`, `device` (identifiers, name,
manufacturer, model, via_device), `availability`; sensors carry HA's `device_class`,
`unit_of_measurement` and `state_class`.

HA devices: one per device of the home, plus the agent itself (the home's plan, its DR event,
the month's peak). Each has one JSON state topic, `flexvpp/<site>/ha/<device>/state` (five
levels: never mistaken for a device topic `flexvpp/<site>/<device>/<kind>`), that every entity
of the device reads with its template. An entity is available while the agent is (its status
topic, `flexvpp/<site>/agent/status`, whose retained offline is the agent's MQTT will) and, for
a device, while the device is online (`online` in its state JSON).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ven.agent.events import DrEvent, EventInterval, SignalName
from ven.agent.registry import DeviceView, HomeSnapshot
from ven.messages import AGENT_DEVICE_ID, TOPIC_ROOT, ControlName, DeviceType

DEFAULT_PREFIX = "homeassistant"  # HA's default discovery prefix
MANUFACTURER = "flexvpp"
PLAN_AHEAD = 8  # intervals of the schedule shown as the plan sensor's attributes
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")

# A sensor's HA class by its unit (HA's device classes and the units each accepts).
_BY_UNIT: dict[str, tuple[str | None, str | None]] = {
    "W": ("power", "measurement"),
    "kW": ("power", "measurement"),
    "Wh": ("energy", "total_increasing"),
    "kWh": ("energy", "total_increasing"),
    "A": ("current", "measurement"),
    "V": ("voltage", "measurement"),
    "°C": ("temperature", "measurement"),
    "%": (None, "measurement"),
}
_BY_NAME: dict[str, tuple[str | None, str | None]] = {
    "soc": ("battery", "measurement"),
    "stored_energy": ("energy_storage", "measurement"),
}
_ON_OFF = {"payload_on": "on", "payload_off": "off"}
_CONTROL_UNIT = {
    ControlName.POWER_KW: ("kW", "power"),
    ControlName.CURTAIL_PERCENT: ("%", None),
    ControlName.SETPOINT_C: ("°C", "temperature"),
}


def safe_id(text: str) -> str:
    """HA's node_id and object_id allow [a-zA-Z0-9_-] only."""
    return _UNSAFE.sub("_", text)


@dataclass(frozen=True, slots=True)
class Entity:
    """One HA entity: its discovery topic and config payload."""

    topic: str
    config: dict[str, Any]


def state_topic(site_id: str, device_id: str) -> str:
    return f"{TOPIC_ROOT}/{site_id}/ha/{device_id}/state"


def agent_status_topic(site_id: str) -> str:
    return f"{TOPIC_ROOT}/{site_id}/{AGENT_DEVICE_ID}/status"


class Discovery:
    """The configs and state payloads of one site's agent under one discovery prefix."""

    def __init__(self, site_id: str, prefix: str = DEFAULT_PREFIX) -> None:
        self.site_id = site_id
        self.prefix = prefix
        self.node_id = safe_id(f"flexvpp_{site_id}")

    # --- configs ------------------------------------------------------------------------------
    def _device_block(self, device_id: str, model: str) -> dict[str, Any]:
        block: dict[str, Any] = {
            "identifiers": [safe_id(f"flexvpp_{self.site_id}_{device_id}")],
            "name": f"{self.site_id} {device_id}",
            "manufacturer": MANUFACTURER,
            "model": model,
        }
        if device_id != AGENT_DEVICE_ID:
            block["via_device"] = safe_id(f"flexvpp_{self.site_id}_{AGENT_DEVICE_ID}")
        return block

    def _availability(self, device_id: str) -> dict[str, Any]:
        entries: list[dict[str, Any]] = [
            {
                "topic": agent_status_topic(self.site_id),
                "value_template": "{{ 'online' if value_json.online else 'offline' }}",
            }
        ]
        if device_id != AGENT_DEVICE_ID:
            entries.append(
                {
                    "topic": state_topic(self.site_id, device_id),
                    "value_template": "{{ 'online' if value_json.online else 'offline' }}",
                }
            )
        return {"availability": entries, "availability_mode": "all"}

    def _entity(
        self, component: str, device_id: str, model: str, key: str, name: str, **extra: Any
    ) -> Entity:
        object_id = safe_id(f"{device_id}_{key}")
        config: dict[str, Any] = {
            "name": name,
            "unique_id": safe_id(f"flexvpp_{self.site_id}_{device_id}_{key}"),
            "object_id": safe_id(f"{self.site_id}_{device_id}_{key}"),
            "state_topic": state_topic(self.site_id, device_id),
            "value_template": f"{{{{ value_json.{key} }}}}",
            "device": self._device_block(device_id, model),
            **self._availability(device_id),
            **{k: v for k, v in extra.items() if v is not None},
        }
        return Entity(f"{self.prefix}/{component}/{self.node_id}/{object_id}/config", config)

    def device_entities(self, view: DeviceView) -> list[Entity]:
        """A device's sensors, its setpoint and, for a charger, its mode and plug."""
        device_id, model = view.device_id, str(view.device_type)
        entities = []
        for sensor in view.config.sensors:
            device_class, state_class = _BY_NAME.get(sensor.name) or _BY_UNIT.get(sensor.unit, (None, None))
            entities.append(
                self._entity(
                    "sensor",
                    device_id,
                    model,
                    sensor.name,
                    sensor.name.replace("_", " ").capitalize(),
                    unit_of_measurement=sensor.unit or None,
                    device_class=device_class,
                    state_class=state_class,
                )
            )
        for control in view.config.controls:
            if control.name == ControlName.ON:
                entities.append(
                    self._entity(
                        "binary_sensor", device_id, model, "setpoint", "Switched on by plan", **_ON_OFF
                    )
                )
                continue
            unit, device_class = _CONTROL_UNIT.get(control.name, (None, None))
            for key, name in (("setpoint", "Setpoint"), ("next_setpoint", "Next setpoint")):
                entities.append(
                    self._entity(
                        "sensor",
                        device_id,
                        model,
                        key,
                        name,
                        unit_of_measurement=unit,
                        device_class=device_class,
                        state_class="measurement",
                    )
                )
        if view.device_type == DeviceType.EV_CHARGER:
            entities += [
                self._entity("sensor", device_id, model, "charge_mode", "Charge mode", icon="mdi:ev-station"),
                self._entity(
                    "binary_sensor",
                    device_id,
                    model,
                    "plugged_in",
                    "Car plugged in",
                    device_class="plug",
                    **_ON_OFF,
                ),
            ]
        return entities

    def agent_entities(self) -> list[Entity]:
        """The agent's own HA device: the active DR event and the plan's next setpoint."""
        a, model = AGENT_DEVICE_ID, "home agent (VEN)"
        return [
            self._entity("binary_sensor", a, model, "dr_active", "DR event active", **_ON_OFF),
            self._entity("sensor", a, model, "dr_event", "DR event", icon="mdi:transmission-tower",
                         json_attributes_topic=state_topic(self.site_id, a),
                         json_attributes_template="{{ value_json.dr | tojson }}"),
            self._entity("sensor", a, model, "plan_next_kw", "Plan: next setpoint", unit_of_measurement="kW",
                         device_class="power", state_class="measurement",
                         json_attributes_topic=state_topic(self.site_id, a),
                         json_attributes_template="{{ value_json.plan | tojson }}"),
            self._entity("sensor", a, model, "month_peak_kw", "Month peak", unit_of_measurement="kW",
                         device_class="power", state_class="measurement"),
        ]  # fmt: skip

    def entities(self, snapshot: HomeSnapshot) -> list[Entity]:
        out = self.agent_entities()
        for view in sorted(snapshot.devices.values(), key=lambda v: v.device_id):
            out += self.device_entities(view)
        return out

    # --- states -------------------------------------------------------------------------------
    def states(self, inputs: StateInputs) -> dict[str, dict[str, Any]]:
        """Each HA device's state JSON (by device id, the agent's under AGENT_DEVICE_ID)."""
        plan = upcoming(inputs.events, inputs.local_plan, inputs.now_s)
        out: dict[str, dict[str, Any]] = {}
        for device_id, view in inputs.snapshot.devices.items():
            state: dict[str, Any] = {"online": view.online}
            for sensor in view.config.sensors:
                value = view.reading(sensor.name)
                state[sensor.name] = None if value is None else round(value, 3)
            commanded = inputs.setpoints.get(device_id)
            if any(c.name == ControlName.ON for c in view.config.controls):
                state["setpoint"] = None if commanded is None else ("on" if commanded else "off")
            elif view.config.controls:
                state["setpoint"] = None if commanded is None else round(float(commanded), 3)
                ahead = plan.get(device_id, [])
                state["next_setpoint"] = round(ahead[0].value, 3) if ahead else None
            if view.device_type == DeviceType.EV_CHARGER:
                s = view.state
                state["charge_mode"] = (s.mode if s is not None else None) or "unknown"
                state["plugged_in"] = "on" if s is not None and s.plugged_in else "off"
            out[device_id] = state
        out[AGENT_DEVICE_ID] = self._agent_state(inputs, plan)
        return out

    def _agent_state(self, inputs: StateInputs, plan: Mapping[str, list[EventInterval]]) -> dict[str, Any]:
        now = inputs.now_s
        active = [
            e
            for e in inputs.events
            if _is_dr(e)
            and e.event_id not in inputs.opted_out
            and any(i.start_s <= now < i.end_s for i in e.intervals)
        ]
        dr: dict[str, Any] = {}
        if active:
            event = min(active, key=lambda e: e.intervals[0].start_s)
            current = next(i for i in event.intervals if i.start_s <= now < i.end_s)
            dr = {
                "event_id": event.event_id,
                "signal": str(event.signal_name),
                "targets": list(event.resource_ids) or ["site"],
                "value": current.value,
                "start": _iso(event.intervals[0].start_s),
                "end": _iso(event.intervals[-1].end_s),
            }
        first = min(
            ((device, ahead[0]) for device, ahead in plan.items() if ahead),
            key=lambda pair: pair[1].start_s,
            default=None,
        )
        return {
            "online": True,
            "dr_active": "on" if active else "off",
            "dr_event": dr.get("event_id", "none"),
            "dr": dr,
            "plan_next_kw": round(first[1].value, 3) if first else None,
            "plan": {
                device: [
                    {"start": _iso(i.start_s), "end": _iso(i.end_s), "kw": round(i.value, 3)} for i in ahead
                ]
                for device, ahead in plan.items()
            },
            "month_peak_kw": round(inputs.month_peak_kw, 3),
        }


@dataclass(frozen=True, slots=True)
class StateInputs:
    """What the agent knows at one step."""

    now_s: float
    snapshot: HomeSnapshot
    setpoints: Mapping[str, float | bool]
    events: list[DrEvent]
    opted_out: set[str]
    local_plan: Mapping[str, list[EventInterval]]
    month_peak_kw: float


def _is_dr(event: DrEvent) -> bool:
    return event.signal_name != SignalName.ELECTRICITY_PRICE and not event.cancelled


def upcoming(
    events: Iterable[DrEvent], local_plan: Mapping[str, list[EventInterval]], now_s: float
) -> dict[str, list[EventInterval]]:
    """Per device ("site" for the whole home), the schedule's intervals that start after now:
    the VTN's LOAD_DISPATCH events first, else the agent's own plan on prices."""
    out: dict[str, list[EventInterval]] = {}
    for event in events:
        if event.signal_name != SignalName.LOAD_DISPATCH or event.cancelled:
            continue
        for device in event.resource_ids or ("site",):
            ahead = [i for i in event.intervals if i.start_s > now_s]
            out[device] = sorted(out.get(device, []) + ahead, key=lambda i: i.start_s)[:PLAN_AHEAD]
    for device, intervals in local_plan.items():
        if device not in out:
            out[device] = [i for i in sorted(intervals, key=lambda i: i.start_s) if i.start_s > now_s][
                :PLAN_AHEAD
            ]
    return {device: ahead for device, ahead in out.items() if ahead}


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()
