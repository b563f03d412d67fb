"""Did the demo do its job? The decision behind `flexvpp demo`'s exit status.

The summary alone cannot tell: the agents plan their homes locally, so a demo whose central
planning never ran still moves cars, draws plots and prints a table (issue 10: every run failed
on a missing dependency, the summary said "0 planned", the exit status was 0). The demo fails
when no planning run produced a plan, or when the VTN logged an error during the run: a run that
raises is never recorded, and other errors (dispatch, reports) do not show in the table at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# The first line of a log record as flexvpp.cli's logging.basicConfig writes it:
# "2026-01-31 11:00:00,123 ERROR vtn.portfolio.loop: planning run failed; trying again".
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) (?P<text>.*)$")
ERROR_LEVELS = ("ERROR", "CRITICAL")
FIRST_ERROR_CHARS = 300  # enough for the message and the exception, short enough for one line


def logged_errors(log_text: str) -> list[str]:
    """Each ERROR or CRITICAL record of a log as one line: its message, and the exception when a
    traceback follows (the traceback's last line, e.g. "ModuleNotFoundError: No module named 'scipy'")."""
    errors: list[str] = []
    record: list[str] | None = None  # the error record being read, None outside one
    for line in log_text.splitlines():
        start = RECORD_START.match(line)
        if start is not None:
            if record is not None:
                errors.append(_one_line(record))
            record = [start["text"]] if start["level"] in ERROR_LEVELS else None
        elif record is not None and line.strip():
            record.append(line.rstrip())
    if record is not None:
        errors.append(_one_line(record))
    return errors


def _one_line(record: list[str]) -> str:
    """The message, and the exception: the first unindented line after the last "Traceback"
    (frames are indented; a pydantic error's details follow on lines of their own)."""
    starts = [i for i, line in enumerate(record) if line.startswith("Traceback (most recent call last)")]
    if starts:
        exception = next((line for line in record[starts[-1] + 1 :] if not line[0].isspace()), None)
        if exception is not None:
            return f"{record[0]} ({exception})"
    return record[0]


def failure(runs: Sequence[Mapping[str, Any]], vtn_errors: Sequence[str]) -> str | None:
    """Why the demo failed, in one line; None when a planning run planned and the VTN logged no
    error. `runs` are the recorded planning runs, oldest first. A run with status "error" (nothing
    to plan yet, before the homes have reported) is normal at start-up; a demo where every run is
    one is not."""
    reasons = []
    planned = sum(1 for run in runs if run.get("status") != "error")
    if planned == 0:
        last = f"; the last said: {runs[-1].get('message')}" if runs else ""
        reasons.append(f"no planning run succeeded ({len(runs)} recorded, none planned{last})")
    if vtn_errors:
        first = vtn_errors[0][:FIRST_ERROR_CHARS]
        reasons.append(f"the VTN logged {len(vtn_errors)} error(s), the first: {first}")
    return "; ".join(reasons) or None
