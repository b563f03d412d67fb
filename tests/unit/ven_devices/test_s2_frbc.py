"""The FRBC decision (ven/devices/s2_frbc.py) on s2-python's own message models: a heat pump
with a buffer tank, off or heating 600..2000 W, an abnormal-only boost mode, and a minimum run
time (a blocking timer on heating -> off)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from s2python.common import Commodity, CommodityQuantity, Duration, NumberRange, PowerRange, Timer, Transition
from s2python.frbc import (
    FRBCActuatorDescription,
    FRBCActuatorStatus,
    FRBCFillLevelTargetProfile,
    FRBCFillLevelTargetProfileElement,
    FRBCLeakageBehaviour,
    FRBCLeakageBehaviourElement,
    FRBCOperationMode,
    FRBCOperationModeElement,
    FRBCStorageDescription,
    FRBCStorageStatus,
    FRBCSystemDescription,
    FRBCTimerStatus,
)

from ven.devices.s2_frbc import RECOVERY_S, FrbcPicture

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
NOW_S = NOW.timestamp()
L = CommodityQuantity.ELECTRIC_POWER_L1
ACTUATOR, OFF, HEATING, BOOST, MIN_RUN = (uuid.uuid4() for _ in range(5))
RATE_PER_W = 1e-6  # fill rate [K/s] per W of heating
LEAK = 8e-4  # leakage [K/s]: what 800 W makes up
STORAGE = NumberRange(start_of_range=20.0, end_of_range=70.0)


def mode(
    mode_id: uuid.UUID, label: str, lo_w: float, hi_w: float, abnormal: bool = False
) -> FRBCOperationMode:
    return FRBCOperationMode(
        id=mode_id,
        diagnostic_label=label,
        abnormal_condition_only=abnormal,
        elements=[
            FRBCOperationModeElement(
                fill_level_range=STORAGE,
                fill_rate=NumberRange(start_of_range=lo_w * RATE_PER_W, end_of_range=hi_w * RATE_PER_W),
                power_ranges=[PowerRange(start_of_range=lo_w, end_of_range=hi_w, commodity_quantity=L)],
            )
        ],
    )


def transition(a: uuid.UUID, b: uuid.UUID, blocking: list[uuid.UUID] | None = None) -> Any:
    return Transition(  # type: ignore[call-arg]  # optional fields: mypy does not see their defaults
        id=uuid.uuid4(),
        from_=a,
        to=b,
        start_timers=[],
        blocking_timers=blocking or [],
        abnormal_condition_only=False,
    )


def picture(
    fill: float, active: uuid.UUID = OFF, factor: float = 0.0, target: tuple[float, float] = (40, 50)
) -> FrbcPicture:
    pic = FrbcPicture()
    pic.update(
        FRBCSystemDescription(
            message_id=uuid.uuid4(),
            valid_from=NOW,
            actuators=[
                FRBCActuatorDescription(
                    id=ACTUATOR,
                    supported_commodities=[Commodity.ELECTRICITY],
                    operation_modes=[
                        mode(OFF, "off", 0, 0),
                        mode(HEATING, "heating", 600, 2000),
                        mode(BOOST, "boost", 3000, 3000, abnormal=True),
                    ],
                    transitions=[
                        transition(OFF, HEATING),
                        transition(HEATING, OFF, [MIN_RUN]),
                        transition(OFF, BOOST),
                    ],
                    timers=[Timer(id=MIN_RUN, duration=Duration.from_milliseconds(600_000))],  # type: ignore[call-arg]
                )
            ],
            storage=FRBCStorageDescription(
                fill_level_label="°C",
                fill_level_range=STORAGE,
                provides_leakage_behaviour=True,
                provides_fill_level_target_profile=True,
                provides_usage_forecast=False,
            ),
        )
    )
    pic.update(
        FRBCLeakageBehaviour(
            message_id=uuid.uuid4(),
            valid_from=NOW,
            elements=[FRBCLeakageBehaviourElement(fill_level_range=STORAGE, leakage_rate=LEAK)],
        )
    )
    pic.update(
        FRBCFillLevelTargetProfile(
            message_id=uuid.uuid4(),
            start_time=NOW - timedelta(minutes=1),
            elements=[
                FRBCFillLevelTargetProfileElement(
                    duration=Duration.from_milliseconds(3_600_000),
                    fill_level_range=NumberRange(start_of_range=target[0], end_of_range=target[1]),
                )
            ],
        )
    )
    pic.update(FRBCStorageStatus(message_id=uuid.uuid4(), present_fill_level=fill))
    pic.update(
        FRBCActuatorStatus(  # type: ignore[call-arg]
            message_id=uuid.uuid4(),
            actuator_id=ACTUATOR,
            active_operation_mode_id=active,
            operation_mode_factor=factor,
        )
    )
    return pic


def test_the_flexibility_leaves_out_abnormal_modes() -> None:
    pic = picture(45.0)
    assert pic.power_range_w() == (0.0, 2000.0)  # boost (3 kW) only in an abnormal condition
    assert pic.target_range(NOW_S) == (40.0, 50.0)
    assert pic.target_range(NOW_S + 7200) == (20.0, 70.0)  # past the profile: the storage's range
    assert pic.hold_power_w(NOW_S) == pytest.approx(800.0)


@pytest.mark.parametrize(
    ("setpoint_w", "mode_id", "factor", "power_w"),
    [
        (1300.0, HEATING, 0.5, 1300.0),
        (2500.0, HEATING, 1.0, 2000.0),  # the most it can
        (0.0, OFF, 0.0, 0.0),
        (250.0, OFF, 0.0, 0.0),  # between off and the least heating: the nearer one
        (350.0, HEATING, 0.0, 600.0),
    ],
)
def test_a_setpoint_becomes_the_nearest_mode_and_factor(
    setpoint_w: float, mode_id: uuid.UUID, factor: float, power_w: float
) -> None:
    choice = picture(45.0).choose(setpoint_w, NOW_S)
    assert choice is not None
    assert (choice.mode_id, choice.factor, choice.power_w) == (
        mode_id,
        pytest.approx(factor),
        pytest.approx(power_w),
    )
    assert choice.guard is None and choice.new == (mode_id != OFF)


def test_the_fill_level_guard_holds_the_target_range() -> None:
    # At its upper bound: at most what makes up the leakage (800 W), whatever the agent asks.
    hot = picture(50.0, HEATING, 1.0).choose(2000.0, NOW_S)
    assert hot is not None and hot.power_w == pytest.approx(800.0) and "at or above 50" in (hot.guard or "")
    # At its lower bound: at least 800 W, even asked for nothing (off would cool the tank).
    cold = picture(40.0).choose(0.0, NOW_S)
    assert cold is not None and cold.mode_id == HEATING and cold.power_w == pytest.approx(800.0)
    assert "at or below 40" in (cold.guard or "")


def test_without_a_setpoint_the_cem_keeps_the_storage_with_the_least_power() -> None:
    """About the hold power the site entry counts (800 W here), never a thermostat's full power."""
    # Under its lower bound (40): what holds it and brings it back within RECOVERY_S.
    below = picture(39.0).choose(None, NOW_S)
    back_w = (LEAK + 1.0 / RECOVERY_S) / RATE_PER_W
    assert below is not None and below.mode_id == HEATING and below.guard is None
    assert below.power_w == pytest.approx(back_w) and below.power_w < 2000.0
    at_bound = picture(40.0).choose(None, NOW_S)
    assert at_bound is not None and at_bound.power_w == pytest.approx(LEAK / RATE_PER_W)
    above = picture(51.0, HEATING, 1.0).choose(None, NOW_S)
    assert above is not None and above.mode_id == OFF
    # Inside the range: what it does, down to the holding point when it draws more.
    running = picture(45.0, HEATING, 0.3).choose(None, NOW_S)  # 1020 W
    assert running is not None and running.new and running.power_w == pytest.approx(800.0)
    slow = picture(45.0, HEATING, 0.1).choose(None, NOW_S)  # 740 W: it goes on
    assert slow is not None and not slow.new and slow.factor == pytest.approx(0.1)
    idle = picture(45.0).choose(None, NOW_S)  # off: it stays off until its lower bound
    assert idle is not None and not idle.new and idle.mode_id == OFF


def test_a_running_blocking_timer_keeps_the_mode() -> None:
    pic = picture(45.0, HEATING, 0.5)
    pic.update(
        FRBCTimerStatus(
            message_id=uuid.uuid4(),
            timer_id=MIN_RUN,
            actuator_id=ACTUATOR,
            finished_at=NOW + timedelta(minutes=5),
        )
    )
    held = pic.choose(0.0, NOW_S)
    assert (
        held is not None and held.mode_id == HEATING and held.power_w == 600.0
    )  # its least while it must run
    free = pic.choose(0.0, NOW_S + 600)  # the minimum run time is over
    assert free is not None and free.mode_id == OFF


def test_nothing_is_decided_before_the_rm_described_itself() -> None:
    assert FrbcPicture().choose(1000.0, NOW_S) is None
    assert FrbcPicture().hold_power_w(NOW_S) is None
