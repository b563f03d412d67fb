"""The stacked-LP floor of `flexvpp bench plan --stacked-lp-homes N`: the LP relaxations of N homes
in one block-diagonal HiGHS LP, built and solved once (one thread, like the planner's workers).

It is what planning the homes as one model would cost at the least: no binaries, no priority
levels after the first weighted solve, no per-home answers taken apart. The planner solves the
same LPs home by home on warm HiGHS objects; a plan faster than this floor cannot be beaten by
stacking homes into one LP.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from flexmodel.fast.arrays import SiteVectors, constraint_matrix, site_vectors
from flexmodel.fast.layout import layout_of
from flexmodel.fast.levels import _offset
from flexmodel.fast.solver import new_highs
from flexmodel.priorities import level_weights, priority_levels
from flexmodel.problem import FloatArray, SiteProblem
from flexmodel.solve import SolverOptions


@dataclass(frozen=True, slots=True)
class StackedFloor:
    homes: int
    columns: int
    rows: int
    build_s: float  # matrices and vectors of every home, stacked
    solve_s: float  # HiGHS: pass the model and solve it
    objective_eur: float  # Σ the homes' weighted objectives (their cost where every level is at its ideal)


def _weighted_cost(p: SiteProblem, v: SiteVectors) -> tuple[FloatArray, float]:
    """The first (weighted) objective of flexmodel.fast.levels.solve_levels, with its offset."""
    vectors = {
        "level_overrun_kwh": v.overrun,
        "level_smart_shortfall_kwh": -v.smart_energy,
        "level_solar_energy_kwh": v.solar_energy,
    }
    weights = level_weights(p)
    weighted = v.cost.copy()
    offset = 0.0
    for level in priority_levels(p):
        vector = vectors[level.name]
        weighted += weights[level.name] * (-vector if level.maximise else vector)
        offset += weights[level.name] * _offset(level, v, level.ideal)
    return weighted, offset


def stacked_floor(problems: Sequence[SiteProblem], options: SolverOptions | None = None) -> StackedFloor:
    started = time.perf_counter()
    blocks: list[sp.csc_matrix] = []
    names = ("cost", "col_lower", "col_upper", "row_lower", "row_upper")
    parts: dict[str, list[FloatArray]] = {name: [] for name in names}
    offset = 0.0
    for p in problems:
        layout = layout_of(p)
        v = site_vectors(layout, p)
        blocks.append(constraint_matrix(layout, p))
        cost, home_offset = _weighted_cost(p, v)
        offset += home_offset
        parts["cost"].append(cost)
        parts["col_lower"].append(v.col_lower)
        parts["col_upper"].append(v.col_upper)
        parts["row_lower"].append(v.row_lower)
        parts["row_upper"].append(v.row_upper)
    matrix = sp.block_diag(blocks, format="csc")
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = matrix.shape[1], matrix.shape[0]
    lp.col_cost_ = np.concatenate(parts["cost"])
    lp.col_lower_, lp.col_upper_ = np.concatenate(parts["col_lower"]), np.concatenate(parts["col_upper"])
    lp.row_lower_, lp.row_upper_ = np.concatenate(parts["row_lower"]), np.concatenate(parts["row_upper"])
    lp.offset_ = offset
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    built = time.perf_counter()
    highs = new_highs(options or SolverOptions())
    highs.passModel(lp)
    highs.run()
    status = highs.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"the stacked LP did not solve: {highs.modelStatusToString(status)}")
    solved = time.perf_counter()
    objective = float(highs.getInfo().objective_function_value)
    return StackedFloor(len(problems), lp.num_col_, lp.num_row_, built - started, solved - built, objective)
