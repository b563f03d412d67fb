"""The agent core: events in, device commands out, with local safety last.

`step()` runs every `period_s` (on the agent's clock): local policy -> active events (with
randomisation and ramp-up) -> safety -> the capacity-peak guard (ven/agent/peak_guard.py) ->
`set` commands. A command is re-sent when its value
changes or half its lifetime has passed; every command carries `valid_until` = now + TTL so a
device falls back to its safe default when the agent dies. The core does no OpenADR and no
network I/O beyond the DeviceBus, so it is tested with the fake bus.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo

from ven.agent.event_store import EventStore
from ven.agent.events import DrEvent, EventInterval, OptType, SignalName, randomised
from ven.agent.local_plan import TariffDefaults, plan_home
from ven.agent.peak import PeakTracker
from ven.agent.peak_guard import PeakCheck, PeakGuard, PeakGuardSettings
from ven.agent.policy import Setpoints, SiteLimits, apply_events, local_setpoints, uncontrolled_kw
from ven.agent.registry import DeviceRegistry, HomeSnapshot
from ven.agent.safety import enforce
from ven.agent.site_entry import Grid, SlotProfile, build_site_entry
from ven.clock import Clock
from ven.device_bus import DeviceBus
from ven.messages import (
    AGENT_DEVICE_ID,
    TOPIC_ROOT,
    AgentStatus,
    ControlName,
    DeviceType,
    Measurement,
    SetCommand,
    TopicKind,
    dumps,
    topic,
)

log = logging.getLogger(__name__)


# An adapter's reading this much older than the meter's [s, agent clock] still counts for learning
# the house load: an OCPP charger's MeterValues come every MeterValueSampleInterval (the agent asks
# 10 s; a charger may keep a quarter hour), a SunSpec device's every poll. The forecast is per
# quarter hour, and a wrong value learnt from a change inside the window is smoothed out.
READINGS_APART_MAX_S = 900.0


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    period_s: float = 60.0  # how often setpoints are recomputed [s]
    command_ttl_s: float = 300.0  # valid_until = now + this [s]
    tolerance: float = 0.05  # a change smaller than this (kW, %, °C) is not re-sent


@dataclass(frozen=True, slots=True)
class StepResult:
    now_s: float
    setpoints: Setpoints
    active_events: tuple[str, ...]
    notes: tuple[str, ...]
    predicted_import_kw: float
    sent: tuple[SetCommand, ...]
    peak: PeakCheck | None = None  # the peak guard's look at the quarter (None: no guard)


@dataclass(slots=True)
class _Sent:
    value: float | bool
    valid_until: float
    command_id: str


@dataclass(slots=True)
class _LocalPlan:
    """Device power per interval from a local re-plan (ELECTRICITY_PRICE)."""

    power_kw: dict[str, list[EventInterval]] = field(default_factory=dict)

    def at(self, now_s: float) -> dict[str, float]:
        out = {}
        for device_id, intervals in self.power_kw.items():
            current = next((i for i in intervals if i.start_s <= now_s < i.end_s), None)
            if current is not None:
                out[device_id] = current.value
        return out


def status_topic(site_id: str) -> str:
    return topic(site_id, AGENT_DEVICE_ID, TopicKind.STATUS)


class AgentCore:
    def __init__(
        self,
        site_id: str,
        ven_name: str,
        bus: DeviceBus,
        clock: Clock,
        limits: SiteLimits,
        dispatch: DispatchSettings | None = None,
        tariff: TariffDefaults | None = None,
        dispatch_device: str | None = None,
        store: EventStore | None = None,
        peak_guard: PeakGuardSettings | None = None,
        site_tz: tzinfo = UTC,
    ) -> None:
        self.site_id = site_id
        self.ven_name = ven_name
        self.bus = bus
        self.clock = clock
        self.limits = limits
        self.dispatch = dispatch or DispatchSettings()
        self.registry = DeviceRegistry(site_id)
        self.peak = PeakTracker(site_tz)  # the month starts in the site's time zone
        self.peak_guard = PeakGuard(peak_guard)
        self.tariff = tariff or TariffDefaults()
        # LOAD_DISPATCH without a device target steers this device (None: the whole site).
        self.dispatch_device = dispatch_device
        self.base_profile = SlotProfile()
        self.pv_profile = SlotProfile()
        self._base_learnt_s = 0.0
        self._house_kw: float | None = None
        self.registry.on_telemetry(self._on_telemetry)
        self._lock = threading.RLock()
        self._events: dict[str, list[DrEvent]] = {}
        self.prices: list[EventInterval] = []
        self.local_plan = _LocalPlan()
        self._sent: dict[str, _Sent] = {}
        self._opts: dict[str, OptType] = {}
        self.store = store
        if store is not None:  # the schedule received before a restart (the VTN may be away)
            for signals in store.load(clock.now()).values():
                self._keep(signals)

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self.bus.on_connect(self._announce)
        self.bus.subscribe(f"{TOPIC_ROOT}/{self.site_id}/+/+", self.registry.handle)
        self.bus.start()

    def stop(self) -> None:
        self.bus.publish(status_topic(self.site_id), dumps(AgentStatus(online=False)), retain=True)
        self.bus.stop()

    def _announce(self) -> None:
        self.bus.publish(status_topic(self.site_id), dumps(AgentStatus(online=True)), retain=True)

    def _on_telemetry(self, device_id: str, measurements: list[Measurement]) -> None:
        power = next((m for m in measurements if m.name == "power"), None)
        if power is None:
            return
        snapshot = self.registry.snapshot(power.time_s)
        view = snapshot.devices.get(device_id)
        if view is None:
            return
        if view.device_type == DeviceType.METER:
            energy = next((m for m in measurements if m.name == "energy_import"), None)
            counter_kwh = (
                energy.value / 1000.0 if energy is not None and energy.time_s == power.time_s else None
            )
            self.peak.add(power.time_s, power.value / 1000.0, counter_kwh)
        elif view.device_type == DeviceType.PV_INVERTER:
            self.pv_profile.add(power.time_s, max(0.0, -power.value / 1000.0))
        self._learn_base_load(snapshot, power.time_s)

    def _learn_base_load(self, snapshot: HomeSnapshot, time_s: float) -> None:
        """Base load = meter - devices, once every device has reported power for the same moment.
        MQTT devices stamp their readings with the same edge time, and so does an OCPP charger
        with clock-aligned readings (`aligned_interval_s` in its params); another adapter's
        device (SunSpec, S2, an OCPP charger without them: `protocol` in its params) stamps the
        moment its reading arrived, so its latest reading counts when it is at most
        READINGS_APART_MAX_S older than the meter's."""
        if time_s <= self._base_learnt_s:
            return
        stamped: list[float] = []  # MQTT devices: must all be `time_s`
        arrived: list[float] = []  # adapters' devices: within the window before `time_s`
        for view in snapshot.devices.values():
            reading = view.readings.get("power")
            if reading is None:
                return
            params = view.config.params
            on_edges = "protocol" not in params or bool(params.get("aligned_interval_s"))
            (stamped if on_edges else arrived).append(reading.time_s)
        if (
            all(t == time_s for t in stamped)
            and all(time_s - READINGS_APART_MAX_S <= t <= time_s for t in arrived)
            and (stamped or arrived)
        ):
            self._base_learnt_s = time_s
            self._house_kw = uncontrolled_kw(snapshot)
            self.base_profile.add(time_s, self._house_kw)
            log.debug("%s: house load %.3f kW at %.0f", self.site_id, self._house_kw, time_s)

    # --- flexibility and local planning -------------------------------------------------------
    def site_entry(self, grid: Grid | None = None) -> dict[str, object]:
        """This home's plan-format site entry (what the flexibility report carries)."""
        snapshot = self.snapshot()
        return build_site_entry(
            self.site_id,
            snapshot,
            self.current_limits(),
            grid or Grid.at(snapshot.now_s),
            self.base_profile,
            self.pv_profile,
        )

    def replan(self) -> bool:
        """Re-plan the home with the last known prices (blocking: run it off the event loop)."""
        with self._lock:
            prices = list(self.prices)
        if not prices:
            return False
        snapshot = self.snapshot()
        grid = Grid.at(snapshot.now_s)
        entry = self.site_entry(grid)
        battery = snapshot.first(DeviceType.BATTERY)
        plan = plan_home(entry, grid, prices, self.tariff, battery.device_id if battery else None)
        with self._lock:
            self.local_plan = _LocalPlan(plan)
        return True

    def current_limits(self) -> SiteLimits:
        tracked = self.peak.month_peak_kw(self.clock.now())
        return SiteLimits(
            self.limits.import_limit_kw,
            self.limits.export_limit_kw,
            max(self.limits.month_peak_kw, tracked),
            self.limits.min_billed_peak_kw,
        )

    # --- events -------------------------------------------------------------------------------
    def set_event(self, signals: list[DrEvent]) -> tuple[OptType, str]:
        """Store (or replace) one event's signals and decide optIn/optOut."""
        if not signals:
            raise ValueError("an event needs at least one signal")
        event_id = signals[0].event_id
        if self.dispatch_device is not None:
            signals = [
                replace(s, resource_ids=(self.dispatch_device,))
                if s.signal_name == SignalName.LOAD_DISPATCH and not s.resource_ids
                else s
                for s in signals
            ]
        shifted = [randomised(s, self.ven_name) for s in signals]
        self._keep(shifted)
        if self.store is not None:
            self.store.save(shifted)
        opt, reason = decide_opt(shifted, self.snapshot())
        with self._lock:
            self._opts[event_id] = opt
        log.info("event %s: %s (%s)", event_id, opt, reason)
        return opt, reason

    def _keep(self, signals: list[DrEvent]) -> None:
        with self._lock:
            self._events[signals[0].event_id] = signals
            for s in signals:
                if s.signal_name == SignalName.ELECTRICITY_PRICE and not s.cancelled:
                    self.prices = list(s.intervals)

    def cancel_event(self, event_id: str) -> None:
        with self._lock:
            self._events.pop(event_id, None)
            self._opts.pop(event_id, None)
        if self.store is not None:
            self.store.delete(event_id)

    def events(self) -> list[DrEvent]:
        with self._lock:
            return [s for signals in self._events.values() for s in signals]

    def opted_out(self) -> set[str]:
        with self._lock:
            return {e for e, o in self._opts.items() if o == OptType.OPT_OUT}

    def reconsider_opts(self) -> list[tuple[str, OptType, str]]:
        """Events whose opt changed since the last answer (e.g. the user overrode a device)."""
        changes = []
        snapshot = self.snapshot()
        with self._lock:
            items = [(e, list(s)) for e, s in self._events.items() if s[-1].end_s > snapshot.now_s]
        for event_id, signals in items:
            opt, reason = decide_opt(signals, snapshot)
            with self._lock:
                if self._opts.get(event_id) != opt:
                    self._opts[event_id] = opt
                    changes.append((event_id, opt, reason))
        return changes

    # --- control ------------------------------------------------------------------------------
    def next_change_s(self, now_s: float) -> float | None:
        """The next moment after `now_s` at which an event's or the local plan's value changes
        (an interval starts or ends), so the control loop can step right then."""
        with self._lock:
            edges = [
                edge
                for event in self.events()
                if not event.cancelled
                for interval in event.intervals
                for edge in (interval.start_s, interval.end_s)
            ]
            edges += [
                edge
                for intervals in self.local_plan.power_kw.values()
                for interval in intervals
                for edge in (interval.start_s, interval.end_s)
            ]
        return min((e for e in edges if e > now_s), default=None)

    def snapshot(self) -> HomeSnapshot:
        return replace(self.registry.snapshot(self.clock.now()), house_kw=self._house_kw)

    def step(self) -> StepResult:
        snapshot = self.snapshot()
        limits = self.current_limits()
        with self._lock:
            events = [e for e in self.events() if e.event_id not in self.opted_out()]
            planned = self.local_plan.at(snapshot.now_s)
        base = local_setpoints(snapshot, limits, planned)
        wanted, active = apply_events(snapshot, events, base, self.dispatch.period_s)
        safe = enforce(wanted, snapshot, limits, self.dispatch.period_s)
        for note in safe.notes:
            log.info("safety: %s", note)
        so_far = self.peak.quarter_so_far(snapshot.now_s)
        guarded = self.peak_guard.apply(
            so_far, snapshot, safe.setpoints, safe.predicted_import_kw, limits.billed_peak_kw
        )
        sent = tuple(self._send(snapshot, guarded.setpoints))
        return StepResult(
            snapshot.now_s,
            guarded.setpoints,
            tuple(active),
            safe.notes + guarded.notes,
            guarded.predicted_import_kw,
            sent,
            guarded.check,
        )

    def agent_status(self) -> dict[str, float]:
        """The agent's own TELEMETRY_STATUS values (`agent.{name}`, docs/openadr-mapping.md)."""
        return {
            "peak_guard": 1.0 if self.peak_guard.shedding else 0.0,
            "month_peak_kw": round(self.current_limits().month_peak_kw, 3),
        }

    def _send(self, snapshot: HomeSnapshot, setpoints: Setpoints) -> list[SetCommand]:
        sent = []
        now = snapshot.now_s
        for device_id, value in setpoints.items():
            control = snapshot.devices[device_id].config.controls[0].name
            last = self._sent.get(device_id)
            if (
                last is not None
                and _same(last.value, value, self.dispatch.tolerance)
                and last.valid_until - now > self.dispatch.command_ttl_s / 2
            ):
                continue
            command = SetCommand.model_validate(
                {
                    "command_id": uuid.uuid4().hex,
                    "ts": now,
                    "valid_until": now + self.dispatch.command_ttl_s,
                    control.value: value,
                }
            )
            self.bus.publish(topic(self.site_id, device_id, TopicKind.SET), dumps(command))
            self._sent[device_id] = _Sent(value, command.valid_until, command.command_id)
            sent.append(command)
        for device_id in set(self._sent) - set(setpoints):
            del self._sent[device_id]  # no longer commanded: the device falls back at valid_until
        return sent


