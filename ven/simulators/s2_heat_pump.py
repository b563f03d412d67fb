"""A heat pump with a buffer tank as an S2 FRBC resource manager (for tests and the closed loop).

The fill level is the tank's temperature [°C]. Two operation modes: `off` (0 W) and `heating`,
modulating from `min_power_w` (factor 0) to `max_power_w` (factor 1); heat into the tank is
electric power x `cop`. The tank loses `loss_kw_per_k` x (T - `room_c`) (its leakage) and the
house draws `house_heat_kw` from it (its usage). T changes by (heat in - loss - usage) /
`capacity_kwh_per_k`, in simulated time (`speed` simulated seconds per real second; with a
simulated agent clock, give the RM the same `clock` for its timestamps).

Under FRBC the RM does what the CEM's FRBC.Instruction says (at its execution time) and reports
StorageStatus, ActuatorStatus and PowerMeasurement every `step_s`. Without a CEM (not connected,
or no instruction yet) its own thermostat heats at full power below the target's lower bound
and stops above its upper bound.

    async with HeatPumpRM("ws://127.0.0.1:9100/") as rm:   # connects, reconnects, until exit
        await rm.connected.wait(); rm.power_w, rm.temperature_c
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from s2python.common import (
    Commodity,
    CommodityQuantity,
    Currency,
    Duration,
    InstructionStatus,
    InstructionStatusUpdate,
    NumberRange,
    PowerMeasurement,
    PowerRange,
    PowerValue,
    Role,
    RoleType,
    Transition,
)
from s2python.connection.asset_details import AssetDetails
from s2python.connection.async_.connection import S2AsyncConnection
from s2python.connection.async_.control_type.class_based import FRBCControlType, S2ControlType
from s2python.frbc import (
    FRBCActuatorDescription,
    FRBCActuatorStatus,
    FRBCFillLevelTargetProfile,
    FRBCFillLevelTargetProfileElement,
    FRBCInstruction,
    FRBCLeakageBehaviour,
    FRBCLeakageBehaviourElement,
    FRBCOperationMode,
    FRBCOperationModeElement,
    FRBCStorageDescription,
    FRBCStorageStatus,
    FRBCSystemDescription,
    FRBCUsageForecast,
    FRBCUsageForecastElement,
)

from ven.simulators.s2_rm import SimulatedRM

PHASES = CommodityQuantity.ELECTRIC_POWER_3_PHASE_SYMMETRIC
DAY_MS = 86_400_000


class HeatPumpRM(SimulatedRM):
    def __init__(
        self,
        url: str,
        resource_id: uuid.UUID | None = None,
        *,
        name: str = "heat pump",
        min_power_w: float = 600.0,
        max_power_w: float = 2000.0,
        cop: float = 3.0,
        capacity_kwh_per_k: float = 0.3,
        start_c: float = 45.0,
        target_c: tuple[float, float] = (40.0, 50.0),
        storage_c: tuple[float, float] = (25.0, 65.0),
        house_heat_kw: float = 1.5,
        loss_kw_per_k: float = 0.003,
        room_c: float = 20.0,
        step_s: float = 1.0,
        speed: float = 1.0,
        measures_power: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(url, resource_id, step_s=step_s, clock=clock)
        self.name = name
        self.min_power_w, self.max_power_w, self.cop = min_power_w, max_power_w, cop
        self.capacity_kwh_per_k = capacity_kwh_per_k
        self.temperature_c = start_c
        self.target_c, self.storage_c = target_c, storage_c
        self.house_heat_kw, self.loss_kw_per_k, self.room_c = house_heat_kw, loss_kw_per_k, room_c
        self.speed = speed
        self.measures_power = measures_power
        self.actuator_id = uuid.uuid4()
        self.off_id, self.heating_id = uuid.uuid4(), uuid.uuid4()
        self.mode_id = self.off_id
        self.factor = 0.0
        self.instructed = False  # an instruction of the CEM is in force (else its own thermostat)
        self.instructions: list[FRBCInstruction] = []

    # --- the physics ------------------------------------------------------------------------------
    @property
    def power_w(self) -> float:
        if self.mode_id != self.heating_id:
            return 0.0
        return self.min_power_w + self.factor * (self.max_power_w - self.min_power_w)

    def _per_s(self, kw: float) -> float:
        """A heat flow [kW] as the tank's temperature change [K per simulated second]."""
        return kw / self.capacity_kwh_per_k / 3600.0

    def fill_rate(self, power_w: float) -> float:
        return self._per_s(power_w / 1000.0 * self.cop)

    def leakage_rate(self, temperature_c: float) -> float:
        return self._per_s(self.loss_kw_per_k * (temperature_c - self.room_c))

    def usage_rate(self) -> float:
        return self._per_s(self.house_heat_kw)

    async def step(self, dt_s: float) -> None:
        if not self.instructed:  # its own thermostat
            lo, hi = self.target_c
            if self.temperature_c <= lo:
                self.mode_id, self.factor = self.heating_id, 1.0
            elif self.temperature_c >= hi:
                self.mode_id, self.factor = self.off_id, 0.0
        rate = self.fill_rate(self.power_w) - self.leakage_rate(self.temperature_c) - self.usage_rate()
        self.temperature_c += rate * dt_s * self.speed
        if not self.connected.is_set():
            return
        await self.tell(
            FRBCStorageStatus(message_id=uuid.uuid4(), present_fill_level=round(self.temperature_c, 4))
        )
        if self.measures_power:
            await self.tell(self.measurement())

    def measurement(self) -> PowerMeasurement:
        return PowerMeasurement(
            message_id=uuid.uuid4(),
            measurement_timestamp=self.now(),
            values=[PowerValue(commodity_quantity=PHASES, value=round(self.power_w, 1))],
        )

    # --- what it tells the CEM --------------------------------------------------------------------
    def asset_details(self) -> AssetDetails:
        return AssetDetails(
            resource_id=self.resource_id,
            name=self.name,
            manufacturer="flexvpp",
            model="simulated air-to-water heat pump",
            instruction_processing_delay=Duration.from_milliseconds(100),
            roles=[Role(role=RoleType.ENERGY_CONSUMER, commodity=Commodity.ELECTRICITY)],
            currency=Currency.EUR,
            provides_forecast=False,
            provides_power_measurements=[PHASES] if self.measures_power else [],
        )

    def control_types(self) -> list[S2ControlType]:
        return [_Frbc(self)]

    def system_description(self) -> FRBCSystemDescription:
        storage = NumberRange(start_of_range=self.storage_c[0], end_of_range=self.storage_c[1])
        off = FRBCOperationMode(
            id=self.off_id,
            diagnostic_label="off",
            abnormal_condition_only=False,
            elements=[
                FRBCOperationModeElement(
                    fill_level_range=storage,
                    fill_rate=NumberRange(start_of_range=0.0, end_of_range=0.0),
                    power_ranges=[
                        PowerRange(start_of_range=0.0, end_of_range=0.0, commodity_quantity=PHASES)
                    ],
                )
            ],
        )
        heating = FRBCOperationMode(
            id=self.heating_id,
            diagnostic_label="heating",
            abnormal_condition_only=False,
            elements=[
                FRBCOperationModeElement(
                    fill_level_range=storage,
                    fill_rate=NumberRange(
                        start_of_range=self.fill_rate(self.min_power_w),
                        end_of_range=self.fill_rate(self.max_power_w),
                    ),
                    power_ranges=[
                        PowerRange(
                            start_of_range=self.min_power_w,
                            end_of_range=self.max_power_w,
                            commodity_quantity=PHASES,
                        )
                    ],
                )
            ],
        )
        transitions = [
            Transition(  # type: ignore[call-arg]  # optional fields: mypy does not see their defaults
                id=uuid.uuid4(),
                from_=a,
                to=b,
                start_timers=[],
                blocking_timers=[],
                abnormal_condition_only=False,
            )
            for a, b in ((self.off_id, self.heating_id), (self.heating_id, self.off_id))
        ]
        return FRBCSystemDescription(
            message_id=uuid.uuid4(),
            valid_from=self.now(),
            actuators=[
                FRBCActuatorDescription(
                    id=self.actuator_id,
                    diagnostic_label="compressor",
                    supported_commodities=[Commodity.ELECTRICITY],
                    operation_modes=[off, heating],
                    transitions=transitions,
                    timers=[],
                )
            ],
            storage=FRBCStorageDescription(
                diagnostic_label="buffer tank",
                fill_level_label="°C",
                fill_level_range=storage,
                provides_leakage_behaviour=True,
                provides_fill_level_target_profile=True,
                provides_usage_forecast=True,
            ),
        )

    def descriptions(self) -> list[Any]:
        lo, hi = self.storage_c
        bands = [(lo + (hi - lo) * i / 4, lo + (hi - lo) * (i + 1) / 4) for i in range(4)]
        return [
            self.system_description(),
            FRBCLeakageBehaviour(
                message_id=uuid.uuid4(),
                valid_from=self.now(),
                elements=[
                    FRBCLeakageBehaviourElement(
                        fill_level_range=NumberRange(start_of_range=a, end_of_range=b),
                        leakage_rate=self.leakage_rate((a + b) / 2),
                    )
                    for a, b in bands
                ],
            ),
            FRBCUsageForecast(
                message_id=uuid.uuid4(),
                start_time=self.now() - timedelta(seconds=1),
                elements=[
                    FRBCUsageForecastElement(  # type: ignore[call-arg]  # (as above)
                        duration=Duration.from_milliseconds(DAY_MS), usage_rate_expected=self.usage_rate()
                    )
                ],
            ),
            FRBCFillLevelTargetProfile(
                message_id=uuid.uuid4(),
                start_time=self.now() - timedelta(seconds=1),
                elements=[
                    FRBCFillLevelTargetProfileElement(
                        duration=Duration.from_milliseconds(DAY_MS),
                        fill_level_range=NumberRange(
                            start_of_range=self.target_c[0], end_of_range=self.target_c[1]
                        ),
                    )
                ],
            ),
            FRBCStorageStatus(message_id=uuid.uuid4(), present_fill_level=round(self.temperature_c, 4)),
            self.actuator_status(),
        ]

    def actuator_status(self) -> FRBCActuatorStatus:
        return FRBCActuatorStatus(  # type: ignore[call-arg]  # (optional fields, as above)
            message_id=uuid.uuid4(),
            actuator_id=self.actuator_id,
            active_operation_mode_id=self.mode_id,
            operation_mode_factor=self.factor,
        )

    # --- what the CEM tells it --------------------------------------------------------------------
    async def instruct(self, instruction: FRBCInstruction) -> None:
        valid = instruction.actuator_id == self.actuator_id and instruction.operation_mode in (
            self.off_id,
            self.heating_id,
        )
        await self.tell(
            InstructionStatusUpdate(
                message_id=uuid.uuid4(),
                instruction_id=instruction.id,
                status_type=InstructionStatus.SUCCEEDED if valid else InstructionStatus.REJECTED,
                timestamp=self.now(),
            )
        )
        if not valid:
            return
        self.instructions.append(instruction)
        wait_s = instruction.execution_time.timestamp() - self.clock()
        if wait_s > 0:
            await asyncio.sleep(wait_s / self.speed)
        self.instructed = True
        self.mode_id, self.factor = instruction.operation_mode, instruction.operation_mode_factor
        await self.tell(self.actuator_status())
        if self.measures_power:
            await self.tell(self.measurement())


class _Frbc(FRBCControlType):
    def __init__(self, rm: HeatPumpRM) -> None:
        self.rm = rm

    async def handle_instruction(self, connection: S2AsyncConnection, msg: Any, send_okay: Any) -> None:
        await send_okay()
        if isinstance(msg, FRBCInstruction):
            # Not awaited here: the connection handles one message at a time, and the RM's own
            # messages wait for the CEM's ReceptionStatus.
            self.rm.spawn(self.rm.instruct(msg))

    async def activate(self, connection: S2AsyncConnection) -> None:
        for message in self.rm.descriptions():
            await self.rm.tell(message)
        self.rm.connected.set()

    async def deactivate(self, connection: S2AsyncConnection) -> None:
        self.rm.connected.clear()
        self.rm.instructed = False  # back to its own thermostat
