"""One OCPP 1.6J charge point as the agent's EV charger (the central system's side of it).

The charger's messages keep its picture up to date (connector status, the running
transaction, the meter) and that picture goes to the agent as the MQTT device messages:
`config` on connect, `state` on every change, SenML `telemetry` on every MeterValues. A
power setpoint becomes SetChargingProfile: a TxProfile on the running transaction, else a
TxDefaultProfile on connector 0 (so a session that starts before the next command starts
at the limit). Either carries `validTo` = the command's `valid_until`: when the agent stops
sending, the charger drops the limit by itself and charges as it would on its own.

Times are the agent's clock (a charger's own clock may be unset): telemetry is stamped on
receipt, but for the clock-aligned readings (ClockAlignedDataInterval, context Sample.Clock):
they are the charger's registers at the interval's edge, as a meter's quarter-hour readings are,
and are stamped with that edge (the one their timestamp names when it is within an interval of
receipt, else the edge nearest to receipt). The agent learns the house load as the meter minus
every device at one moment; a charger's reading of another moment would count the charger's
change in between (up to its full power) as house load.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ocpp import routing
from ocpp.exceptions import NotImplementedError as NotImplementedByUs
from ocpp.exceptions import NotSupportedError, OCPPError
from ocpp.messages import MessageType, unpack
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16 import datatypes as dt
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    ChargePointStatus,
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingProfileStatus,
    RegistrationStatus,
)
from websockets.exceptions import ConnectionClosed

from ven.clock import Clock
from ven.devices.bus import DeviceLink
from ven.devices.config import OcppChargers
from ven.devices.ocpp_values import MeterReading, RateUnit, limit_kw, parse_samples, rate_unit, schedule_limit
from ven.messages import ControlName, ControlSpec, DeviceConfig, DeviceType, SensorSpec

log = logging.getLogger(__name__)
# The library logs every frame at INFO; set this logger to INFO to trace them.
FRAMES = logging.getLogger(f"{__name__}.frames")
FRAMES.setLevel(logging.WARNING)

TX_PROFILE_ID = 1401  # ours; the same id replaces our previous profile, never the installer's
TX_DEFAULT_PROFILE_ID = 1402
STACK_LEVEL = 1
ACCEPTED = (ChargingProfileStatus.accepted.value,)
RATE_UNIT_KEY = "ChargingScheduleAllowedChargingRateUnit"
SAMPLED_DATA = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,SoC"
# A car is at the charger in these connector states.
PLUGGED = {
    ChargePointStatus.preparing,
    ChargePointStatus.charging,
    ChargePointStatus.suspended_ev,
    ChargePointStatus.suspended_evse,
    ChargePointStatus.finishing,
}


Handler = TypeVar("Handler", bound=Callable[..., Any])


def on(action: Action) -> Callable[[Handler], Handler]:
    """The library's routing decorator, typed."""
    decorator: Callable[[Handler], Handler] = routing.on(action)
    return decorator


def after(action: Action) -> Callable[[Handler], Handler]:
    decorator: Callable[[Handler], Handler] = routing.after(action)
    return decorator


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Transaction:
    transaction_id: int
    connector_id: int
    meter_start_wh: float


