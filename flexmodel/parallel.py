"""Plan many sites at once: in worker processes on this machine, or on a dask.distributed cluster.

Both run the same function, `plan_chunk`, on chunks of sites. Chunks keep the traffic between
processes small (one message per few hundred homes, numpy arrays pickle compactly) and let each
worker keep its HiGHS objects warm across the homes of a chunk (flexmodel.fast). HiGHS plans
through the array path; GLPK through the Pyomo model (flexmodel.model.solver.solve_site).

A plan does not depend on the number of workers: the chunks are cut the same way whatever it is,
and each chunk starts with fresh HiGHS objects. A warm start from another chunk's last home could
land on another of several equally cheap plans.

    plans = plan_sites(problems, SolverOptions(), workers=2)                  # local processes
    plans = plan_sites(problems, SolverOptions(), cluster="tcp://host:8786")  # a dask cluster

Plans come back in the order of `problems`. `progress(k)` is called in the caller's process as
chunks finish, with the number of sites just planned (tqdm's `update` fits).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from flexmodel.cluster import as_completed, connect, thread_count
from flexmodel.fast import process_planner
from flexmodel.model.solver import solve_site
from flexmodel.parent_watch import exit_with_parent
from flexmodel.problem import SiteProblem
from flexmodel.site_plan import SitePlan
from flexmodel.solve import SolverOptions

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
MAX_CHUNK = 250  # sites per message: large enough to amortise IPC, small enough to balance load
CHUNKS = 32  # at least this many chunks (if there are sites enough): 4 a worker for up to 8 workers


def plan_chunk(problems: Sequence[SiteProblem], options: SolverOptions) -> list[SitePlan]:
    """Plan a chunk of sites, one after another, in this process (or dask worker thread):
    HiGHS on the array path (one warm highspy object per structure), other solvers on Pyomo."""
    if options.solver == "highs":
        planner = process_planner(options)
        planner.start_afresh()
        return [planner.solve(p) for p in problems]
    return [solve_site(p, options) for p in problems]


def chunk_size(n_sites: int) -> int:
    """Sites per chunk: from the portfolio alone, so that the chunks (and the plans) do not depend
    on how many workers plan them."""
    return max(1, min(MAX_CHUNK, math.ceil(n_sites / CHUNKS)))


def _chunks(problems: Sequence[SiteProblem], size: int) -> list[list[SiteProblem]]:
    return [list(problems[i : i + size]) for i in range(0, len(problems), size)]


def plan_sites(
    problems: Sequence[SiteProblem],
    options: SolverOptions,
    workers: int = 1,
    cluster: str | None = None,
    progress: Progress | None = None,
) -> list[SitePlan]:
    """Plan every site; see the module docstring. workers=1 without a cluster stays in-process."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if not problems:
        return []
    if cluster is not None:
        return _on_cluster(problems, options, cluster, progress)
    size = chunk_size(len(problems))
    chunks = _chunks(problems, size)
    if workers == 1:
        plans: list[SitePlan] = []
        for chunk in chunks:
            plans += plan_chunk(chunk, options)
            if progress is not None:
                progress(len(chunk))
        return plans
    context = multiprocessing.get_context("forkserver")
    # Import the planner once in the fork server, not once per worker.
    context.set_forkserver_preload(["flexmodel.parallel"])
    with cf.ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)),
        mp_context=context,
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        futures = [pool.submit(plan_chunk, chunk, options) for chunk in chunks]
        return _gather(futures, cf.as_completed(futures), progress)


def _gather(futures: list[Any], completed: Iterator[Any], progress: Progress | None) -> list[SitePlan]:
    """Results in submission order; progress as they complete; the first failure is raised."""
    index = {id(f): i for i, f in enumerate(futures)}
    results: list[list[SitePlan] | None] = [None] * len(futures)
    for future in completed:
        chunk = future.result()
        results[index[id(future)]] = chunk
        if progress is not None:
            progress(len(chunk))
    return [plan for chunk in results if chunk is not None for plan in chunk]


def _on_cluster(
    problems: Sequence[SiteProblem], options: SolverOptions, address: str, progress: Progress | None
) -> list[SitePlan]:
    client = connect(address)
    with client:
        workers = thread_count(client)
        chunks = _chunks(problems, chunk_size(len(problems)))
        log.info(
            "planning %d sites in %d chunks on %s (%d threads)", len(problems), len(chunks), address, workers
        )
        futures = [client.submit(plan_chunk, chunk, options, pure=False) for chunk in chunks]
        try:
            return _gather(futures, as_completed(client, futures), progress)
        finally:
            client.cancel(futures)
