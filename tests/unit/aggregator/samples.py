"""Records the use-case tests share: a time, a registered VEN, an event an hour ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aggregator.records import EventInterval, EventRecord, VenRecord

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
REGISTERED_VEN = VenRecord(
    ven_id="ven-1",
    ven_name="home 1",
    site_id="site-1",
    created_at=T0,
    registration_id="reg-1",
    registered_at=T0,
)
# A one-hour SIMPLE event starting an hour after T0, modified twice (modificationNumber 2).
EVENT_AHEAD = EventRecord(
    event_id="ev-1",
    modification_number=2,
    market_context="http://mc.example/x",
    signal_name="SIMPLE",
    signal_type="level",
    signal_id="s-1",
    intervals=(EventInterval(T0 + timedelta(hours=1), 3600, 1.0),),
    dtstart=T0 + timedelta(hours=1),
    duration_seconds=3600,
    created_at=T0,
    modified_at=T0,
)
