"""A MILP handed to HiGHS without its constant columns answers as the whole MILP does.

The model is small and written out by hand so that every kind of row the reduction meets is
there: a row that keeps two columns, a row left with one (it becomes bounds), a row left with
none (checked, then dropped), and row bounds changed after the model is built, as the priority
levels fix their rows.
"""

from __future__ import annotations

import highspy
import numpy as np
import pytest
import scipy.sparse as sp

from flexmodel.errors import SolveFailed
from flexmodel.fast.layout import Layout
from flexmodel.fast.levels import HighsModel
from flexmodel.fast.milp import MilpArrays
from flexmodel.fast.reduced import INFEASIBLE, ReducedMilp
from flexmodel.fast.solver import new_highs
from flexmodel.solve import SolverOptions

LAYOUT = Layout(n=1, has_battery=False, ev_modes=())  # only carried along; the rows are our own
INF = np.inf

# columns: a (integer, 0..4), b (0..3), c (fixed at 2), d (0..10)
# rows:    r0: a + b + c >= 3.5     (keeps a and b)
#          r1: 2·d - c   <= 6       (one column left: d <= 4)
#          r2: c         <= 5       (no column left: 2 <= 5 holds)
#          r3: a - d     == 0       (keeps a and d)
# minimise -a + 2·b + 0.5·c - d
MILP = MilpArrays(
    matrix=sp.csc_matrix(
        np.array(
            [
                [1.0, 1.0, 1.0, 0.0],
                [0.0, 0.0, -1.0, 2.0],
                [0.0, 0.0, 1.0, 0.0],
                [1.0, 0.0, 0.0, -1.0],
            ]
        )
    ),
    cost=np.array([-1.0, 2.0, 0.5, -1.0]),
    col_lower=np.array([0.0, 0.0, 2.0, 0.0]),
    col_upper=np.array([4.0, 3.0, 2.0, 10.0]),
    row_lower=np.array([3.5, -INF, -INF, 0.0]),
    row_upper=np.array([INF, 6.0, 5.0, 0.0]),
    integer=np.array([True, False, False, False]),
)
OPTIONS = SolverOptions()


def _whole() -> HighsModel:
    highs = new_highs(OPTIONS, mip=True)
    highs.passModel(MILP.highs_lp())
    return HighsModel(highs, LAYOUT, 4, 4, mip=True)


def _objective(model: HighsModel) -> float:
    return float(model.highs.getInfo().objective_function_value)


def test_the_reduced_milp_is_smaller_and_answers_like_the_whole() -> None:
    whole, reduced = _whole(), ReducedMilp(new_highs(OPTIONS, mip=True), LAYOUT, MILP)
    lp = reduced.highs.getLp()
    assert (lp.num_col_, lp.num_row_) == (3, 2)  # c is gone; r1 became d's bound, r2 was dropped
    assert reduced.highs.getLp().col_upper_[2] == pytest.approx(4.0)
    x_whole, x_reduced = whole.run("whole"), reduced.run("reduced")
    np.testing.assert_allclose(x_reduced, x_whole, atol=1e-9)
    np.testing.assert_allclose(x_reduced, [4.0, 0.0, 2.0, 4.0], atol=1e-9)
    assert _objective(reduced) == pytest.approx(_objective(whole))  # the offset carries c's cost


def test_changed_costs_and_row_bounds_reach_the_reduced_model() -> None:
    whole, reduced = _whole(), ReducedMilp(new_highs(OPTIONS, mip=True), LAYOUT, MILP)
    cost = np.array([-1.0, 2.0, 3.0, -1.0])  # c's new cost moves into the offset
    for model in (whole, reduced):
        model.set_costs(cost, offset=1.0)
        model.set_row_bounds(1, -INF, 2.0)  # the singleton row: now d <= 2
        model.set_row_bounds(0, 4.5, INF)  # a kept row
    x_whole, x_reduced = whole.run("whole"), reduced.run("reduced")
    np.testing.assert_allclose(x_reduced, x_whole, atol=1e-9)
    assert x_reduced[3] == pytest.approx(2.0)
    assert _objective(reduced) == pytest.approx(_objective(whole))


def test_a_dropped_row_whose_constant_leaves_its_bounds_makes_the_model_infeasible() -> None:
    reduced = ReducedMilp(new_highs(OPTIONS, mip=True), LAYOUT, MILP)
    reduced.set_row_bounds(2, -INF, 1.0)  # c = 2 > 1
    with pytest.raises(SolveFailed) as failed:
        reduced.run("reduced")
    assert failed.value.condition == INFEASIBLE
    whole = _whole()
    whole.set_row_bounds(2, -INF, 1.0)
    with pytest.raises(SolveFailed):
        whole.run("whole")
    assert whole.highs.getModelStatus() == highspy.HighsModelStatus.kInfeasible
