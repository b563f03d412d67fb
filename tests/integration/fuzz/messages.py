"""Valid VEN messages of every type, built with openleadr's VEN-side templates: the fuzz seeds.

They reuse the conformance tests' builders (payloads as the stock openleadr client sends them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from openleadr import objects
from openleadr.messaging import create_message
from vtn_openadr.harness import T0
from vtn_openadr.helpers import REGISTRATION
from vtn_openadr.test_reports import metadata

OK = {"response_code": 200, "response_description": "OK", "request_id": "fz"}


@dataclass(frozen=True, slots=True)
class VenState:
    """What a valid message of the fuzzed VEN refers to, as the VTN now has it."""

    ven_id: str
    ven_name: str
    registration_id: str
    event_id: str
    report_request_id: str
    opt_id: str


# message type -> (service endpoint, payload builder)
def _registration(s: VenState) -> dict[str, Any]:
    return {
        **REGISTRATION,
        "request_id": "fz-reg",
        "ven_name": s.ven_name,
        "ven_id": s.ven_id,
        "registration_id": s.registration_id or None,
    }


def _update_report(s: VenState) -> dict[str, Any]:
    intervals = [
        {
            "dtstart": T0 + timedelta(minutes=i),
            "duration": timedelta(seconds=60),
            "report_payload": {"r_id": r_id, "value": 1.5 * i},
        }
        for i, r_id in enumerate(["power", "energy", "power"])
    ]
    report = {
        "report_request_id": s.report_request_id,
        "report_specifier_id": "spec-usage",
        "report_name": "TELEMETRY_USAGE",
        "report_id": "rep-fz",
        "created_date_time": T0,
        "dtstart": T0,
        "intervals": intervals,
    }
    return {"request_id": "fz-u", "ven_id": s.ven_id, "reports": [report]}


def _created_event(s: VenState) -> dict[str, Any]:
    answer = {**OK, "event_id": s.event_id, "modification_number": 0, "opt_type": "optIn"}
    return {"ven_id": s.ven_id, "response": OK, "event_responses": [answer]}


def _create_opt(s: VenState) -> dict[str, Any]:
    schedule = objects.Vavailability(
        components=[
            objects.VavailabilityComponent(dtstart=T0 + timedelta(hours=1), duration=timedelta(hours=2)),
            objects.VavailabilityComponent(dtstart=T0 + timedelta(hours=5), duration=timedelta(minutes=30)),
        ]
    )
    return {
        "request_id": "fz-o",
        "ven_id": s.ven_id,
        "opt_id": s.opt_id,
        "opt_type": "optOut",
        "opt_reason": "participating",
        "created_date_time": T0,
        "targets": [objects.Target(resource_id="heat-pump")],
        "market_context": "http://mc.example/fuzz",
        "event_id": None,
        "modification_number": None,
        "vavailability": schedule,
        "signal_target_mrid": None,
    }


def _event_opt(s: VenState) -> dict[str, Any]:
    return {
        **_create_opt(s),
        "opt_id": "fz-event-opt",
        "opt_type": "optIn",
        "vavailability": None,
        "event_id": s.event_id,
        "modification_number": 0,
    }


BUILDERS: dict[str, tuple[str, str, Any]] = {
    # name: (service, message type, payload builder)
    "query_registration": ("EiRegisterParty", "oadrQueryRegistration", lambda s: {"request_id": "fz-q"}),
    "create_registration": ("EiRegisterParty", "oadrCreatePartyRegistration", _registration),
    "cancel_registration": (
        "EiRegisterParty",
        "oadrCancelPartyRegistration",
        lambda s: {"request_id": "fz-c", "registration_id": s.registration_id, "ven_id": s.ven_id},
    ),
    "canceled_registration": (
        "EiRegisterParty",
        "oadrCanceledPartyRegistration",
        lambda s: {"response": OK, "registration_id": s.registration_id, "ven_id": s.ven_id},
    ),
    "poll": ("OadrPoll", "oadrPoll", lambda s: {"ven_id": s.ven_id}),
    "response": ("OadrPoll", "oadrResponse", lambda s: {"response": OK, "ven_id": s.ven_id}),
    "request_event": ("EiEvent", "oadrRequestEvent", lambda s: {"request_id": "fz-e", "ven_id": s.ven_id}),
    "created_event": ("EiEvent", "oadrCreatedEvent", _created_event),
    "register_report": (
        "EiReport",
        "oadrRegisterReport",
        lambda s: {"request_id": "fz-rr", "ven_id": s.ven_id, "reports": metadata()},
    ),
    "registered_report": (
        "EiReport",
        "oadrRegisteredReport",
        lambda s: {"ven_id": s.ven_id, "report_requests": [], "response": OK},
    ),
    "created_report": (
        "EiReport",
        "oadrCreatedReport",
        lambda s: {
            "ven_id": s.ven_id,
            "response": OK,
            "pending_reports": [{"report_request_id": s.report_request_id}],
        },
    ),
    "canceled_report": (
        "EiReport",
        "oadrCanceledReport",
        lambda s: {
            "ven_id": s.ven_id,
            "response": OK,
            "pending_reports": [{"report_request_id": s.report_request_id}],
        },
    ),
    "update_report": ("EiReport", "oadrUpdateReport", _update_report),
    "create_opt": ("EiOpt", "oadrCreateOpt", _create_opt),
    "create_event_opt": ("EiOpt", "oadrCreateOpt", _event_opt),
    "cancel_opt": (
        "EiOpt",
        "oadrCancelOpt",
        lambda s: {"request_id": "fz-co", "ven_id": s.ven_id, "opt_id": s.opt_id},
    ),
}


def build(name: str, state: VenState) -> tuple[str, bytes]:
    """(service, XML body) of the named seed message for `state`."""
    service, message_type, payload = BUILDERS[name]
    body: str = create_message(message_type, **payload(state))
    return service, body.encode("utf-8")
