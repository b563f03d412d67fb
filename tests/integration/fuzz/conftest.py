"""Fuzz fixtures: a live VTN (real port, own thread) on each database, with the fuzzed VEN set up."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from vtn_openadr.harness import FakeClock
from vtn_openadr.test_events import spec

from aggregator.events import create_event
from aggregator.vens import NewVen, provision_ven
from vtn.api.tokens import create_token
from vtn.db.uow import UnitOfWork
from vtn.settings import VtnSettings

from .live import LiveVtn
from .target import FuzzTarget

TOKEN_NAME = "schemathesis"


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


@pytest.fixture
def rest_vtn(db_url: str) -> Iterator[tuple[LiveVtn, str]]:
    token = asyncio.run(create_token(db_url, "operator", name=TOKEN_NAME))
    # No rate limit here: every generated request carries the token, and a 429 would hide the API.
    settings_ = fuzz_settings(db_url).model_copy(update={"auth_failure_limit": 1_000_000})
    clock = FakeClock()
    with LiveVtn(settings_, clock) as live:
        new = NewVen("schemathesis-ven", site_id="st-site")
        ven = live.run(provision_ven(UnitOfWork(live.sessions), new, datetime.now(UTC)))
        live.run(create_event(UnitOfWork(live.sessions), spec([ven.ven_id], 7200), clock.now, live.cache))
        yield live, token
