"""The flexibility offer per 15-minute slot (flexmodel.portfolio.offer) never over-promises: the
whole offered volume of a slot, up or down, activated as a DR request (a floor or a cap on the
portfolio's net import, as aggregator.scenario_builder turns a request's window into one) is
delivered by the re-plan with every home's guarantees kept, and so is that volume over the
duration the offer says it can be held. On real data (../shared/data), slots and directions drawn
by Hypothesis. Where no cap couples the homes, one slot's figure is exactly the most: a request
0.01 kW beyond it is not met (the offer is the most less 1e-4 kW per home, a margin for
the solvers' tolerances)."""

from __future__ import annotations

import copy
import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples
from planner_realdata import make_scenario
from portfolio_checker import check_portfolio_plan

from flexmodel.planner import Method, plan_scenario
from flexmodel.portfolio.flexibility import exact_flexibility
from flexmodel.portfolio.offer import Offer, home_plans, portfolio_offer
from flexmodel.problem import prepare_portfolio, prepare_sites
from flexmodel.scenario import parse_scenario
from flexmodel.solve import SolverOptions

HIGHS = SolverOptions()
EVENING = range(68, 84)
FIXTURE = HealthCheck.function_scoped_fixture  # shared_data: a path that never changes


@functools.cache
def _planned(data: str, capped: bool) -> tuple[dict[str, Any], dict[str, Any], Offer]:
    """A real-data day of 3 homes (smart, solar and boost cars, two batteries, PV), planned,
    with its offer; `capped`: a 9 kW evening cap as a DR request already in the plan."""
    scn = make_scenario(
        Path(data), start=datetime(2025, 1, 15, 0, tzinfo=UTC), fluvius_day="20/12/2023", homes=3
    )
    if capped:
        scn["portfolio"] = {"net_import_cap_kw": [9.0 if t in EVENING else None for t in range(96)]}
    scenario = parse_scenario(scn)
    planned = plan_scenario(scenario, HIGHS)
    plan = planned.plan.model_dump(mode="json", exclude_none=True)
    problems = prepare_sites(scenario)
    offer = portfolio_offer(problems, home_plans(planned.plan, problems), prepare_portfolio(scenario), HIGHS)
    return scn, plan, offer


def _activated(scn: dict[str, Any], slots: range, level_kw: list[float], sign: float) -> dict[str, Any]:
    """The scenario with a DR request over `slots`: a cap (sign -1) or floor (+1) at level_kw."""
    out = copy.deepcopy(scn)
    port = out.setdefault("portfolio", {})
    key = "net_import_floor_kw" if sign > 0 else "net_import_cap_kw"
    values = port.get(key) or [None] * out["horizon_slots"]
    for t, level in zip(slots, level_kw, strict=True):
        values[t] = level if values[t] is None else (max if sign > 0 else min)(values[t], level)
    port[key] = values
    return out


def _replan(scn: dict[str, Any]) -> dict[str, Any]:
    return plan_scenario(parse_scenario(scn), HIGHS, method=Method.JOINT).plan.model_dump(
        mode="json", exclude_none=True
    )


def _smart_shortfall(plan: dict[str, Any], scn: dict[str, Any]) -> dict[str, float]:
    smart = {
        (s["site_id"], ev["ev_id"])
        for s in scn["sites"]
        for ev in s.get("evs") or []
        if ev["mode"] == "smart"
    }
    return {
        f"{site['site_id']}/{v['ev_id']}": v["kwh"]
        for site in plan["sites"]
        for v in site["violations"]
        if v["kind"] == "ev_shortfall" and (site["site_id"], v["ev_id"]) in smart
    }


def _assert_delivered(
    scn: dict[str, Any], plan: dict[str, Any], activated: dict[str, Any], what: str
) -> None:
    replan = _replan(activated)
    # every site's rules (battery reserve, limits, EV windows) and the portfolio's requests
    assert check_portfolio_plan(activated, replan) == {}, f"{what}: not delivered"
    before, after = _smart_shortfall(plan, scn), _smart_shortfall(replan, activated)
    for ev, kwh in after.items():
        assert kwh <= before.get(ev, 0.0) + 1e-6, f"{what}: {ev} short by {kwh} kWh (plan: {before.get(ev)})"


