"""What settlement stores: a program's terms, and the statements of closed months."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ProgramTermsRecord:
    """A DR program's terms (a program is an event market context), as an operator set them.

    Per home and event: reward = delivered kWh x reward price; penalty = (committed kWh -
    delivered kWh, when above zero) x penalty price. `committed_kw` x the event's hours is the
    commitment; None: the event's own request of the home (kWh). Caps are per home and month."""

    market_context: str
    reward_eur_per_kwh: float
    penalty_eur_per_kwh: float
    baseline_method: str  # x_of_y | meter_before | plan_baseline
    updated_at: datetime
    committed_kw: float | None = None
    reward_cap_eur: float | None = None  # the most a home earns in a month; None: no cap
    penalty_cap_eur: float | None = None  # the most a home is charged in a month; None: no cap


@dataclass(frozen=True, slots=True)
class StatementRecord:
    """A closed month's statement of one home in one program, with everything it was made from
    (`content`: the per-event inputs, the terms, the method versions; aggregator/settlement.py)."""

    month: str  # YYYY-MM
    market_context: str
    site_id: str
    ven_id: str
    computed_at: datetime
    content: dict[str, Any]
