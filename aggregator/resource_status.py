"""The standard 2.0b status of a resource, `oadrPayloadResourceStatus`, kept as report values.

A TELEMETRY_STATUS report's interval may carry, per rID, whether the resource is online, whether
its control is manually overridden, and optionally its load control state: for capacity, level
offset, percent offset and setpoint each a current value and optionally a min, max and normal.
The VTN keeps one `report_values` row per field present, its rID the payload's rID followed by
the field's path (`charger/oadrOnline`, `charger/oadrCapacity/oadrCurrent`; booleans as 1/0):
the statuses stay a time series beside the float values (`/telemetry`), and are read back as
the newest payload of each rID, whole (a field an older payload had is not carried over).
Our agent sends its status as floats instead (docs/openadr-mapping.md); aggregator/site.py
shows both forms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from aggregator.records import ReportValueRecord

SEPARATOR = "/"
ONLINE = "oadrOnline"
MANUAL_OVERRIDE = "oadrManualOverride"


class LoadControlKind(StrEnum):
    """The elements of oadrLoadControlState, in the XSD's order."""

    CAPACITY = "oadrCapacity"
    LEVEL_OFFSET = "oadrLevelOffset"
    PERCENT_OFFSET = "oadrPercentOffset"
    SET_POINT = "oadrSetPoint"


class LoadControlField(StrEnum):
    """The elements of one load control value (oadrLoadControlStateTypeType)."""

    MIN = "oadrMin"
    MAX = "oadrMax"
    CURRENT = "oadrCurrent"
    NORMAL = "oadrNormal"


@dataclass(frozen=True, slots=True)
class LoadControlValue:
    """One kind of load control state, in the resource's own units (the payload names none)."""

    current: float
    min: float | None = None
    max: float | None = None
    normal: float | None = None

    def fields(self) -> dict[LoadControlField, float | None]:
        return {
            LoadControlField.MIN: self.min,
            LoadControlField.MAX: self.max,
            LoadControlField.CURRENT: self.current,
            LoadControlField.NORMAL: self.normal,
        }


@dataclass(frozen=True, slots=True)
class LoadControlState:
    """oadrLoadControlState: the kinds the resource reports (None: not reported)."""

    capacity: LoadControlValue | None = None
    level_offset: LoadControlValue | None = None
    percent_offset: LoadControlValue | None = None
    set_point: LoadControlValue | None = None

    def kinds(self) -> dict[LoadControlKind, LoadControlValue | None]:
        return {
            LoadControlKind.CAPACITY: self.capacity,
            LoadControlKind.LEVEL_OFFSET: self.level_offset,
            LoadControlKind.PERCENT_OFFSET: self.percent_offset,
            LoadControlKind.SET_POINT: self.set_point,
        }


@dataclass(frozen=True, slots=True)
class ResourceState:
    """What one oadrPayloadResourceStatus says (None: it carried no oadrLoadControlState)."""

    online: bool
    manual_override: bool
    load_control_state: LoadControlState | None = None


@dataclass(frozen=True, slots=True)
class ResourceStatusSample:
    """One oadrPayloadResourceStatus of an oadrUpdateReport, for the interval from `dtstart`."""

    r_id: str
    dtstart: datetime
    duration_seconds: int
    state: ResourceState


def _path(*elements: str) -> str:
    return SEPARATOR.join(elements)


# The longest path a field adds to its rID: the report_values.r_id column leaves room for it.
FIELD_PATH_MAX_LENGTH = len(SEPARATOR) + max(
    len(_path(kind, field)) for kind in LoadControlKind for field in LoadControlField
)


def field_values(sample: ResourceStatusSample) -> list[tuple[str, float]]:
    """(rID with the field's path, value) of every field the payload carries."""
    state = sample.state
    values = [
        (_path(sample.r_id, ONLINE), float(state.online)),
        (_path(sample.r_id, MANUAL_OVERRIDE), float(state.manual_override)),
    ]
    if state.load_control_state is not None:
        for kind, value in state.load_control_state.kinds().items():
            if value is not None:
                values.extend(
                    (_path(sample.r_id, kind, field), number)
                    for field, number in value.fields().items()
                    if number is not None
                )
    return values


_KINDS = frozenset(kind.value for kind in LoadControlKind)
_FIELDS = frozenset(field.value for field in LoadControlField)


def _split(stored_r_id: str) -> tuple[str, str] | None:
    """(the payload's rID, the field's path) of a stored field's rID; None for any other rID."""
    head, _, last = stored_r_id.rpartition(SEPARATOR)
    if last in (ONLINE, MANUAL_OVERRIDE):
        return (head, last) if head else None
    if last in _FIELDS:
        r_id, _, kind = head.rpartition(SEPARATOR)
        if r_id and kind in _KINDS:
            return r_id, _path(kind, last)
    return None


def _value(fields: dict[str, float], kind: LoadControlKind) -> LoadControlValue | None:
    """The kind's value from the payload's stored fields; None when it has no current value."""
    found = {field: fields.get(_path(kind, field)) for field in LoadControlField}
    current = found[LoadControlField.CURRENT]
    if current is None:
        return None
    return LoadControlValue(
        current, found[LoadControlField.MIN], found[LoadControlField.MAX], found[LoadControlField.NORMAL]
    )


def _load_control_state(fields: dict[str, float]) -> LoadControlState | None:
    state = LoadControlState(
        capacity=_value(fields, LoadControlKind.CAPACITY),
        level_offset=_value(fields, LoadControlKind.LEVEL_OFFSET),
        percent_offset=_value(fields, LoadControlKind.PERCENT_OFFSET),
        set_point=_value(fields, LoadControlKind.SET_POINT),
    )
    return None if state == LoadControlState() else state


def newest_states(rows: Iterable[ReportValueRecord]) -> dict[str, tuple[datetime, ResourceState]]:
    """rID -> (dtstart, state) of its newest oadrPayloadResourceStatus, from the newest stored
    value of each field (`latest_values`). Fields older than the payload's oadrOnline belong to
    an older payload and are left out; rows of no status field are ignored."""
    by_r_id: dict[str, dict[str, ReportValueRecord]] = {}
    for row in rows:
        split = _split(row.r_id)
        if split is not None:
            by_r_id.setdefault(split[0], {})[split[1]] = row
    states = {}
    for r_id, fields in by_r_id.items():
        online, manual = fields.get(ONLINE), fields.get(MANUAL_OVERRIDE)
        if online is None or manual is None or manual.dtstart != online.dtstart:
            continue  # not (the newest of) a whole payload: e.g. a float rID named like a field
        current = {path: row.value for path, row in fields.items() if row.dtstart == online.dtstart}
        state = ResourceState(online.value >= 0.5, manual.value >= 0.5, _load_control_state(current))
        states[r_id] = (online.dtstart, state)
    return states
