"""A dask.distributed cluster to plan on: one address check and one way to connect.

Both users of a cluster (flexmodel.parallel for independent homes, the decomposition's pricing in
flexmodel.portfolio.pricing) connect here, so they accept the same addresses and fail the same way.
`distributed` is an optional dependency: it is imported only when a cluster is asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flexmodel.errors import PlanningError

CLUSTER_ADDRESS = re.compile(r"^(tcp|tls)://[^\s:/]+:\d+$")
CLUSTER_CONNECT_TIMEOUT_S = 20


class ClusterUnavailable(PlanningError):
    """The dask scheduler could not be reached, or its address is malformed."""


def connect(address: str) -> Any:
    """A `distributed.Client` for `tcp://HOST:PORT` (not made the process's default client)."""
    if not CLUSTER_ADDRESS.match(address):
        raise ClusterUnavailable(f"cluster address {address!r} is not of the form tcp://HOST:PORT")
    import distributed

    try:
        return distributed.Client(  # type: ignore[no-untyped-call]
            address,
            timeout=CLUSTER_CONNECT_TIMEOUT_S,
            set_as_default=False,
        )
    except (OSError, TimeoutError) as exc:
        raise ClusterUnavailable(f"cannot reach the dask scheduler at {address}: {exc}") from exc


def thread_count(client: Any) -> int:
    """How many tasks the cluster runs at once (its workers' threads), at least 1."""
    workers = client.scheduler_info()["workers"].values()
    return max(1, sum(int(info.get("nthreads", 1)) for info in workers))


def as_completed(client: Any, futures: list[Any]) -> Iterator[Any]:
    """The futures as they finish (the client's own loop: it is not the default client)."""
    import distributed

    return iter(distributed.as_completed(futures, loop=client.loop))  # type: ignore[no-untyped-call]