def _same(a: float | bool, b: float | bool, tolerance: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    return abs(a - b) < tolerance


def decide_opt(signals: list[DrEvent], snapshot: HomeSnapshot) -> tuple[OptType, str]:
    """optOut when a targeted device is overridden, unknown, offline or asked beyond its range."""
    for signal in signals:
        if signal.signal_name == SignalName.ELECTRICITY_PRICE or signal.cancelled:
            continue
        for device_id in signal.resource_ids:
            view = snapshot.devices.get(device_id)
            if view is None:
                return OptType.OPT_OUT, f"no device {device_id!r} at this site"
            if view.overridden:
                return OptType.OPT_OUT, f"user override on {device_id} (mode {view.state.mode!r})"  # type: ignore[union-attr]
            if not view.online:
                return OptType.OPT_OUT, f"{device_id} is offline"
            reason = _out_of_range(view.config.control(ControlName.POWER_KW), signal, device_id)
            if reason:
                return OptType.OPT_OUT, reason
        if not signal.resource_ids:
            flexible = [
                d
                for d in snapshot.devices.values()
                if d.device_type != DeviceType.METER and d.config.controls and not d.overridden
            ]
            if not flexible:
                return OptType.OPT_OUT, "no device can follow the event (none, or all overridden)"
    return OptType.OPT_IN, "the home can follow the event"


def _out_of_range(control: object, signal: DrEvent, device_id: str) -> str | None:
    if signal.signal_name != SignalName.LOAD_DISPATCH or control is None:
        return None
    lo, hi = getattr(control, "min", None), getattr(control, "max", None)
    for interval in signal.intervals:
        if hi is not None and interval.value > hi:
            return f"power_kw {interval.value:g} above max {hi:g} of {device_id}"
        if lo is not None and interval.value < lo:
            return f"power_kw {interval.value:g} below min {lo:g} of {device_id}"
    return None
