"""Charging sessions measured from a charger's telemetry, and what each cost.

How a session's boundaries are found:

- From the charger's `plugged_in` status (TELEMETRY_STATUS, 1/0, sent at every status report)
  when it reports one: a session starts at the first sample reading 1 after a 0 (or after
  nothing) and ends at the first sample reading 0 after it. No 0 yet: the car is still on the
  charger (`end` None).
- Otherwise (a charger without plug state) from its power: a session starts at the first
  sample above `POWER_THRESHOLD_KW` and ends at the first sample at or below it after the last
  one above, pauses shorter than `MAX_PAUSE` (a smart charge waiting for a cheaper hour)
  joined into one session. Such a session lasts while the car charges, not while it is parked:
  its start and end say when energy flowed.

A session's energy is the charger's counter (or its integrated power: estimated) over
[start, end); its cost the energy of each 15-minute slot times that slot's import price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flexmodel.energy_counter import EnergyCounter, Sample, floor_to
from flexmodel.flexreport import EV_MODES, ReportPoint

POWER_THRESHOLD_KW = 0.2  # a charger's standby and the car's own trickle stay below this
MAX_PAUSE = timedelta(minutes=45)
SLOT = timedelta(minutes=15)
# A session whose energy is within this of its target met it (meter rounding, the last few Wh
# a car's battery management refuses).
TARGET_TOLERANCE_KWH = 0.1
# The flexibility report's arrival of a car is the agent's plug-in time; it may be stamped
# a little before the first plugged_in sample that the status report carried.
ARRIVAL_SLACK = timedelta(minutes=15)


class Boundary(StrEnum):
    """What a session's start and end were found from."""

    PLUGGED_IN = "plugged_in"
    POWER = "power"


@dataclass(frozen=True, slots=True)
class Session:
    start: datetime
    end: datetime | None  # None: still plugged in (or charging) at the last sample
    boundary: Boundary


def sessions_from_plug(plugged: Sequence[tuple[datetime, bool]]) -> list[Session]:
    """Sessions as runs of plugged-in samples (see the module's docstring)."""
    out: list[Session] = []
    start: datetime | None = None
    for at, is_plugged in sorted(plugged, key=lambda s: s[0]):
        if is_plugged and start is None:
            start = at
        elif not is_plugged and start is not None:
            out.append(Session(start, at, Boundary.PLUGGED_IN))
            start = None
    if start is not None:
        out.append(Session(start, None, Boundary.PLUGGED_IN))
    return out


def sessions_from_power(
    power_kw: Sequence[Sample], threshold_kw: float = POWER_THRESHOLD_KW, max_pause: timedelta = MAX_PAUSE
) -> list[Session]:
    """Sessions as runs of power above `threshold_kw`, pauses under `max_pause` joined."""
    runs: list[list[datetime | None]] = []  # [first above, first at/below after it (None: none yet)]
    for at, power in sorted(power_kw, key=lambda s: s[0]):
        above = power > threshold_kw
        current = runs[-1] if runs else None
        if above:
            if current is not None and (current[1] is None or at - current[1] < max_pause):
                current[1] = None  # still charging, or a short pause: the same session
            else:
                runs.append([at, None])
        elif current is not None and current[1] is None:
            current[1] = at
    return [Session(s, e, Boundary.POWER) for s, e in runs if s is not None]


def find_sessions(plugged: Sequence[tuple[datetime, bool]], power_kw: Sequence[Sample]) -> list[Session]:
    """From the plug state when the charger reports one, else from its power."""
    return sessions_from_plug(plugged) if plugged else sessions_from_power(power_kw)


def slot_energy(session: Session, counter: EnergyCounter, until: datetime) -> list[tuple[datetime, float]]:
    """(slot start, kWh) of each 15-minute slot the session's measured energy falls in; an open
    session counts until `until`."""
    end = session.end if session.end is not None else until
    out = []
    slot = floor_to(session.start, SLOT)
    while slot < end:
        kwh = counter.between(max(slot, session.start), min(slot + SLOT, end))
        if kwh is not None:
            out.append((slot, kwh))
        slot += SLOT
    return out


def slots_cost_eur(slots: Iterable[tuple[datetime, float]], price: Mapping[datetime, float]) -> float | None:
    """Σ kWh x the slot's price [EUR/kWh]; None when energy fell in a slot without a price."""
    total = 0.0
    for slot, kwh in slots:
        if abs(kwh) < 1e-9:
            continue
        if slot not in price:
            return None
        total += kwh * price[slot]
    return total


# ---- what the agent said of the car: the flexibility report -----------------------------------


@dataclass(frozen=True, slots=True)
class EvPlan:
    """A car on the charger as the latest x-SITE_FLEXIBILITY snapshot describes it."""

    ev_id: str  # the charger's device id
    arrival: datetime
    departure: datetime
    energy_needed_kwh: float  # still to deliver when the snapshot was made
    reported_at: datetime
    mode: str | None = None  # smart | solar | boost
    max_power_kw: float | None = None


def ev_plans(points: Iterable[ReportPoint], reported_at: datetime) -> dict[str, EvPlan]:
    """ev_id -> its plan, for each EV of a snapshot (an EV needs `{ev}.energy_needed_kwh`)."""
    fields: dict[str, dict[str, ReportPoint]] = {}
    for point in points:
        if point.resource_id not in ("site", "pv", "battery") and point.intervals:
            fields.setdefault(point.resource_id, {})[point.field] = point
    out = {}
    for ev_id, found in fields.items():
        needed = found.get("energy_needed_kwh")
        if needed is None:
            continue
        window = needed.intervals[-1]
        mode_point, power_point = found.get("mode"), found.get("max_power_kw")
        mode_index = int(mode_point.intervals[-1].value) if mode_point is not None else -1
        out[ev_id] = EvPlan(
            ev_id=ev_id,
            arrival=window.start,
            departure=window.end,
            energy_needed_kwh=window.value,
            reported_at=reported_at,
            mode=EV_MODES[mode_index] if 0 <= mode_index < len(EV_MODES) else None,
            max_power_kw=power_point.intervals[-1].value if power_point is not None else None,
        )
    return out


def plan_of(session: Session, plan: EvPlan | None) -> EvPlan | None:
    """The plan if it describes this session's car: it arrived within the session (give or take
    `ARRIVAL_SLACK`) and the snapshot was made while the car was there."""
    if plan is None:
        return None
    end = session.end or datetime.max.replace(tzinfo=session.start.tzinfo)
    arrived_within = session.start - ARRIVAL_SLACK <= plan.arrival < end
    return plan if arrived_within and plan.reported_at <= end else None


def target_kwh(session: Session, plan: EvPlan, counter: EnergyCounter) -> float:
    """The session's target: what the car still needed at the snapshot plus what the charger
    had delivered by then (the agent reports target minus delivered)."""
    delivered = counter.between(session.start, plan.reported_at) or 0.0
    return plan.energy_needed_kwh + max(0.0, delivered)


def target_met(session: Session, energy_kwh: float, target: float) -> bool | None:
    """Met once the energy reached the target; an open session that has not yet: unknown (None)."""
    if energy_kwh >= target - TARGET_TOLERANCE_KWH:
        return True
    return None if session.end is None else False
