"""PostgreSQL restarts under load: the VTN (same process) reconnects, VENs retry, nothing is lost.

A private cluster (never the shared server) is stopped and started again while VENs report and
poll; every report value a VEN generated must be stored exactly once, and polls and reports
must succeed again after the restart without restarting the VTN.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fault_rig import PgCluster, VtnProcess
from sim_vens import Fleet, check_exactly_once, provision, stored_values

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
VENS = 8


async def test_vtn_survives_a_postgresql_restart_without_losing_reports(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    names = [f"pg-fault-{i}" for i in range(VENS)]
    ven_ids = await provision(pg_cluster.url, names)
    vtn = VtnProcess(pg_cluster.url, tmp_path)
    await vtn.start()
    fleet = Fleet(vtn.base, names, ven_ids)
    try:
        await fleet.setup()
        for _ in range(5):
            polls_ok, reports_ok = await fleet.round()
            assert (polls_ok, reports_ok) == (VENS, VENS)
        pg_cluster.stop()
        down = [await fleet.round() for _ in range(5)]
        assert sum(r for _, r in down) == 0, "reports were acknowledged while the database was down"
        assert fleet.result.report_errors >= VENS
        pg_cluster.start()
        after = [await fleet.round() for _ in range(8)]
        # the VTN reconnects by itself: the last rounds succeed for every VEN
        assert after[-1] == (VENS, VENS), (after, vtn.log_text())
        await fleet.flush()
    finally:
        await fleet.close()
        assert vtn.proc is not None and vtn.proc.poll() is None, "the VTN died: " + vtn.log_text()
        vtn.stop()
    assert fleet.result.setup_errors == []
    check_exactly_once(fleet.result.sent, stored_values(pg_cluster.url))
