"""Plan one site on the array path: `FastPlanner.solve(problem, options) -> SitePlan`.

A planner keeps one highspy object per LP structure (slot count, battery and EV efficiencies;
see layout.py) and reuses it for the next home of that structure, changing only costs, bounds
and right-hand sides, so HiGHS starts from the previous home's basis. That is the fast case:
about a millisecond per home (median 0.9 ms measured) instead of tens for a fresh Pyomo model.
A home of a new structure gets a freshly built object; the least recently used one goes when
there are many. A home that needs binaries costs a MILP, and on a day of deeply negative prices
a quarter of the homes need one, so they dominate the time (docs/planner-speed.md).

Exactness (the Pyomo planner's rules, flexmodel.model.solver.solve_site): the LP first; where its
answer still imports and exports (after the free netting of flexmodel.site_plan.net_grid), or
charges and discharges, in a slot, the home is solved again as a MILP. Binaries go only on the
slots that did both; if the MILP's answer then does both in another slot, that slot gets
binaries too and it is solved again. The final answer does both nowhere, so it is feasible for
the MILP with binaries in every slot, and optimal for it because every model solved on the way
is a relaxation of that MILP: the same optimum as the Pyomo planner's, at a fraction of the cost.

Two things make a binary home cheaper, both exact. First, when the LP's weighted solve reached
every priority level, the first round's MILP is settled from the window around its binaries
(window.py): a Lagrangian bound and a plan that meet within the MILP's tolerances, about half a
whole-day MILP's time; where they do not meet, the rounds above run as before. Second, each MILP
goes to HiGHS without its constant columns (reduced.py), the overruns among them when the LP
needed none.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator

import highspy
import numpy as np

from flexmodel.errors import SolveFailed
from flexmodel.fast.arrays import SiteVectors, constraint_matrix, site_vectors
from flexmodel.fast.layout import Layout, StructureKey, layout_of, structure_key
from flexmodel.fast.levels import HighsModel, LevelSolve, relaxed_levels, solve_levels
from flexmodel.fast.milp import BoolArray, MilpArrays, milp_arrays, slots_doing_both
from flexmodel.fast.reduced import INFEASIBLE, ReducedMilp
from flexmodel.fast.result import flows_from_solution, integer_feasible, site_plan
from flexmodel.fast.window import MIP_ABS_GAP, solve_window
from flexmodel.priorities import ATTAINED_TOL, Level
from flexmodel.problem import SiteProblem
from flexmodel.site_plan import SiteFlows, SitePlan, net_grid
from flexmodel.solve import SolverOptions

log = logging.getLogger(__name__)

MAX_CACHED_STRUCTURES = 32
MAX_MILP_ROUNDS = 20  # each round adds binaries; after this many, every slot gets them
MAX_WINDOW_TRIES = 3  # window.py's tries, each with the slots the last did both in; then the MILP


_FIRST_HIGHS = threading.Lock()
_first_made = False


@contextlib.contextmanager
def _stdout_discarded() -> Iterator[None]:
    """File descriptor 1 points at /dev/null meanwhile (C code writes there, not to sys.stdout)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _highs() -> highspy.Highs:
    """A Highs object. The process's first one prints HiGHS's banner to file descriptor 1 before
    any option can silence it, and stdout is where `flexvpp plan` writes the plan (worker
    processes share it), so that one is made with fd 1 discarded, as Pyomo's appsi_highs does."""
    global _first_made
    with _FIRST_HIGHS:  # fd 1 is process-wide: one thread swaps it, once
        if not _first_made:
            with _stdout_discarded():
                highs = highspy.Highs()  # type: ignore[no-untyped-call]
            _first_made = True
            return highs
    return highspy.Highs()  # type: ignore[no-untyped-call]


