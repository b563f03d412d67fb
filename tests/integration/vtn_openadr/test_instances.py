"""Several VTN instances on one database, in this process (vtn/services/leadership.py): what one
stores reaches another's poll cache through PostgreSQL's notifications; the loop's state is
stored, so the instance that takes the loop over resumes from it; a leader that loses its
database connection stops leading and the other takes over."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from aggregator.event_rules import EventSpec, IntervalSpec
from aggregator.events import create_event
from aggregator.loop_store import Exclusion, ExclusionReason
from aggregator.ports import NullNotifier
from aggregator.vens import NewVen, provision_ven
from vtn import app as vtn_app
from vtn.app import CLOCK, LEADERSHIP, SESSIONS, create_app
from vtn.db.engine import create_engine, sessions_for
from vtn.db.instance_link import LOOP_LOCK_KEY, InstanceLink
from vtn.db.uow import UnitOfWork
from vtn.portfolio.loop import EXCLUSION_LASTS, PORTFOLIO, PortfolioLoop
from vtn.services.leadership import Leadership
from vtn.settings import VtnSettings

from .harness import T0, FakeClock, Vtn
from .helpers import drain, poll, provision_and_register

pytestmark = pytest.mark.db_backends("postgresql")


async def _instance(settings: VtnSettings, clock: FakeClock, aiohttp_client: Any) -> tuple[Vtn, Any]:
    app = create_app(settings)
    app[CLOCK] = clock  # type: ignore[misc]
    return Vtn(await aiohttp_client(app), clock, app[SESSIONS], settings), app


async def test_a_poll_on_another_instance_sees_a_new_event_within_a_poll_period(
    db_url: str, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No periodic re-read during the test: only the notification can tell the second instance.
    monkeypatch.setattr(vtn_app, "POLL_CACHE_SYNC_SECONDS", 3600.0)
    settings = VtnSettings.model_validate({"db_url": db_url, "poll_interval_seconds": 2})
    clock = FakeClock()
    first, _ = await _instance(settings, clock, aiohttp_client)
    second, _ = await _instance(settings, clock, aiohttp_client)
    ven_id, _ = await provision_and_register(first, "ven-instances")
    clock.advance(60)
    await drain(first, ven_id)
    assert await drain(second, ven_id) == [], "nothing waits for the VEN"

    spec = EventSpec([ven_id], "SIMPLE", "level", (IntervalSpec(T0 + timedelta(hours=1), 600, 1.0),))
    await create_event(UnitOfWork(first.sessions), spec, clock.now, first.cache)  # stored by the first
    asked = time.monotonic()
    reply = await poll(second, ven_id)
    while (
        reply.message_type != "oadrDistributeEvent"
        and time.monotonic() - asked < 2 * settings.poll_interval_seconds
    ):
        await asyncio.sleep(0.05)
        reply = await poll(second, ven_id)
    seen_s = time.monotonic() - asked
    print(f"the second instance's poll carried the event after {seen_s:.3f} s")
    assert reply.message_type == "oadrDistributeEvent", "the second instance never saw the event"
    assert seen_s < settings.poll_interval_seconds
    first.replies.extend(second.replies)


@pytest.mark.db_backends("sqlite", "postgresql")
async def test_the_next_leader_resumes_the_day_ahead_bookkeeping_and_the_exclusions(db_url: str) -> None:
    settings = VtnSettings.model_validate(
        {"db_url": db_url, "dayahead_time": "13:00", "timezone": "UTC", "portfolio_loop": False}
    )
    clock = FakeClock(T0 + timedelta(hours=1, minutes=5))  # after today's day-ahead time
    engine = create_engine(db_url)
    try:
        sessions = sessions_for(engine)
        ven = await provision_ven(UnitOfWork(sessions), NewVen("ven-excluded", "site-x"), clock.now)
        # The loops' state only: nobody runs them here (a leader would take the stored request).
        leader = PortfolioLoop(sessions, settings, clock, NullNotifier())
        await leader._resume()
        assert await leader._dayahead_due(clock.now), "due once"
        await leader.state.add_exclusions({ven.ven_id: Exclusion(ExclusionReason.OFFLINE, 0.7)}, clock.now)

        # Another instance's loop, as it takes over: it knows both, so it neither queues the
        # day-ahead a second time today nor steers the excluded home.
        successor = PortfolioLoop(sessions, settings, clock, NullNotifier())
        await successor._resume()
        assert not await successor._dayahead_due(clock.now), "the day-ahead was queued once today"
        assert successor.exclusions == {ven.ven_id: Exclusion(ExclusionReason.OFFLINE, 0.7)}
        assert [r.reason for r in await successor.state.pending_replans()] == ["day-ahead"], "stored"
        clock.advance(EXCLUSION_LASTS.total_seconds() + 1)
        await successor._read_exclusions(clock.now)
        assert successor.exclusions == {}, "an exclusion lapses after a day"
        assert await successor._dayahead_due(clock.now), "the next day's day-ahead is due"
    finally:
        await engine.dispose()


async def test_a_leader_that_loses_its_connection_steps_down_and_the_other_leads(
    db_url: str, aiohttp_client: Any
) -> None:
    settings = VtnSettings.model_validate({"db_url": db_url, "leader_takeover_seconds": 2})
    clock = FakeClock()
    _, first = await _instance(settings, clock, aiohttp_client)
    _, second = await _instance(settings, clock, aiohttp_client)
    assert first[LEADERSHIP].leading and not second[LEADERSHIP].leading
    assert first[PORTFOLIO].leading and not second[PORTFOLIO].leading

    _end_lock_session(db_url)
    bound = time.monotonic() + 3 * settings.leader_takeover_seconds
    while (first[LEADERSHIP].leading or first[PORTFOLIO].leading) and time.monotonic() < bound:
        await asyncio.sleep(0.05)
    assert not first[LEADERSHIP].leading and not first[PORTFOLIO].leading, "the old leader stopped"
    # Then one of the two leads again (the first to try the lock: the other, or the old leader
    # back on a new connection), never both.
    while not (first[LEADERSHIP].leading or second[LEADERSHIP].leading) and time.monotonic() < bound:
        await asyncio.sleep(0.05)
    assert first[LEADERSHIP].leading != second[LEADERSHIP].leading
    await asyncio.sleep(settings.leader_takeover_seconds)  # several election rounds: it stays so
    assert first[LEADERSHIP].leading != second[LEADERSHIP].leading
    assert [a[PORTFOLIO].leading for a in (first, second)] == [a[LEADERSHIP].leading for a in (first, second)]


def _end_lock_session(db_url: str) -> None:
    """The database ends the session holding the loop's lock (as when the leader's network went)."""
    with psycopg.connect(db_url, autocommit=True) as admin:
        pid = admin.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            (LOOP_LOCK_KEY & 0xFFFFFFFF,),
        ).fetchone()
        assert pid is not None
        admin.execute("SELECT pg_terminate_backend(%s)", pid)


async def test_stopping_while_stepping_down_stops(db_url: str) -> None:
    """A job slow to end (a solver process being stopped) holds the step-down; an app shutting down
    meanwhile must still stop the election (it once waited forever: a teardown hung 300 s)."""
    ended = asyncio.Event()

    async def slow_to_end() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(1.0)
            ended.set()

    leadership = Leadership(InstanceLink(db_url, 1.0), 1.0, "test instance")
    leadership.add_job("slow", slow_to_end)
    await leadership.start()
    assert leadership.leading
    _end_lock_session(db_url)
    bound = time.monotonic() + 10
    while leadership.leading and time.monotonic() < bound:
        await asyncio.sleep(0.01)
    assert not leadership.leading and not ended.is_set(), "stepping down, the job still ending"
    await asyncio.wait_for(leadership.stop(), timeout=10)
    assert ended.is_set()
