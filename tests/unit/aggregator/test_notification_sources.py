"""What the closed loop tells the households (aggregator/notification_sources.py), on in-memory ports:
schedule_changed with a created or modified dispatch event, target_at_risk when a run's plan
cannot reach a car's target (once per shortfall), device_offline when the watch finds a home silent.
Only sites with a webhook are told."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fakes import FakeNotifier, FakeUnitOfWork

from aggregator.dispatch import EventDispatcher
from aggregator.loop_store import save_run
from aggregator.notification_records import NotificationKind, NotificationRecord, WebhookRecord
from aggregator.notification_sources import ev_shortfalls
from aggregator.ports import RunRecord, Schedule
from aggregator.records import VenRecord
from aggregator.watch import WatchRules, look

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
SLOT = timedelta(minutes=15)
VENS = [VenRecord(f"ven-{i}", f"home {i}", f"site-{i}", T0, registration_id=f"reg-{i}") for i in range(3)]
HOOKS = [WebhookRecord(f"site-{i}", f"https://app.example/{i}", "s", T0) for i in (0, 1)]  # site-2: none


def told(uow: FakeUnitOfWork, kind: NotificationKind) -> list[NotificationRecord]:
    return sorted(
        (n for n in uow.stored.notifications.values() if n.kind == kind), key=lambda n: (n.site_id, n.id)
    )


# ---- schedule_changed ---------------------------------------------------------------------------


def schedule(i: int, values: list[float]) -> Schedule:
    return Schedule(f"ven-{i}", f"site-{i}", T0, SLOT, tuple(values))


async def test_a_created_or_modified_schedule_is_told_an_unchanged_one_is_not() -> None:
    uow = FakeUnitOfWork(vens=VENS, webhooks=HOOKS)
    dispatcher = EventDispatcher(uow, FakeNotifier(), 3600)
    first = await dispatcher.dispatch_all([schedule(i, [1.0, 2.0]) for i in range(3)], "run-1", T0)
    notes = told(uow, NotificationKind.SCHEDULE_CHANGED)
    assert [n.site_id for n in notes] == ["site-0", "site-1"]  # site-2 has no webhook
    assert notes[0].data == {
        "ven_id": "ven-0",
        "event_id": first[0].event_id,
        "modification_number": 0,
        "run_id": "run-1",
        "start": T0.isoformat(),
        "end": (T0 + 2 * SLOT).isoformat(),
    }
    await dispatcher.dispatch_all([schedule(0, [1.0, 2.0]), schedule(1, [1.0, 3.0])], "run-2", T0)
    notes = told(uow, NotificationKind.SCHEDULE_CHANGED)
    changed = [n for n in notes if n.data["run_id"] == "run-2"]
    assert [(n.site_id, n.data["modification_number"]) for n in changed] == [("site-1", 1)]


# ---- target_at_risk -----------------------------------------------------------------------------


def run(run_id: str, shortfalls: dict[str, float], at: datetime = T0) -> RunRecord:
    """A planned run whose plan reports these EV shortfalls [kWh] by site (EV "ev-1" each)."""
    sites: list[dict[str, Any]] = [
        {"site_id": s, "violations": [{"kind": "ev_shortfall", "ev_id": "ev-1", "kwh": kwh}]}
        for s, kwh in shortfalls.items()
    ]
    sites.append({"site_id": "site-calm", "violations": [{"kind": "import_limit", "kwh": 3.0}]})
    scenario = {
        "sites": [
            {
                "site_id": s,
                "evs": [{"ev_id": "ev-1", "energy_needed_kwh": 30.0, "departure": "2030-01-02T07:00:00Z"}],
            }
            for s in shortfalls
        ]
    }
    plan = {"status": "best_effort", "sites": sites}
    return RunRecord(
        run_id, "test", at, 0.1, "best_effort", "highs", None, None, {"scenario": scenario}, plan, None
    )


def test_the_shortfalls_of_a_plan_are_its_ev_shortfall_violations_above_noise() -> None:
    plan = run("r", {"site-0": 2.5, "site-1": 0.001}).plan
    assert ev_shortfalls(plan) == {("site-0", "ev-1"): 2.5}
    assert ev_shortfalls(None) == {}


async def test_a_new_shortfall_is_told_once_and_again_after_it_was_resolved() -> None:
    uow = FakeUnitOfWork(vens=VENS, webhooks=HOOKS)
    await save_run(uow, run("r1", {"site-0": 2.5, "site-2": 1.0}))
    (note,) = told(uow, NotificationKind.TARGET_AT_RISK)  # site-2 has no webhook
    assert (note.site_id, note.created_at) == ("site-0", T0)
    assert note.data == {
        "ev_id": "ev-1",
        "shortfall_kwh": 2.5,
        "energy_needed_kwh": 30.0,
        "departure": "2030-01-02T07:00:00Z",
        "run_id": "r1",
    }
    await save_run(uow, run("r2", {"site-0": 2.0}, T0 + SLOT))  # the same car still short: told already
    assert len(told(uow, NotificationKind.TARGET_AT_RISK)) == 1
    await save_run(uow, run("r3", {}, T0 + 2 * SLOT))
    await save_run(uow, run("r4", {"site-0": 1.0, "site-1": 4.0}, T0 + 3 * SLOT))
    again = [(n.site_id, n.data["run_id"]) for n in told(uow, NotificationKind.TARGET_AT_RISK)]
    assert sorted(again) == [("site-0", "r1"), ("site-0", "r4"), ("site-1", "r4")]


# ---- device_offline -----------------------------------------------------------------------------


async def test_a_home_found_offline_is_told_once() -> None:
    now = T0 + timedelta(minutes=10)
    silent = [replace(v, last_poll_at=now - timedelta(minutes=5)) for v in VENS]
    silent[1] = replace(silent[1], last_poll_at=now)  # site-1 polls
    uow = FakeUnitOfWork(vens=silent, webhooks=HOOKS)
    rules = WatchRules(offline_after=timedelta(seconds=60), deviation_tolerance_kw=2.0)
    found = await look(uow, now, rules, {}, None)
    assert sorted(f.ven_id for f in found) == ["ven-0", "ven-2"]
    (note,) = told(uow, NotificationKind.DEVICE_OFFLINE)  # site-2 has no webhook
    assert (note.site_id, note.data) == (
        "site-0",
        {"device": "gateway", "ven_id": "ven-0", "last_seen_at": (now - timedelta(minutes=5)).isoformat()},
    )
    exclusions = {f.ven_id: f.exclusion for f in found if f.exclusion is not None}
    assert await look(uow, now + timedelta(minutes=1), rules, exclusions, None) == []
    assert len(told(uow, NotificationKind.DEVICE_OFFLINE)) == 1
