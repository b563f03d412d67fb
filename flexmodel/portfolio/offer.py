"""What the portfolio can offer, per slot: how far its net import can rise (up) or fall (down)
from its plan, and for how long, with every home's own guarantees kept.

For slot t and each home i (its own LP, flexmodel.fast's arrays, on its own HiGHS object):

- `r_i(t)` (up): the largest r such that some plan of the home has net import at least
  `planned_i[t] + r` in slot t; down likewise at most `planned_i[t] - r`;
- `held_i(t)`: the most consecutive slots t, t+1, ... in which one plan of the home holds that
  same deviation `r_i(t)` in every slot at once (1 for the slot alone; the horizon's end bounds it).

The portfolio's offer for slot t is `Σ_i r_i(t)` (homes with less than MIN_HOME_KW left out),
held for `min_i held_i(t)` over the homes that contribute: every home can keep its own share
that long, so the pool can. Each home's plan meanwhile keeps what its plan guaranteed:

- its physical limits: battery SoC within [min_soc, capacity] at every slot boundary and at least
  its final SoC target at the end, charger and battery power limits, PV at most its forecast
  (curtailed only where the entry says it may be);
- import and export limits overrun no more than in the plan (normally not at all);
- smart-EV shortfall no worse than in the plan (every target the plan meets by departure is
  still met; solar-EV energy is best effort and may go);
- no charging and discharging of the battery in one slot: a slot's most is asked again with
  binaries where the LP's answer would; a held duration only such an answer keeps is not counted.

Not kept: the home's cost, its capacity-tariff peak included (a DR request is planned with cost
as the last priority, and the offer promises what such a re-plan delivers). The base load is a
forecast nobody steers (the model has no thermal devices, so there is no
comfort band to trade). Caps and floors of the portfolio: in a slot under a cap a home's net
import may not rise above its own plan, under a floor not fall below it, so an activation never
makes the portfolio's existing DR requests worse (hence no up under a cap, no down under a
floor). Without caps and floors the homes share no constraint, so for one slot the sum is exactly
the portfolio's most (the joint optimum separates); the held duration is the pool's at that
volume when every home holds its own share (a joint plan could shift shares between homes from
slot to slot and hold a little longer: the figure is on the safe side).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from flexmodel.fast.arrays import constraint_matrix, site_vectors
from flexmodel.fast.layout import layout_of
from flexmodel.fast.milp import _exclusive_pairs
from flexmodel.fast.solver import new_highs
from flexmodel.problem import FloatArray, PortfolioProblem, SiteProblem
from flexmodel.scenario import EvMode, Plan
from flexmodel.site_plan import BOTH_KW
from flexmodel.solve import SolverOptions

IntArray = npt.NDArray[np.int64]

MIN_HOME_KW = 1e-3  # a home's deviation below this is solver noise, not an offer
LEVEL_SLACK_KWH = 1e-7  # how far a kept level may move (HiGHS's feasibility tolerance)
# Taken off each home's figure: a re-plan's own tolerances (its lexicographic levels are fixed
# within 1e-6 relative) must not turn the last microwatts of an offer into a missed request.
OFFER_MARGIN_KW = 1e-4
HOLD_TOL_KW = 1e-7  # an answer's deviation this close to r counts as r (HiGHS's feasibility tolerance)
# A tiny cost on battery throughput: among the answers with the same deviation HiGHS then picks
# one that does not charge and discharge at once where it need not (so binaries are rarely needed).
# A kW of deviation is worth 1e6 of it, so it never changes the maximum.
THROUGHPUT_COST = 1e-6
MAX_BINARY_ROUNDS = 10
DUAL, PRIMAL = 1, 4  # HiGHS's simplex_strategy values


@dataclass(frozen=True, slots=True)
class HomePlan:
    """What a home's plan promised: its net import per slot and the levels it must keep."""

    net_kw: FloatArray
    overrun_kwh: float  # import and export limits overrun in the plan
    smart_shortfall_kwh: float  # smart-EV energy short of the targets in the plan


@dataclass(frozen=True, slots=True)
class Offer:
    """Per slot of the plan: the portfolio's planned net import, the offered deviations [kW] and
    how many slots from that one each can be held (0 when nothing is offered)."""

    planned_kw: FloatArray
    up_kw: FloatArray
    up_slots: IntArray
    down_kw: FloatArray
    down_slots: IntArray


