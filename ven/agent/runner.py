"""The agent process: bus + core + telemetry buffer + OpenADR client + the control loop.

The control loop runs on the agent's clock whatever the VTN does: events already received
keep being followed (autonomy), the local policy takes over past their end, and telemetry
piles up in the buffer until the VTN answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any

from ven.agent.buffer import TelemetryBuffer
from ven.agent.core import AgentCore, DispatchSettings, status_topic
from ven.agent.event_store import EventStore
from ven.agent.local_plan import LocalPlanFailed
from ven.agent.openadr_mapping import USAGE_SENSORS
from ven.agent.peak_guard import PeakGuardSettings
from ven.agent.policy import SiteLimits
from ven.agent.vtn_client import VenClient
from ven.clock import AcceleratedClock, Clock, WallClock
from ven.device_bus import DeviceBus, Will
from ven.devices.bus import DeviceRouter
from ven.devices.factory import build_router
from ven.ha.discovery import StateInputs
from ven.ha.publisher import HaPublisher, build_publisher
from ven.messages import AgentStatus, DeviceType, Measurement, dumps
from ven.settings import AgentSettings

log = logging.getLogger(__name__)

EDGE_MARGIN_REAL_S = 0.001  # step just after an interval's edge, inside the new interval


def _tls_files(settings: AgentSettings) -> tuple[str, str, str] | None:
    if settings.tls_cert_file is None or settings.tls_key_file is None or settings.tls_ca_file is None:
        return None
    return str(settings.tls_cert_file), str(settings.tls_key_file), str(settings.tls_ca_file)


class HomeAgent:
    def __init__(
        self, settings: AgentSettings, bus: DeviceBus | None = None, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.clock = clock or (WallClock() if settings.speed == 1.0 else AcceleratedClock(settings.speed))
        will = Will(status_topic(settings.site_id), dumps(AgentStatus(online=False)))
        # The MQTT devices and the protocol adapters (OCPP, SunSpec) behind one DeviceBus.
        self.bus = bus or build_router(settings.site_id, settings.device_entries(), self.clock, will)
        limits = SiteLimits(
            settings.import_limit_kw,
            settings.export_limit_kw,
            settings.month_peak_kw,
            settings.min_billed_peak_kw,
        )
        data_path = settings.buffer_path or Path(f"ven-{settings.site_id}.db")
        self.events = EventStore(data_path)
        self.core = AgentCore(
            settings.site_id,
            settings.ven_name,
            self.bus,
            self.clock,
            limits,
            DispatchSettings(settings.dispatch_period_s, settings.command_ttl_s),
            dispatch_device=settings.dispatch_device,
            store=self.events,
            peak_guard=PeakGuardSettings(
                avoid_new_peak=settings.peak_guard,
                max_peak_kw=settings.max_peak_kw,
                margin_kw=settings.peak_margin_kw,
                discharge_battery=settings.peak_guard_discharge,
                period_s=settings.peak_guard_period_s,
            ),
            site_tz=settings.site_tz(),
        )
        self.buffer = TelemetryBuffer(data_path)
        self.core.registry.on_telemetry(self._buffer)
        self.client = VenClient(
            self.core,
            self.buffer,
            settings.ven_name,
            settings.vtn_url,
            validate_outgoing=settings.validate_messages,
            tls=_tls_files(settings),
            sign=settings.sign_messages,
            vtn_fingerprint=settings.vtn_fingerprint,
        )
        # Home Assistant discovery rides on the agent's own device sources (an injected bus,
        # as in unit tests, has none).
        self.ha: HaPublisher | None = None
        if settings.home_assistant and isinstance(self.bus, DeviceRouter):
            self.ha = build_publisher(
                settings.site_id,
                settings.home_assistant_prefix,
                settings.home_assistant_broker_url,
                self.bus.mqtt,
                settings.devices_broker_url(),
                will,
            )
        self._tasks: list[asyncio.Task[None]] = []
        self._offered: frozenset[str] = frozenset()
        self._planned_prices: object = None
        self._last_plan_s = 0.0
        self._windows: object = None

    def _buffer(self, device_id: str, measurements: list[Measurement]) -> None:
        self.buffer.add_many(
            (f"{device_id}.{m.name}", m.time_s, m.value) for m in measurements if m.name in USAGE_SENSORS
        )

    async def start(self) -> None:
        if isinstance(self.bus, DeviceRouter):
            await self.bus.open()  # the adapters' servers and polling, before the agent subscribes
        if self.ha is not None:
            self.ha.start()  # its on-connect hook before the bus connects
        self.core.start()
        await self._wait_for_devices()
        self._offered = frozenset(self.core.snapshot().devices)
        self._tasks = [
            asyncio.create_task(self._control_loop(), name="control"),
            asyncio.create_task(self.client.run(), name="openadr"),
        ]

    async def _wait_for_devices(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.discovery_wait_s
        while loop.time() < deadline and not self.core.snapshot().first(DeviceType.METER):
            await asyncio.sleep(0.05)
        await asyncio.sleep(min(0.5, self.settings.discovery_wait_s))  # the other retained configs follow

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.client.stop()
        if self.ha is not None:
            self.ha.stop()
        self.core.stop()
        if isinstance(self.bus, DeviceRouter):
            await self.bus.close()
        self.buffer.close()
        self.events.close()

    async def _control_loop(self) -> None:
        period_real_s = self.settings.dispatch_period_s / self.clock.speed
        count = 0
        while True:
            try:
                await self.step()
                await self._replan_if_due()
                if count % self.settings.housekeeping_every == 0 and self.client.registered.is_set():
                    await self._housekeeping()
            except asyncio.CancelledError:
                raise
            except Exception:  # one failed step must not end the agent
                log.exception("control step failed")
            count += 1
            await asyncio.sleep(self._pause_real_s(period_real_s))

    async def step(self) -> None:
        """The core's step; when the peak guard starts shedding a quarter, the status report
        (agent.peak_guard = 1) goes to the VTN at once, as housekeeping's messages do."""
        shed_before = self.core.peak_guard.quarters_shed
        result = self.core.step()
        if self.ha is not None:
            self._publish_ha(result.setpoints)
        if (
            self.core.peak_guard.quarters_shed > shed_before
            and self.client.registered.is_set()
            and self.client.reachable
        ):
            await self.client.send_status_now()

    def _publish_ha(self, setpoints: dict[str, float | bool]) -> None:
        assert self.ha is not None
        core = self.core
        try:
            self.ha.publish(
                StateInputs(
                    now_s=self.clock.now(),
                    snapshot=core.snapshot(),
                    setpoints=setpoints,
                    events=core.events(),
                    opted_out=core.opted_out(),
                    local_plan=dict(core.local_plan.power_kw),
                    month_peak_kw=core.current_limits().month_peak_kw,
                )
            )
        except Exception:  # Home Assistant's view must never stop the control
            log.exception("Home Assistant states not published")

    def _pause_real_s(self, period_real_s: float) -> float:
        """Until the next step: one period, or less when a schedule's value changes sooner (a
        setpoint that changes at 17:00 is then followed from 17:00, not up to a period later).
        With the peak guard on, at least every guard period: it acts within the quarter."""
        if self.core.peak_guard.enabled:
            period_real_s = min(period_real_s, self.core.peak_guard.settings.period_s / self.clock.speed)
        now = self.clock.now()
        edge = self.core.next_change_s(now)
        if edge is None:
            return period_real_s
        return min(period_real_s, max(0.0, (edge - now) / self.clock.speed) + EDGE_MARGIN_REAL_S)

    async def _replan_if_due(self) -> None:
        prices = tuple(self.core.prices)
        now = self.clock.now()
        if not prices or (
            prices == self._planned_prices and now - self._last_plan_s < self.settings.replan_every_s
        ):
            return
        self._planned_prices, self._last_plan_s = prices, now
        try:
            await asyncio.to_thread(self.core.replan)
        except LocalPlanFailed as exc:
            log.warning("%s; following the local policy", exc)

    async def _housekeeping(self) -> None:
        if not self.client.reachable:
            return
        await self.client.send_opt_changes()
        devices = frozenset(self.core.snapshot().devices)
        if devices != self._offered:  # new or removed devices: offer the reports again
            self._offered = devices
            await self.client.offer_and_register()
        evs: Any = self.core.site_entry().get("evs", [])
        windows = [(e["ev_id"], e["departure"]) for e in evs]
        if windows != self._windows:  # a car arrived or left: tell the VTN its availability
            self._windows = windows
            await self.client.send_availability()
            await self.client.send_flexibility_now()  # and its need, for the re-plan
        self.buffer.prune(self.clock.now())


async def _main(settings: AgentSettings) -> None:
    agent = HomeAgent(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await agent.start()
    log.info("agent %s for site %s running", settings.ven_name, settings.site_id)
    await stop.wait()
    await agent.stop()


def run_agent(settings: AgentSettings) -> int:
    asyncio.run(_main(settings))
    return 0
