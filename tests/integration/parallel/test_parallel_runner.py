"""plan_sites gives the same plans in 2 worker processes and on a real dask LocalCluster as in-process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from flexmodel.cluster import ClusterUnavailable
from flexmodel.parallel import plan_sites
from flexmodel.problem import SiteProblem, prepare_sites
from flexmodel.scenario import parse_scenario
from flexmodel.site_plan import SitePlan
from flexmodel.solve import SolverOptions
from flexvpp.bench.homes import make_portfolio, synthetic_day

OPTIONS = SolverOptions(solver="highs")
HOMES = 24


@pytest.fixture(scope="module")
def problems() -> list[SiteProblem]:
    day = synthetic_day(datetime(2025, 5, 11, tzinfo=timezone(timedelta(hours=2))), seed=2)
    return prepare_sites(parse_scenario(make_portfolio(day, HOMES, seed=4)))


@pytest.fixture(scope="module")
def sequential(problems: list[SiteProblem]) -> list[SitePlan]:
    return plan_sites(problems, OPTIONS, workers=1)


def _assert_same_plans(plans: list[SitePlan], expected: list[SitePlan]) -> None:
    assert [p.site_id for p in plans] == [p.site_id for p in expected]
    for got, want in zip(plans, expected, strict=True):
        assert got.objective_eur == pytest.approx(want.objective_eur, rel=1e-9, abs=1e-9)
        assert got.status == want.status
        assert got.needed_binaries == want.needed_binaries
        np.testing.assert_allclose(
            got.flows.grid_import_kw - got.flows.grid_export_kw,
            want.flows.grid_import_kw - want.flows.grid_export_kw,
            atol=1e-6,
        )


def test_two_worker_processes_plan_like_one(problems: list[SiteProblem], sequential: list[SitePlan]) -> None:
    done: list[int] = []
    plans = plan_sites(problems, OPTIONS, workers=2, progress=done.append)
    _assert_same_plans(plans, sequential)
    assert sum(done) == HOMES and len(done) > 1  # chunked: several progress reports


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    # Threads in one process keep the test light; tcp so the address is a real tcp://HOST:PORT.
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


def test_a_dask_cluster_plans_like_one_process(
    problems: list[SiteProblem], sequential: list[SitePlan], local_cluster: str
) -> None:
    assert local_cluster.startswith("tcp://")
    done: list[int] = []
    plans = plan_sites(problems, OPTIONS, cluster=local_cluster, progress=done.append)
    _assert_same_plans(plans, sequential)
    assert sum(done) == HOMES


def test_glpk_chunks_go_through_the_pyomo_path(
    problems: list[SiteProblem], sequential: list[SitePlan]
) -> None:
    lp_homes = [p for p, plan in zip(problems, sequential, strict=True) if not plan.needed_binaries][:3]
    plans = plan_sites(lp_homes, SolverOptions(solver="glpk"), workers=2)
    by_id = {p.site_id: p for p in sequential}
    for plan in plans:
        assert plan.objective_eur == pytest.approx(by_id[plan.site_id].objective_eur, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("address", ["127.0.0.1:8786", "tcp://", "http://host:8786", "tcp://host:port"])
def test_a_malformed_cluster_address_is_refused(problems: list[SiteProblem], address: str) -> None:
    with pytest.raises(ClusterUnavailable, match="tcp://HOST:PORT"):
        plan_sites(problems[:1], OPTIONS, cluster=address)


def test_an_unreachable_cluster_is_reported(
    problems: list[SiteProblem], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    import flexmodel.cluster

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(flexmodel.cluster, "CLUSTER_CONNECT_TIMEOUT_S", 2)
    with pytest.raises(ClusterUnavailable, match="cannot reach"):
        plan_sites(problems[:1], OPTIONS, cluster=f"tcp://127.0.0.1:{port}")


def test_workers_below_one_are_refused(problems: list[SiteProblem]) -> None:
    with pytest.raises(ValueError, match="workers"):
        plan_sites(problems, OPTIONS, workers=0)