def _slots_with(offer: Offer, sign: float) -> list[int]:
    volume = offer.up_kw if sign > 0 else offer.down_kw
    return [int(t) for t in np.flatnonzero(volume > 0.05)]


@pytest.mark.parametrize("capped", [False, True], ids=["free", "evening-cap"])
@settings(max_examples=examples(6), deadline=None, suppress_health_check=[FIXTURE])
@given(data=st.data())
def test_a_slots_whole_offer_activated_as_a_dr_request_is_delivered(
    shared_data: Path, capped: bool, data: st.DataObject
) -> None:
    scn, plan, offer = _planned(str(shared_data), capped)
    sign = data.draw(st.sampled_from([1.0, -1.0]), label="direction")
    t = data.draw(st.sampled_from(_slots_with(offer, sign)), label="slot")
    volume = float(offer.up_kw[t] if sign > 0 else offer.down_kw[t])
    what = f"slot {t} {'up' if sign > 0 else 'down'} {volume:.3f} kW"
    level = float(offer.planned_kw[t] + sign * volume)
    _assert_delivered(scn, plan, _activated(scn, range(t, t + 1), [level], sign), what)
    if not capped:
        # No cap couples the homes: the sum of their own maxima is the portfolio's most.
        beyond = _activated(scn, range(t, t + 1), [level + sign * 0.01], sign)
        missed = check_portfolio_plan(beyond, _replan(beyond))
        kind = "net_import_floor" if sign > 0 else "net_import_cap"
        assert missed.get(kind, 0.0) > 1e-6, f"{what}: 0.01 kW more was met"


@settings(max_examples=examples(6), deadline=None, suppress_health_check=[FIXTURE])
@given(data=st.data())
def test_the_offer_held_for_its_duration_is_delivered(shared_data: Path, data: st.DataObject) -> None:
    scn, plan, offer = _planned(str(shared_data), False)
    sign = data.draw(st.sampled_from([1.0, -1.0]), label="direction")
    held = offer.up_slots if sign > 0 else offer.down_slots
    longer = [t for t in _slots_with(offer, sign) if held[t] >= 2]
    t = data.draw(st.sampled_from(longer), label="slot")
    volume = float(offer.up_kw[t] if sign > 0 else offer.down_kw[t])
    slots = range(t, t + int(held[t]))
    # One request per slot: the plan of that slot plus (or minus) the first slot's volume.
    levels = [float(offer.planned_kw[s] + sign * volume) for s in slots]
    what = f"slots {slots.start}-{slots.stop - 1} {'up' if sign > 0 else 'down'} {volume:.3f} kW"
    _assert_delivered(scn, plan, _activated(scn, slots, levels, sign), what)


def test_never_above_the_exact_joint_figure_and_the_same_where_nothing_couples(shared_data: Path) -> None:
    """The exact figure (one joint optimisation per slot, flexmodel.portfolio.flexibility) bounds
    the offer; outside the capped evening the homes are independent and the two agree."""
    scn, _, offer = _planned(str(shared_data), True)
    scenario = parse_scenario(scn)
    problems, portfolio = prepare_sites(scenario), prepare_portfolio(scenario)
    planned = plan_scenario(scenario, HIGHS)
    slots = [2, 30, 50, 70, 76, 90]
    exact = exact_flexibility(
        problems, portfolio, list(planned.site_plans), HIGHS, slots_per_hour=1, hours=slots
    )
    for t in slots:
        assert offer.down_kw[t] <= exact.reduce_kw[t] + 1e-5, t
        assert offer.up_kw[t] <= exact.add_kw[t] + 1e-5, t
        if t not in EVENING:
            # the same, less OFFER_MARGIN_KW per home
            assert offer.down_kw[t] == pytest.approx(exact.reduce_kw[t], abs=1e-3), t
    assert all(offer.up_kw[t] == 0.0 for t in EVENING), "no rise under the cap (the guard)"
