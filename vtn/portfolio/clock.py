"""The VTN's clock: real time, or a simulated one running `speed` times faster (demos, tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from vtn.settings import VtnSettings


def vtn_clock(settings: VtnSettings) -> Callable[[], datetime] | None:
    """None for real time; otherwise origin + (now - anchor) * speed."""
    if settings.clock_speed == 1.0 and settings.clock_origin is None:
        return None
    now = datetime.now(UTC)
    origin = settings.clock_origin or now
    anchor = settings.clock_anchor or now
    speed = settings.clock_speed

    def clock() -> datetime:
        return origin + (datetime.now(UTC) - anchor) * speed

    return clock
