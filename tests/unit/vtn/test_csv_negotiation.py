"""Which Accept headers get a route's CSV form (vtn/api/endpoints.py `wants_csv`): the highest
q among text/csv and JSON (or a wildcard) wins, the earlier on a tie; no Accept header is JSON."""

from __future__ import annotations

import pytest

from vtn.api.endpoints import wants_csv


@pytest.mark.parametrize(
    ("accept", "csv"),
    [
        ("text/csv", True),
        ("TEXT/CSV; charset=utf-8", True),
        ("text/csv, application/json", True),
        ("application/json, text/csv", False),
        ("application/json;q=0.5, text/csv", True),
        ("text/csv;q=0.2, */*", False),
        ("text/csv;q=0", False),
        ("text/csv;q=oops", False),
        ("", False),
        ("*/*", False),
        ("text/html", False),
    ],
)
def test_accept(accept: str, csv: bool) -> None:
    assert wants_csv(accept) is csv
