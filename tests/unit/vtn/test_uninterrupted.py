"""vtn/services/uninterrupted.py: a cancellation waits for the work in flight, then takes effect."""

from __future__ import annotations

import asyncio

import pytest

from vtn.services.uninterrupted import uninterrupted


async def _step(steps: list[str], fail: bool = False) -> str:
    steps.append("begun")
    await asyncio.sleep(0.05)  # the query in flight
    steps.append("ended")
    if fail:
        raise ValueError("the database is away")
    return "done"


async def test_the_result_and_the_error_of_the_work_come_through() -> None:
    assert await uninterrupted(_step([])) == "done"
    with pytest.raises(ValueError, match="away"):
        await uninterrupted(_step([], fail=True))


async def test_a_cancelled_caller_waits_for_the_work_then_is_cancelled() -> None:
    steps: list[str] = []
    caller = asyncio.create_task(uninterrupted(_step(steps)))
    await asyncio.sleep(0.01)
    caller.cancel()
    await asyncio.sleep(0.01)
    caller.cancel()  # a second cancel (a loop shutting down) does not cut the work short either
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert steps == ["begun", "ended"]


async def test_a_cancelled_caller_is_cancelled_even_when_the_work_then_fails() -> None:
    steps: list[str] = []
    caller = asyncio.create_task(uninterrupted(_step(steps, fail=True)))
    await asyncio.sleep(0.01)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert steps == ["begun", "ended"]
