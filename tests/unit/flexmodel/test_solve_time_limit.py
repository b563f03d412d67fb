"""A solve stopped by the time limit keeps its feasible answer, marked as not proven."""

from __future__ import annotations

import random

import pyomo.environ as pyo
import pytest

from flexmodel.solve import SolverOptions, make_solver, solve


def _market_split(seed: int = 3, rows: int = 5, cols: int = 45) -> pyo.ConcreteModel:
    """A market-split MILP (Cornuéjols-Dawande): tiny, and famously hard for branch and bound."""
    rng = random.Random(seed)
    a = [[rng.randint(0, 99) for _ in range(cols)] for _ in range(rows)]
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(cols), domain=pyo.Binary)
    m.over = pyo.Var(range(rows), domain=pyo.NonNegativeReals)
    m.under = pyo.Var(range(rows), domain=pyo.NonNegativeReals)
    m.split = pyo.Constraint(
        range(rows),
        rule=lambda m, i: (
            sum(a[i][j] * m.x[j] for j in range(cols)) + m.over[i] - m.under[i] == sum(a[i]) // 2
        ),
    )
    m.objective = pyo.Objective(expr=sum(m.over[i] + m.under[i] for i in range(rows)))
    return m


@pytest.mark.parametrize("solver", ["highs", "glpk"])
def test_time_limit_returns_the_feasible_answer_unproven(solver: str) -> None:
    m = _market_split()
    result = solve(m, make_solver(SolverOptions(solver=solver, time_limit_s=1.0)), "split", mip=True)
    assert not result.proven
    assert result.objective == pytest.approx(pyo.value(m.objective))
    assert all(pyo.value(m.x[j]) in (pytest.approx(0.0, abs=1e-6), pytest.approx(1.0, abs=1e-6)) for j in m.x)
