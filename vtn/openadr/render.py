"""Rendering the VTN's messages with openleadr's templates (which follow the 2.0b XSD).

Every payload value is escaped by us: openleadr's templates do not autoescape, and IDs that
a VEN chose (optIDs, requestIDs) come back in replies.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from openleadr.messaging import create_message

from aggregator.events import EventInfo


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escape(v) for v in value]
    return value


# openleadr's templates write an absent venID as the text "None" (`<ei:venID>{{ ven_id }}</ei:venID>`)
# or as an empty element. Wherever the VTN may have no venID to give (an error reply to a message
# that named none, a transport error, a query before registration) venID is minOccurs 0: leave it out.
_EMPTY_VEN_ID = re.compile(r"\s*<ei:venID\s*/>|\s*<ei:venID>\s*</ei:venID>")


def render(message_type: str, **payload: Any) -> str:
    """An oadrPayload document (unsigned) for `message_type`; without a `ven_id`, no venID element."""
    no_ven_id = not payload.get("ven_id")
    if no_ven_id:
        payload["ven_id"] = ""
    document: str = create_message(message_type, disable_signature=True, **_escape(payload))
    if no_ven_id:
        document = _EMPTY_VEN_ID.sub("", document)
    return document


def response(code: int, description: str, request_id: str | None) -> dict[str, Any]:
    return {"response_code": code, "response_description": description, "request_id": request_id}


def new_request_id() -> str:
    return uuid.uuid4().hex


class EmptyResponse:
    """oadrResponse 200 for a poll with nothing to deliver: rendered once, then filled in."""

    _MARK = "VENIDMARK0000"

    def __init__(self) -> None:
        template = render("oadrResponse", response=response(200, "OK", None), ven_id=self._MARK)
        self._head, self._tail = template.encode("utf-8").split(self._MARK.encode())

    def for_ven(self, ven_id: str) -> bytes:
        return self._head + escape(ven_id).encode("utf-8") + self._tail


def _event_payload(info: EventInfo, ven_id: str) -> dict[str, Any]:
    start = info.intervals[0].start
    duration = sum(i.duration_seconds for i in info.intervals)
    active_period: dict[str, Any] = {"dtstart": start, "duration": timedelta(seconds=duration)}
    if info.ramp_up_seconds:
        active_period["ramp_up_period"] = timedelta(seconds=info.ramp_up_seconds)
    if info.start_after_seconds:
        active_period["tolerance"] = {"startafter": timedelta(seconds=info.start_after_seconds)}
    signal: dict[str, Any] = {
        "signal_name": info.signal_name,
        "signal_type": info.signal_type,
        "signal_id": f"{info.event_id}-0",
        "intervals": [
            {"duration": timedelta(seconds=i.duration_seconds), "signal_payload": i.value, "uid": n}
            for n, i in enumerate(info.intervals)
        ],
    }
    return {
        "event_descriptor": {
            "event_id": info.event_id,
            "modification_number": info.modification_number,
            "modification_date_time": info.modified_at,
            "priority": info.priority,
            "market_context": info.market_context,
            "created_date_time": info.created_at,
            "event_status": info.status,
            "test_event": False,
        },
        "active_period": active_period,
        "event_signals": [signal],
        "targets": [{"ven_id": ven_id}],
        "response_required": info.response_required,
    }


def distribute_event(
    vtn_id: str,
    ven_id: str,
    events: tuple[EventInfo, ...],
    request_id: str | None = None,
    error: dict[str, Any] | None = None,
) -> str:
    payload: dict[str, Any] = {
        "request_id": request_id or new_request_id(),
        "vtn_id": vtn_id,
        "events": [_event_payload(e, ven_id) for e in events],
    }
    if error is not None:
        payload["response"] = error
    return render("oadrDistributeEvent", **payload)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite drops the zone


def report_requests(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored report requests (seconds) as openleadr's oadrReportRequest shape.

    Every request carries a reportInterval: from when the VTN made it, with a zero duration (no
    end: reports go on until oadrCancelReport). Independent 2.0b VENs read the reporting period
    from it, and some take a request without one for a single report."""
    return [
        {
            "report_request_id": r["report_request_id"],
            "report_specifier": {
                "report_specifier_id": r["report_specifier_id"],
                "granularity": timedelta(seconds=r["granularity_seconds"]),
                "report_back_duration": timedelta(seconds=r["report_back_seconds"]),
                "report_interval": {"dtstart": _utc(r["created_at"]), "duration": timedelta(0)},
                "specifier_payloads": r["specifier_payloads"],
            },
        }
        for r in requests
    ]
