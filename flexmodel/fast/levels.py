"""The lexicographic solve of flexmodel.solve, on a highspy object instead of a Pyomo model.

The priority levels, their ideal values, the weights of the first (weighted) solve and the
tolerance used when fixing a level come from flexmodel.priorities, as for the Pyomo path, so both run
the same procedure: one weighted solve; if a higher level misses its ideal, optimise the levels
in order, fixing each (within LEVEL_TOL) by the bounds of its level row, then minimise cost;
the fixed levels stay in the later objectives with their weights, as flexmodel.solve's `_pull`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import highspy
import numpy as np

from flexmodel.errors import SolveFailed
from flexmodel.fast.arrays import SiteVectors
from flexmodel.fast.layout import Layout
from flexmodel.priorities import ATTAINED_TOL, LEVEL_TOL, Level, level_weights, priority_levels
from flexmodel.problem import FloatArray, SiteProblem


@dataclass(frozen=True, slots=True)
class LevelSolve:
    col_value: FloatArray
    gap: float | None  # relative MIP gap of the last solve; None for an LP
    solves: int


class HighsModel:
    """A highspy object holding one structure's LP (or MILP), with its index arrays."""

    def __init__(self, highs: highspy.Highs, layout: Layout, n_cols: int, n_rows: int, mip: bool) -> None:
        self.highs = highs
        self.layout = layout
        self.n_cols = n_cols
        self.n_rows = n_rows
        self.mip = mip
        self.col_index = np.arange(n_cols, dtype=np.int32)
        self.row_index = np.arange(n_rows, dtype=np.int32)

    def set_costs(self, cost: FloatArray, offset: float = 0.0) -> None:
        self.highs.changeColsCost(self.n_cols, self.col_index, cost)
        self.highs.changeObjectiveOffset(offset)

    def set_bounds(self, v: SiteVectors, col_lower: FloatArray, col_upper: FloatArray) -> None:
        self.highs.changeColsBounds(self.n_cols, self.col_index, col_lower, col_upper)
        self.highs.changeRowsBounds(  # type: ignore[attr-defined]
            self.n_rows, self.row_index, v.row_lower, v.row_upper
        )

    def set_row_bounds(self, row: int, lower: float, upper: float) -> None:
        self.highs.changeRowBounds(row, lower, upper)

    def run(self, site_id: str) -> FloatArray:
        self.highs.run()
        status = self.highs.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise SolveFailed(site_id, self.highs.modelStatusToString(status))
        return np.asarray(self.highs.getSolution().col_value, dtype=np.float64)

    def mip_gap(self) -> float | None:
        return float(self.highs.getInfo().mip_gap) if self.mip else None


def _pad(vector: FloatArray, n_cols: int) -> FloatArray:
    """A level's objective over the model's columns (the MILP has binaries after the LP's)."""
    if len(vector) == n_cols:
        return vector
    return np.concatenate([vector, np.zeros(n_cols - len(vector))])


def level_value(level: Level, v: SiteVectors, x: FloatArray) -> float:
    """The level's value at x (the LP's columns)."""
    if level.name == "level_overrun_kwh":
        return float(v.overrun @ x)
    if level.name == "level_smart_shortfall_kwh":
        return v.smart_need_kwh - float(v.smart_energy @ x)
    return float(v.solar_energy @ x)


def attains(level: Level, v: SiteVectors, x: FloatArray) -> bool:
    """x (the LP's columns) reaches the level's ideal, within ATTAINED_TOL."""
    tol = ATTAINED_TOL * max(1.0, abs(level.ideal))
    value = level_value(level, v, x)
    return value >= level.ideal - tol if level.maximise else value <= level.ideal + tol


def relaxed_levels(p: SiteProblem, v: SiteVectors, x: FloatArray) -> list[Level]:
    """The priority levels, each ideal replaced by the value a relaxation's answer x reached where
    that is worse. The relaxation's lexicographic optimum bounds what the MILP can reach at each
    level, so a MILP answer reaching it is optimal there too (within LEVEL_TOL, as a level fixed
    by the lexicographic solve is), and one weighted MILP solve settles the home: best-effort
    homes need no MILP per level."""
    levels = []
    for level in priority_levels(p):
        reached = level_value(level, v, x)
        worse = reached < level.ideal if level.maximise else reached > level.ideal
        levels.append(replace(level, ideal=reached) if worse else level)
    return levels


