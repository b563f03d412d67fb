"""OpenADR 3.1 on the 2.0b state: one database, two protocols. The mapping:

| OpenADR 3.1                     | flexvpp / OpenADR 2.0b                                          |
|---------------------------------|-----------------------------------------------------------------|
| program                         | a market context (program made over 3.1: its programName if an  |
|                                 | absolute URI, else urn:flexvpp:program:<programID>); an event    |
|                                 | made over REST or by the planner makes its context's program     |
| event (programID)               | a DR event (`events`) in the program's market context; made     |
|                                 | over 3.1 it is distributed to its 2.0b VENs (oadrDistributeEvent)|
|                                 | as one made over REST is; DELETE cancels it (gone from 3.1)      |
| event.targets                   | the VENs whose venName, or a target a BL gave them, is listed;  |
|                                 | no targets: the program's targets, else every VEN               |
| event.priority p                | priority p + 1 (2.0b: 0 is none, 1 the highest); none: 0        |
| event.intervals[i]              | the event's intervals (contiguous; one payload, one value each) |
| payload SIMPLE                  | signal SIMPLE / level                                           |
| payload PRICE                   | signal ELECTRICITY_PRICE / price (EUR/KWH)                      |
| payload DISPATCH_SETPOINT       | signal LOAD_DISPATCH / setpoint (KW): the planner's dispatch     |
| payload DISPATCH_SETPOINT_RELATIVE | signal LOAD_DISPATCH / delta (KW)                            |
| payload IMPORT_CAPACITY_LIMIT   | signal x-IMPORT_CAPACITY_LIMIT / setpoint (KW)                  |
| payload EXPORT_CAPACITY_LIMIT   | signal x-EXPORT_CAPACITY_LIMIT / setpoint (KW)                  |
| eventName, reportDescriptors    | kept with the event (oa3_objects EVENT)                         |
| ven                             | a VEN (`vens`, site = venName); clientID, targets, attributes in |
|                                 | oa3_objects VEN; a VEN client acts for the VEN of its venName   |
| resource                        | oa3_objects RESOURCE of its VEN                                 |
| report                          | oa3_objects REPORT; each numeric single value of each interval  |
|                                 | is a row of `report_values` (the 2.0b telemetry): venID, rID     |
|                                 | `<resourceName>/<payloadType>` (USAGE, DEMAND, ...), report      |
|                                 | `oa3:<reportID>`; dtstart the interval's start                  |
| subscription                    | oa3_objects SUBSCRIPTION (notifications: vtn/openadr3/notifiers)|

A 2.0b signal outside the table shows over 3.1 as the payload type `<signalName>` (`x-` names
without the prefix when they are ours). Times are UTC; durations ISO 8601 (years and months,
whose length varies, are refused in events and reports).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aggregator.errors import InvalidInput
from aggregator.event_rules import IntervalSpec


@dataclass(frozen=True, slots=True)
class Signal:
    """The 2.0b signal a 3.1 payload type is, and the units its values are in."""

    name: str
    type: str
    units: str | None


PAYLOAD_SIGNALS: dict[str, Signal] = {
    "SIMPLE": Signal("SIMPLE", "level", None),
    "PRICE": Signal("ELECTRICITY_PRICE", "price", "EUR/KWH"),
    "DISPATCH_SETPOINT": Signal("LOAD_DISPATCH", "setpoint", "KW"),
    "DISPATCH_SETPOINT_RELATIVE": Signal("LOAD_DISPATCH", "delta", "KW"),
    "IMPORT_CAPACITY_LIMIT": Signal("x-IMPORT_CAPACITY_LIMIT", "setpoint", "KW"),
    "EXPORT_CAPACITY_LIMIT": Signal("x-EXPORT_CAPACITY_LIMIT", "setpoint", "KW"),
}
_SIGNAL_PAYLOADS = {(s.name, s.type): p for p, s in PAYLOAD_SIGNALS.items()}


def payload_type(signal_name: str, signal_type: str) -> str:
    """The 3.1 payload type of a 2.0b signal (outside the table: its signalName)."""
    return _SIGNAL_PAYLOADS.get((signal_name, signal_type), signal_name.removeprefix("x-"))


def units_of(signal_name: str, signal_type: str) -> str | None:
    found = _SIGNAL_PAYLOADS.get((signal_name, signal_type))
    return PAYLOAD_SIGNALS[found].units if found else None


_DURATION = re.compile(
    r"^P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(field: str, text: str) -> timedelta:
    """An ISO 8601 duration of weeks, days, hours, minutes, seconds (InvalidInput otherwise)."""
    match = _DURATION.match(text)
    if match is None or text in ("P", "PT"):
        raise InvalidInput(field, f"{text!r} is not an ISO 8601 duration such as PT15M")
    parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
    if parts.get("y") or parts.get("mo"):
        raise InvalidInput(
            field, "years and months vary in length; give weeks, days, hours, minutes or seconds"
        )
    return timedelta(
        weeks=parts.get("w", 0),
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("mi", 0),
        seconds=parts.get("s", 0),
    )


def iso_duration(seconds: int) -> str:
    """Whole seconds as ISO 8601 (PT1H, PT15M, P1DT30S)."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if v)
    out = "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")
    return out if out != "P" else "PT0S"


