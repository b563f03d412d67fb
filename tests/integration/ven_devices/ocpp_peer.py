"""A charge point built on the `ocpp` library's own v16 ChargePoint, with a simple physical model.

The car draws the lowest of its own maximum and the charging profile that applies (a
TxProfile of the running transaction, else a TxDefaultProfile, each until its validTo);
without a profile it charges at full power. It answers GetConfiguration with its declared
rate unit, stores or rejects SetChargingProfile, and sends MeterValues (power, energy
register, per-phase current) every `meter_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection, connect


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _epoch(text: str | None) -> float | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class SimChargePoint(ChargePoint):  # type: ignore[misc]
    def __init__(
        self,
        cp_id: str,
        connection: ClientConnection,
        *,
        unit: str = "Current",
        max_current_a: float = 16.0,
        voltage_v: float = 230.0,
        phases: int = 3,
        meter_s: float = 0.1,
    ) -> None:
        super().__init__(cp_id, connection, response_timeout=5)
        self.unit = unit
        self.max_current_a = max_current_a
        self.voltage_v = voltage_v
        self.phases = phases
        self.meter_s = meter_s
        self.reject_profiles = False
        self.profiles: dict[int, dict[str, Any]] = {}
        self.received_profiles: list[dict[str, Any]] = []
        self.transaction_id: int | None = None
        self.energy_wh = 1000.0
        self.power_w = 0.0
        self.current_a = 0.0
        self.configuration: dict[str, str] = {}

    # --- the central system's requests --------------------------------------------------------
    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None) -> Any:
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": self.unit}
            ]
        )

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> Any:
        self.configuration[key] = value
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        self.received_profiles.append({"connector_id": connector_id, **cs_charging_profiles})
        purpose = cs_charging_profiles["charging_profile_purpose"]
        if self.reject_profiles or (purpose == "TxProfile" and self.transaction_id is None):
            return call_result.SetChargingProfile(status="Rejected")
        self.profiles[cs_charging_profiles["charging_profile_id"]] = cs_charging_profiles
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, id: int | None = None, **_: Any) -> Any:
        found = id in self.profiles
        self.profiles.pop(id, None)  # type: ignore[arg-type]
        return call_result.ClearChargingProfile(status="Accepted" if found else "Unknown")

    # --- physics ------------------------------------------------------------------------------
    def limit_a(self, now_s: float) -> float:
        """The current the profiles allow per phase now (max when none applies)."""
        chosen = None
        for purpose in ("TxProfile", "TxDefaultProfile"):
            for profile in self.profiles.values():
                if profile["charging_profile_purpose"] != purpose:
                    continue
                valid_to = _epoch(profile.get("valid_to"))
                if valid_to is not None and now_s >= valid_to:
                    continue
                if purpose == "TxProfile" and profile.get("transaction_id") != self.transaction_id:
                    continue
                chosen = profile
                break
            if chosen is not None:
                break
        if chosen is None:
            return self.max_current_a
        schedule = chosen["charging_schedule"]
        limit = float(schedule["charging_schedule_period"][0]["limit"])
        if schedule["charging_rate_unit"] == "W":
            limit = limit / (self.voltage_v * self.phases)
        return min(self.max_current_a, limit)

    def step(self, now_s: float, dt_s: float) -> None:
        if self.transaction_id is None:
            self.current_a = self.power_w = 0.0
            return
        self.current_a = self.limit_a(now_s)
        self.power_w = self.current_a * self.voltage_v * self.phases
        self.energy_wh += self.power_w * dt_s / 3600.0

    # --- the charge point's own messages ------------------------------------------------------
    async def boot_and_charge(self) -> None:
        await self.call(
            call.BootNotification(charge_point_model="Sim-1", charge_point_vendor="flexvpp-tests")
        )
        await self.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
        reply = await self.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-1", meter_start=int(self.energy_wh), timestamp=_now_iso()
            )
        )
        self.transaction_id = reply.transaction_id
        await self.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))

    async def meter_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.meter_s)
            now = loop.time()
            self.step(datetime.now(UTC).timestamp(), now - last)
            last = now
            await self.send_meter_values()

    async def send_meter_values(self) -> None:
        samples: list[dict[str, Any]] = [
            {"value": f"{self.power_w:.1f}", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": f"{self.energy_wh:.1f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        ]
        samples += [
            {"value": f"{self.current_a:.2f}", "measurand": "Current.Import", "unit": "A", "phase": phase}
            for phase in ("L1", "L2", "L3")[: self.phases]
        ]
        await self.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=self.transaction_id,
                meter_value=[{"timestamp": _now_iso(), "sampled_value": samples}],
            )
        )


class RunningChargePoint:
    """A SimChargePoint connected to `url` with its receive and meter loops running."""

    def __init__(self, url: str, cp_id: str, **options: Any) -> None:
        self.url = f"{url}/{cp_id}"
        self.cp_id = cp_id
        self.options = options
        self.cp: SimChargePoint | None = None
        self.ws: ClientConnection | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    async def __aenter__(self) -> SimChargePoint:
        self.ws = await connect(self.url, subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        self.cp = SimChargePoint(self.cp_id, self.ws, **self.options)
        self._tasks.append(asyncio.create_task(self.cp.start()))
        await self.cp.boot_and_charge()
        self._tasks.append(asyncio.create_task(self.cp.meter_loop()))
        return self.cp

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.ws is not None:
            await self.ws.close()
