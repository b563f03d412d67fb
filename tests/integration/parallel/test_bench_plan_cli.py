"""`flexvpp bench plan` runs end to end on a tiny portfolio and prints its figures."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from flexvpp.cli import main


def test_bench_plan_prints_the_figures_on_synthetic_data(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "plan", "--homes", "6", "--workers", "1", "--solver", "highs", "--stacked-lp-homes", "3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "synthetic (generated in code)" in out
    assert "planned 6 homes" in out and "ms per home" in out
    assert "needed binaries" in out and "peak memory" in out
    assert "solve time in the workers: LP homes" in out
    assert "stacked-LP floor: 3 homes as one LP" in out and "6 homes would take" in out


def test_the_stacked_lp_floor_solves_the_homes_lps(shared_data: Path) -> None:
    """Stacked, the homes' LPs keep their optima: on a day without negative prices every home is
    an LP whose levels are at their ideals, so the stacked weighted objective is the sum of costs."""
    from flexmodel.fast import FastPlanner
    from flexmodel.problem import prepare_sites
    from flexmodel.scenario import parse_scenario
    from flexmodel.solve import SolverOptions
    from flexvpp.bench.data import load_day
    from flexvpp.bench.homes import make_portfolio
    from flexvpp.bench.stacked import stacked_floor

    day = load_day(shared_data, date(2025, 3, 12))
    problems = prepare_sites(parse_scenario(make_portfolio(day, 40, seed=1)))
    planner = FastPlanner(SolverOptions())
    plans = [planner.solve(p) for p in problems]
    plain = [p for p, plan in zip(problems, plans, strict=True) if str(plan.status) == "optimal"]
    assert len(plain) > 30 and not any(plan.needed_binaries for plan in plans)
    floor = stacked_floor(plain)
    costs = sum(plan.objective_eur for plan in plans if str(plan.status) == "optimal")
    assert floor.homes == len(plain)
    assert floor.objective_eur == pytest.approx(costs, rel=1e-7)


def test_bench_plan_reads_the_shared_data_and_extrapolates_glpk(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "bench",
        "plan",
        "--homes",
        "4",
        "--workers",
        "1",
        "--data",
        str(shared_data),
        "--glpk-homes",
        "2",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "-462.3" in out  # the 2025-05-11 day-ahead minimum, EUR/MWh
    assert "EXTRAPOLATED to 4 homes" in out
    assert "glpk vs highs: largest relative objective difference" in out


def test_the_day_loader_reads_one_brussels_day(shared_data: Path) -> None:
    from flexvpp.bench.data import load_day

    day = load_day(shared_data, date(2025, 5, 11))
    assert day.start.isoformat() == "2025-05-11T00:00:00+02:00"
    assert day.day_ahead_eur_per_kwh.shape == (96,)
    assert day.day_ahead_eur_per_kwh.min() == pytest.approx(-0.46233)
    assert 0.3 < day.pv_load_factor.max() <= 1.0 and day.pv_load_factor[:16].max() == 0.0  # night
    assert day.base_profiles_kw.shape[1] == 96 and np.all(day.base_profiles_kw >= 0.0)
    assert len(day.ev_sessions.arrival_hour) > 1000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--homes", "0"], "--homes"),
        (["--date", "2025-02-30"], "--date"),
        (["--data", "/nonexistent/dir"], "--data"),
        (["--workers", "0"], "--workers"),
        (["--stacked-lp-homes", "-1"], "--stacked-lp-homes"),
    ],
)
def test_bad_arguments_exit_2_naming_the_option(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "plan", *argv]) == 2
    assert message in capsys.readouterr().err