def parse_start(field: str, text: str, now: datetime) -> datetime:
    """An RFC 3339 time as UTC; the spec's "0001-01-01" start means now."""
    if text.startswith("0001-01-01"):
        return now
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(field, f"{text!r} is not an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        raise InvalidInput(field, "needs a time zone offset (RFC 3339)")
    return parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Period:
    """Where an interval starts and how long it lasts, as far as given."""

    start: datetime | None
    duration: timedelta | None


def period_of(field: str, period: dict[str, Any] | None, now: datetime) -> Period:
    if not period:
        return Period(None, None)
    start = parse_start(f"{field}.start", period["start"], now) if period.get("start") else None
    duration = parse_duration(f"{field}.duration", period["duration"]) if period.get("duration") else None
    return Period(start, duration)


def interval_times(
    field: str, intervals: list[dict[str, Any]], default: Period, now: datetime
) -> list[tuple[datetime, timedelta]]:
    """Each interval's start and duration: its own intervalPeriod, else the default's duration and
    the end of the interval before (the first: the default's start)."""
    out: list[tuple[datetime, timedelta]] = []
    for k, interval in enumerate(intervals):
        own = period_of(f"{field}[{k}].intervalPeriod", interval.get("intervalPeriod"), now)
        start = own.start or (out[-1][0] + out[-1][1] if out else default.start)
        duration = own.duration or default.duration
        if start is None:
            raise InvalidInput(
                f"{field}[{k}].intervalPeriod.start", "no start: give the event's or the interval's"
            )
        if duration is None or duration <= timedelta(0):
            raise InvalidInput(f"{field}[{k}].intervalPeriod.duration", "needs a positive duration")
        out.append((start, duration))
    return out


def event_signal(body: dict[str, Any], now: datetime) -> tuple[Signal, tuple[IntervalSpec, ...]]:
    """A 3.1 eventRequest's intervals as one 2.0b signal's (InvalidInput names what does not fit)."""
    intervals = body.get("intervals") or []
    if not intervals:
        raise InvalidInput("intervals", "a flexvpp event needs at least one interval")
    types: set[str] = set()
    values: list[float] = []
    for k, interval in enumerate(intervals):
        payloads = interval.get("payloads") or []
        if len(payloads) != 1:
            raise InvalidInput(f"intervals[{k}].payloads", "each interval carries exactly one payload here")
        payload = payloads[0]
        if len(payload["values"]) != 1:
            raise InvalidInput(f"intervals[{k}].payloads[0].values", "one value per interval")
        value = payload["values"][0]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"intervals[{k}].payloads[0].values", "the value must be a number")
        types.add(payload["type"])
        values.append(float(value))
    if len(types) != 1:
        raise InvalidInput("intervals", f"one payload type per event, got {', '.join(sorted(types))}")
    kind = types.pop()
    signal = PAYLOAD_SIGNALS.get(kind)
    if signal is None:
        known = ", ".join(PAYLOAD_SIGNALS)
        raise InvalidInput("intervals[0].payloads[0].type", f"{kind} is not one of {known}")
    default = period_of("intervalPeriod", body.get("intervalPeriod"), now)
    times = interval_times("intervals", intervals, default, now)
    specs = tuple(
        IntervalSpec(start, int(duration.total_seconds()), value)
        for (start, duration), value in zip(times, values, strict=True)
    )
    return signal, specs
