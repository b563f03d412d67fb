"""Planning runs: the newest runs (trigger, method, gap, timings, violations), one run's plot and
violations, and a button that plans now (as POST /api/v1/portfolio/plan does)."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from aggregator import dashboard, runs
from aggregator.dashboard import window
from aggregator.inputs import WindowKind
from vtn.dashboard.auth import redirect
from vtn.dashboard.pages import uow, vtn_now
from vtn.dashboard.render import render
from vtn.portfolio.loop import PORTFOLIO

RUNS_LISTED = 50


async def list_page(request: web.Request) -> web.StreamResponse:
    newest = await runs.list_runs(uow(request), RUNS_LISTED)
    return render(
        request,
        "runs.html",
        title="Planning runs",
        summaries=[dashboard.summarize_run(r) for r in newest],
        notice=request.query.get("notice", ""),
    )


async def run_page(request: web.Request) -> web.StreamResponse:
    run = await runs.get_run(uow(request), request.match_info["run_id"])
    summary = dashboard.summarize_run(run)
    # The run's own plan over the overview's window around its start.
    grid = window(run.started_at)
    requests = dashboard.run_windows(run)
    return render(
        request,
        "run.html",
        title=f"Planning run {run.run_id[:8]}",
        summary=summary,
        windows=requests,
        plot=dashboard.series_json(
            grid,
            planned=dashboard.planned_kw([run], grid),
            cap=dashboard.bounds_kw(requests, grid, WindowKind.CAP),
            floor=dashboard.bounds_kw(requests, grid, WindowKind.FLOOR),
        ),
    )


async def plan_now(request: web.Request) -> web.StreamResponse:
    """Runs in the request, as the REST route does (the solver works in its own process)."""
    record = await request.config_dict[PORTFOLIO].run_now("dashboard")
    notice = f"run {record.run_id[:8]}: {record.status} in {record.seconds:.2f} s"
    if record.message:
        notice += f" ({record.message})"
    return redirect(f"/dashboard/runs?notice={quote(notice)}")


__all__ = ["list_page", "plan_now", "run_page", "vtn_now"]
