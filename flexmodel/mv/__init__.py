"""Measurement and verification of DR events: baselines, delivery and baseline accuracy (pure).

- `baselines.py`: what a home would have drawn without the event, per 15-minute slot, by three
  methods (`x_of_y`, `meter_before`, `plan_baseline`), each result naming its method and version;
- `delivery.py`: delivered kW and kWh per slot against a baseline, in the event's direction;
- `accuracy.py`: how well a method predicts a home's load on days without an event.

Every series is a mapping from a 15-minute slot start (tz-aware UTC) to the mean kW of the meter's
net import over it (consumption positive); a slot absent from the mapping was not measured.
"""

from flexmodel.mv.accuracy import Accuracy, score
from flexmodel.mv.baselines import (
    SLOT,
    Baseline,
    BaselineMethod,
    BaselineUnavailable,
    XOfY,
    meter_before,
    plan_baseline,
    x_of_y,
)
from flexmodel.mv.delivery import Direction, delivered_kw

__all__ = [
    "SLOT",
    "Accuracy",
    "Baseline",
    "BaselineMethod",
    "BaselineUnavailable",
    "Direction",
    "XOfY",
    "delivered_kw",
    "meter_before",
    "plan_baseline",
    "score",
    "x_of_y",
]
