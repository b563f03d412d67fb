"""Where the agent finds its devices: one entry per source, of one kind each.

- `mqtt`: devices that speak ../shared/spec/mqtt-devices.md on a broker (discovered).
- `ocpp`: an OCPP 1.6J central system; every charge point that connects is an EV charger.
- `sunspec`: one Modbus TCP SunSpec device (a PV inverter or a battery), polled.
- `s2`: an S2 CEM (EN 50491-12-2); every resource manager that connects is a device.

No protocol library is imported here: settings load on any install.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_BROKER_URL = "mqtt://127.0.0.1:1883"
MODBUS_PORT = 502
SUNSPEC_UNIT = 1
_DEVICE_ID = re.compile(r"^[^/+#\s]+$")


class DeviceSetupError(ValueError):
    """The device configuration cannot be served; the message says which entry and why."""


class DeviceKind(enum.StrEnum):
    MQTT = "mqtt"
    OCPP = "ocpp"
    S2 = "s2"
    SUNSPEC = "sunspec"


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT (an empty HOST is every interface; port 0 is any free port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{text!r}: expected HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def parse_modbus_address(text: str) -> tuple[str, int, int]:
    """HOST[:PORT][/UNIT] -> (host, port, unit); port 502 and unit 1 by default."""
    address, _, unit_text = text.partition("/")
    if unit_text and not (unit_text.isdigit() and 0 <= int(unit_text) <= 255):
        raise ValueError(f"{text!r}: the unit id after '/' is 0..255")
    host, sep, port = address.rpartition(":")
    if not sep:
        host, port = address, str(MODBUS_PORT)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: expected HOST:PORT[/UNIT]")
    return host.strip("[]"), int(port), int(unit_text) if unit_text else SUNSPEC_UNIT


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttDevices(_Entry):
    kind: Literal[DeviceKind.MQTT] = DeviceKind.MQTT
    broker_url: str = DEFAULT_BROKER_URL


class OcppChargers(_Entry):
    """The OCPP 1.6J central system at ws://listen/{chargePointId} (subprotocol ocpp1.6)."""

    kind: Literal[DeviceKind.OCPP] = DeviceKind.OCPP
    listen: str = Field(description="HOST:PORT to serve on")
    voltage_v: float = Field(230.0, gt=0, description="phase voltage for kW <-> A [V]")
    phases: Literal[1, 3] = 3
    max_current_a: float = Field(16.0, gt=0, description="per-phase current of the installation [A]")
    min_current_a: float = Field(
        6.0, ge=0, description="below this the car cannot charge (IEC 61851): a pause [A]"
    )
    ev_target_kwh: float = Field(30.0, ge=0, description="energy a session wants (OCPP 1.6 does not say)")
    ev_departure: str = Field("07:00", pattern=r"^\d\d:\d\d$", description="when a car leaves, HH:MM UTC")
    heartbeat_s: int = Field(60, gt=0, description="the Heartbeat interval given at BootNotification")
    meter_interval_s: int = Field(
        10, ge=0, description="MeterValueSampleInterval asked of chargers (0: no periodic samples)"
    )
    aligned_interval_s: int = Field(
        900,
        ge=0,
        description="ClockAlignedDataInterval asked of chargers: readings at the quarter-hour edges, "
        "as the meters' (0: none)",
    )
    response_timeout_s: float = Field(10.0, gt=0, description="wait this long for a charger's answer")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen(value)
        return value

    @property
    def max_power_kw(self) -> float:
        return self.voltage_v * self.phases * self.max_current_a / 1000.0


class SunspecDevice(_Entry):
    """A Modbus TCP SunSpec device at HOST:PORT/UNIT."""

    kind: Literal[DeviceKind.SUNSPEC] = DeviceKind.SUNSPEC
    address: str = Field(description="HOST[:PORT][/UNIT] (port 502, unit 1 by default)")
    device_id: str | None = Field(None, description="default: sunspec-HOST-PORT-UNIT")
    poll_s: float = Field(5.0, gt=0, description="read the device this often [s]")
    aligned_interval_s: int = Field(
        900,
        ge=0,
        description="also read it at these edges of the agent's clock, stamped with the edge, as the "
        "meters' readings (0: only every poll_s)",
    )
    timeout_s: float = Field(3.0, gt=0, description="Modbus request timeout [s]")
    nominal_kw: float | None = Field(None, gt=0, description="when the device has no model 120/121")
    capacity_kwh: float | None = Field(None, gt=0, description="battery capacity when model 120 lacks it")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        parse_modbus_address(value)
        return value

    @field_validator("device_id")
    @classmethod
    def _device_id(cls, value: str | None) -> str | None:
        if value is not None and not _DEVICE_ID.match(value):
            raise ValueError(f"device_id {value!r} must be non-empty without '/', '+', '#' or spaces")
        return value

    @property
    def endpoint(self) -> tuple[str, int, int]:
        return parse_modbus_address(self.address)

    @property
    def id(self) -> str:
        if self.device_id is not None:
            return self.device_id
        host, port, unit = self.endpoint
        return f"sunspec-{re.sub(r'[^A-Za-z0-9.-]', '-', host)}-{port}-{unit}"


class S2ResourceManagers(_Entry):
    """The S2 CEM at ws://listen/ (any path): each RM that connects is a device."""

    kind: Literal[DeviceKind.S2] = DeviceKind.S2
    listen: str = Field(description="HOST:PORT to serve on")
    response_timeout_s: float = Field(
        10.0, gt=0, description="wait this long for an RM's ReceptionStatus [s]"
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen(value)
        return value


DeviceEntry = Annotated[
    MqttDevices | OcppChargers | SunspecDevice | S2ResourceManagers, Field(discriminator="kind")
]
