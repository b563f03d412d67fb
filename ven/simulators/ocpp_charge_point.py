"""A simulated EV charger speaking OCPP 1.6J: the `ocpp` library's own v16 ChargePoint.

The physics stays the home's (`ven.simulators.ev_charger.EvCharger` in a `SimulatedHome`: the
car arrives, charges, leaves; the meter sums it); this is its protocol face, as a real
charger's is. It follows the car: StatusNotification Preparing and StartTransaction when a car
is plugged in, StopTransaction and Available when it leaves; MeterValues (power, energy
register, current per phase, SoC) every MeterValueSampleInterval seconds of the home's clock
(the central system sets it; 0: none), and with ClockAlignedDataInterval set, the registers at each of
those edges of the day (context Sample.Clock, timestamp the edge) as the home's physics held
them at the edge (its meter's telemetry edges: `SimDevice.edge_reading`). The car draws
nothing before its transaction has started (the home charger's authorisation). A
SetChargingProfile (A, or W when declared) limits the car until the profile's validTo;
ClearChargingProfile, or validTo passing, gives the charger back its own behaviour: full power,
as a plain charger charges.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from ocpp import routing
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection, connect

from ven.clock import Clock
from ven.messages import SetCommand
from ven.simulators.ev_charger import EvCharger

log = logging.getLogger(__name__)
for _name in ("ocpp",):  # the library logs every frame at INFO
    logging.getLogger(_name).setLevel(logging.WARNING)

FOLLOW_REAL_S = 0.05  # how often the car and the meter interval are looked at (real time)
RECONNECT_REAL_S = 0.5


Handler = TypeVar("Handler", bound=Callable[..., Any])


def on(action: Action) -> Callable[[Handler], Handler]:
    """The library's routing decorator, typed."""
    decorator: Callable[[Handler], Handler] = routing.on(action)
    return decorator


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")