class _HomeLp:
    """One home's LP with a row per slot for its net import, kept warm from question to question
    (only the objective or a few row bounds change); a question whose answer charges and
    discharges the battery in one slot is asked again of a MILP with binaries there."""

    def __init__(
        self, p: SiteProblem, plan: HomePlan, portfolio: PortfolioProblem, options: SolverOptions
    ) -> None:
        self.p, self.plan, self.options = p, plan, options
        self.layout = layout = layout_of(p)
        n = self.n = p.n_slots
        v = site_vectors(layout, p)
        self.col_lower, self.col_upper = v.col_lower.copy(), v.col_upper.copy()
        self.row_lower, self.row_upper = v.row_lower.copy(), v.row_upper.copy()
        self.row_upper[layout.r_level_overrun] = plan.overrun_kwh + LEVEL_SLACK_KWH
        self.row_lower[layout.r_level_smart] = v.smart_need_kwh - plan.smart_shortfall_kwh - LEVEL_SLACK_KWH
        # The guard of the portfolio's caps and floors (module docstring).
        self.guard_lower = np.where(np.isfinite(portfolio.net_import_floor_kw), plan.net_kw, -np.inf)
        self.guard_upper = np.where(np.isfinite(portfolio.net_import_cap_kw), plan.net_kw, np.inf)
        self.net_lower, self.net_upper = self.guard_lower.copy(), self.guard_upper.copy()
        t = np.arange(n)
        net_rows = sp.csc_matrix(
            (
                np.concatenate([np.ones(n), -np.ones(n)]),
                (np.concatenate([t, t]), np.concatenate([layout.g + t, layout.e + t])),
            ),
            shape=(n, layout.n_cols),
        )
        self.matrix = sp.csc_matrix(sp.vstack([constraint_matrix(layout, p), net_rows]))
        self.first_net = layout.n_rows
        self.binaries = np.zeros(n, dtype=bool)  # battery slots that needed them so far
        self.cost = np.zeros(layout.n_cols)
        self.lp = self._build(np.zeros(n, dtype=bool))
        self.lp_cols = np.arange(layout.n_cols, dtype=np.int32)

    def _build(self, binary_slots: npt.NDArray[np.bool_]) -> highspy.Highs:
        """The LP as it stands (costs, net bounds), plus charge-or-discharge binaries on
        `binary_slots` (then a MILP)."""
        layout, p, n = self.layout, self.p, self.n
        entries: list[tuple[int, int, float]] = []
        upper: list[float] = []
        if p.battery is not None and binary_slots.any():
            entries, upper = _exclusive_pairs(
                binary_slots,
                (layout.c, layout.d),
                (p.battery.max_charge_kw, p.battery.max_discharge_kw),
                self.first_net + n,
                layout.n_cols,
            )
        n_bin = len(upper) // 2
        n_cols, n_rows = layout.n_cols + n_bin, self.first_net + n + len(upper)
        matrix = sp.block_diag([self.matrix, sp.csc_matrix((len(upper), n_bin))])
        if entries:
            rows, cols, vals = zip(*entries, strict=True)
            matrix = matrix + sp.coo_matrix((vals, (rows, cols)), shape=(n_rows, n_cols))
        matrix = sp.csc_matrix(matrix)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n_cols, n_rows
        lp.col_cost_ = np.concatenate([self.cost, np.zeros(n_bin)])
        lp.col_lower_ = np.concatenate([self.col_lower, np.zeros(n_bin)])
        lp.col_upper_ = np.concatenate([self.col_upper, np.ones(n_bin)])
        lp.row_lower_ = np.concatenate([self.row_lower, self.net_lower, np.full(len(upper), -np.inf)])
        lp.row_upper_ = np.concatenate([self.row_upper, self.net_upper, np.asarray(upper, dtype=np.float64)])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        if n_bin:
            continuous, integer = highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger
            lp.integrality_ = [continuous] * layout.n_cols + [integer] * n_bin
        highs = new_highs(self.options, mip=n_bin > 0)
        highs.passModel(lp)
        return highs

    def _solve(self, highs: highspy.Highs) -> FloatArray | None:
        highs.run()
        if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.asarray(highs.getSolution().col_value, dtype=np.float64)[: self.layout.n_cols]

    def _both(self, x: FloatArray) -> npt.NDArray[np.bool_]:
        lay = self.layout
        return np.minimum(x[lay.c : lay.c + self.n], x[lay.d : lay.d + self.n]) > BOTH_KW

    def _run(self, primal: bool, binaries: bool = True) -> FloatArray | None:
        """Solve the question as it stands; the column values, or None when no plan answers it.

        `primal`: only the objective changed since the last solve, so the last answer is still
        feasible and the primal simplex goes on from it (a tenth of the dual's iterations,
        measured); after a change of bounds the dual simplex does. `binaries` False: an answer
        that charges and discharges at once counts as none (on the safe side, without a MILP)."""
        self.lp.setOptionValue("simplex_strategy", PRIMAL if primal else DUAL)
        x = self._solve(self.lp)
        if x is None or self.p.battery is None:
            return x
        both = self._both(x)
        if both.any() and not binaries:
            return None
        rounds = 0
        while both.any() and rounds < MAX_BINARY_ROUNDS:
            # Charging and discharging at once burns energy no battery can burn: forbid it there
            # (and where it was needed before), as the planner does, and ask again.
            self.binaries |= both
            x = self._solve(self._build(self.binaries))
            if x is None:
                return None
            both, rounds = self._both(x) & ~self.binaries, rounds + 1
        return None if both.any() else x

    # ---- the questions ------------------------------------------------------------------------
    def _set_net_bounds(self, slots: range) -> None:
        rows = np.arange(self.first_net + slots.start, self.first_net + slots.stop, dtype=np.int32)
        lower, upper = self.net_lower[slots.start : slots.stop], self.net_upper[slots.start : slots.stop]
        self.lp.changeRowsBounds(len(rows), rows, lower, upper)  # type: ignore[attr-defined]

    def _set_cost(self, cost: FloatArray) -> None:
        self.cost = cost
        self.lp.changeColsCost(len(cost), self.lp_cols, cost)

    def _throughput_cost(self) -> FloatArray:
        cost = np.zeros(self.layout.n_cols)
        if self.p.battery is not None:
            lay = self.layout
            cost[lay.c : lay.c + self.n] = THROUGHPUT_COST
            cost[lay.d : lay.d + self.n] = THROUGHPUT_COST
        return cost

    def _run_length(self, x: FloatArray, t: int, sign: float, r: float) -> int:
        """How many slots from t the answer x keeps the deviation r in (0 if not even t)."""
        lay = self.layout
        net = x[lay.g + t : lay.g + self.n] - x[lay.e + t : lay.e + self.n]
        short = sign * (net - self.plan.net_kw[t:]) < r - HOLD_TOL_KW
        return int(np.argmax(short)) if short.any() else self.n - t

    def most(self, t: int, sign: float) -> tuple[float, int]:
        """r_i(t) of the module docstring less OFFER_MARGIN_KW, and for how many slots from t its
        answer happens to keep that (a lower bound of held_i(t), for free)."""
        cost = self._throughput_cost()
        cost[self.layout.g + t] -= sign
        cost[self.layout.e + t] += sign
        self._set_cost(cost)
        x = self._run(primal=True)
        if x is None:  # the plan itself is a solution: only numerical trouble gets here
            return 0.0, 0
        net = x[self.layout.g + t] - x[self.layout.e + t]
        r = max(0.0, sign * (net - self.plan.net_kw[t]) - OFFER_MARGIN_KW)
        return r, self._run_length(x, t, sign, r)

    def holds(self, t: int, k: int, sign: float, r: float) -> int:
        """Can one plan keep the deviation r in each of the slots t .. t+k-1 (guard kept)? 0 if
        not; else how many slots from t that plan keeps it (k or more)."""
        slots = range(t, t + k)
        planned = self.plan.net_kw[t : t + k]
        if sign > 0:
            self.net_lower[t : t + k] = np.maximum(self.guard_lower[t : t + k], planned + r)
        else:
            self.net_upper[t : t + k] = np.minimum(self.guard_upper[t : t + k], planned - r)
        self._set_net_bounds(slots)
        self._set_cost(self._throughput_cost())
        try:
            # A hold that only an answer burning energy in the battery keeps counts as not held:
            # such answers are rare with the throughput cost (the LP burns only where it must),
            # and a MILP per check cost 30 ms, most of a battery home's time (measured).
            x = self._run(primal=False, binaries=False)
            return 0 if x is None else max(k, self._run_length(x, t, sign, r))
        finally:
            self.net_lower[t : t + k] = self.guard_lower[t : t + k]
            self.net_upper[t : t + k] = self.guard_upper[t : t + k]
            self._set_net_bounds(slots)

    def held(self, t: int, sign: float, r: float, known: int = 1) -> int:
        """held_i(t), knowing that it holds `known` slots: one more is tried first (most often
        that is the answer), then doubling and bisection (holding k slots implies holding fewer).
        A plan that holds k slots may show that it holds more: that is taken too."""
        good, bad = max(1, known), self.n - t + 1  # the horizon ends at bad
        step = 1
        while good + step < bad:
            found = self.holds(t, good + step, sign, r)
            if not found:
                bad = good + step
                break
            good, step = min(found, bad - 1), step * 2
        while bad - good > 1:
            mid = (good + bad) // 2
            found = self.holds(t, mid, sign, r)
            if found:
                good = min(found, bad - 1)
            else:
                bad = mid
        return good


