"""A counter's readings summarised per time bucket: what the M&V reads instead of every sample."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ValueBucket:
    """The values of one rID whose dtstart falls in one bucket (aligned to the epoch): the first
    and last sample times, the lowest and highest value, how many. For a counter that only rises,
    (first_at, min_value) and (last_at, max_value) are its first and last readings in the bucket."""

    r_id: str
    first_at: datetime
    last_at: datetime
    min_value: float
    max_value: float
    count: int