class LevelRows:
    """Value, objective and fixing of each priority level in terms of the LP's arrays."""

    def __init__(self, model: HighsModel, v: SiteVectors) -> None:
        self.model = model
        self.v = v
        n = model.n_cols
        self.vectors = {
            "level_overrun_kwh": _pad(v.overrun, n),
            "level_smart_shortfall_kwh": _pad(-v.smart_energy, n),  # + smart_need_kwh
            "level_solar_energy_kwh": _pad(v.solar_energy, n),
        }

    def value(self, level: Level, x: FloatArray) -> float:
        return level_value(level, self.v, x[: len(self.v.cost)])

    def objective(self, level: Level) -> FloatArray:
        vector = self.vectors[level.name]
        return -vector if level.maximise else vector

    def attained(self, level: Level, x: FloatArray) -> bool:
        return attains(level, self.v, x[: len(self.v.cost)])

    def fix(self, level: Level, value: float) -> None:
        tol = LEVEL_TOL * max(1.0, abs(value))
        layout = self.model.layout
        if level.name == "level_overrun_kwh":
            self.model.set_row_bounds(layout.r_level_overrun, -np.inf, value + tol)
        elif level.name == "level_smart_shortfall_kwh":
            # shortfall <= value + tol  <=>  smart energy >= need - value - tol
            self.model.set_row_bounds(layout.r_level_smart, self.v.smart_need_kwh - value - tol, np.inf)
        else:
            self.model.set_row_bounds(layout.r_level_solar, value - tol, np.inf)


def _offset(level: Level, v: SiteVectors, target: float) -> float:
    """The constant that turns a level's objective vector into its distance from `target` (its
    ideal, or the value it was fixed at: flexmodel.solve's `_distance`)."""
    if level.name == "level_smart_shortfall_kwh":
        return v.smart_need_kwh - target  # shortfall = need - energy
    return target if level.maximise else -target


def solve_levels(
    model: HighsModel, p: SiteProblem, v: SiteVectors, levels: list[Level] | None = None
) -> LevelSolve:
    """Optimise the priority levels in order, as flexmodel.solve.solve_lexicographic does
    (`levels`: priority_levels(p), or relaxed_levels when a relaxation's answer is known)."""
    levels = priority_levels(p) if levels is None else levels
    weights = level_weights(p)
    rows = LevelRows(model, v)
    cost = _pad(v.cost, model.n_cols)
    weighted = cost + sum((weights[lv.name] * rows.objective(lv) for lv in levels), np.zeros(model.n_cols))
    # The offset makes the weighted objective equal the cost when every level is at its ideal,
    # instead of cost minus thousands of euros of level weights. A MILP's relative gap is
    # measured against this value: without the offset, mip_rel_gap would allow errors of
    # millieuros in the cost, and two runs could return different answers.
    offset = sum(weights[lv.name] * _offset(lv, v, lv.ideal) for lv in levels)
    model.set_costs(weighted, offset)
    x = model.run(p.site_id)
    solves = 1
    attained = [rows.attained(lv, x) for lv in levels]
    if all(attained):
        return LevelSolve(x, model.mip_gap(), solves)
    # As flexmodel.solve does: the fixed levels stay in the later objectives with their weights
    # (distance from the value each was fixed at), so the later solves do not spend the
    # LEVEL_TOL slack, and the objective stays about the cost.
    pull, pull_offset = np.zeros(model.n_cols), 0.0
    for i, level in enumerate(levels):
        if not (attained[i] and all(attained[:i])):
            model.set_costs(rows.objective(level) + pull, _offset(level, v, level.ideal) + pull_offset)
            x = model.run(p.site_id)
            solves += 1
        value = level.ideal if attained[i] and all(attained[:i]) else rows.value(level, x)
        rows.fix(level, value)
        pull = pull + weights[level.name] * rows.objective(level)
        pull_offset += weights[level.name] * _offset(level, v, value)
    model.set_costs(cost + pull, pull_offset)
    x = model.run(p.site_id)
    return LevelSolve(x, model.mip_gap(), solves + 1)