def new_highs(options: SolverOptions, *, mip: bool = False) -> highspy.Highs:
    highs = _highs()
    highs.setOptionValue("output_flag", False)
    # One thread per model: parallelism comes from planning many homes in many processes.
    highs.setOptionValue("threads", 1)
    highs.setOptionValue("mip_rel_gap", options.mip_rel_gap)
    highs.setOptionValue("mip_abs_gap", MIP_ABS_GAP)  # window.py proves its answers to the same
    if options.time_limit_s is not None:
        highs.setOptionValue("time_limit", float(options.time_limit_s))
    if mip:
        # A home's MILP has a dozen or two binaries and closes at the root node; with presolve,
        # HiGHS restarts the root several times as reduced-cost fixing removes binaries, and
        # that costs more than the whole search (2.5x the time on 2025-05-11's homes, measured).
        highs.setOptionValue("presolve", "off")
        # Primal heuristics off: the root's cuts close these MILPs by themselves (1.3 nodes on
        # average), and the heuristics (feasibility jump, RINS/RENS sub-MIPs, root reduced-cost
        # dive) cost about two thirds of each solve. Optimality is still proven by the search
        # (mip_rel_gap), so the answers do not change. Measured on the loaded 2-core machine,
        # 2025-05-11: one MILP solve 98 -> 34 ms CPU (30 homes, same objectives to 1e-14); a
        # whole binary home (LP, MILP rounds, levels) 92 -> 48 ms (80 homes of 300, same costs
        # to 2e-13). Tried without gain (within noise): presolve on (1.8x slower), a MIP start
        # from the LP's answer, fixing the levels at their ideals with a cost-only objective
        # (-7 %, not worth a second code path), other mip_* options; and an own branch and bound
        # on the warm LP object with the big-M rows projected (c/C + d/D <= 1): without HiGHS's
        # cuts it needed ~145 nodes per home and was slower (134 ms).
        highs.setOptionValue("mip_heuristic_effort", 0.0)
        for heuristic in ("feasibility_jump", "rins", "rens", "root_reduced_cost"):
            highs.setOptionValue(f"mip_heuristic_run_{heuristic}", False)
        highs.setOptionValue("mip_detect_symmetry", False)  # a home's MILP has none to find
    return highs


def pass_model(highs: highspy.Highs, layout: Layout, p: SiteProblem, v: SiteVectors) -> HighsModel:
    matrix = constraint_matrix(layout, p)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = layout.n_cols, layout.n_rows
    lp.col_cost_ = v.cost
    lp.col_lower_, lp.col_upper_ = v.col_lower, v.col_upper
    lp.row_lower_, lp.row_upper_ = v.row_lower, v.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    highs.passModel(lp)
    return HighsModel(highs, layout, layout.n_cols, layout.n_rows, mip=False)


