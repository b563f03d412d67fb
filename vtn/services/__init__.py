"""Domain operations on the VTN's stored state, shared by the OpenADR edge and the REST API.

Every service takes `sessions` (an async_sessionmaker) first and `now` where time matters,
runs in one transaction, and raises vtn.errors.NotFound / Conflict / InvalidInput.
"""

from vtn.services.events import cancel_event, create_event, get_event, list_events, modify_event
from vtn.services.reports import cancel_report_request, list_report_requests, request_telemetry
from vtn.services.telemetry import query_telemetry
from vtn.services.types import (
    EventInfo,
    EventPatch,
    EventSpec,
    EventStatus,
    IntervalSpec,
    OptType,
    TelemetryPoint,
    VenInfo,
)
from vtn.services.vens import (
    UNCHANGED,
    cancel_ven_registration,
    get_ven,
    list_vens,
    provision_ven,
    request_reregistration,
    update_ven,
)

__all__ = [
    "UNCHANGED",
    "EventInfo",
    "EventPatch",
    "EventSpec",
    "EventStatus",
    "IntervalSpec",
    "OptType",
    "TelemetryPoint",
    "VenInfo",
    "cancel_event",
    "cancel_report_request",
    "cancel_ven_registration",
    "create_event",
    "get_event",
    "get_ven",
    "list_events",
    "list_report_requests",
    "list_vens",
    "modify_event",
    "provision_ven",
    "query_telemetry",
    "request_reregistration",
    "request_telemetry",
    "update_ven",
]
