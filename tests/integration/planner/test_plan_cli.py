"""`flexvpp plan SCENARIO.json`: the plan on stdout or in -o FILE; exit 2 with every problem."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cli_in_process import CliResult, run_flexvpp
from planner_checker import check_plan
from planner_realdata import make_scenario


def _run(*args: str | Path) -> CliResult:
    return run_flexvpp("plan", *map(str, args))


@pytest.fixture
def real_scenario(shared_data: Path) -> dict[str, Any]:
    return make_scenario(
        shared_data, start=datetime(2024, 5, 12, 8, tzinfo=UTC), fluvius_day="02/12/2023", homes=3
    )


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "scenario.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_plan_to_stdout(tmp_path: Path, real_scenario: dict[str, Any]) -> None:
    done = _run(_write(tmp_path, real_scenario))
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    check_plan(real_scenario, plan)
    assert plan["solver"]["name"] == "highs"


def test_plan_to_file_with_glpk(tmp_path: Path, real_scenario: dict[str, Any]) -> None:
    out = tmp_path / "plan.json"
    done = _run(_write(tmp_path, real_scenario), "-o", out, "--solver", "glpk")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    plan = json.loads(out.read_text())
    check_plan(real_scenario, plan)
    assert plan["solver"]["name"] == "glpk"


def test_plan_with_worker_processes(tmp_path: Path, real_scenario: dict[str, Any]) -> None:
    sequential = _run(_write(tmp_path, real_scenario), "--solver", "glpk")
    parallel = _run(_write(tmp_path, real_scenario), "--solver", "glpk", "--workers", "2")
    assert parallel.returncode == 0, parallel.stderr
    plan = json.loads(parallel.stdout)
    check_plan(real_scenario, plan)
    assert plan["objective_eur"] == pytest.approx(json.loads(sequential.stdout)["objective_eur"], rel=1e-9)


def test_invalid_scenario_exits_2_with_every_message(tmp_path: Path, real_scenario: dict[str, Any]) -> None:
    doc = copy.deepcopy(real_scenario)
    doc["sites"][0]["battery"]["soc_kwh"] = 12.0
    doc["sites"][1]["base_load_kw"] = doc["sites"][1]["base_load_kw"][:10]
    doc["sites"][2]["evs"][0]["mode"] = "turbo"
    doc["horizon"] = 96
    done = _run(_write(tmp_path, doc))
    assert done.returncode == 2
    assert done.stdout == ""
    for expected in (
        "sites[0].battery.soc_kwh: 12.0 is above capacity_kwh 10.0",
        "sites[1].base_load_kw: has 10 values, horizon_slots is 96",
        "sites[2].evs[0].mode: Input should be 'smart', 'solar' or 'boost' (got 'turbo')",
        "horizon: Extra inputs are not permitted",
    ):
        assert expected in done.stderr
    assert "(4 problems)" in done.stderr


def test_unreadable_file_and_bad_arguments_exit_2(tmp_path: Path) -> None:
    missing = _run(tmp_path / "nope.json")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    bad_solver = _run(tmp_path / "nope.json", "--solver", "cplex")
    assert bad_solver.returncode == 2 and "invalid choice" in bad_solver.stderr
    empty = _run(_write(tmp_path, {}, "empty.json"))
    assert empty.returncode == 2 and "start: Field required" in empty.stderr


def test_portfolio_caps_are_planned_jointly(tmp_path: Path, real_scenario: dict[str, Any]) -> None:
    doc = dict(real_scenario, portfolio={"net_import_cap_kw": [10.0] * 96})
    done = _run(_write(tmp_path, doc), "--portfolio-method", "joint")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["status"] in ("optimal", "feasible", "best_effort")
    over = sum(max(0.0, x - 10.0) for x in plan["portfolio"]["net_import_kw"]) * 0.25
    reported = sum(v["kwh"] for v in plan["portfolio"].get("violations", []) if v["kind"] == "net_import_cap")
    assert abs(over - reported) < 1e-5


def test_many_sites_show_progress_on_stderr(tmp_path: Path) -> None:
    n = 4
    site = {"site_id": "", "import_limit_kw": 9.2, "export_limit_kw": 5.0, "base_load_kw": [0.5] * n}
    doc = {
        "start": "2025-03-10T00:00:00+01:00",
        "resolution_minutes": 15,
        "horizon_slots": n,
        "tariff": {"import_eur_per_kwh": [0.3] * n, "export_eur_per_kwh": [0.05] * n},
        "sites": [dict(site, site_id=f"h{i}") for i in range(60)],
    }
    for extra in ((), ("--workers", "2", "--solver", "glpk")):
        done = _run(_write(tmp_path, doc), *extra)
        assert done.returncode == 0, done.stderr
        assert "60/60" in done.stderr
        assert len(json.loads(done.stdout)["sites"]) == 60
