"""Report values as rows, and what a report is checked against of its stored request.

The oadrUpdateReport use case (aggregator/reports.py) and the group-commit writer it may hand
rows to (the ReportSink port, aggregator/ports.py; vtn/services/report_writer.py) both need
these; they live here so that neither imports the other. A row is a dict with the fields of
records.ReportValueRecord: the repositories insert rows as executemany parameters as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RequestOwner:
    """What a report needs to know of its stored report request."""

    ven_id: str
    report_name: str
    r_ids: frozenset[str]  # the rIDs the request asked for: a payload for another is refused


def requested_r_ids(r_ids: Sequence[Any]) -> frozenset[str]:
    """The rIDs a report request asked for (its specifierPayloads), from `ReportRequestRecord.r_ids`."""
    return frozenset(str(entry["r_id"]) for entry in r_ids)


def dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per sample key: a single INSERT may not hit the same key twice (PostgreSQL)."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        seen.setdefault((row["report_request_id"], row["r_id"], row["dtstart"]), row)
    return list(seen.values())
