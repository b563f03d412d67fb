"""Both HiGHS paths in one process, the Pyomo model first: the closed loop's solver process does
that (a joint plan, then homes on the array path for the price coordination or the
decomposition's pricing).

HiGHS keeps one thread scheduler per process, sized by the first solve; a later solve asking for
another size ends "Not Set". The array path asks for one thread, so a Pyomo solve with HiGHS's
default before it made every array-path home fail. The process is the point here (the scheduler
is process state that earlier tests in this process would already have sized), hence a fresh
interpreter.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
from flexmodel.fast import FastPlanner
from flexmodel.model.solver import solve_site
from flexmodel.problem import prepare_sites
from flexmodel.scenario import parse_scenario
from flexmodel.solve import SolverOptions

n = 8
doc = {
    "start": "2025-03-10T00:00:00+01:00",
    "resolution_minutes": 15,
    "horizon_slots": n,
    "tariff": {"import_eur_per_kwh": [0.3, 0.1] * 4, "export_eur_per_kwh": [0.05] * n},
    "sites": [{
        "site_id": "home-001", "import_limit_kw": 9.2, "export_limit_kw": 10.0,
        "base_load_kw": [0.5] * n,
        "battery": {"capacity_kwh": 10.0, "soc_kwh": 5.0, "max_charge_kw": 3.0, "max_discharge_kw": 3.0},
    }],
}
[problem] = prepare_sites(parse_scenario(doc))
options = SolverOptions(solver="highs")
pyomo_plan = solve_site(problem, options)  # the Pyomo model on HiGHS: sizes the scheduler first
fast_plan = FastPlanner(options).solve(problem)
assert abs(fast_plan.objective_eur - pyomo_plan.objective_eur) <= 1e-6, (fast_plan, pyomo_plan)
print("ok")
"""


def test_the_array_path_plans_after_a_pyomo_highs_solve_in_the_same_process() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