def _movable(p: SiteProblem) -> npt.NDArray[np.bool_]:
    """The slots where the home's net import can move at all: base load and boost charging are
    fixed, so only where a battery is, a smart or solar car may charge, or PV may be curtailed.
    Elsewhere nothing is offered and no LP is asked."""
    if p.battery is not None:
        return np.ones(p.n_slots, dtype=bool)
    movable = np.zeros(p.n_slots, dtype=bool)
    for ev in p.optimised_evs:
        movable |= ev.charge_mask
    if p.pv_curtailable:
        movable |= p.pv_kw > 0
    return movable


def home_offer(
    p: SiteProblem,
    plan: HomePlan,
    portfolio: PortfolioProblem,
    options: SolverOptions,
    slots: Sequence[int] | None = None,
) -> tuple[FloatArray, IntArray, FloatArray, IntArray]:
    """One home's (up_kw, up_slots, down_kw, down_slots) per slot (module docstring); `slots`
    limits the slots asked (the others stay 0)."""
    n = p.n_slots
    up, up_held = np.zeros(n), np.zeros(n, dtype=np.int64)
    down, down_held = np.zeros(n), np.zeros(n, dtype=np.int64)
    movable = _movable(p)
    asked = [t for t in (range(n) if slots is None else sorted(slots)) if movable[t]]
    if not asked:
        return up, up_held, down, down_held
    lp = _HomeLp(p, plan, portfolio, options)
    for sign, volume, held in ((1.0, up, up_held), (-1.0, down, down_held)):
        for t in asked:
            r, seen = lp.most(t, sign)
            if r < MIN_HOME_KW:
                continue
            volume[t] = r
            # Holding r from t-1 for k slots with r <= r(t-1) holds it from t for k-1 slots.
            if t > 0 and held[t - 1] > 1 and r <= volume[t - 1]:
                seen = max(seen, int(held[t - 1]) - 1)
            held[t] = lp.held(t, sign, r, seen)
    return up, up_held, down, down_held


