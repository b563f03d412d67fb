"""Several VENs' telemetry in one query (aggregator/telemetry.py `query_vens_telemetry`): the
portfolio's view, whichever protocol each VEN reports over."""

from __future__ import annotations

import pytest
from fakes import FakeUnitOfWork
from test_telemetry import MINUTE, T0, VALUES, VENS, value

from aggregator.errors import InvalidInput, NotFound
from aggregator.telemetry import MAX_VENS_PER_QUERY, query_vens_telemetry


async def test_both_vens_values_by_time_then_ven() -> None:
    uow = FakeUnitOfWork(vens=VENS, report_values=[*VALUES, value("ven-2", "oa3", 1, 4.0)])
    got = await query_vens_telemetry(uow, ["ven-2", "ven-1", "ven-2"], None, None)
    assert [(p.ven_id, p.point.r_id, p.point.value) for p in got] == [
        ("ven-1", "energy", 9.0),
        ("ven-1", "power", 1.5),
        ("ven-2", "power", 7.0),
        ("ven-1", "power", 2.5),
        ("ven-2", "oa3", 4.0),
    ]
    window = await query_vens_telemetry(uow, ["ven-1", "ven-2"], T0 + MINUTE, None)
    assert [(p.ven_id, p.point.value) for p in window] == [("ven-1", 2.5), ("ven-2", 4.0)]


async def test_unknown_vens_and_too_many_or_none_are_refused() -> None:
    uow = FakeUnitOfWork(vens=VENS, report_values=VALUES)
    with pytest.raises(NotFound, match="nobody"):
        await query_vens_telemetry(uow, ["ven-1", "nobody"], None, None)
    for ids in ([], [f"v{i}" for i in range(MAX_VENS_PER_QUERY + 1)]):
        with pytest.raises(InvalidInput, match="ven_ids"):
            await query_vens_telemetry(uow, ids, None, None)
    with pytest.raises(InvalidInput, match="until"):
        await query_vens_telemetry(uow, ["ven-1"], T0 + MINUTE, T0)
