"""Fixtures of the fault tests: a private PostgreSQL cluster and the VTN as a killable process."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "ven"))  # ven_broker: the private Mosquitto

from fault_rig import PgCluster
from ven_broker import mosquitto  # noqa: F401  (a fixture)


@pytest.fixture
def pg_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL cluster of our own (the shared one must never be restarted by a test).

    Its directory is made outside pytest's tmp tree, which the `postgres` user cannot enter.
    """
    if not PgCluster.available():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
    directory = Path(tempfile.mkdtemp(prefix="flexvpp-pg-"))
    cluster = PgCluster(directory)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
