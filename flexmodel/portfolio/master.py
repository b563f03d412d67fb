"""The Dantzig-Wolfe restricted master LP, held in one highspy object that only grows.

Rows: one per slot with a cap (Σ net - over <= cap), one per slot with a floor (Σ net + under >=
floor), one convexity row per home (Σ_k w_ik = 1). Columns: the violation slacks (cost M·Δ per
kW) and one weight w_ik per home plan k (cost: the plan's real cost; entries: its net import in
the coupled slots, and 1 in its home's convexity row). Adding columns keeps the basis, so each
re-solve starts where the last one ended.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
from numpy.typing import NDArray

from flexmodel.errors import SolveFailed
from flexmodel.problem import FloatArray, PortfolioProblem

IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class MasterSolution:
    value_eur: float
    weights: FloatArray  # one per column, in the order added
    multipliers_kw: FloatArray  # π_t per slot [EUR/kW]: what a kW of net import costs the master
    convexity_dual_eur: FloatArray  # one per home
    coupling_value_eur: float  # Σ_rows dual·rhs of the coupling rows (the bound's constant)
    coupling_dual: FloatArray  # the coupling rows' duals (<= 0 on caps, >= 0 on floors)
    violation_kwh: float


class MasterLp:
    def __init__(self, portfolio: PortfolioProblem, homes: int, penalty_eur_per_kwh: float) -> None:
        self.n = portfolio.n_slots
        self.homes = homes
        self.capped = np.flatnonzero(np.isfinite(portfolio.net_import_cap_kw))
        self.floored = np.flatnonzero(np.isfinite(portfolio.net_import_floor_kw))
        self.n_coupling = len(self.capped) + len(self.floored)
        self.dt_h = portfolio.dt_h
        self.rhs = np.concatenate(
            [portfolio.net_import_cap_kw[self.capped], portfolio.net_import_floor_kw[self.floored]]
        )
        h = highspy.Highs()  # type: ignore[no-untyped-call]
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        inf = highspy.kHighsInf
        lower = np.concatenate(
            [np.full(len(self.capped), -inf), self.rhs[len(self.capped) :], np.ones(homes)]
        )
        upper = np.concatenate(
            [self.rhs[: len(self.capped)], np.full(len(self.floored), inf), np.ones(homes)]
        )
        h.addRows(len(lower), lower, upper, 0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
        # Violation slacks: -1 in a cap row, +1 in a floor row.
        m = self.n_coupling
        signs = np.concatenate([-np.ones(len(self.capped)), np.ones(len(self.floored))])
        h.addCols(
            m,
            np.full(m, penalty_eur_per_kwh * self.dt_h),
            np.zeros(m),
            np.full(m, inf),
            m,
            np.arange(m, dtype=np.int32),
            np.arange(m, dtype=np.int32),
            signs,
        )
        self.highs = h
        self.n_slack = m
        self.column_home: list[int] = []

    def coupled(self, net_kw: FloatArray) -> FloatArray:
        """A plan's entries in the coupling rows (its net import in the capped, floored slots)."""
        return np.concatenate([net_kw[..., self.capped], net_kw[..., self.floored]], axis=-1)

    def add_columns(self, homes: IntArray, net_kw: FloatArray, cost_eur: FloatArray) -> None:
        """One column per (home, plan): net_kw has shape (len(homes), n_slots)."""
        k = len(homes)
        if k == 0:
            return
        m = self.n_coupling
        entries = self.coupled(net_kw)  # (k, m)
        index = np.empty((k, m + 1), dtype=np.int32)
        index[:, :m] = np.arange(m, dtype=np.int32)
        index[:, m] = m + homes
        value = np.empty((k, m + 1))
        value[:, :m] = entries
        value[:, m] = 1.0
        starts = np.arange(k, dtype=np.int32) * (m + 1)
        self.highs.addCols(
            k,
            cost_eur,
            np.zeros(k),
            np.full(k, highspy.kHighsInf),
            k * (m + 1),
            starts,
            index.ravel(),
            value.ravel(),
        )
        self.column_home.extend(int(i) for i in homes)

    def multipliers(self, coupling_dual: FloatArray) -> FloatArray:
        """π_t per slot [EUR/kW] from the coupling rows' duals."""
        pi = np.zeros(self.n)
        np.add.at(pi, np.concatenate([self.capped, self.floored]), -coupling_dual)
        return pi

    def solve(self) -> MasterSolution:
        h = self.highs
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise SolveFailed("portfolio master", h.modelStatusToString(status))
        sol = h.getSolution()
        col = np.asarray(sol.col_value)
        dual = np.asarray(sol.row_dual)
        m = self.n_coupling
        # Clamp sign noise: a cap row's dual is <= 0, a floor row's >= 0 (weak duality needs it).
        coupling_dual = np.concatenate(
            [np.minimum(dual[: len(self.capped)], 0.0), np.maximum(dual[len(self.capped) : m], 0.0)]
        )
        # HiGHS: reduced cost = c - Aᵀy. A kW of net import in a coupled slot adds -y to a column's
        # reduced cost: that is the multiplier the homes see.
        pi = self.multipliers(coupling_dual)
        slack = col[: self.n_slack]
        return MasterSolution(
            value_eur=float(h.getInfo().objective_function_value),
            weights=col[self.n_slack :],
            multipliers_kw=pi,
            convexity_dual_eur=dual[m:],
            coupling_value_eur=float(np.dot(coupling_dual, self.rhs)),
            coupling_dual=coupling_dual,
            violation_kwh=float(slack.sum() * self.dt_h),
        )