class ChargerSession(ChargePoint):  # type: ignore[misc]
    """One WebSocket connection of one charge point."""

    def __init__(
        self,
        charge_point_id: str,
        connection: Any,
        settings: OcppChargers,
        link: DeviceLink,
        clock: Clock,
        transaction_ids: Any,
    ) -> None:
        super().__init__(
            charge_point_id, connection, response_timeout=settings.response_timeout_s, logger=FRAMES
        )
        self.settings = settings
        self.link = link
        self.clock = clock
        self._transaction_ids = transaction_ids  # an iterator shared by the central system
        self.unit = RateUnit.AMPS
        self.aligned_s = 0  # the ClockAlignedDataInterval the charger took (0: none)
        self.connectors: dict[int, str] = {}
        self.transaction: Transaction | None = None
        self.energy_wh: float | None = None
        self.plugged_since_s: float | None = None
        self.limit_kw: float | None = None
        self.online = True
        self.superseded = False  # a newer connection of the same charger speaks for it now
        self.vendor = ""
        self.model = ""
        self.configured = asyncio.Event()
        # Called after a StartTransaction is answered: the agent's limit must follow the new
        # transaction (a TxProfile names its transaction).
        self.on_new_transaction: Callable[[], None] = lambda: None
        self._configuring: asyncio.Task[None] | None = None

    # --- the connection -----------------------------------------------------------------------
    async def serve(self) -> None:
        """Read frames until the charger goes; a bad frame is logged and skipped."""
        self.publish_config()
        self.publish_state()
        try:
            while True:
                frame = await self._connection.recv()
                await self._route(frame)
        except ConnectionClosed as exc:
            if not self.superseded:
                log.warning("charger %s disconnected (%s)", self.id, exc.rcvd or "no close frame")
        finally:
            self.online = False
            if self._configuring is not None:
                self._configuring.cancel()
            if not self.superseded:
                self.publish_state()

    async def _route(self, frame: str | bytes) -> None:
        try:
            message = unpack(frame)
        except OCPPError as exc:
            log.warning("charger %s: bad frame dropped (%s): %.200r", self.id, exc, frame)
            return
        if message.message_type_id == MessageType.Call and message.action not in self.route_map:
            log.warning("charger %s: unknown message %r answered with an error", self.id, message.action)
            known = message.action in {a.value for a in Action}
            error = (NotImplementedByUs if known else NotSupportedError)(
                details={"cause": f"{message.action} is not handled by this central system"}
            )
            await self._send(message.create_call_error(error).to_json())
            return
        try:
            await self.route_message(frame)
        except ConnectionClosed:
            return  # the answer cannot go out: the charger has gone (logged by serve)
        except Exception:  # one bad message must not end the connection
            log.exception("charger %s: handling %.200r failed", self.id, frame)
        if message.message_type_id == MessageType.Call and self._configuring is None:
            # A charger that reconnects without rebooting sends no BootNotification.
            self._configuring = asyncio.create_task(self._configure())

    async def _configure(self) -> None:
        """Learn the charger's rate unit and ask for the meter values the agent reads."""
        try:
            reply = await self.call(call.GetConfiguration(key=[RATE_UNIT_KEY]), suppress=False)
            values = {k.get("key"): k.get("value") for k in (reply.configuration_key or [])}
            self.unit = rate_unit(values.get(RATE_UNIT_KEY))
            aligned = self.settings.aligned_interval_s
            taken = []
            for key, value in (
                ("MeterValuesSampledData", SAMPLED_DATA),
                ("MeterValueSampleInterval", str(self.settings.meter_interval_s)),
                ("MeterValuesAlignedData", SAMPLED_DATA),
                ("ClockAlignedDataInterval", str(aligned)),
            ):
                answer = await self.call(call.ChangeConfiguration(key=key, value=value), suppress=False)
                taken.append(answer.status == "Accepted")
                if answer.status != "Accepted":
                    log.info("charger %s: %s %s (%s)", self.id, key, answer.status, value)
            self.aligned_s = aligned if aligned > 0 and all(taken[2:]) else 0
        except (OCPPError, TimeoutError) as exc:
            log.warning("charger %s: configuration not read (%s); rates in %s", self.id, exc, self.unit)
        except ConnectionClosed:
            return
        log.info("charger %s %s %s: schedules in %s", self.id, self.vendor, self.model, self.unit)
        self.publish_config()
        self.configured.set()

    # --- what the charger tells ---------------------------------------------------------------
    @on(Action.boot_notification)
    def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **_: Any) -> Any:
        self.vendor, self.model = charge_point_vendor, charge_point_model
        return call_result.BootNotification(
            current_time=iso(self.clock.now()),
            interval=self.settings.heartbeat_s,
            status=RegistrationStatus.accepted,
        )

    @after(Action.boot_notification)
    def after_boot_notification(self, **_: Any) -> None:
        if self._configuring is not None and self._configuring.done():
            self._configuring = asyncio.create_task(self._configure())  # a reboot: ask again

    @on(Action.heartbeat)
    def on_heartbeat(self) -> Any:
        return call_result.Heartbeat(current_time=iso(self.clock.now()))

    @on(Action.authorize)
    def on_authorize(self, id_tag: str) -> Any:
        # A home charger: every tag is the household's.
        return call_result.Authorize(id_tag_info=dt.IdTagInfo(status=AuthorizationStatus.accepted))

    @on(Action.status_notification)
    def on_status_notification(self, connector_id: int, error_code: str, status: str, **_: Any) -> Any:
        if connector_id > 0:
            self.connectors[connector_id] = status
        if error_code != "NoError":
            log.warning("charger %s connector %d: %s (%s)", self.id, connector_id, status, error_code)
        self._track_plug()
        self.publish_state()
        return call_result.StatusNotification()

    @on(Action.start_transaction)
    def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, **_: Any) -> Any:
        transaction_id = next(self._transaction_ids)
        self.transaction = Transaction(transaction_id, connector_id, float(meter_start))
        self.energy_wh = float(meter_start)
        self._track_plug()
        self.publish_state()
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info=dt.IdTagInfo(status=AuthorizationStatus.accepted)
        )

    @after(Action.start_transaction)
    def after_start_transaction(self, **_: Any) -> None:
        self.on_new_transaction()

    @on(Action.stop_transaction)
    def on_stop_transaction(self, meter_stop: int, transaction_id: int, **_: Any) -> Any:
        if self.transaction is not None and self.transaction.transaction_id == transaction_id:
            self.transaction = None
        self.energy_wh = float(meter_stop)
        self.link.telemetry(
            self.id, self.clock.now(), [("power", "W", 0.0), ("energy_import", "Wh", meter_stop)]
        )
        self._track_plug()
        self.publish_state()
        return call_result.StopTransaction()

    @on(Action.meter_values)
    def on_meter_values(self, connector_id: int, meter_value: list[dict[str, Any]], **_: Any) -> Any:
        for value in meter_value:
            samples = value.get("sampled_value", [])
            reading = parse_samples(samples, self.settings.voltage_v)
            for problem in reading.problems:
                log.warning("charger %s: meter value skipped: %s", self.id, problem)
            self._publish_reading(reading, self._stamp(samples, value.get("timestamp")))
        return call_result.MeterValues()

    def _stamp(self, samples: list[dict[str, Any]], timestamp: Any) -> float:
        """When a reading was taken: receipt, or the edge of a clock-aligned one."""
        now = self.clock.now()
        interval = self.aligned_s
        if not interval or not any(s.get("context") == "Sample.Clock" for s in samples):
            return now
        at = now
        try:
            told = datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp()
        except ValueError:
            told = None
        if told is not None and abs(told - now) < interval:
            at = told  # the charger's clock, when it is about right
        return round(at / interval) * interval

    def _publish_reading(self, reading: MeterReading, time_s: float) -> None:
        values: list[tuple[str, str, float]] = []
        if reading.power_w is not None:
            values.append(("power", "W", round(reading.power_w, 1)))
        if reading.energy_import_wh is not None:
            self.energy_wh = reading.energy_import_wh
            values.append(("energy_import", "Wh", round(reading.energy_import_wh, 1)))
            if self.transaction is not None:
                session_wh = max(0.0, reading.energy_import_wh - self.transaction.meter_start_wh)
                values.append(("session_energy", "Wh", round(session_wh, 1)))
        if reading.current_a is not None:
            values.append(("current", "A", round(reading.current_a, 2)))
        if reading.soc_pct is not None:
            values.append(("soc", "%", reading.soc_pct))
        self.link.telemetry(self.id, time_s, values)

    def _track_plug(self) -> None:
        if not self.plugged_in:
            self.plugged_since_s = None
        elif self.plugged_since_s is None:
            self.plugged_since_s = self.clock.now()

    # --- what the agent sees ------------------------------------------------------------------
    @property
    def plugged_in(self) -> bool:
        return self.transaction is not None or any(s in PLUGGED for s in self.connectors.values())

    @property
    def charging(self) -> bool:
        return any(s == ChargePointStatus.charging for s in self.connectors.values())

    def device_config(self) -> DeviceConfig:
        s = self.settings
        return DeviceConfig(
            device_id=self.id,
            device_type=DeviceType.EV_CHARGER,
            sensors=[
                SensorSpec(name="power", unit="W"),
                SensorSpec(name="energy_import", unit="Wh"),
                SensorSpec(name="session_energy", unit="Wh"),
                SensorSpec(name="current", unit="A"),
                SensorSpec(name="soc", unit="%"),
            ],
            controls=[ControlSpec(name=ControlName.POWER_KW, min=0.0, max=round(s.max_power_kw, 3))],
            params={
                "protocol": "ocpp1.6",
                "phases": s.phases,
                "voltage_v": s.voltage_v,
                "max_power_kw": round(s.max_power_kw, 3),
                "charging_rate_unit": str(self.unit),
                # Its power readings come at these edges, stamped with them (0: on receipt).
                "aligned_interval_s": self.aligned_s,
                "efficiency": 1.0,
                "vendor": self.vendor,
                "model": self.model,
            },
        )

    def publish_config(self) -> None:
        self.link.config(self.device_config())

    def publish_state(self) -> None:
        now = self.clock.now()
        state: dict[str, Any] = {
            "ts": now,
            "online": self.online,
            "mode": "smart",
            "plugged_in": self.plugged_in,
            "charging": self.charging,
            "status": ",".join(f"{c}:{s}" for c, s in sorted(self.connectors.items())) or "unknown",
        }
        if self.transaction is not None:
            state["transaction_id"] = self.transaction.transaction_id
        if self.limit_kw is not None:
            state["limit_kw"] = self.limit_kw
        if self.plugged_in and self.plugged_since_s is not None:
            state["ev_target_kwh"] = self.settings.ev_target_kwh
            state["ev_arrival"] = iso(self.plugged_since_s)
            state["ev_departure"] = iso(self._departure_s(self.plugged_since_s))
        self.link.state(self.id, state)

    def _departure_s(self, arrival_s: float) -> float:
        hour, minute = (int(x) for x in self.settings.ev_departure.split(":"))
        arrival = datetime.fromtimestamp(arrival_s, UTC)
        departure = arrival.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if departure <= arrival:
            departure += timedelta(days=1)
        return departure.timestamp()

    # --- what the agent asks ------------------------------------------------------------------
    async def set_power(self, power_kw: float, valid_until_s: float) -> str | None:
        """Send the limit; None when the charger accepted it, else why not."""
        s = self.settings
        now = self.clock.now()
        limit = schedule_limit(power_kw, self.unit, s.voltage_v, s.phases, s.min_current_a)
        tx = self.transaction
        profile = dt.ChargingProfile(
            charging_profile_id=TX_PROFILE_ID if tx else TX_DEFAULT_PROFILE_ID,
            stack_level=STACK_LEVEL,
            charging_profile_purpose=(
                ChargingProfilePurposeType.tx_profile if tx else ChargingProfilePurposeType.tx_default_profile
            ),
            charging_profile_kind=ChargingProfileKindType.absolute,
            transaction_id=tx.transaction_id if tx else None,
            valid_from=iso(now),
            valid_to=iso(valid_until_s),
            charging_schedule=dt.ChargingSchedule(
                charging_rate_unit=self.unit,
                start_schedule=iso(now),
                charging_schedule_period=[
                    dt.ChargingSchedulePeriod(start_period=0, limit=limit, number_phases=s.phases)
                ],
            ),
        )
        request = call.SetChargingProfile(
            connector_id=tx.connector_id if tx else 0, cs_charging_profiles=profile
        )
        reason = await self._ask(request, "SetChargingProfile")
        if reason is None:
            self.limit_kw = round(limit_kw(limit, self.unit, s.voltage_v, s.phases), 3)
            log.info("charger %s: limit %g %s (%g kW asked)", self.id, limit, self.unit, power_kw)
            self.publish_state()
        return reason

    async def clear_limit(self) -> None:
        """The agent's command expired: remove our profiles (their validTo did it already)."""
        self.limit_kw = None
        self.publish_state()
        for profile_id in (TX_PROFILE_ID, TX_DEFAULT_PROFILE_ID):
            reason = await self._ask(
                call.ClearChargingProfile(id=profile_id), "ClearChargingProfile", (*ACCEPTED, "Unknown")
            )
            if reason is not None:
                log.info("charger %s: %s", self.id, reason)

    async def _ask(self, request: Any, what: str, ok: tuple[str, ...] = ACCEPTED) -> str | None:
        if not self.online:
            return f"charger {self.id} is offline"
        try:
            reply = await self.call(request, suppress=False)
        except OCPPError as exc:
            return f"charger answered {what} with {type(exc).__name__}: {exc.description}"
        except TimeoutError:
            return f"charger sent no answer to {what} in {self.settings.response_timeout_s:g} s"
        except ConnectionClosed:
            return f"charger {self.id} disconnected"
        status = getattr(reply, "status", None)
        if status not in ok:
            return f"charger answered {what} with {status}"
        return None
