"""Solve one site's Pyomo model lexicographically, exactly in the spec's order of priorities.

Priorities (highest first): grid-limit overrun (physical limits), smart-EV shortfall, solar-EV
energy (maximised), cost. How they are met exactly:

1. One weighted solve: W0·overrun + W1·shortfall - W3·solar + cost. The weights are only a
   first guess, because a weight large enough to be *provably* lexicographic depends on the LP's
   vertices. The answer is then checked: if every higher level sits at its ideal value (overrun 0,
   shortfall 0, solar energy at its upper bound, all bounds that no plan can beat), the answer is
   lexicographically optimal: any lexicographic optimum has the same higher levels, so its
   weighted value is its cost, and ours minimises the weighted value. This is the common case and
   costs one solve.
2. Otherwise, sequential solves: optimise each level not already at its ideal, then fix it (to
   within LEVEL_TOL) before the next, and minimise cost last. The fixed levels stay in the later
   objectives with their weights, so the later solves do not spend the LEVEL_TOL slack.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import pyomo.environ as pyo
from pyomo.opt import SolverResults, TerminationCondition

from flexmodel.errors import SolveFailed, SolverUnavailable
from flexmodel.priorities import ATTAINED_TOL, LEVEL_TOL, Level, level_weights, priority_levels
from flexmodel.problem import SiteProblem

log = logging.getLogger(__name__)

SOLVERS = {"highs": "appsi_highs", "glpk": "glpk"}


@dataclass(frozen=True, slots=True)
class SolverOptions:
    solver: str = "highs"  # highs | glpk
    mip_rel_gap: float = 1e-9  # only for the sites that need binaries
    time_limit_s: float | None = None


@dataclass(frozen=True, slots=True)
class SolveResult:
    condition: str
    objective: float
    gap: float | None  # relative MIP gap of the last solve; None for an LP
    proven: bool = True  # False: stopped at the time limit with a feasible answer


def make_solver(options: SolverOptions) -> object:
    name = SOLVERS.get(options.solver)
    if name is None:
        raise SolverUnavailable(options.solver)
    opt = pyo.SolverFactory(name)
    if not opt.available(exception_flag=False):
        raise SolverUnavailable(options.solver)
    if options.solver == "highs":
        opt.options["mip_rel_gap"] = options.mip_rel_gap
        # HiGHS keeps one thread scheduler per process, sized by the first solve; a later solve
        # that asks for another size does not run ("Not Set"). The array path (flexmodel.fast)
        # asks for one thread per model, so this path must too: the closed loop's solver process
        # runs both (a joint plan, then homes on the array path) one after another.
        opt.options["threads"] = 1
        if options.time_limit_s is not None:
            opt.options["time_limit"] = options.time_limit_s
    else:
        opt.options["mipgap"] = options.mip_rel_gap
        # Cuts and pseudo-cost branching: on the battery MILPs of negative-price days they take
        # glpsol from minutes to a tenth of a second (measured); an LP ignores them.
        opt.options["cuts"] = None
        opt.options["pcost"] = None
        if options.time_limit_s is not None:
            opt.options["tmlim"] = max(1, math.ceil(options.time_limit_s))
    return opt


def _gap(results: SolverResults, objective: float) -> float | None:
    lower, upper = results.problem.lower_bound, results.problem.upper_bound
    if lower is None or upper is None or not all(math.isfinite(float(v)) for v in (lower, upper)):
        return None
    return abs(float(upper) - float(lower)) / max(1e-9, abs(objective))


def solve(m: pyo.ConcreteModel, solver: object, problem_id: str, *, mip: bool) -> SolveResult:
    """Solve the model's active objective and load the answer.

    Optimal: proven. Time limit with a feasible answer: loaded, proven=False (the plan says
    `feasible` with its gap). Anything else raises SolveFailed naming the condition.
    """
    results = solver.solve(m, load_solutions=False)  # type: ignore[attr-defined]
    condition = results.solver.termination_condition
    proven = condition == TerminationCondition.optimal
    # glpsol stopped by --tmlim with an integer answer reports "feasible"; appsi maxTimeLimit.
    if not proven and condition not in (TerminationCondition.maxTimeLimit, TerminationCondition.feasible):
        raise SolveFailed(problem_id, str(condition))
    try:
        m.solutions.load_from(results)
    except (ValueError, RuntimeError, KeyError) as exc:  # a time limit before any feasible answer
        raise SolveFailed(problem_id, f"{condition} without a feasible answer") from exc
    if not proven and len(results.solution) == 0:
        raise SolveFailed(problem_id, f"{condition} without a feasible answer")
    objective = float(pyo.value(next(m.component_data_objects(pyo.Objective, active=True))))
    return SolveResult(str(condition), objective, _gap(results, objective) if mip else None, proven)


def _distance(m: pyo.ConcreteModel, level: Level, target: float) -> Any:
    """How far the level is from `target` on its bad side (>= 0 for every plan when `target` is
    its ideal, or the optimum it was fixed at)."""
    expr = getattr(m, level.name)
    return target - expr if level.maximise else expr - target


def _pull(m: pyo.ConcreteModel, fixed: list[tuple[Level, float]], weights: dict[str, float]) -> Any:
    """Weighted distances of the fixed levels from the values they were fixed at: keeps each at
    its optimum rather than letting the next objective use the LEVEL_TOL slack of its fixing
    constraint. Measured from the fixed value, not the ideal, so the pull is about 0 at the
    answer and the objective stays about the cost: a level missed by 12 kWh would otherwise add
    thousands of euros of constant, and a solver's relative tolerances (GLPK's tol_obj, a relative
    MIP gap) would then allow errors of millieuros in the cost."""
    return sum(weights[lv.name] * _distance(m, lv, value) for lv, value in fixed)


def _objective(m: pyo.ConcreteModel, expr: object, *, maximise: bool = False) -> None:
    if hasattr(m, "objective"):
        m.del_component(m.objective)
    m.objective = pyo.Objective(expr=expr, sense=pyo.maximize if maximise else pyo.minimize)


def _fix_level(m: pyo.ConcreteModel, level: Level, value: float, tol_rel: float = LEVEL_TOL) -> None:
    expr = getattr(m, level.name)
    tol = tol_rel * max(1.0, abs(value))
    constraint = expr >= value - tol if level.maximise else expr <= value + tol
    m.add_component(f"fix_{level.name}", pyo.Constraint(expr=constraint))


def _attained(m: pyo.ConcreteModel, level: Level) -> bool:
    value = float(pyo.value(getattr(m, level.name)))
    tol = ATTAINED_TOL * max(1.0, abs(level.ideal))
    return value >= level.ideal - tol if level.maximise else value <= level.ideal + tol


def solve_lexicographic(
    m: pyo.ConcreteModel, p: SiteProblem, options: SolverOptions, *, mip: bool
) -> SolveResult:
    """Optimise the levels in priority order (see the module docstring); leaves the answer in m."""
    solver = make_solver(options)
    levels = priority_levels(p)
    weights = level_weights(p)
    # Each level enters as its distance from its ideal, so the weighted objective is close to the
    # cost at the answer and a relative MIP gap means the same as in the final cost solve.
    _objective(m, m.level_cost_eur + sum(weights[lv.name] * _distance(m, lv, lv.ideal) for lv in levels))
    result = solve(m, solver, p.site_id, mip=mip)
    attained = [_attained(m, lv) for lv in levels]
    if all(attained):
        return result
    log.debug("%s: weighted solve missed a priority level; solving the levels in sequence", p.site_id)
    proven = True
    fixed: list[tuple[Level, float]] = []
    for level, at_ideal in zip(levels, attained, strict=True):
        if at_ideal and all(attained[: levels.index(level)]):
            _fix_level(m, level, level.ideal)
            fixed.append((level, level.ideal))
            continue
        sign = -1.0 if level.maximise else 1.0
        _objective(m, sign * getattr(m, level.name) + _pull(m, fixed, weights))
        level_result = solve(m, solver, p.site_id, mip=mip)
        proven = proven and level_result.proven
        value = float(pyo.value(getattr(m, level.name)))
        _fix_level(m, level, value)
        fixed.append((level, value))
    _objective(m, m.level_cost_eur + _pull(m, fixed, weights))
    last = solve(m, solver, p.site_id, mip=mip)
    return SolveResult(last.condition, last.objective, last.gap, proven and last.proven)