def portfolio_offer(
    problems: Sequence[SiteProblem],
    plans: Sequence[HomePlan],
    portfolio: PortfolioProblem,
    options: SolverOptions,
    slots: Sequence[int] | None = None,
) -> Offer:
    """The portfolio's offer per slot: the homes' own figures summed, each held as long as every
    contributing home holds its share (module docstring)."""
    n = portfolio.n_slots
    planned = sum((plan.net_kw for plan in plans), np.zeros(n))
    up, down = np.zeros(n), np.zeros(n)
    big = np.iinfo(np.int64).max
    up_held, down_held = np.full(n, big), np.full(n, big)
    for p, plan in zip(problems, plans, strict=True):
        h_up, h_up_held, h_down, h_down_held = home_offer(p, plan, portfolio, options, slots)
        up += h_up
        down += h_down
        up_held = np.where(h_up > 0, np.minimum(up_held, h_up_held), up_held)
        down_held = np.where(h_down > 0, np.minimum(down_held, h_down_held), down_held)
    up_held = np.where(up > 0, up_held, 0)
    down_held = np.where(down > 0, down_held, 0)
    return Offer(planned_kw=planned, up_kw=up, up_slots=up_held, down_kw=down, down_slots=down_held)


def home_plans(plan: Plan, problems: Sequence[SiteProblem]) -> list[HomePlan]:
    """What each home's part of a plan promised, read from the plan document (sites in order)."""
    out = []
    for site, p in zip(plan.sites, problems, strict=True):
        smart = {ev.ev_id for ev in p.evs if ev.mode is EvMode.SMART}
        overrun = sum(v.kwh for v in site.violations if v.kind in ("import_limit", "export_limit"))
        short = sum(v.kwh for v in site.violations if v.kind == "ev_shortfall" and v.ev_id in smart)
        out.append(
            HomePlan(
                net_kw=np.asarray(site.grid_import_kw) - np.asarray(site.grid_export_kw),
                overrun_kwh=overrun,
                smart_shortfall_kwh=short,
            )
        )
    return out
