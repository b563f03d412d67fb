"""A washing machine as an S2 PPBC resource manager (for tests): a shiftable power profile.

Once the user presses start (`start_after_s` after the session begins) it sends its
PowerProfileDefinition: three sequence containers run one after the other (heating
water, washing, spinning), each with one power sequence, and a window: it may start from then
and must be done `window_s` later. It starts a container's sequence at the execution time of
the CEM's PPBC.ScheduleInstruction for it, runs its elements (power per element) and reports
PowerProfileStatus (SCHEDULED, EXECUTING, FINISHED) and PowerMeasurement every `step_s`.

    async with WashingMachineRM("ws://127.0.0.1:9100/", window_s=600) as rm: ...
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from s2python.common import (
    Commodity,
    CommodityQuantity,
    Duration,
    PowerForecastValue,
    PowerMeasurement,
    PowerValue,
    Role,
    RoleType,
)
from s2python.connection.asset_details import AssetDetails
from s2python.connection.async_.connection import S2AsyncConnection
from s2python.connection.async_.control_type.class_based import PPBCControlType, S2ControlType
from s2python.generated.gen_s2 import PPBCPowerSequenceStatus
from s2python.ppbc import (
    PPBCPowerProfileDefinition,
    PPBCPowerProfileStatus,
    PPBCPowerSequence,
    PPBCPowerSequenceContainer,
    PPBCPowerSequenceContainerStatus,
    PPBCPowerSequenceElement,
    PPBCScheduleInstruction,
)

from ven.simulators.s2_rm import SimulatedRM

L1 = CommodityQuantity.ELECTRIC_POWER_L1
# (label, power [W], duration [s]) of each phase of the programme
PROGRAMME = (("heat water", 2000.0, 2.0), ("wash", 300.0, 2.0), ("spin", 600.0, 1.0))


@dataclass
class _Phase:
    container_id: uuid.UUID
    sequence_id: uuid.UUID
    power_w: float
    duration_s: float
    status: PPBCPowerSequenceStatus = PPBCPowerSequenceStatus.NOT_SCHEDULED
    start_s: float | None = None  # epoch seconds of the instructed start


class WashingMachineRM(SimulatedRM):
    def __init__(
        self,
        url: str,
        resource_id: uuid.UUID | None = None,
        *,
        window_s: float = 600.0,
        start_after_s: float = 0.0,
        programme: tuple[tuple[str, float, float], ...] = PROGRAMME,
        step_s: float = 0.2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(url, resource_id, step_s=step_s, clock=clock)
        self.window_s = window_s
        self.start_after_s = start_after_s
        self.programme = programme
        self.profile_id = uuid.uuid4()
        self.phases = [
            _Phase(uuid.uuid4(), uuid.uuid4(), power, duration) for _, power, duration in programme
        ]
        self.start_time = self.now()
        self.instructions: list[PPBCScheduleInstruction] = []
        self.power_w = 0.0

    def asset_details(self) -> AssetDetails:
        return AssetDetails(
            resource_id=self.resource_id,
            name="washing machine",
            manufacturer="flexvpp",
            model="simulated washing machine",
            instruction_processing_delay=Duration.from_milliseconds(100),
            roles=[Role(role=RoleType.ENERGY_CONSUMER, commodity=Commodity.ELECTRICITY)],
            provides_forecast=False,
            provides_power_measurements=[L1],
        )

    def control_types(self) -> list[S2ControlType]:
        return [_Ppbc(self)]

    def definition(self) -> PPBCPowerProfileDefinition:
        containers = [
            PPBCPowerSequenceContainer(
                id=phase.container_id,
                power_sequences=[
                    PPBCPowerSequence(
                        id=phase.sequence_id,
                        elements=[
                            PPBCPowerSequenceElement(
                                duration=Duration.from_milliseconds(int(phase.duration_s * 1000)),
                                power_values=[
                                    PowerForecastValue(  # type: ignore[call-arg]  # optional fields: see s2_heat_pump
                                        value_expected=phase.power_w, commodity_quantity=L1
                                    )
                                ],
                            )
                        ],
                        is_interruptible=False,
                        max_pause_before=Duration.from_milliseconds(0),
                        abnormal_condition_only=False,
                    )
                ],
            )
            for phase in self.phases
        ]
        return PPBCPowerProfileDefinition(
            message_id=uuid.uuid4(),
            id=self.profile_id,
            start_time=self.start_time,
            end_time=self.start_time + timedelta(seconds=self.window_s),
            power_sequences_containers=containers,
        )

    def status(self) -> PPBCPowerProfileStatus:
        return PPBCPowerProfileStatus(
            message_id=uuid.uuid4(),
            sequence_container_status=[
                PPBCPowerSequenceContainerStatus(
                    power_profile_id=self.profile_id,
                    sequence_container_id=phase.container_id,
                    selected_sequence_id=phase.sequence_id if phase.start_s is not None else None,
                    status=phase.status,
                )
                for phase in self.phases
            ],
        )

    @property
    def started_s(self) -> float | None:
        """When the first phase was instructed to start (epoch seconds), None before that."""
        return self.phases[0].start_s

    @property
    def finished(self) -> bool:
        return all(p.status == PPBCPowerSequenceStatus.FINISHED for p in self.phases)

    async def press_start(self) -> None:
        await asyncio.sleep(self.start_after_s)
        self.start_time = self.now()
        await self.tell(self.definition())

    async def schedule(self, instruction: PPBCScheduleInstruction) -> None:
        phase = next((p for p in self.phases if p.container_id == instruction.sequence_container_id), None)
        if phase is None or instruction.power_sequence_id != phase.sequence_id:
            return
        self.instructions.append(instruction)
        phase.start_s = instruction.execution_time.timestamp()
        phase.status = PPBCPowerSequenceStatus.SCHEDULED
        await self.tell(self.status())

    async def step(self, dt_s: float) -> None:
        now = self.now().timestamp()
        changed = False
        power = 0.0
        for phase in self.phases:
            if phase.start_s is None or phase.status == PPBCPowerSequenceStatus.FINISHED:
                continue
            if now >= phase.start_s + phase.duration_s:
                phase.status, changed = PPBCPowerSequenceStatus.FINISHED, True
            elif now >= phase.start_s:
                if phase.status != PPBCPowerSequenceStatus.EXECUTING:
                    phase.status, changed = PPBCPowerSequenceStatus.EXECUTING, True
                power += phase.power_w
        self.power_w = power
        if not self.connected.is_set():
            return
        if changed:
            await self.tell(self.status())
        await self.tell(
            PowerMeasurement(
                message_id=uuid.uuid4(),
                measurement_timestamp=self.now(),
                values=[PowerValue(commodity_quantity=L1, value=power)],
            )
        )


class _Ppbc(PPBCControlType):
    def __init__(self, rm: WashingMachineRM) -> None:
        self.rm = rm

    async def handle_instruction(self, connection: S2AsyncConnection, msg: Any, send_okay: Any) -> None:
        await send_okay()
        if isinstance(msg, PPBCScheduleInstruction):
            self.rm.spawn(self.rm.schedule(msg))

    async def activate(self, connection: S2AsyncConnection) -> None:
        await self.rm.tell(self.rm.status())
        self.rm.connected.set()
        self.rm.spawn(self.rm.press_start())

    async def deactivate(self, connection: S2AsyncConnection) -> None:
        self.rm.connected.clear()
