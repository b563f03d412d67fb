"""Fuzz fixtures: a live VTN (real port, own thread) on each database, with the fuzzed VEN set up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from vtn_openadr.harness import FakeClock

from vtn.settings import VtnSettings

from .live import LiveVtn
from .target import FuzzTarget


def fuzz_settings(db_url: str) -> VtnSettings:
    # No portfolio loop: the fuzzers aim at the protocol and the REST edge, not at the planner.
    return VtnSettings.model_validate(
        {"db_url": db_url, "vtn_id": "FLEXVPP-FUZZ-VTN", "poll_interval_seconds": 10, "portfolio_loop": False}
    )


@pytest.fixture
def fuzz_target(db_url: str) -> Iterator[FuzzTarget]:
    clock = FakeClock()
    with LiveVtn(fuzz_settings(db_url), clock) as live:
        target = FuzzTarget(live, clock)
        target.setup()
        yield target
        target.http.close()
