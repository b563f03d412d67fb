"""A home simulated on the in-memory bus with an agent core on the same bus (unit-test rig)."""

from __future__ import annotations

from ven.agent.core import AgentCore, DispatchSettings
from ven.agent.events import DrEvent, EventInterval
from ven.agent.peak_guard import PeakGuardSettings
from ven.agent.policy import SiteLimits
from ven.clock import ManualClock
from ven.device_bus import FakeBroker, FakeBus
from ven.messages import parse_set
from ven.simulators.ev_charger import CarSession, EvCharger
from ven.simulators.home import HomeSpec, SimulatedHome

T0 = 1741550400.0  # 2025-03-09 20:00 UTC
SITE = "core-unit"


class Rig:
    def __init__(
        self, limits: SiteLimits | None = None, peak_guard: PeakGuardSettings | None = None, **spec: object
    ) -> None:
        self.broker = FakeBroker()
        self.clock = ManualClock(T0)
        options = {
            "site_id": SITE,
            "seed": 5,
            "base_load_kw": 3.0,
            "telemetry_interval_s": 60,
            "pv_kw": None,
            "battery_kwh": None,
            "heat_pump": False,
            "smart_plug_kw": None,
            **spec,
        }
        self.home = SimulatedHome(HomeSpec(**options), self.clock, lambda _id: FakeBus(self.broker))  # type: ignore[arg-type]
        self.ev: EvCharger = self.home.device("evse-1")  # type: ignore[assignment]
        self.ev.sessions.clear()
        self.ev.plug_in(CarSession(T0 - 60, T0 + 10 * 3600, 30.0, 20.0))
        self.home.start(thread=False)
        self.core = AgentCore(
            SITE,
            "ven-test",
            FakeBus(self.broker),
            self.clock,
            limits or SiteLimits(9.2, 10.0, 2.0),
            DispatchSettings(period_s=60, command_ttl_s=300),
            peak_guard=peak_guard,
        )
        self.core.start()
        self.advance(60)

    def advance(self, seconds: float, step: bool = True) -> None:
        """Move time in 60 s steps: the home's physics and telemetry, then the agent's step."""
        remaining = seconds
        while remaining > 0:
            self.clock.advance(min(60.0, remaining))
            remaining -= 60.0
            self.home.tick()
            if step:
                self.last = self.core.step()

    def sets(self, device: str) -> list[float | bool]:
        name = f"flexvpp/{SITE}/{device}/set"
        return [parse_set(name, p).value for p in self.broker.published(name)]


def dispatch(
    event_id: str, start: float, minutes: float, value: float, resource: tuple[str, ...] = (), **kw: object
) -> list[DrEvent]:
    return [
        DrEvent(
            event_id,
            0,
            "LOAD_DISPATCH",
            "setpoint",
            (EventInterval(start, minutes * 60, value),),
            resource_ids=resource,
            **kw,
        )
    ]  # type: ignore[arg-type]