def _epoch(text: str | None) -> float | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class SimulatedChargePoint(ChargePoint):  # type: ignore[misc]
    """`charger`'s OCPP face on `connection`; `lock` is the home's (its physics thread's)."""

    def __init__(
        self,
        cp_id: str,
        connection: ClientConnection,
        charger: EvCharger,
        lock: threading.RLock,
        clock: Clock,
        *,
        voltage_v: float = 230.0,
        phases: int = 3,
    ) -> None:
        super().__init__(cp_id, connection, response_timeout=10)
        self.charger = charger
        self.lock = lock
        self.clock = clock
        self.voltage_v = voltage_v
        self.phases = phases
        self.meter_interval_s = 60.0
        self.aligned_s = 0.0  # ClockAlignedDataInterval (0: no clock-aligned readings)
        self._aligned_sent_s = 0.0
        self.transaction_id: int | None = None
        self._next_meter_s = 0.0
        with lock:
            charger.authorized = False  # no energy before StartTransaction is accepted

    # --- the central system's requests --------------------------------------------------------
    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None) -> Any:
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current"},
                {"key": "MeterValueSampleInterval", "readonly": False, "value": f"{self.meter_interval_s:g}"},
                {"key": "ClockAlignedDataInterval", "readonly": False, "value": f"{self.aligned_s:g}"},
            ]
        )

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> Any:
        if key not in ("MeterValueSampleInterval", "ClockAlignedDataInterval"):
            return call_result.ChangeConfiguration(status="Accepted")
        seconds = _interval_s(value)
        if seconds is None:
            return call_result.ChangeConfiguration(status="Rejected")
        if key == "MeterValueSampleInterval":
            self.meter_interval_s = seconds  # 0: no periodic samples (OCPP 1.6)
            self._next_meter_s = 0.0  # the next sample now, then on the new interval
        else:
            self.aligned_s = seconds
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        profile = cs_charging_profiles
        # A TxProfile needs a car: the central system may send it for the transaction it has
        # just started before this side has read the StartTransaction answer.
        with self.lock:
            plugged = self.charger.plugged_in
        if profile["charging_profile_purpose"] == "TxProfile" and not plugged:
            return call_result.SetChargingProfile(status="Rejected")
        schedule = profile["charging_schedule"]
        limit = float(schedule["charging_schedule_period"][0]["limit"])
        phases = int(schedule["charging_schedule_period"][0].get("number_phases") or self.phases)
        power_kw = (
            limit / 1000.0
            if schedule["charging_rate_unit"] == "W"
            else limit * self.voltage_v * phases / 1000.0
        )
        now = self.clock.now()
        valid_to = _epoch(profile.get("valid_to")) or now + 10 * 365 * 86400.0
        with self.lock:
            self.charger.command = SetCommand(
                command_id=f"ocpp-{uuid.uuid4().hex[:8]}", ts=now, valid_until=valid_to, power_kw=power_kw
            )
            self.charger.setpoint_kw = min(power_kw, self.charger.max_kw)
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **_: Any) -> Any:
        with self.lock:
            self.charger.command = None
        return call_result.ClearChargingProfile(status="Accepted")

    # --- the charger's own messages -----------------------------------------------------------
    async def boot(self) -> None:
        await self.call(call.BootNotification(charge_point_model="Sim-EVSE", charge_point_vendor="flexvpp"))
        await self.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))

    async def follow(self) -> None:
        """Until cancelled: transactions as the car comes and goes, MeterValues on the interval."""
        while True:
            with self.lock:
                plugged = self.charger.plugged_in
                energy_wh = self.charger.energy_import_wh
            if plugged and self.transaction_id is None:
                await self._start(energy_wh)
            elif not plugged and self.transaction_id is not None:
                await self._stop(energy_wh)
            now = self.clock.now()
            if self.meter_interval_s and now >= self._next_meter_s:
                self._next_meter_s = now + self.meter_interval_s
                await self.send_meter_values()
            await self._send_aligned()
            await asyncio.sleep(FOLLOW_REAL_S)

    async def _send_aligned(self) -> None:
        """The registers at the last clock-aligned edge, once (a charger samples them right at
        the edge; this loop looks only every FOLLOW_REAL_S, so the home keeps them)."""
        with self.lock:
            edge = self.charger.edge_reading
        if not self.aligned_s or edge is None or edge[0] <= self._aligned_sent_s:
            return
        at_s, power_kw, energy_wh = edge
        if abs(at_s / self.aligned_s - round(at_s / self.aligned_s)) > 1e-9:
            return  # a telemetry edge of the home that is not one of the aligned ones
        self._aligned_sent_s = at_s
        await self._meter_values(at_s, power_kw * 1000.0, energy_wh, None, "Sample.Clock")

    async def _start(self, energy_wh: float) -> None:
        await self.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
        reply = await self.call(
            call.StartTransaction(
                connector_id=1,
                id_tag="HOUSEHOLD",
                meter_start=int(energy_wh),
                timestamp=_iso(self.clock.now()),
            )
        )
        self.transaction_id = reply.transaction_id
        with self.lock:
            self.charger.authorized = True
        await self.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))

    async def _stop(self, energy_wh: float) -> None:
        transaction_id, self.transaction_id = self.transaction_id, None
        with self.lock:
            self.charger.authorized = False
        await self.call(
            call.StopTransaction(
                meter_stop=int(energy_wh), timestamp=_iso(self.clock.now()), transaction_id=transaction_id
            )
        )
        await self.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))

    async def send_meter_values(self) -> None:
        with self.lock:
            power_w = self.charger.power_kw * 1000.0
            energy_wh = self.charger.energy_import_wh
            soc = self.charger.soc_pct
        await self._meter_values(self.clock.now(), power_w, energy_wh, soc, "Sample.Periodic")

    async def _meter_values(
        self, at_s: float, power_w: float, energy_wh: float, soc: float | None, context: str
    ) -> None:
        current_a = power_w / (self.voltage_v * self.phases)
        samples: list[dict[str, Any]] = [
            {"value": f"{power_w:.1f}", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": f"{energy_wh:.1f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        ]
        samples += [
            {"value": f"{current_a:.2f}", "measurand": "Current.Import", "unit": "A", "phase": phase}
            for phase in ("L1", "L2", "L3")[: self.phases]
        ]
        if soc is not None:
            samples.append({"value": f"{soc:.1f}", "measurand": "SoC", "unit": "Percent"})
        for sample in samples:
            sample["context"] = context
        await self.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=self.transaction_id,
                meter_value=[{"timestamp": _iso(at_s), "sampled_value": samples}],
            )
        )


async def run_charge_point(
    url: str,
    cp_id: str,
    charger: EvCharger,
    lock: threading.RLock,
    clock: Clock,
    *,
    voltage_v: float = 230.0,
    phases: int = 3,
) -> None:
    """Connect to the central system at `url`/`cp_id` and follow the charger until cancelled;
    a lost connection is made again (a charger's own behaviour), the car charging meanwhile."""
    while True:
        try:
            async with connect(f"{url.rstrip('/')}/{cp_id}", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
                cp = SimulatedChargePoint(cp_id, ws, charger, lock, clock, voltage_v=voltage_v, phases=phases)
                receiver = asyncio.create_task(cp.start())
                try:
                    await cp.boot()
                    await cp.follow()
                finally:
                    receiver.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await receiver
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the central system is away: try again, as a charger does
            log.warning("charge point %s: %s; connecting again", cp_id, exc)
        await asyncio.sleep(RECONNECT_REAL_S)


def _interval_s(value: str) -> float | None:
    """An interval setting's seconds (0 or more), or None for a value a charger rejects."""
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
