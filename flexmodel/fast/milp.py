"""Binaries for the slots where the LP's answer does two things at once (see solver.py).

For a grid slot t:    g_t <= G·z_t,   e_t <= E·(1 - z_t)     (z_t = 1: the slot may import)
For a battery slot t: c_t <= C·y_t,   d_t <= D·(1 - y_t)     (y_t = 1: the slot may charge)
G and E are the Pyomo model's big-Ms (flexmodel.model.grid.grid_bounds_kw), C and D the
battery's power limits, exactly as in flexmodel.model with binaries=True.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import highspy
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from flexmodel.fast.arrays import SiteVectors, constraint_matrix
from flexmodel.fast.layout import Layout
from flexmodel.fast.levels import HighsModel
from flexmodel.model.grid import grid_bounds_kw
from flexmodel.problem import FloatArray, SiteProblem
from flexmodel.site_plan import BOTH_KW, SiteFlows

BoolArray = npt.NDArray[np.bool_]


def slots_doing_both(flows: SiteFlows) -> tuple[BoolArray, BoolArray]:
    """Slots that import and export, and slots that charge and discharge (as does_both sees it)."""
    grid = np.minimum(flows.grid_import_kw, flows.grid_export_kw) > BOTH_KW
    battery = np.minimum(flows.charge_kw, flows.discharge_kw) > BOTH_KW
    return grid, battery


def _exclusive_pairs(
    slots: BoolArray, cols: tuple[int, int], big_m: tuple[float, float], first_row: int, first_bin: int
) -> tuple[list[tuple[int, int, float]], list[float]]:
    """For each selected slot t, with binary z (columns first_bin, first_bin + 1, ...):
    rows x_t - M1·z <= 0 and y_t + M2·z <= M2 (matrix entries and row upper bounds)."""
    entries: list[tuple[int, int, float]] = []
    upper: list[float] = []
    for j, t in enumerate(np.flatnonzero(slots)):
        row, z = first_row + 2 * j, first_bin + j
        entries += [(row, cols[0] + int(t), 1.0), (row, z, -big_m[0])]
        entries += [(row + 1, cols[1] + int(t), 1.0), (row + 1, z, big_m[1])]
        upper += [0.0, big_m[1]]
    return entries, upper


@dataclass(frozen=True, slots=True)
class MilpArrays:
    """A site's MILP as arrays: the LP's columns and rows, then the binaries and their rows."""

    matrix: sp.csc_matrix
    cost: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    integer: BoolArray

    def fixed_at_zero(self, columns: BoolArray) -> MilpArrays:
        """The same MILP with these columns' bounds both 0."""
        lower = np.where(columns, 0.0, self.col_lower)
        return replace(self, col_lower=lower, col_upper=np.where(columns, 0.0, self.col_upper))

    def highs_lp(self) -> highspy.HighsLp:
        lp = highspy.HighsLp()
        lp.num_row_, lp.num_col_ = self.matrix.shape
        lp.col_cost_ = self.cost
        lp.col_lower_, lp.col_upper_ = self.col_lower, self.col_upper
        lp.row_lower_, lp.row_upper_ = self.row_lower, self.row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = self.matrix.indptr
        lp.a_matrix_.index_ = self.matrix.indices
        lp.a_matrix_.value_ = self.matrix.data
        continuous, integer = highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger
        lp.integrality_ = [integer if flag else continuous for flag in self.integer]
        return lp


def build_milp(
    highs: highspy.Highs,
    layout: Layout,
    p: SiteProblem,
    v: SiteVectors,
    grid_slots: BoolArray,
    battery_slots: BoolArray,
) -> HighsModel:
    """The site's LP plus binaries on the given slots, passed whole to a fresh highspy object."""
    arrays = milp_arrays(layout, p, v, grid_slots, battery_slots)
    highs.passModel(arrays.highs_lp())
    n_rows, n_cols = arrays.matrix.shape
    return HighsModel(highs, layout, n_cols, n_rows, mip=True)


def milp_arrays(
    layout: Layout, p: SiteProblem, v: SiteVectors, grid_slots: BoolArray, battery_slots: BoolArray
) -> MilpArrays:
    """The site's LP plus binaries on the given slots."""
    n_grid = int(grid_slots.sum())
    n_bin = n_grid + (int(battery_slots.sum()) if p.battery is not None else 0)
    entries, upper = _exclusive_pairs(
        grid_slots, (layout.g, layout.e), grid_bounds_kw(p), layout.n_rows, layout.n_cols
    )
    if p.battery is not None:
        more, more_upper = _exclusive_pairs(
            battery_slots,
            (layout.c, layout.d),
            (p.battery.max_charge_kw, p.battery.max_discharge_kw),
            layout.n_rows + len(upper),
            layout.n_cols + n_grid,
        )
        entries, upper = entries + more, upper + more_upper
    n_cols, n_rows = layout.n_cols + n_bin, layout.n_rows + len(upper)
    base = constraint_matrix(layout, p)
    extra = sp.coo_matrix(
        ([e[2] for e in entries], ([e[0] for e in entries], [e[1] for e in entries])), shape=(n_rows, n_cols)
    )
    matrix = (sp.block_diag([base, sp.csc_matrix((n_rows - layout.n_rows, n_bin))]) + extra).tocsc()
    integer = np.zeros(n_cols, dtype=np.bool_)
    integer[layout.n_cols :] = True
    integer[list(layout.integer_cols)] = True  # on_t and the appliances' z_{j,s}
    return MilpArrays(
        matrix=matrix,
        cost=_extend(v.cost, n_bin, 0.0),
        col_lower=_extend(v.col_lower, n_bin, 0.0),
        col_upper=_extend(v.col_upper, n_bin, 1.0),
        row_lower=_extend(v.row_lower, len(upper), -np.inf),
        row_upper=np.concatenate([v.row_upper, np.asarray(upper, dtype=np.float64)]),
        integer=integer,
    )


def _extend(values: FloatArray, count: int, fill: float) -> FloatArray:
    return np.concatenate([values, np.full(count, fill)])
