"""When a PPBC appliance starts (ven/devices/s2_ppbc.py), on s2-python's own message models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from s2python.common import CommodityQuantity, Duration, PowerForecastValue
from s2python.ppbc import (
    PPBCPowerProfileDefinition,
    PPBCPowerProfileStatus,
    PPBCPowerSequence,
    PPBCPowerSequenceContainer,
    PPBCPowerSequenceContainerStatus,
    PPBCPowerSequenceElement,
)

from ven.devices.s2_ppbc import PpbcPicture

START = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
START_S = START.timestamp()


def sequence(minutes: float, power_w: float, abnormal: bool = False) -> PPBCPowerSequence:
    return PPBCPowerSequence(
        id=uuid.uuid4(),
        elements=[
            PPBCPowerSequenceElement(
                duration=Duration.from_milliseconds(int(minutes * 60_000)),
                power_values=[
                    PowerForecastValue(  # type: ignore[call-arg]  # optional fields: defaults mypy misses
                        value_expected=power_w, commodity_quantity=CommodityQuantity.ELECTRIC_POWER_L1
                    )
                ],
            )
        ],
        is_interruptible=False,
        max_pause_before=Duration.from_milliseconds(0),
        abnormal_condition_only=abnormal,
    )


def machine(window_h: float = 8.0) -> PpbcPicture:
    pic = PpbcPicture()
    pic.update(
        PPBCPowerProfileDefinition(
            message_id=uuid.uuid4(),
            id=uuid.uuid4(),
            start_time=START,
            end_time=START + timedelta(hours=window_h),
            power_sequences_containers=[
                # an abnormal-only express programme first: never chosen
                PPBCPowerSequenceContainer(
                    id=uuid.uuid4(), power_sequences=[sequence(30, 2500, True), sequence(30, 2000)]
                ),
                PPBCPowerSequenceContainer(id=uuid.uuid4(), power_sequences=[sequence(60, 300)]),
                PPBCPowerSequenceContainer(id=uuid.uuid4(), power_sequences=[sequence(30, 600)]),
            ],
        )
    )
    return pic


def test_the_profile_in_figures() -> None:
    pic = machine()
    assert pic.duration_s() == 2 * 3600
    assert pic.energy_wh() == pytest.approx(1000 + 300 + 300)
    assert pic.peak_w() == 2000.0
    assert pic.latest_start_s() == START_S + 6 * 3600


def test_it_starts_when_the_window_opens_containers_back_to_back() -> None:
    pic = machine()
    starts, wake = pic.plan(START_S - 600, hold=False)  # before its window: at the window's start
    assert wake is None and [s.at_s - START_S for s in starts] == [0, 1800, 5400]
    assert starts[0].sequence_id == pic.chosen()[0][1].id and not pic.chosen()[0][1].abnormal_condition_only


def test_a_hold_waits_until_the_latest_start_that_meets_the_deadline() -> None:
    pic = machine()
    starts, wake = pic.plan(START_S + 60, hold=True)
    assert starts == [] and wake == START_S + 6 * 3600
    starts, wake = pic.plan(START_S + 6 * 3600, hold=True)  # the deadline outranks the agent
    assert wake is None and starts[0].at_s == START_S + 6 * 3600


def test_what_is_scheduled_is_not_scheduled_again() -> None:
    pic = machine()
    starts, _ = pic.plan(START_S, hold=False)
    pic.sent |= {(s.profile_id, s.container_id) for s in starts}
    assert pic.plan(START_S + 10, hold=False) == ([], None)
    # a new profile (the user started another wash) is planned afresh
    assert pic.profile is not None
    profile_id = pic.profile.id
    status = PPBCPowerProfileStatus(
        message_id=uuid.uuid4(),
        sequence_container_status=[
            PPBCPowerSequenceContainerStatus(  # type: ignore[call-arg]
                power_profile_id=profile_id, sequence_container_id=s.container_id, status="FINISHED"
            )
            for s in starts
        ],
    )
    pic.update(status)
    assert not pic.pending()
    fresh = machine()
    pic.update(fresh.profile)  # type: ignore[arg-type]
    assert pic.pending() and len(pic.plan(START_S, hold=False)[0]) == 3
