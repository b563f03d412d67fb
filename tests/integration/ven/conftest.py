"""Fixtures of the VEN integration tests (helpers live in ven_broker.py)."""

from ven_broker import mosquitto  # noqa: F401  (a fixture)