class FastPlanner:
    """Plans sites one after another, reusing a HiGHS object per structure. One per process."""

    def __init__(self, options: SolverOptions) -> None:
        self.options = options
        self._models: OrderedDict[StructureKey, HighsModel] = OrderedDict()
        self.lp_builds = 0  # how many structures were built (the rest were reuses)

    def start_afresh(self) -> None:
        """Forget the warm HiGHS objects: the next homes are planned as in a new process."""
        self._models.clear()

    def _lp_model(self, p: SiteProblem, v: SiteVectors, layout: Layout) -> HighsModel:
        key = structure_key(p)
        model = self._models.get(key)
        if model is not None:
            self._models.move_to_end(key)
            model.set_bounds(v, v.col_lower, v.col_upper)
            return model
        model = pass_model(new_highs(self.options), layout, p, v)
        self.lp_builds += 1
        self._models[key] = model
        if len(self._models) > MAX_CACHED_STRUCTURES:
            self._models.popitem(last=False)
        return model

    def _solve_lp(self, model: HighsModel, p: SiteProblem, v: SiteVectors) -> LevelSolve:
        try:
            return solve_levels(model, p, v)
        except Exception:
            # Never reuse an object whose last solve failed; the next home gets a fresh one.
            self._models.pop(structure_key(p), None)
            raise

    def solve(self, p: SiteProblem) -> SitePlan:
        started = time.perf_counter()
        layout = layout_of(p)
        v = site_vectors(layout, p)
        lp = self._lp_model(p, v, layout)
        result = self._solve_lp(lp, p, v)
        flows = net_grid(flows_from_solution(result.col_value, layout, p), p)
        grid_slots, battery_slots = slots_doing_both(flows)
        binary_slots = 0
        # Appliance starts and a heat pump's minimum power: the LP (their relaxation) first; a
        # fractional start or a power below the minimum sends the home to the MILP.
        fractional = p.needs_integers and not integer_feasible(result.col_value, layout, p)
        if grid_slots.any() or battery_slots.any() or fractional:
            if p.battery is not None:
                # Burning energy through battery losses pays where buying pays: binaries on
                # those slots from the start save most second and third MILP rounds.
                battery_slots |= (p.import_price_eur_per_kwh + p.imbalance_eur_per_kwh) < 0.0
            # No overrun in the relaxation: none in the MILP either, if it can do without (exact:
            # overrun is the first priority, so the MILP's optimum has none when any answer has
            # none). Those columns are then constants, which makes the MILP smaller (reduced.py).
            no_overrun = bool(v.overrun @ result.col_value <= ATTAINED_TOL)
            answer = None
            if not p.needs_integers and result.solves == 1:
                answer = self._solve_window(lp, p, v, (grid_slots, battery_slots), no_overrun)
            if answer is None:
                levels = relaxed_levels(p, v, result.col_value)
                answer = self._solve_milp(p, v, layout, grid_slots, battery_slots, levels, no_overrun)
            result, flows, binary_slots = answer
        return site_plan(p, flows, result.gap, binary_slots, time.perf_counter() - started)

    def _solve_window(
        self,
        lp: HighsModel,
        p: SiteProblem,
        v: SiteVectors,
        binary_slots: tuple[BoolArray, BoolArray],
        no_overrun: bool,
    ) -> tuple[LevelSolve, SiteFlows, int] | None:
        """The MILP settled from the window around its binaries (window.py), or None. Slots where
        the window's plan still does both things get binaries too, as in the MILP rounds; the
        arrays in `binary_slots` are widened in place, so a MILP after this starts from them."""
        grid_slots, battery_slots = binary_slots
        for _ in range(MAX_WINDOW_TRIES):
            milp = _milp(lp.layout, p, v, binary_slots, no_overrun)
            highs = new_highs(self.options, mip=True)
            tried = solve_window(lp, p, v, milp, binary_slots, highs, self.options.mip_rel_gap)
            if tried.answer is not None:
                answer, flows = tried.answer
                return answer, flows, int(grid_slots.sum() + battery_slots.sum())
            if tried.doing_both is None:
                break
            grid_slots |= tried.doing_both[0]
            battery_slots |= tried.doing_both[1]
        log.debug("%s: the window's bounds do not meet; the whole day's MILP", p.site_id)
        return None

    def _solve_milp(
        self,
        p: SiteProblem,
        v: SiteVectors,
        layout: Layout,
        grid_slots: BoolArray,
        battery_slots: BoolArray,
        levels: list[Level],
        no_overrun: bool,
    ) -> tuple[LevelSolve, SiteFlows, int]:
        """MILP rounds until no slot without binaries does both things (see the module doc)."""
        for rounds in range(1, MAX_MILP_ROUNDS + 2):
            if rounds > MAX_MILP_ROUNDS:
                grid_slots[:], battery_slots[:] = True, p.battery is not None
            log.debug(
                "%s: MILP round %d, binaries on %d grid and %d battery slots",
                p.site_id,
                rounds,
                grid_slots.sum(),
                battery_slots.sum(),
            )
            try:
                result = self._solve_reduced(p, v, layout, (grid_slots, battery_slots), levels, no_overrun)
            except SolveFailed as failed:
                if not (no_overrun and failed.condition == INFEASIBLE):
                    raise
                log.debug("%s: the MILP needs an overrun after all", p.site_id)
                no_overrun = False
                result = self._solve_reduced(p, v, layout, (grid_slots, battery_slots), levels, no_overrun)
            flows = net_grid(flows_from_solution(result.col_value, layout, p), p)
            more_grid, more_battery = slots_doing_both(flows)
            # Slots that already carry binaries may show MIP-tolerance noise; only new ones count.
            more_grid &= ~grid_slots
            more_battery &= ~battery_slots
            if not (more_grid.any() or more_battery.any()):
                break
            grid_slots, battery_slots = grid_slots | more_grid, battery_slots | more_battery
        return result, flows, int(grid_slots.sum() + battery_slots.sum()) + p.own_binaries

    def _solve_reduced(
        self,
        p: SiteProblem,
        v: SiteVectors,
        layout: Layout,
        binary_slots: tuple[BoolArray, BoolArray],
        levels: list[Level],
        no_overrun: bool,
    ) -> LevelSolve:
        milp = _milp(layout, p, v, binary_slots, no_overrun)
        return solve_levels(ReducedMilp(new_highs(self.options, mip=True), layout, milp), p, v, levels)


def _milp(
    layout: Layout,
    p: SiteProblem,
    v: SiteVectors,
    binary_slots: tuple[BoolArray, BoolArray],
    no_overrun: bool,
) -> MilpArrays:
    """The site's MILP with binaries on these (grid, battery) slots; no_overrun: overruns at 0."""
    milp = milp_arrays(layout, p, v, *binary_slots)
    if not no_overrun:
        return milp
    zero = np.zeros(milp.matrix.shape[1], dtype=np.bool_)
    zero[: layout.n_cols] = v.overrun != 0.0
    return milp.fixed_at_zero(zero)


# One planner per thread and options: highspy objects must not be shared between threads
# (a dask worker runs several tasks at once in threads of one process).
_LOCAL = threading.local()


def process_planner(options: SolverOptions) -> FastPlanner:
    """This thread's planner for these options (worker processes plan many chunks with it)."""
    planners: dict[SolverOptions, FastPlanner] = _LOCAL.__dict__.setdefault("planners", {})
    planner = planners.get(options)
    if planner is None:
        planner = planners[options] = FastPlanner(options)
    return planner


def solve_site_fast(problem: SiteProblem, options: SolverOptions) -> SitePlan:
    """The array-path twin of flexmodel.model.solver.solve_site (HiGHS only)."""
    return process_planner(options).solve(problem)
