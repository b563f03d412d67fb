"""openleadr's event dicts (from real oadrDistributeEvent XML) become the agent's DrEvents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from openleadr import objects
from openleadr.messaging import create_message, parse_message

from ven.agent.openadr_mapping import EventUnreadable, event_from_openleadr

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _distributed(
    signal_name: str, signal_type: str, values: list[float], **active: object
) -> dict[str, object]:
    intervals = [
        objects.Interval(
            dtstart=NOW + i * timedelta(minutes=15), duration=timedelta(minutes=15), signal_payload=v
        )
        for i, v in enumerate(values)
    ]
    event = objects.Event(
        event_descriptor=objects.EventDescriptor(
            event_id="ev-42",
            modification_number=3,
            market_context="http://mc",
            event_status="far",
            created_date_time=NOW,
            priority=1,
        ),
        active_period=objects.ActivePeriod(
            dtstart=NOW, duration=len(values) * timedelta(minutes=15), **active
        ),
        event_signals=[
            objects.EventSignal(
                intervals=intervals, signal_name=signal_name, signal_type=signal_type, signal_id="s1"
            )
        ],
        targets=[objects.Target(resource_id="evse-1")],
        response_required="always",
    )
    _, payload = parse_message(
        create_message("oadrDistributeEvent", request_id="r", vtn_id="VTN", events=[event])
    )
    return payload["events"][0]  # type: ignore[no-any-return]


def test_load_dispatch_with_ramp_up_and_device_target() -> None:
    [signal] = event_from_openleadr(
        _distributed("LOAD_DISPATCH", "setpoint", [3.0, 5.0], ramp_up_period=timedelta(minutes=5))
    )
    assert signal.event_id == "ev-42" and signal.modification_number == 3 and signal.priority == 1
    assert signal.resource_ids == ("evse-1",) and signal.ramp_up_s == 300
    assert [(i.start_s - NOW.timestamp(), i.duration_s, i.value) for i in signal.intervals] == [
        (0.0, 900.0, 3.0),
        (900.0, 900.0, 5.0),
    ]


def test_a_price_signal_and_an_unreadable_event() -> None:
    [signal] = event_from_openleadr(_distributed("ELECTRICITY_PRICE", "price", [0.31, 0.12, 0.25]))
    assert [i.value for i in signal.intervals] == [0.31, 0.12, 0.25]
    with pytest.raises(EventUnreadable, match="event_id"):
        event_from_openleadr({"event_descriptor": {}, "active_period": {"dtstart": NOW}})
