"""Delivered flexibility against a baseline, slot by slot, in the event's direction."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from flexmodel.mv.baselines import SLOT


class Direction(StrEnum):
    REDUCTION = "reduction"  # the event asks for less net import
    INCREASE = "increase"  # the event asks for more (e.g. to soak up surplus PV)


def delivered_kw(baseline_kw: float, measured_kw: float | None, direction: Direction) -> float | None:
    """Baseline minus measured for a reduction, measured minus baseline for an increase; None
    when the slot was not measured. Negative: the home moved the wrong way."""
    if measured_kw is None:
        return None
    change = baseline_kw - measured_kw
    return change if direction is Direction.REDUCTION else -change


def kwh(kw: float, slot: timedelta = SLOT) -> float:
    """A slot's mean power [kW] as its energy [kWh]."""
    return kw * (slot / timedelta(hours=1))
