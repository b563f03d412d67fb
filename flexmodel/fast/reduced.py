"""A home's MILP without the columns it cannot move, as HiGHS is given it (issue 18).

A HiGHS MILP costs a fixed amount of work per column and row before any branching: the
analytic centre, the root LP from no basis, the cut separation along the state-of-charge rows.
A home's MILP carries many columns that are constants (PV at night, an EV outside its window,
the grid-limit overruns once they are known to be zero), so it is handed over reduced, exactly:

- a column whose bounds are equal is a constant: its terms move into the row bounds and the
  objective's offset;
- a row left with one column becomes bounds on that column; a row left with none is dropped
  (its constant activity is checked against its bounds, which the levels may change).

HiGHS's own presolve would do the same and more, but it restarts the root (solver.py keeps it
off for MILPs). The model answers solve_levels as any HighsModel does: costs and row bounds are
given and solutions returned in the full model's columns.
"""

from __future__ import annotations

import highspy
import numpy as np

from flexmodel.errors import SolveFailed
from flexmodel.fast.arrays import SiteVectors
from flexmodel.fast.layout import Layout
from flexmodel.fast.levels import HighsModel
from flexmodel.fast.milp import MilpArrays
from flexmodel.problem import FloatArray

INFEASIBLE = "Infeasible"
CONSTANT_ROW_TOL = 1e-9  # a dropped row's constant activity may miss its bounds by this (scaled)


class ReducedMilp(HighsModel):
    """The MILP `milp` with its constant columns taken out, passed to `highs`."""

    def __init__(self, highs: highspy.Highs, layout: Layout, milp: MilpArrays) -> None:
        n_rows, n_cols = milp.matrix.shape
        super().__init__(highs, layout, n_cols, n_rows, mip=True)
        col_lower, col_upper = milp.col_lower, milp.col_upper
        fixed = col_lower == col_upper
        self.fixed_value = np.where(fixed, col_lower, 0.0)
        self.kept_cols = np.flatnonzero(~fixed).astype(np.int32)
        self.kept_index = np.arange(len(self.kept_cols), dtype=np.int32)
        self.shift = milp.matrix @ self.fixed_value  # each row's activity from the constant columns
        self.row_lower, self.row_upper = milp.row_lower.copy(), milp.row_upper.copy()
        kept = milp.matrix[:, self.kept_cols].tocsr()
        entries = np.diff(kept.indptr)
        self.kept_rows = np.flatnonzero(entries > 1).astype(np.int32)
        self.row_at = np.full(n_rows, -1, dtype=np.int32)  # full row -> reduced row (-1: dropped)
        self.row_at[self.kept_rows] = np.arange(len(self.kept_rows), dtype=np.int32)
        self.empty_rows = np.flatnonzero(entries == 0)
        # A row with one kept column bounds that column: row, (reduced) column, coefficient.
        self.single_rows = np.flatnonzero(entries == 1)
        first = kept.indptr[self.single_rows]
        self.single_cols, self.single_coef = kept.indices[first], kept.data[first]
        self.base_lower, self.base_upper = col_lower[self.kept_cols], col_upper[self.kept_cols]
        lower, upper = self._column_bounds()
        reduced = MilpArrays(
            matrix=kept[self.kept_rows].tocsc(),
            cost=milp.cost[self.kept_cols],
            col_lower=lower,
            col_upper=upper,
            row_lower=self.row_lower[self.kept_rows] - self.shift[self.kept_rows],
            row_upper=self.row_upper[self.kept_rows] - self.shift[self.kept_rows],
            integer=milp.integer[self.kept_cols],
        )
        lp = reduced.highs_lp()
        lp.offset_ = float(milp.cost @ self.fixed_value)
        highs.passModel(lp)

    def _column_bounds(self) -> tuple[FloatArray, FloatArray]:
        """The kept columns' bounds: their own, narrowed by every singleton row on them."""
        rows, coef = self.single_rows, self.single_coef
        low = (self.row_lower[rows] - self.shift[rows]) / coef
        high = (self.row_upper[rows] - self.shift[rows]) / coef
        low, high = np.where(coef > 0, low, high), np.where(coef > 0, high, low)
        lower, upper = self.base_lower.copy(), self.base_upper.copy()
        np.maximum.at(lower, self.single_cols, low)
        np.minimum.at(upper, self.single_cols, high)
        return lower, upper

    def set_costs(self, cost: FloatArray, offset: float = 0.0) -> None:
        self.highs.changeColsCost(len(self.kept_cols), self.kept_index, cost[self.kept_cols])
        self.highs.changeObjectiveOffset(offset + float(cost @ self.fixed_value))

    def set_bounds(self, v: SiteVectors, col_lower: FloatArray, col_upper: FloatArray) -> None:
        raise NotImplementedError("a reduced MILP is built for one home; it is not reused")

    def set_row_bounds(self, row: int, lower: float, upper: float) -> None:
        self.row_lower[row], self.row_upper[row] = lower, upper
        reduced = int(self.row_at[row])
        if reduced >= 0:
            self.highs.changeRowBounds(reduced, lower - self.shift[row], upper - self.shift[row])
            return
        for col in self.single_cols[self.single_rows == row]:
            column_lower, column_upper = self._column_bounds()
            self.highs.changeColBounds(int(col), column_lower[col], column_upper[col])

    def run(self, site_id: str) -> FloatArray:
        rows = self.empty_rows  # their activity is a constant: it must lie within their bounds
        tol = CONSTANT_ROW_TOL * np.maximum(1.0, np.abs(self.shift[rows]))
        outside = (self.shift[rows] < self.row_lower[rows] - tol) | (
            self.shift[rows] > self.row_upper[rows] + tol
        )
        if outside.any():
            raise SolveFailed(site_id, INFEASIBLE)
        reduced = super().run(site_id)
        x = self.fixed_value.copy()
        x[self.kept_cols] = reduced
        return x
