"""What makes the loop re-plan and whom it stops steering (aggregator/watch.py), on in-memory
ports: homes offline, opted out or deviating from their schedule, and cars arriving or leaving."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fakes import FakeUnitOfWork

from aggregator.loop_store import Exclusion, ExclusionReason
from aggregator.ports import RunRecord
from aggregator.records import (
    DispatchRecord,
    EventInterval,
    EventRecord,
    EventResponseRecord,
    ReportValueRecord,
    VenRecord,
)
from aggregator.watch import FLEXIBILITY_CHANGED, Finding, WatchRules, look, planned_evs
from flexmodel.flexreport import REPORT_NAME as FLEX_REPORT_NAME

NOW = datetime(2030, 1, 1, 10, 15, tzinfo=UTC)
START = NOW - timedelta(minutes=15)  # the schedules' first slot
RULES = WatchRules(offline_after=timedelta(seconds=60), deviation_tolerance_kw=2.0)


def ven(name: str, polled_s_ago: float = 10.0) -> VenRecord:
    return VenRecord(
        ven_id=name,
        ven_name=f"home {name}",
        site_id=f"site-{name}",
        created_at=START,
        registration_id=f"reg-{name}",
        last_poll_at=NOW - timedelta(seconds=polled_s_ago),
    )


def event(name: str) -> EventRecord:
    intervals = tuple(EventInterval(START + i * timedelta(minutes=15), 900, 1.0) for i in range(8))
    return EventRecord(
        f"ev-{name}", 0, "mc", "LOAD_DISPATCH", "setpoint", "s", intervals, START, 8 * 900, START, START
    )


def dispatch(name: str, setpoint_kw: float = 1.0) -> DispatchRecord:
    return DispatchRecord(name, f"ev-{name}", "run-1", START, 15, (setpoint_kw,) * 8, START)


def power(
    name: str, kw: float, device: str = "meter-1", minutes: Iterable[int] = (1, 5, 9, 13)
) -> list[ReportValueRecord]:
    """`.power` telemetry [W] of the device at START + each minute."""
    return [
        ReportValueRecord(
            name, "rr", "TELEMETRY_USAGE", f"{device}.power", START + timedelta(minutes=m), 60, kw * 1000, NOW
        )
        for m in minutes
    ]


def homes(*names: str, measured_kw: dict[str, float | None] | None = None, **extra: Any) -> FakeUnitOfWork:
    """Registered homes with a dispatch event each for a 1 kW schedule, their meters reading
    1.2 kW unless `measured_kw` says otherwise (None: no meter telemetry)."""
    measured = {n: 1.2 for n in names} | (measured_kw or {})
    values = [v for n, kw in measured.items() if kw is not None for v in power(n, kw)]
    values += extra.pop("report_values", [])
    return FakeUnitOfWork(
        vens=extra.pop("vens", [ven(n) for n in names]),
        events=[event(n) for n in names],
        event_targets=[(f"ev-{n}", (n,)) for n in names],
        dispatches=[dispatch(n) for n in names],
        report_values=values,
        **extra,
    )


def excluded(finding: Finding) -> tuple[ExclusionReason, float]:
    """Why the home is excluded, and its load held fixed [kW] (to a W)."""
    assert finding.exclusion is not None
    return finding.exclusion.reason, round(finding.exclusion.fixed_kw, 3)


async def findings(uow: FakeUnitOfWork, rules: WatchRules = RULES, **kw: Any) -> dict[str, Finding]:
    found = await look(uow, NOW, rules, kw.get("exclusions", {}), kw.get("last_evs"))
    return {f.ven_id: f for f in found}


async def test_a_home_that_follows_its_schedule_is_no_finding() -> None:
    assert await findings(homes("steady")) == {}


async def test_a_home_that_stopped_polling_is_excluded_with_its_measured_load() -> None:
    uow = homes("steady", "quiet", vens=[ven("steady"), ven("quiet", polled_s_ago=300)])
    found = await findings(uow)
    assert list(found) == ["quiet"] and found["quiet"].reason == "quiet offline"
    assert excluded(found["quiet"]) == (ExclusionReason.OFFLINE, 1.2)


async def test_offline_is_measured_on_the_vtn_clock() -> None:
    """The stored poll times are the VTN's (a simulated clock in demos), so is `now`."""
    uow = homes("a", vens=[replace(ven("a"), last_poll_at=NOW - timedelta(seconds=59))])
    assert await findings(uow) == {}
    assert list(await findings(uow, replace(RULES, offline_after=timedelta(seconds=30)))) == ["a"]


async def test_a_home_that_never_polled_is_not_offline() -> None:
    assert await findings(homes("a", vens=[replace(ven("a"), last_poll_at=None)])) == {}


async def test_an_opt_out_of_the_dispatch_event_excludes_the_home() -> None:
    answer = EventResponseRecord("b", "ev-b", 0, "optOut", "200", NOW)
    found = await findings(homes("a", "b", event_responses=[answer]))
    assert list(found) == ["b"] and found["b"].reason == "b opted out"
    assert excluded(found["b"]) == (ExclusionReason.OPTED_OUT, 1.2)


async def test_an_opt_out_of_an_earlier_modification_is_no_longer_one() -> None:
    answer = EventResponseRecord("a", "ev-a", 0, "optOut", "200", NOW)
    uow = homes("a", event_responses=[answer])
    uow.stored.events["ev-a"] = replace(uow.stored.events["ev-a"], modification_number=1)
    assert await findings(uow) == {}


