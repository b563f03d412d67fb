"""Settlement on the fakes: terms, a month's statements per home, caps, opted-out homes left
out, and a closed month that re-runs to the same figures (tests/unit/aggregator/mv_rig.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from mv_rig import END, PROGRAM, START, make_uow, terms

from aggregator import performance
from aggregator.errors import NotFound
from aggregator.settlement import TermsInput, get_terms, put_terms, settle_month, site_settlement
from flexmodel.mv import BaselineMethod

BRUSSELS = ZoneInfo("Europe/Brussels")
NOVEMBER = date(2026, 11, 1)
OPEN = END + timedelta(hours=2)
CLOSED = datetime(2026, 12, 5, tzinfo=UTC)  # November ended (Brussels) on 30 Nov 23:00 UTC + 3 days


async def test_terms_are_set_and_read() -> None:
    uow = make_uow(with_terms=False)
    with pytest.raises(NotFound):
        await get_terms(uow, PROGRAM)
    given = TermsInput(0.4, 0.1, BaselineMethod.X_OF_Y, committed_kw=0.5, reward_cap_eur=10.0)
    await put_terms(uow, PROGRAM, given, OPEN)
    got = await get_terms(uow, PROGRAM)
    assert (got.reward_eur_per_kwh, got.baseline_method, got.committed_kw, got.reward_cap_eur) == (
        0.4,
        "x_of_y",
        0.5,
        10.0,
    )


async def test_a_month_per_home() -> None:
    got = await settle_month(make_uow(), NOVEMBER, OPEN, BRUSSELS)
    assert not got.closed
    by_site = {s.site_id: s for s in got.statements}
    # C opted out: no statement. By hand, meter_before, 0.5 EUR/kWh reward, 0.2 penalty, the
    # commitment = the event's request (1 kWh): A delivered 1.5 kWh: 0.75 EUR; B 0.5 kWh:
    # 0.25 EUR reward, 0.5 kWh short: 0.10 EUR penalty.
    assert sorted(by_site) == ["site-a", "site-b"]
    a, b = by_site["site-a"], by_site["site-b"]
    (line,) = a.lines
    assert (line.event_id, line.method, line.method_version) == ("dr-1", "meter_before", "meter_before/1")
    assert (line.delivered_kwh, line.committed_kwh, line.shortfall_kwh) == pytest.approx((1.5, 1.0, 0.0))
    assert (a.reward_eur, a.penalty_eur, a.total_eur) == pytest.approx((0.75, 0.0, 0.75))
    assert (b.reward_eur, b.penalty_eur, b.total_eur) == pytest.approx((0.25, 0.1, 0.15))
    (program,) = got.programs
    assert (program.homes, program.events, program.delivered_kwh, program.total_eur) == pytest.approx(
        (2, 1, 2.0, 0.9)
    )
    # The customer of site B sees its own statement only.
    mine = await site_settlement(make_uow(), "site-b", "site-b", NOVEMBER, OPEN, BRUSSELS)
    assert [s.site_id for s in mine.statements] == ["site-b"]
    with pytest.raises(NotFound):
        await site_settlement(make_uow(), "site-a", "site-b", NOVEMBER, OPEN, BRUSSELS)


async def test_caps_and_a_fixed_commitment() -> None:
    uow = make_uow()
    uow.stored.programs[PROGRAM] = terms(committed_kw=2.0, reward_cap_eur=0.6, penalty_cap_eur=0.2)
    got = {s.site_id: s for s in (await settle_month(uow, NOVEMBER, OPEN, BRUSSELS)).statements}
    # committed 2 kW x 1 h: A 0.5 kWh short (0.10 EUR), B 1.5 short (0.30, capped at 0.20);
    # A's reward 0.75 capped at 0.60.
    a, b = got["site-a"], got["site-b"]
    assert (a.reward_eur, a.reward_capped, a.penalty_eur) == pytest.approx((0.6, True, 0.1))
    assert (b.penalty_eur, b.penalty_capped, b.total_eur) == pytest.approx((0.2, True, 0.05))


async def test_a_closed_month_re_runs_to_the_same_figures() -> None:
    uow = make_uow()
    first = await settle_month(uow, NOVEMBER, CLOSED, BRUSSELS)
    assert first.closed and len(uow.stored.statements) == 2
    # After the close: new terms, and B's meter re-sent with a lower reading during the event.
    uow.stored.programs[PROGRAM] = terms(reward_eur_per_kwh=5.0)
    for key, row in list(uow.stored.report_values.items()):
        if row.ven_id == "ven-b" and START <= row.dtstart < END:
            uow.stored.report_values[key] = replace(row, value=row.value * 0.5)
    again = await settle_month(uow, NOVEMBER, CLOSED + timedelta(days=30), BRUSSELS)
    assert again.statements == first.statements
    assert again.programs == first.programs
    # The same changes move an open month's figures (the test above would catch a no-op).
    fresh = await settle_month(uow, NOVEMBER, OPEN, BRUSSELS)
    assert fresh.statements[0].reward_eur == pytest.approx(7.5)


async def test_a_home_without_a_baseline_is_neither_paid_nor_charged() -> None:
    uow = make_uow()
    uow.stored.programs[PROGRAM] = terms(baseline_method="plan_baseline", committed_kw=1.0)
    got = {s.site_id: s for s in (await settle_month(uow, NOVEMBER, OPEN, BRUSSELS)).statements}
    # mv_rig's plans hold site A only: A is settled on its plan (3 kW planned, 0.5 drawn).
    (a_line,) = got["site-a"].lines
    assert (a_line.delivered_kwh, a_line.reward_eur, a_line.note) == (
        pytest.approx(2.5),
        pytest.approx(1.25),
        None,
    )
    (b_line,) = got["site-b"].lines
    assert (b_line.committed_kwh, b_line.reward_eur, b_line.penalty_eur) == (0.0, 0.0, 0.0)
    assert b_line.note is not None and "did not plan site site-b" in b_line.note


async def test_one_sites_open_month_measures_its_own_homes_only(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[str] = []
    real = performance.meter_net_kw

    async def spy(uow: Any, ven_id: str, since: datetime, until: datetime) -> dict[datetime, float]:
        read.append(ven_id)
        return await real(uow, ven_id, since, until)

    monkeypatch.setattr(performance, "meter_net_kw", spy)
    mine = await settle_month(make_uow(), NOVEMBER, OPEN, BRUSSELS, own_site="site-a")
    assert set(read) == {"ven-a"}  # not the fleet's meters
    read.clear()
    fleet = await settle_month(make_uow(), NOVEMBER, OPEN, BRUSSELS)
    assert set(read) == {"ven-a", "ven-b", "ven-c"}
    assert [s.site_id for s in mine.statements] == ["site-a"]
    assert mine.statements[0].lines == fleet.statements[0].lines
