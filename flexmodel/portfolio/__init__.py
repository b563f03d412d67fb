"""Portfolio planning: the sites of a scenario planned together against the portfolio's terms.

- `joint`: the exact joint model (every site's Pyomo block plus the coupling), for small
  portfolios and as the reference the tests compare against;
- `decomposition`: Dantzig-Wolfe column generation over the per-home planner (fast array path,
  in worker processes or on a dask cluster) with a proven Lagrangian bound, for large ones;
- `flexibility`: how many kW the portfolio can reduce or add per hour around its plan;
- `result`: the spec's Plan for a portfolio (violations of caps and floors, status, gap).
"""
