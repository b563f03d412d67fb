"""PPBC (power-profile based control) from the CEM's side: a shiftable appliance's power profile
and when to start it. Pure: no I/O; times are epoch seconds of the agent's clock.

The RM's PowerProfileDefinition holds sequence containers to run one after the other, each with
alternative power sequences, and a window [start_time, end_time] the whole profile must run in.
The CEM picks the first sequence of each container that is not abnormal-condition-only and
starts the containers back to back. When it starts: as soon as the window opens, unless the
agent holds the appliance (`on: false`), and then at the latest start that still ends inside the
window (the household's deadline outranks the agent). The planner has no appliance model yet:
the start is the earliest one the agent allows, not an optimised one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from s2python.ppbc import (
    PPBCPowerProfileDefinition,
    PPBCPowerProfileStatus,
    PPBCPowerSequence,
)

from ven.devices.s2_frbc import ELECTRIC

NOT_SCHEDULED = "NOT_SCHEDULED"


@dataclass(frozen=True, slots=True)
class Start:
    """One ScheduleInstruction to send: this sequence of this container at `at_s`."""

    profile_id: UUID
    container_id: UUID
    sequence_id: UUID
    at_s: float


def sequence_duration_s(sequence: PPBCPowerSequence) -> float:
    return float(sum(element.duration.root for element in sequence.elements)) / 1000.0


def sequence_energy_wh(sequence: PPBCPowerSequence) -> float:
    return float(
        sum(
            value.value_expected * element.duration.root / 3.6e6
            for element in sequence.elements
            for value in element.power_values
            if value.commodity_quantity in ELECTRIC
        )
    )


def sequence_peak_w(sequence: PPBCPowerSequence) -> float:
    return max(
        (
            sum(v.value_expected for v in element.power_values if v.commodity_quantity in ELECTRIC)
            for element in sequence.elements
        ),
        default=0.0,
    )


@dataclass
class PpbcPicture:
    profile: PPBCPowerProfileDefinition | None = None
    status: PPBCPowerProfileStatus | None = None
    sent: set[tuple[UUID, UUID]] = field(default_factory=set)  # (profile, container) scheduled by us
    start_s: float | None = None  # when the first container was scheduled to start

    def update(self, message: PPBCPowerProfileDefinition | PPBCPowerProfileStatus) -> None:
        if isinstance(message, PPBCPowerProfileDefinition):
            if self.profile is None or self.profile.id != message.id:
                self.sent = {key for key in self.sent if key[0] == message.id}
                self.start_s = None
            self.profile = message
        else:
            self.status = message

    def chosen(self) -> list[tuple[UUID, PPBCPowerSequence]]:
        """(container, sequence) in order: the first normal sequence of each container."""
        if self.profile is None:
            return []
        out = []
        for container in self.profile.power_sequences_containers:
            normal = [s for s in container.power_sequences if not s.abnormal_condition_only]
            if normal:
                out.append((container.id, normal[0]))
        return out

    def duration_s(self) -> float:
        return sum(sequence_duration_s(s) for _, s in self.chosen())

    def energy_wh(self) -> float:
        return sum(sequence_energy_wh(s) for _, s in self.chosen())

    def peak_w(self) -> float:
        return max((sequence_peak_w(s) for _, s in self.chosen()), default=0.0)

    def window_s(self) -> tuple[float, float] | None:
        if self.profile is None:
            return None
        return self.profile.start_time.timestamp(), self.profile.end_time.timestamp()

    def latest_start_s(self) -> float | None:
        window = self.window_s()
        return None if window is None else max(window[0], window[1] - self.duration_s())

    def pending(self) -> bool:
        """The profile has containers that neither we nor anyone else scheduled yet."""
        if self.profile is None:
            return False
        statuses = {
            s.sequence_container_id: s.status.value if hasattr(s.status, "value") else str(s.status)
            for s in (self.status.sequence_container_status if self.status is not None else [])
            if s.power_profile_id == self.profile.id
        }
        return any(
            (self.profile.id, container) not in self.sent
            and statuses.get(container, NOT_SCHEDULED) == NOT_SCHEDULED
            for container, _ in self.chosen()
        )

    def plan(self, now_s: float, hold: bool) -> tuple[list[Start], float | None]:
        """(instructions to send now, when to look again) for the agent's hold (`on: false`)."""
        if self.profile is None or not self.pending():
            return [], None
        window = self.window_s()
        latest = self.latest_start_s()
        assert window is not None and latest is not None
        if hold and now_s < latest:
            return [], latest
        at = max(now_s, window[0])
        starts = []
        for container, sequence in self.chosen():
            starts.append(Start(self.profile.id, container, sequence.id, at))
            at += sequence_duration_s(sequence)
        return starts, None
