"""The CSV forms (`Accept: text/csv`) of the DR performance and settlement answers: one table
each, a header row, one row per interval, home, event or statement line
(docs/performance-and-settlement.md)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from vtn.api import performance_schemas as ps


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return getattr(value, "value", value)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


def event_performance(p: ps.EventPerformanceOut) -> str:
    """`row` interval (summed), home, or total."""
    header = [
        "row", "event_id", "method", "start", "ven_id", "site_id", "opted_out", "requested_kw",
        "baseline_kw", "measured_kw", "baseline_kwh", "measured_kwh", "delivered_kwh", "participation",
    ]  # fmt: skip
    rows: list[list[Any]] = []
    for i in p.intervals:
        rows.append(["interval", p.event_id, p.method, i.start, None, None, None, i.requested_kw,
                     i.baseline_kw, i.measured_kw, None, None, i.delivered_kwh, None])  # fmt: skip
    for h in p.homes:
        rows.append(["home", p.event_id, p.method, None, h.ven_id, h.site_id, h.opted_out, None,
                     None, None, h.baseline_kwh, h.measured_kwh, h.delivered_kwh, None])  # fmt: skip
    rows.append(["total", p.event_id, p.method, None, None, None, None, None, None, None, None, None,
                 p.delivered_kwh, p.participation])  # fmt: skip
    return table(header, rows)


def program_month(p: ps.ProgramMonthOut) -> str:
    header = ["row", "market_context", "month", "method", "event_id", "start", "targeted", "participating",
              "requested_kwh", "delivered_kwh", "participation", "delivery_ratio"]  # fmt: skip
    rows: list[list[Any]] = [
        ["event", p.market_context, p.month, p.method, e.event_id, e.start, e.targeted, e.participating,
         e.requested_kwh, e.delivered_kwh, None, None]
        for e in p.events
    ]  # fmt: skip
    rows.append(["total", p.market_context, p.month, p.method, None, None, sum(e.targeted for e in p.events),
                 sum(e.participating for e in p.events), p.requested_kwh, p.delivered_kwh, p.participation,
                 p.delivery_ratio])  # fmt: skip
    return table(header, rows)


def accuracy(a: ps.AccuracyOut) -> str:
    header = [
        "site_id",
        "method",
        "relative_error",
        "bias",
        "days",
        "intervals",
        "window_start_local",
        "window_hours",
    ]
    rows = [
        [
            a.site_id,
            m.method,
            m.relative_error,
            m.bias,
            m.days,
            m.intervals,
            a.window_start_local,
            a.window_hours,
        ]
        for m in a.methods
    ]
    return table(header, rows)


def terms(t: ps.TermsOut) -> str:
    fields = list(ps.TermsOut.model_fields)
    return table(fields, [[getattr(t, f) for f in fields]])


def settlement(s: ps.SettlementOut) -> str:
    """`row` event (one line of a statement) or statement (its capped totals)."""
    header = ["row", "month", "closed", "market_context", "site_id", "ven_id", "event_id", "start", "method",
              "method_version", "baseline_kwh", "measured_kwh", "delivered_kwh", "committed_kwh",
              "shortfall_kwh", "reward_eur", "penalty_eur", "total_eur", "note"]  # fmt: skip
    rows: list[list[Any]] = []
    for st in s.statements:
        for ln in st.lines:
            rows.append(["event", st.month, st.closed, st.market_context, st.site_id, st.ven_id, ln.event_id,
                         ln.start, ln.method, ln.method_version, ln.baseline_kwh, ln.measured_kwh,
                         ln.delivered_kwh, ln.committed_kwh, ln.shortfall_kwh, ln.reward_eur, ln.penalty_eur,
                         ln.reward_eur - ln.penalty_eur, ln.note])  # fmt: skip
        rows.append(["statement", st.month, st.closed, st.market_context, st.site_id, st.ven_id, None, None,
                     None, st.version, None, None, sum(ln.delivered_kwh for ln in st.lines), None, None,
                     st.reward_eur, st.penalty_eur, st.total_eur,
                     "capped" if st.reward_capped or st.penalty_capped else None])  # fmt: skip
    return table(header, rows)
