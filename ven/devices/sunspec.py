"""A Modbus TCP SunSpec device as the agent's PV inverter or battery.

What it is follows from its models: storage (124, or the battery model 802) makes it a
battery, else an inverter model (101-103) a PV inverter. Every `poll_s` it is read and its
telemetry and state go to the agent as an MQTT device's would:

- power [W, consumption-positive] = -W of its inverter model (101-103: AC output positive,
  so a PV inverter reads negative and a battery inverter negative while discharging);
  `energy_export` [Wh] = WH; battery `soc` [%] = ChaState (124) or SoC (802) and
  `stored_energy` [Wh] = capacity x SoC.
- PV `curtail_percent` -> WMaxLimPct (123, % of WMax) with WMaxLim_Ena = 1 and
  WMaxLimPct_RvrtTms = until the command's `valid_until`; its fallback is WMaxLim_Ena = 0.
- battery `power_kw` P (+ = charging) -> InWRte = 100 P / WChaMax and OutWRte = -100 P /
  (discharge maximum), StorCtl_Mod = 3 (both limits): the device's charge window is then
  [P, P]; InOutWRte_RvrtTms = until `valid_until`; its fallback is StorCtl_Mod = 0 (the
  device's own mode, self-consumption on a home battery).

Besides every `poll_s`, the device is read at each edge of `aligned_interval_s` on the agent's
clock (the quarter hours, where the meters read) and that reading is stamped with the edge when
it was taken at most 1/30 of the interval after it: the agent learns the house load as the meter
minus every device at one edge, and a battery read minutes earlier may since have stopped (empty)
or started, which would count its whole power as house load.

The revert timers make the device fall back by itself if the agent stops; the agent also
writes the fallback when a command expires while it runs. Every write is read back.
A device that does not answer is `online: false` until it does again.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from ven.clock import Clock
from ven.devices.bus import DeviceLink
from ven.devices.commands import Expiry, execute, reject_reason
from ven.devices.config import SunspecDevice
from ven.devices.sunspec_client import DeviceUnreachable, ModelRef, SunspecClient, SunspecError
from ven.devices.sunspec_describe import Description, describe_battery, describe_pv, first_number
from ven.devices.sunspec_models import (
    BATTERY_BASE,
    COMMON,
    CONTROLS,
    INVERTERS,
    NAMEPLATE,
    POINTS,
    SETTINGS,
    STORAGE,
    STORCTL_CHARGE_AND_DISCHARGE,
    WMAXLIM_DISABLED,
    WMAXLIM_ENABLED,
    ModelValues,
    decode,
    scale_factor,
    to_register,
)
from ven.messages import DeviceConfig, DeviceType, SetCommand

log = logging.getLogger(__name__)

RETRY_MAX_S = 30.0
EDGE_LATE_MAX = 1 / 30  # of the aligned interval: a reading taken later is not the edge's


class SunspecAdapter:
    """A `DeviceAdapter` for one SunSpec device."""

    def __init__(self, settings: SunspecDevice, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.device_id = settings.id
        self.name = f"sunspec {settings.address}"
        host, port, unit = settings.endpoint
        self.client = SunspecClient(host, port, unit, settings.timeout_s)
        self.models: dict[int, ModelRef] | None = None
        self.config: DeviceConfig | None = None
        self.online = False
        self.discharge_ref_w = 0.0  # what OutWRte is a percentage of
        self.capacity_wh = 0.0
        self._link: DeviceLink | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reported: set[str] = set()
        self._last_state: dict[str, Any] = {}
        self._expiry = Expiry(clock, self._fallback, f"sunspec {self.device_id}")

    @property
    def is_battery(self) -> bool:
        return self.config is not None and self.config.device_type == DeviceType.BATTERY

    # --- DeviceAdapter ------------------------------------------------------------------------
    def owns(self, device_id: str) -> bool:
        return device_id == self.device_id

    def command(self, device_id: str, payload: bytes) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._spawn, payload)

    async def open(self, link: DeviceLink) -> None:
        self._link = link
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name=f"sunspec-{self.device_id}")

    async def close(self) -> None:
        self._expiry.cancel()
        for task in [self._task, *self._tasks]:
            if task is not None:
                task.cancel()
        self.client.close()

    # --- polling ------------------------------------------------------------------------------
    async def _run(self) -> None:
        failures = 0
        edge_s: float | None = None
        while True:
            try:
                await self.client.connect()
                if self.models is None:
                    await self._discover()
                await self.poll(edge_s)
                failures = 0
            except DeviceUnreachable as exc:
                failures += 1
                self._went_offline(str(exc))
            except SunspecError as exc:
                failures += 1
                self._report(str(exc), logging.ERROR)
            delay = (
                self.settings.poll_s if failures == 0 else min(RETRY_MAX_S, self.settings.poll_s * failures)
            )
            edge_s = await self._pause(delay)

    async def _pause(self, delay_real_s: float) -> float | None:
        """Until the next poll, or the next aligned edge when it comes first (that edge then)."""
        interval = self.settings.aligned_interval_s
        if interval:
            now = self.clock.now()
            edge_s = (now // interval + 1) * interval
            to_edge_real_s = (edge_s - now) / self.clock.speed
            if to_edge_real_s <= delay_real_s:
                await asyncio.sleep(to_edge_real_s)
                return edge_s
        await asyncio.sleep(delay_real_s)
        return None

    async def _discover(self) -> None:
        models = await self.client.discover()
        description = await self._describe(models, await self._read(models, COMMON))
        for missing in description.missing:
            self._report(missing, logging.WARNING)
        config = description.config
        self.discharge_ref_w, self.capacity_wh = description.discharge_ref_w, description.capacity_wh
        if self.settings.aligned_interval_s:  # its power readings come at these edges too
            params = {**config.params, "aligned_interval_s": self.settings.aligned_interval_s}
            config = config.model_copy(update={"params": params})
        self.models, self.config = models, config
        self.online = True  # it answered: commands may come before the first poll ends
        log.info(
            "sunspec %s at %s: %s, models %s", self.device_id, self.client, config.device_type, sorted(models)
        )
        assert self._link is not None
        self._link.config(config)

    async def _read(
        self, models: dict[int, ModelRef], model: int, needed: tuple[str, ...] = ()
    ) -> ModelValues | None:
        """One model's values; problems with the `needed` points (all, when none named) are logged."""
        if model not in models:
            return None
        try:
            values = await self.client.read_model(models[model])
        except SunspecError as exc:  # one unreadable model does not stop the others
            self._report(f"model {model} unreadable: {exc}", logging.WARNING)
            return None
        for problem in values.problems:
            if not needed or problem.split(":", 1)[0] in needed:
                self._report(f"model {model}: {problem}", logging.WARNING)
        return values

    async def _describe(self, models: dict[int, ModelRef], common: ModelValues | None) -> Description:
        if STORAGE in models or BATTERY_BASE in models:
            return describe_battery(
                self.device_id,
                common,
                await self._read(models, STORAGE),
                await self._read(models, NAMEPLATE, ("WHRtg", "MaxDisChaRte")),
                await self._read(models, BATTERY_BASE, ("WHRtg", "SoC", "SoCRsvMin")),
                any(m in models for m in INVERTERS),
                self.settings.capacity_kwh,
            )
        if any(m in models for m in INVERTERS):
            return describe_pv(
                self.device_id,
                common,
                await self._read(models, SETTINGS, ("WMax",)),
                await self._read(models, NAMEPLATE, ("WRtg",)),
                CONTROLS in models,
                self.settings.nominal_kw,
            )
        raise SunspecError(f"models {sorted(models)}: neither an inverter (101-103) nor storage (124, 802)")

    async def poll(self, edge_s: float | None = None) -> None:
        """Read the device once; publish its telemetry and (when changed) its state. The reading
        is stamped with `edge_s` when it is taken soon enough after that edge."""
        assert self.models is not None and self._link is not None
        models = self.models
        now = self.clock.now()
        late_max_s = EDGE_LATE_MAX * self.settings.aligned_interval_s
        stamp_s = edge_s if edge_s is not None and 0.0 <= now - edge_s <= late_max_s else now
        values: list[tuple[str, str, float]] = []
        inverter = next((m for m in INVERTERS if m in models), None)
        ac = await self._read(models, inverter, ("W", "WH")) if inverter is not None else None
        if ac is not None:
            if (watts := ac.number("W")) is not None:
                values.append(("power", "W", -watts))
            if (wh := ac.number("WH")) is not None:
                values.append(("energy_export", "Wh", wh))
        state: dict[str, Any] = {"online": True, "mode": "auto"}
        if ac is not None and "St" in ac.values:
            state["operating_state"] = ac.values["St"]
        if self.is_battery:
            storage = await self._read(models, STORAGE, ("ChaState", "StorCtl_Mod"))
            base = await self._read(models, BATTERY_BASE, ("SoC",))
            self._battery_readings(storage, base, values, state)
        elif CONTROLS in models:
            controls = await self._read(models, CONTROLS, ("WMaxLimPct", "WMaxLim_Ena"))
            state["curtail_percent"] = _curtail_percent(controls)
        if not self.online:
            log.info("sunspec %s at %s is online", self.device_id, self.client)
        self.online = True
        self._link.telemetry(self.device_id, stamp_s, values)
        self._publish_state(state, now)

    def _battery_readings(
        self,
        storage: ModelValues | None,
        base: ModelValues | None,
        values: list[tuple[str, str, float]],
        state: dict[str, Any],
    ) -> None:
        soc = first_number(storage and storage.number("ChaState"), base and base.number("SoC"))
        if soc is not None:
            values.append(("soc", "%", soc))
            if self.capacity_wh:
                values.append(("stored_energy", "Wh", round(self.capacity_wh * soc / 100.0, 1)))
        if storage is not None:
            for name, key in (("StorCtl_Mod", "storage_control"), ("ChaSt", "charge_status")):
                if name in storage.values:
                    state[key] = storage.values[name]

    def _publish_state(self, state: dict[str, Any], now: float) -> None:
        if state != self._last_state:
            self._last_state = state
            assert self._link is not None
            self._link.state(self.device_id, {"ts": now, **state})

    def _went_offline(self, why: str) -> None:
        self.client.close()
        self.models = None  # read the chain again when it is back: it may be another device
        if self.online:
            log.warning("sunspec %s at %s is offline: %s", self.device_id, self.client, why)
        else:
            self._report(f"unreachable ({why})", logging.WARNING)
        self.online = False
        if self.config is not None:
            self._publish_state({"online": False}, self.clock.now())

    def _report(self, problem: str, level: int) -> None:
        """Log a device problem once (it would repeat every poll)."""
        if problem not in self._reported:
            self._reported.add(problem)
            log.log(level, "sunspec %s at %s: %s", self.device_id, self.client, problem)

    # --- commands -----------------------------------------------------------------------------
    def _spawn(self, payload: bytes) -> None:
        task = asyncio.get_running_loop().create_task(self._execute(payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, payload: bytes) -> None:
        assert self._link is not None
        await execute(
            self._link,
            self.device_id,
            payload,
            f"sunspec {self.device_id}",
            self._refusal,
            self._apply,
            lambda command: self._expiry.hold(command.valid_until),
        )

    async def _apply(self, command: SetCommand) -> str | None:
        try:
            await self._write(command)
        except (SunspecError, DeviceUnreachable) as exc:
            return str(exc)
        return None

    def _refusal(self, command: SetCommand) -> str | None:
        if self.config is None:
            return f"sunspec device {self.device_id} has not been read yet"
        if not self.online:
            return f"sunspec device {self.device_id} is offline"
        return reject_reason(self.config, command, self.clock.now())

    async def _write(self, command: SetCommand) -> None:
        revert_s = max(1, min(0xFFFE, math.ceil(command.valid_until - self.clock.now())))
        if self.is_battery:
            await self.write_storage(float(command.value), revert_s)
        else:
            await self.write_curtailment(float(command.value), revert_s)
        await self.poll()  # the state shows what the device now holds

    async def write_curtailment(self, percent: float, revert_s: int) -> None:
        ref = self._model(CONTROLS)
        sf = scale_factor(await self.client.read(ref.address, ref.length), POINTS[CONTROLS]["WMaxLimPct_SF"])
        if sf is None:
            raise SunspecError("WMaxLimPct_SF is not implemented: the limit cannot be scaled")
        limit = to_register(percent, sf, signed=False)
        await self.client.write(ref.address + 3, [limit, 0, revert_s], "WMaxLimPct, WinTms, RvrtTms")
        await self.client.write(ref.address + 7, [WMAXLIM_ENABLED], "WMaxLim_Ena")
        held = decode(CONTROLS, await self.client.read(ref.address, ref.length))
        if _curtail_percent(held) is None or abs((held.number("WMaxLimPct") or 0) - percent) > 10.0**sf:
            raise SunspecError(
                f"the device holds WMaxLimPct {held.values.get('WMaxLimPct')} after {percent:g} was written"
            )
        log.info("sunspec %s: output limited to %g %% for %d s", self.device_id, percent, revert_s)

    async def write_storage(self, power_kw: float, revert_s: int) -> None:
        ref = self._model(STORAGE)
        registers = await self.client.read(ref.address, ref.length)
        sf = scale_factor(registers, POINTS[STORAGE]["InOutWRte_SF"])
        charge_w = decode(STORAGE, registers).number("WChaMax")
        if sf is None or not charge_w or not self.discharge_ref_w:
            raise SunspecError("InOutWRte_SF or WChaMax is not implemented: the rate cannot be set")
        in_pct = 100.0 * power_kw * 1000.0 / charge_w
        out_pct = -100.0 * power_kw * 1000.0 / self.discharge_ref_w
        rates = [to_register(out_pct, sf, signed=True), to_register(in_pct, sf, signed=True)]
        await self.client.write(ref.address + 10, [*rates, 0, revert_s], "OutWRte, InWRte, WinTms, RvrtTms")
        await self.client.write(ref.address + 3, [STORCTL_CHARGE_AND_DISCHARGE], "StorCtl_Mod")
        held = decode(STORAGE, await self.client.read(ref.address, ref.length))
        if abs((held.number("InWRte") or 0.0) - in_pct) > 10.0**sf or held.values.get("StorCtl_Mod") != 3:
            raise SunspecError(
                f"the device holds InWRte {held.values.get('InWRte')} after {in_pct:.1f} was written"
            )
        log.info("sunspec %s: battery at %g kW for %d s", self.device_id, power_kw, revert_s)

    async def _fallback(self) -> None:
        if self.models is None:
            return
        if self.is_battery:
            await self.client.write(self._model(STORAGE).address + 3, [0], "StorCtl_Mod")
        elif CONTROLS in self.models:
            await self.client.write(self._model(CONTROLS).address + 7, [WMAXLIM_DISABLED], "WMaxLim_Ena")
        await self.poll()

    def _model(self, model: int) -> ModelRef:
        if self.models is None or model not in self.models:
            raise SunspecError(f"the device has no model {model}")
        return self.models[model]


def _curtail_percent(controls: ModelValues | None) -> float | None:
    if controls is None or "WMaxLim_Ena" not in controls.values:
        return None
    if controls.values["WMaxLim_Ena"] != WMAXLIM_ENABLED:
        return 100.0
    return controls.number("WMaxLimPct")
