"""Specific planning errors (STYLE rule 13): callers tell them apart by type, not by text."""

from __future__ import annotations


class PlanningError(Exception):
    """Base class of the planner's errors."""


class SolverUnavailable(PlanningError):
    def __init__(self, solver: str) -> None:
        self.solver = solver
        super().__init__(f"solver {solver!r} is not available (choose highs or glpk)")


class SolveFailed(PlanningError):
    """The solver ended without an optimal answer (infeasible, unbounded, time limit, error)."""

    def __init__(self, problem_id: str, condition: str) -> None:
        self.problem_id = problem_id
        self.condition = condition
        super().__init__(f"{problem_id}: the solver ended with {condition}")
