"""Portfolio planning: the sites of a scenario planned together against the portfolio's terms.

- `joint`: the exact joint model (every site's Pyomo block plus the coupling), for small
  portfolios and as the reference the tests compare against;
- `decomposition`: Dantzig-Wolfe column generation over the per-home planner (fast array path,
  in worker processes or on a dask cluster) with a proven Lagrangian bound, for large ones;
- `coordination`: per-site plans steered by a price on net import (fast, no optimality proof);
- `offer`: what the portfolio can bid, per 15-minute slot: how far its net import can rise or
  fall from its plan and for how long, every home's guarantees kept (GET /portfolio/flexibility);
- `flexibility`: the exact figure per block of slots (one joint optimisation each), the
  reference the offer's tests compare against;
- `result`: the portfolio's sums (net import, cap and floor violations, imbalance) and the
  spec's Plan, for every formulation (independent homes too).

flexmodel.planner.plan_scenario picks among them.
"""
