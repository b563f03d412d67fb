"""An EV charger with a car that arrives, leaves and has a state of charge.

The charger never delivers more than the session's target (`ev_target_kwh`, energy into the
car). Without a valid command it follows the user's own mode: `smart` and `boost` charge at
full power until the target (a plain charger's behaviour), `off` does not charge.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ven.messages import ControlName, ControlSpec, DeviceType, SensorSpec, SetCommand
from ven.simulators.base import STANDARD_SENSORS, SimDevice, SiteView
from ven.simulators.profiles import DAY_S

CAR_CAPACITY_KWH = 60.0


@dataclass(frozen=True, slots=True)
class CarSession:
    arrival_s: float
    departure_s: float
    arrival_soc_pct: float
    target_kwh: float  # energy to put into the car this session [kWh]


DEFAULT_STAY_H = 10.0  # `--plug-in-now` without @HOURS: the car leaves after this


@dataclass(frozen=True, slots=True)
class PlugIn:
    """A car on the charger from the simulation's start: `--plug-in-now ENERGY_KWH[@HOURS]`."""

    energy_kwh: float  # what the car wants this session [kWh]
    hours: float = DEFAULT_STAY_H  # it leaves this long after the start [h]

    @classmethod
    def parse(cls, text: str, capacity_kwh: float = CAR_CAPACITY_KWH) -> PlugIn:
        """`20` or `20@8`; ValueError saying what is wrong."""
        energy, at, hours = text.strip().partition("@")
        try:
            plug_in = cls(float(energy), float(hours) if at else DEFAULT_STAY_H)
        except ValueError:
            raise ValueError(f"{text!r} is not ENERGY_KWH[@HOURS] (e.g. 20 or 20@8)") from None
        if not (math.isfinite(plug_in.energy_kwh) and 0 < plug_in.energy_kwh <= capacity_kwh):
            raise ValueError(
                f"ENERGY_KWH {energy.strip()} must be above 0 and at most the car's {capacity_kwh:g} kWh"
            )
        if not (math.isfinite(plug_in.hours) and 0 < plug_in.hours <= 7 * 24):
            raise ValueError(f"HOURS {hours.strip()} must be above 0 and at most a week (168)")
        return plug_in

    def session(self, start_s: float, capacity_kwh: float = CAR_CAPACITY_KWH) -> CarSession:
        # The car arrives as empty as it must be for the energy to take it to 90 % at most.
        arrival_soc = max(0.0, 90.0 - 100.0 * self.energy_kwh / capacity_kwh)
        return CarSession(start_s, start_s + self.hours * 3600.0, arrival_soc, self.energy_kwh)


def daily_sessions(seed: int, capacity_kwh: float, first_day_s: float, days: int) -> list[CarSession]:
    """One evening-to-morning session a day: arrive 16-20 h, leave 6-8 h, want 80 % by then."""
    rng = random.Random(seed)
    day0 = first_day_s - first_day_s % DAY_S
    sessions = []
    for d in range(days):
        arrival = day0 + d * DAY_S + rng.uniform(16, 20) * 3600
        departure = day0 + (d + 1) * DAY_S + rng.uniform(6, 8) * 3600
        soc = rng.uniform(20, 60)
        target = round(max(0.0, (80.0 - soc) / 100.0 * capacity_kwh), 1)
        sessions.append(CarSession(arrival, departure, soc, target))
    return sessions


class EvCharger(SimDevice):
    device_type = DeviceType.EV_CHARGER

    def __init__(
        self,
        device_id: str,
        max_kw: float = 11.0,
        capacity_kwh: float = CAR_CAPACITY_KWH,
        efficiency: float = 0.95,
        sessions: list[CarSession] | None = None,
    ) -> None:
        super().__init__(device_id)
        self.max_kw = max_kw
        self.capacity_kwh = capacity_kwh
        self.efficiency = efficiency
        self.sessions = sorted(sessions or [], key=lambda s: s.arrival_s)
        self.session: CarSession | None = None
        self.delivered_kwh = 0.0
        self.setpoint_kw = 0.0
        # False while a charger that needs a transaction (OCPP) has not started one: the car
        # is plugged in but draws nothing yet.
        self.authorized = True

    # --- the car ------------------------------------------------------------------------------
    def plug_in(self, session: CarSession) -> None:
        self.session = session
        self.delivered_kwh = 0.0

    def unplug(self) -> None:
        self.session = None
        self.delivered_kwh = 0.0

    @property
    def plugged_in(self) -> bool:
        return self.session is not None

    @property
    def soc_pct(self) -> float | None:
        if self.session is None:
            return None
        return self.session.arrival_soc_pct + 100.0 * self.delivered_kwh / self.capacity_kwh

    @property
    def remaining_kwh(self) -> float:
        return 0.0 if self.session is None else max(0.0, self.session.target_kwh - self.delivered_kwh)

    def _follow_sessions(self, now_s: float) -> None:
        if self.session is not None and now_s >= self.session.departure_s:
            self.unplug()
        if self.session is None:
            while self.sessions and self.sessions[0].departure_s <= now_s:
                self.sessions.pop(0)
            if self.sessions and self.sessions[0].arrival_s <= now_s:
                self.plug_in(self.sessions.pop(0))

    # --- description ---------------------------------------------------------------------------
    def controls(self) -> list[ControlSpec]:
        return [ControlSpec(name=ControlName.POWER_KW, min=0.0, max=self.max_kw)]

    def sensors(self) -> list[SensorSpec]:
        return [
            *STANDARD_SENSORS,
            SensorSpec(name="soc", unit="%"),
            SensorSpec(name="session_energy", unit="Wh"),
        ]

    def params(self) -> dict[str, Any]:
        return {
            "phases": 3,
            "capacity_kwh": self.capacity_kwh,
            "max_power_kw": self.max_kw,
            "efficiency": self.efficiency,
        }

    def state(self, now_s: float) -> dict[str, Any]:
        state = {**super().state(now_s), "plugged_in": self.plugged_in}
        if self.session is not None:
            state["ev_target_kwh"] = self.session.target_kwh
            state["ev_departure"] = datetime.fromtimestamp(self.session.departure_s, UTC).isoformat()
            state["ev_arrival"] = datetime.fromtimestamp(self.session.arrival_s, UTC).isoformat()
        return state

    def telemetry(self) -> list[tuple[str, str, float]]:
        values = super().telemetry()
        values.append(("session_energy", "Wh", round(self.delivered_kwh * 1000.0, 1)))
        if self.soc_pct is not None:
            values.append(("soc", "%", round(self.soc_pct, 2)))
        return values

    # --- commands and physics ----------------------------------------------------------------
    def device_reject_reason(self, command: SetCommand) -> str | None:
        if float(command.value) > 0 and not self.plugged_in:
            return f"power_kw {command.value:g} but no car is plugged in"
        return None

    def apply(self, command: SetCommand) -> None:
        self.setpoint_kw = float(command.value)

    def compute_power_kw(self, now_s: float, dt_s: float, site: SiteView) -> float:
        self._follow_sessions(now_s)
        if self.session is None or dt_s <= 0 or not self.authorized:
            return 0.0
        own_kw = 0.0 if self.mode == "off" else self.max_kw  # the user's own mode
        wanted = self.setpoint_kw if self.command is not None else own_kw
        # Never past the target: the last step charges only what is still missing.
        cap_kw = self.remaining_kwh / (self.efficiency * dt_s / 3600.0)
        power = max(0.0, min(wanted, self.max_kw, cap_kw))
        self.delivered_kwh += power * self.efficiency * dt_s / 3600.0
        return power
