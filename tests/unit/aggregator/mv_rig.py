"""Three homes, their meters' telemetry and one DR event, for the M&V use-case tests.

Tuesday 10 November 2026, 17:00-18:00 UTC: a LOAD_DISPATCH `delta` of -1 kW per home (a
reduction of 1 kWh each). Each meter reads 2 kW all the time, except during the event: home A
draws 0.5 kW (delivers 1.5 kWh), home B 1.5 kW (delivers 0.5 kWh), home C opted out and keeps
its 2 kW. The meters' samples are every 15 minutes from 20 October (three weeks of history).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fakes import FakeUnitOfWork
from home_telemetry import device_rows, registration

from aggregator.ports import RunRecord
from aggregator.records import EventInterval, EventRecord, EventResponseRecord, VenRecord
from aggregator.settlement_records import ProgramTermsRecord

PROGRAM = "http://flexvpp.org/market/evening-dr"
START = datetime(2026, 11, 10, 17, tzinfo=UTC)
END = START + timedelta(hours=1)
CREATED = datetime(2026, 11, 10, 9, tzinfo=UTC)
HISTORY_FROM = datetime(2026, 10, 20, tzinfo=UTC)
STEP = timedelta(minutes=15)
DURING_KW = {"ven-a": 0.5, "ven-b": 1.5, "ven-c": 2.0}


def ven(name: str) -> VenRecord:
    return VenRecord(
        ven_id=f"ven-{name}",
        ven_name=f"home {name}",
        site_id=f"site-{name}",
        created_at=HISTORY_FROM,
        registration_id=f"reg-{name}",
        registered_at=HISTORY_FROM,
    )


VENS = [ven("a"), ven("b"), ven("c")]

EVENT = EventRecord(
    event_id="dr-1",
    modification_number=0,
    market_context=PROGRAM,
    signal_name="LOAD_DISPATCH",
    signal_type="delta",
    signal_id="s-1",
    intervals=(EventInterval(START, 3600, -1.0),),
    dtstart=START,
    duration_seconds=3600,
    created_at=CREATED,
    modified_at=CREATED,
)


def profile(ven_id: str) -> Callable[[datetime], float]:
    def kw(at: datetime) -> float:
        return DURING_KW[ven_id] if START <= at < END else 2.0

    return kw


def run(run_id: str, started: datetime, site_kw: float) -> RunRecord:
    """A planning run over 10 November 16:00-19:00 UTC that planned home A at `site_kw`."""
    slots = 12
    return RunRecord(
        run_id=run_id,
        trigger="test",
        started_at=started,
        seconds=1.0,
        status="optimal",
        solver="highs",
        gap=None,
        message=None,
        inputs={"scenario": {"start": "2026-11-10T16:00:00+00:00", "resolution_minutes": 15}},
        plan={
            "sites": [
                {"site_id": "site-a", "grid_import_kw": [site_kw] * slots, "grid_export_kw": [0.0] * slots}
            ]
        },
        dispatch=None,
    )


def terms(**changes: object) -> ProgramTermsRecord:
    values: dict[str, object] = {
        "market_context": PROGRAM,
        "reward_eur_per_kwh": 0.5,
        "penalty_eur_per_kwh": 0.2,
        "baseline_method": "meter_before",
        "updated_at": CREATED,
    }
    values.update(changes)
    return ProgramTermsRecord(**values)  # type: ignore[arg-type]


def telemetry(until: datetime) -> list:  # type: ignore[type-arg]
    rows = []
    for v in VENS:
        rows += device_rows(v.ven_id, "meter-1", HISTORY_FROM, until, STEP, profile(v.ven_id))
    return rows


def make_uow(*, with_terms: bool = True, until: datetime = START + timedelta(hours=3)) -> FakeUnitOfWork:
    return FakeUnitOfWork(
        vens=VENS,
        events=[EVENT],
        event_targets=[(EVENT.event_id, [v.ven_id for v in VENS])],
        event_responses=[EventResponseRecord("ven-c", "dr-1", 0, "optOut", "200", CREATED)],
        report_registrations=[
            r for v in VENS for r in registration(v.ven_id, {"meter-1": False}, HISTORY_FROM)
        ],
        report_values=telemetry(until),
        runs=[
            run("before", CREATED - timedelta(hours=1), 3.0),
            run("after", CREATED + timedelta(hours=1), 9.0),
        ],
        programs=[terms()] if with_terms else [],
    )
