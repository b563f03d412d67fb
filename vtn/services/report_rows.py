"""Report values as rows: what both writers of them share.

The oadrUpdateReport use case (reports.py) and the group-commit writer it hands rows to
(report_writer.py) both need these; they live here so the writer does not import its caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def requested_r_ids(r_ids: Sequence[Any]) -> frozenset[str]:
    """The rIDs a report request asked for (its specifierPayloads), from `ReportRequest.r_ids`."""
    return frozenset(str(entry["r_id"]) for entry in r_ids)


def dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per sample key: a single INSERT may not hit the same key twice (PostgreSQL)."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        seen.setdefault((row["report_request_id"], row["r_id"], row["dtstart"]), row)
    return list(seen.values())
