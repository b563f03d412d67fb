"""The array path for HiGHS: one site's LP built as sparse arrays and handed to highspy.

Same model and same priority procedure as the Pyomo planner (flexmodel.model, flexmodel.solve);
tests/unit/flexmodel_fast checks, scenario by scenario, that both reach the same objective.
"""

from flexmodel.fast.solver import FastPlanner, process_planner, solve_site_fast

__all__ = ["FastPlanner", "process_planner", "solve_site_fast"]
