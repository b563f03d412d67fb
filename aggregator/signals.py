"""The OpenADR 2.0b signal table: the signalTypes each signalName may carry.

As the 2.0b specification tables them (openleadr's enums list the names and types, not the pairs).
A VEN reads the value by the pair: SIMPLE with `price` has no meaning to it. Extension names
(`x-...`) are the VTN's and its VENs' agreement, so they may carry any type. The REST schema
(vtn/api/schemas.py) and every event the use cases create or modify (event_rules.validate_spec)
check pairs against this table.
"""

from __future__ import annotations

_PRICES = frozenset({"price", "priceRelative", "priceMultiplier"})

SIGNAL_TYPES_BY_NAME: dict[str, frozenset[str]] = {
    "SIMPLE": frozenset({"level"}),
    "simple": frozenset({"level"}),  # the 2.0a spelling, still in the 2.0b schema
    "ELECTRICITY_PRICE": _PRICES,
    "ENERGY_PRICE": _PRICES,
    "DEMAND_CHARGE": _PRICES,
    "BID_PRICE": frozenset({"price"}),
    "BID_LOAD": frozenset({"setpoint"}),
    "BID_ENERGY": frozenset({"setpoint"}),
    "CHARGE_STATE": frozenset({"setpoint", "delta", "multiplier"}),
    "LOAD_DISPATCH": frozenset({"setpoint", "delta", "multiplier", "level"}),
    "LOAD_CONTROL": frozenset(
        {
            "x-loadControlCapacity",
            "x-loadControlLevelOffset",
            "x-loadControlPercentOffset",
            "x-loadControlSetpoint",
        }
    ),
}
SIGNAL_NAMES = frozenset(SIGNAL_TYPES_BY_NAME)
SIGNAL_TYPES: frozenset[str] = frozenset().union(*SIGNAL_TYPES_BY_NAME.values())


def pair_problem(signal_name: str, signal_type: str) -> str | None:
    """Why the table refuses this pair (naming it and what the name takes), or None when it is fine."""
    allowed = SIGNAL_TYPES_BY_NAME.get(signal_name)
    if allowed is None or signal_type in allowed:  # an extension name, or an allowed pair
        return None
    return (
        f"signalName {signal_name} with signalType {signal_type} is not in the OpenADR 2.0b signal "
        f"table; {signal_name} takes {', '.join(sorted(allowed))}"
    )
