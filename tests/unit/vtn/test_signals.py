"""The 2.0b signal table (issue 16): every event the use cases accept carries a pair from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.event_rules import EventSpec, IntervalSpec, validate_spec
from aggregator.signals import SIGNAL_NAMES, SIGNAL_TYPES, SIGNAL_TYPES_BY_NAME
from vtn.api.schemas import SignalName, SignalType
from vtn.errors import InvalidInput

T0 = datetime(2030, 1, 1, tzinfo=UTC)
PAIRS = [(name, kind) for name in sorted(SIGNAL_NAMES) for kind in sorted(SIGNAL_TYPES)]


def _spec(signal_name: str, signal_type: str) -> EventSpec:
    return EventSpec(["ven-a"], signal_name, signal_type, (IntervalSpec(T0, 600, 1.0),))


def test_the_rest_schema_offers_the_names_and_types_of_the_table() -> None:
    assert {n.value for n in SignalName} == SIGNAL_NAMES
    assert {t.value for t in SignalType} == SIGNAL_TYPES


def test_the_table_is_the_2_0b_one() -> None:
    assert SIGNAL_TYPES_BY_NAME["SIMPLE"] == {"level"}
    assert SIGNAL_TYPES_BY_NAME["ELECTRICITY_PRICE"] == {"price", "priceRelative", "priceMultiplier"}
    assert SIGNAL_TYPES_BY_NAME["LOAD_DISPATCH"] == {"setpoint", "delta", "multiplier", "level"}
    assert sum(len(types) for types in SIGNAL_TYPES_BY_NAME.values()) == 25


@pytest.mark.parametrize(("signal_name", "signal_type"), PAIRS)
def test_validate_spec_accepts_exactly_the_pairs_of_the_table(signal_name: str, signal_type: str) -> None:
    spec = _spec(signal_name, signal_type)
    if signal_type in SIGNAL_TYPES_BY_NAME[signal_name]:
        assert validate_spec(spec, T0 - timedelta(hours=1)).signal_type == signal_type
        return
    with pytest.raises(InvalidInput) as err:
        validate_spec(spec, T0 - timedelta(hours=1))
    assert err.value.field == "signal_type"
    assert f"signalName {signal_name} with signalType {signal_type}" in err.value.reason


@pytest.mark.parametrize("signal_type", sorted(SIGNAL_TYPES))
def test_an_extension_name_takes_any_type(signal_type: str) -> None:
    assert validate_spec(_spec("x-flexvpp-target", signal_type), T0 - timedelta(hours=1))
