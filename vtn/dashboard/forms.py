"""The event form: HTML form fields to the REST API's EventCreate / EventPatch body, so a form
is checked by the same schema (and then the same use case) as a JSON request.

The form has one start, one interval length and a comma-separated list of values, one per
interval: `values = "1, 2, 1"` with 30 minutes is three contiguous half-hour intervals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from aggregator.events import EventInfo
from vtn.api import schemas as s
from vtn.api.middleware import field_name

MAX_INTERVALS = 96


@dataclass(frozen=True, slots=True)
class EventForm:
    """What the form shows: the values typed (or the event's), and what was wrong with them."""

    ven_ids: tuple[str, ...] = ()
    signal_name: str = "SIMPLE"
    signal_type: str = "level"
    start: str = ""  # datetime-local, UTC
    interval_minutes: str = "60"
    values: str = "1"
    market_context: str = ""
    priority: str = "0"
    response_required: str = "always"
    errors: tuple[tuple[str, str], ...] = field(default=())


class FormInvalid(Exception):
    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {r}" for f, r in errors))
        self.errors = errors


def read_form(fields: Mapping[str, object], ven_ids: Sequence[object]) -> EventForm:
    """The form's text fields (the first of each name) and its checked VENs (every `ven_ids`)."""

    def text(name: str, default: str = "") -> str:
        value = fields.get(name, default)
        return value.strip() if isinstance(value, str) else default

    return EventForm(
        ven_ids=tuple(v for v in ven_ids if isinstance(v, str) and v),
        signal_name=text("signal_name", "SIMPLE"),
        signal_type=text("signal_type", "level"),
        start=text("start"),
        interval_minutes=text("interval_minutes", "60"),
        values=text("values", "1"),
        market_context=text("market_context"),
        priority=text("priority", "0"),
        response_required=text("response_required", "always"),
    )


def form_of(event: EventInfo) -> EventForm:
    """The form of a stored event (its intervals must share one length to be shown as one)."""
    first = event.intervals[0]
    return EventForm(
        ven_ids=event.ven_ids,
        signal_name=event.signal_name,
        signal_type=event.signal_type,
        start=first.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"),
        interval_minutes=f"{first.duration_seconds / 60:g}",
        values=", ".join(f"{i.value:g}" for i in event.intervals),
        market_context=event.market_context,
        priority=str(event.priority),
        response_required=event.response_required,
    )


def _intervals(form: EventForm) -> list[dict[str, Any]]:
    errors: list[tuple[str, str]] = []
    try:
        start = datetime.fromisoformat(form.start)
    except ValueError:
        errors.append(("start", "must be a date and time (UTC), e.g. 2030-01-01T18:00"))
    try:
        minutes = float(form.interval_minutes)
        if not 1 <= minutes <= 24 * 60:
            raise ValueError
    except ValueError:
        errors.append(("interval_minutes", "must be a number of minutes from 1 to 1440"))
    try:
        values = [float(v) for v in form.values.split(",") if v.strip()]
        if not 1 <= len(values) <= MAX_INTERVALS:
            raise ValueError
    except ValueError:
        errors.append(("values", f"must be 1 to {MAX_INTERVALS} numbers separated by commas"))
    if errors:
        raise FormInvalid(errors)
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start
    step = timedelta(minutes=minutes)
    seconds = int(step.total_seconds())
    return [
        {"start": (start + i * step).isoformat(), "duration_seconds": seconds, "value": v}
        for i, v in enumerate(values)
    ]


def _body(form: EventForm) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ven_ids": list(form.ven_ids),
        "signal_name": form.signal_name,
        "signal_type": form.signal_type,
        "intervals": _intervals(form),
        "priority": form.priority,
        "response_required": form.response_required,
    }
    if form.market_context:
        body["market_context"] = form.market_context
    return body


def _validated(model: type[s.EventCreate] | type[s.EventPatch], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise FormInvalid(
            [
                (form_field(field_name(tuple(e["loc"]))), e["msg"].removeprefix("Value error, "))
                for e in exc.errors(include_url=False, include_input=False)
            ]
        ) from exc


def form_field(body_field: str) -> str:
    """The form's name of a body field: intervals[2].value is the third of `values`."""
    match = re.fullmatch(r"intervals\[(\d+)\]\.(value|start|duration_seconds)", body_field)
    if match is None:
        return body_field
    index, part = int(match[1]), match[2]
    name = {"value": "values", "start": "start", "duration_seconds": "interval_minutes"}[part]
    return f"{name} (interval {index + 1})"


def create_body(form: EventForm) -> s.EventCreate:
    """FormInvalid naming each field that is wrong."""
    body: s.EventCreate = _validated(s.EventCreate, _body(form))
    return body


def patch_body(form: EventForm) -> s.EventPatch:
    """Every field of the form is sent: what the operator left as it was stays the same."""
    body: s.EventPatch = _validated(s.EventPatch, _body(form))
    return body
