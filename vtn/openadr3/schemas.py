"""The OpenADR 3.1.0 request objects as pydantic models, hand-written from the spec's component
schemas (vtn/openadr3/openadr3-3.1.0.yaml, the Alliance's document): same names, same bounds.

Unknown fields are dropped (the spec allows them; we store only what it defines). Responses are
built by the use cases as the spec's JSON and checked against the YAML in the tests
(tests/integration/openadr3/spec_check.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

DURATION_PATTERN = (
    r"^(-?)P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)([DW]))?"
    r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
ObjectID = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]*$", min_length=1, max_length=128)]
Text128 = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Url = Annotated[str, StringConstraints(min_length=2, max_length=8000)]
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN)]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


class _Model(BaseModel):
    # python-re: the spec's duration pattern has a look-ahead, which the default (Rust) engine lacks
    model_config = ConfigDict(extra="ignore", regex_engine="python-re")


class IntervalPeriod(_Model):
    start: str | None = None
    duration: Duration | None = None
    randomizeStart: Duration | None = None

    @field_validator("start")
    @classmethod
    def _rfc3339(cls, value: str | None) -> str | None:
        """An RFC 3339 date-time with its offset, or the spec's "0001-01-01" (now)."""
        if value is None or value.startswith("0001-01-01"):
            return value
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError("must be an RFC 3339 date-time, e.g. 2026-12-03T08:00:00Z") from None
        if parsed.tzinfo is None:
            raise ValueError("must carry a time zone offset (RFC 3339), e.g. Z or +01:00")
        return value


class Point(_Model):
    x: float
    y: float


class ValuesMap(_Model):
    type: Text128
    values: list[bool | int | float | str | Point]


class Interval(_Model):
    id: Int32
    intervalPeriod: IntervalPeriod | None = None
    payloads: list[ValuesMap]


class EventPayloadDescriptor(_Model):
    objectType: Literal["EVENT_PAYLOAD_DESCRIPTOR"]
    payloadType: Text128
    units: Text128 | None = None
    currency: str | None = None


class ReportPayloadDescriptor(_Model):
    objectType: Literal["REPORT_PAYLOAD_DESCRIPTOR"]
    payloadType: Text128
    readingType: Text128 | None = None
    units: Text128 | None = None
    accuracy: float | None = None
    confidence: Annotated[int, Field(ge=0, le=100)] | None = None


class ReportDescriptor(_Model):
    payloadType: Text128
    readingType: Text128 | None = None
    units: Text128 | None = None
    targets: list[Text128] | None = None
    aggregate: bool = False
    startInterval: Int32 = -1
    numIntervals: Int32 = -1
    historical: bool = True
    frequency: Int32 = -1
    repeat: Int32 = 1
    reportIntervals: Literal["INTERVALS", "SUB_INTERVALS", "OPEN_INTERVALS"] = "INTERVALS"


class ProgramDescription(_Model):
    URL: Url


class ProgramRequest(_Model):
    programName: Text128
    intervalPeriod: IntervalPeriod | None = None
    programDescriptions: list[ProgramDescription] | None = None
    payloadDescriptors: (
        list[Annotated[EventPayloadDescriptor | ReportPayloadDescriptor, Field(discriminator="objectType")]]
        | None
    ) = None
    attributes: list[ValuesMap] | None = None
    targets: list[Text128] | None = None


class EventRequest(_Model):
    programID: ObjectID
    eventName: str | None = None
    duration: Duration | None = None
    priority: Annotated[int, Field(ge=0, le=2**31 - 2)] | None = None
    targets: list[Text128] | None = None
    reportDescriptors: list[ReportDescriptor] | None = None
    payloadDescriptors: list[EventPayloadDescriptor] | None = None
    intervalPeriod: IntervalPeriod | None = None
    intervals: list[Interval] | None = None


class ReportResource(_Model):
    resourceName: Text128
    intervalPeriod: IntervalPeriod | None = None
    intervals: list[Interval]


class ReportRequest(_Model):
    eventID: ObjectID
    clientName: Text128
    reportName: str | None = None
    payloadDescriptors: list[ReportPayloadDescriptor] | None = None
    resources: list[ReportResource]


class ObjectOperation(_Model):
    objects: list[Literal["PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE"]]
    operations: list[Literal["READ", "CREATE", "UPDATE", "DELETE"]]
    callbackUrl: Url
    bearerToken: str | None = None


class SubscriptionRequest(_Model):
    clientName: Text128
    programID: ObjectID | None = None
    objectOperations: list[ObjectOperation]
    targets: list[Text128] | None = None

    @field_validator("programID", mode="before")
    @classmethod
    def _program_not_null(cls, value: Any) -> Any:
        # may be left out, but the spec's programID is not nullable (schemathesis: null was 201)
        if value is None:
            raise ValueError("may be left out but not null")
        return value


class VenVenRequest(_Model):
    objectType: Literal["VEN_VEN_REQUEST"]
    venName: Text128
    attributes: list[ValuesMap] | None = None


class BlVenRequest(_Model):
    objectType: Literal["BL_VEN_REQUEST"]
    clientID: Text128
    targets: list[Text128] | None = None
    venName: Text128
    attributes: list[ValuesMap] | None = None


class VenRequest(_Model):
    """The spec's venRequest (oneOf, told apart by objectType)."""

    request: Annotated[VenVenRequest | BlVenRequest, Field(discriminator="objectType")]


class BlResourceRequest(_Model):
    objectType: Literal["BL_RESOURCE_REQUEST"]
    clientID: Text128
    targets: list[Text128] | None = None
    resourceName: Text128
    venID: ObjectID
    attributes: list[ValuesMap] | None = None


class VenResourceRequest(_Model):
    objectType: Literal["VEN_RESOURCE_REQUEST"]
    resourceName: Text128
    venID: ObjectID
    attributes: list[ValuesMap] | None = None


class ResourceRequest(_Model):
    """The spec's resourceRequest (oneOf, told apart by objectType)."""

    request: Annotated[BlResourceRequest | VenResourceRequest, Field(discriminator="objectType")]


def body_of(model: BaseModel) -> dict[str, Any]:
    """What the use cases take and store: the spec's field names, JSON values, nulls left out."""
    return model.model_dump(mode="json", exclude_none=True)