async def test_a_home_far_from_its_schedule_is_excluded_with_its_measured_load() -> None:
    uow = homes("steady", "far", measured_kw={"far": 6.0})  # 6 kW where the schedule says 1
    found = await findings(uow)
    assert list(found) == ["far"] and found["far"].reason == "far deviates 5.0 kW from its schedule"
    assert excluded(found["far"]) == (ExclusionReason.DEVIATES, 6.0)


async def test_deviation_needs_three_samples_in_the_schedules_slots() -> None:
    few = homes("far", measured_kw={"far": None}, report_values=power("far", 6.0, minutes=(1, 5)))
    assert await findings(few) == {}
    before = homes("far")
    before.stored.dispatches["far"] = replace(dispatch("far"), start=NOW)  # the schedule starts later
    assert await findings(before, replace(RULES, deviation_tolerance_kw=0.1)) == {}


async def test_a_sample_stored_for_two_report_requests_counts_once() -> None:
    twice = [
        replace(v, report_request_id=rr) for v in power("far", 6.0, minutes=(1, 5)) for rr in ("r1", "r2")
    ]
    assert await findings(homes("far", measured_kw={"far": None}, report_values=twice)) == {}


async def test_samples_before_a_changed_schedule_reached_the_home_are_not_held_against_it() -> None:
    """The schedule changed at START + 4 min and reaches the home within a poll (5 min here): the
    6 kW it drew before, on its previous schedule, is no deviation from the new one."""
    changed = homes("far", measured_kw={"far": None}, report_values=power("far", 6.0, minutes=(1, 5, 9, 13)))
    changed.stored.dispatches["far"] = replace(dispatch("far"), updated_at=START + timedelta(minutes=4))
    graced = replace(RULES, delivery_grace=timedelta(minutes=5))
    assert await findings(changed, graced) == {}  # only 13 is past 9 min: fewer than three samples
    assert list(await findings(changed, RULES)) == ["far"]  # without the grace: 5, 9 and 13 count


async def test_with_target_ev_the_chargers_power_is_compared_with_the_schedule() -> None:
    ev_rules = replace(RULES, steered_device="evse")
    charger = power("car", 7.0, device="evse-1")  # 7 kW where the schedule says 1
    found = await findings(homes("car", report_values=charger), ev_rules)
    assert excluded(found["car"]) == (ExclusionReason.DEVIATES, 1.2)  # the meter's
    assert await findings(homes("car", report_values=charger)) == {}  # target site: the meter follows


async def test_a_home_without_a_dispatch_event_is_only_checked_for_polls() -> None:
    uow = homes("far", measured_kw={"far": 6.0})
    uow.stored.dispatches.clear()
    assert await findings(uow) == {}
    uow = homes("far", measured_kw={"far": 6.0})
    uow.stored.events.clear()  # the event is gone: as if not steered
    assert await findings(uow) == {}


async def test_excluded_and_unregistered_homes_are_not_watched() -> None:
    quiet = ven("quiet", polled_s_ago=300)
    uow = homes("quiet", "gone", vens=[quiet, replace(quiet, ven_id="gone", registration_id=None)])
    excluded = {"quiet": Exclusion(ExclusionReason.OPTED_OUT, 1.0)}
    assert await findings(uow, exclusions=excluded) == {}


def need(name: str, ev_id: str) -> ReportValueRecord:
    return ReportValueRecord(
        name, "flex", FLEX_REPORT_NAME, f"{ev_id}.energy_needed_kwh", NOW, 3600, 20.0, NOW
    )


async def test_a_car_arriving_or_leaving_is_a_finding_only_against_the_cars_last_planned() -> None:
    uow = homes("a", report_values=[need("a", "evse-1")])
    assert await findings(uow) == {}  # nothing planned yet
    assert await findings(uow, last_evs=frozenset({("site-a", "evse-1")})) == {}
    for last in (frozenset(), frozenset({("site-a", "evse-1"), ("site-a", "evse-2")})):
        assert await findings(uow, last_evs=last) == {"": Finding("", FLEXIBILITY_CHANGED)}


async def test_an_excluded_homes_cars_are_no_finding() -> None:
    """The run plans an excluded home's load fixed, without its cars, while the home still reports
    them: counted, they differed from the cars planned at every check and the loop re-planned
    every second for as long as the home stayed excluded (docs/closed-loop.md)."""
    out = {"a": Exclusion(ExclusionReason.DEVIATES, 4.2)}
    planned = frozenset({("site-b", "evse-1")})  # as planned_evs gives it for a run with "a" excluded
    reported = [need("a", "evse-1"), need("b", "evse-1")]
    assert await findings(homes("a", "b", report_values=reported), exclusions=out, last_evs=planned) == {}
    # a car arriving at the excluded home changes no plan; one arriving at a steered home does
    arriving = homes("a", "b", report_values=[*reported, need("a", "evse-2")])
    assert await findings(arriving, exclusions=out, last_evs=planned) == {}
    arriving = homes("a", "b", report_values=[*reported, need("b", "evse-2")])
    changed = {"": Finding("", FLEXIBILITY_CHANGED)}
    assert await findings(arriving, exclusions=out, last_evs=planned) == changed


def test_the_cars_a_run_planned_with() -> None:
    scenario = {"sites": [{"site_id": "s1", "evs": [{"ev_id": "e1"}, {"ev_id": "e2"}]}, {"site_id": "s2"}]}
    run = RunRecord("r", "test", NOW, 1.0, "optimal", "highs", None, None, {"scenario": scenario}, None, None)
    assert planned_evs(run) == {("s1", "e1"), ("s1", "e2")}
    assert planned_evs(replace(run, inputs={"scenario": None})) == frozenset()
