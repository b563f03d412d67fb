"""Service errors -> OpenADR response codes, rendered in the response type that answers the message."""

from __future__ import annotations

from typing import Any

from vtn.errors import Conflict, InvalidInput, NotFound, Unauthorized, VtnError
from vtn.openadr.render import distribute_event, render, response
from vtn.settings import VtnSettings

OK = 200
OUT_OF_SEQUENCE = 450
NOT_ALLOWED = 451
INVALID_ID = 452
INVALID_DATA = 454
COMPLIANCE_ERROR = 459
NOT_REGISTERED_OR_AUTHORIZED = 463


def response_code(error: VtnError) -> int:
    if isinstance(error, NotFound):
        return INVALID_ID
    if isinstance(error, Unauthorized):
        return NOT_REGISTERED_OR_AUTHORIZED
    if isinstance(error, InvalidInput):
        return INVALID_DATA
    if isinstance(error, Conflict):
        return NOT_ALLOWED
    return COMPLIANCE_ERROR


def profiles() -> list[dict[str, Any]]:
    return [{"profile_name": "2.0b", "transports": [{"transport_name": "simpleHttp"}]}]


def error_reply(
    settings: VtnSettings,
    message_type: str,
    code: int,
    description: str,
    request_id: str | None,
    ven_id: str | None,
    extra: dict[str, Any] | None = None,
) -> str:
    """The reply a VEN expects to `message_type`, carrying `code` instead of 200."""
    resp = response(code, description, request_id)
    extra = extra or {}
    if message_type in ("oadrQueryRegistration", "oadrCreatePartyRegistration"):
        return render(
            "oadrCreatedPartyRegistration",
            response=resp,
            ven_id=ven_id,
            registration_id=None,
            vtn_id=settings.vtn_id,
            profiles=profiles(),
        )
    if message_type == "oadrCancelPartyRegistration":
        return render(
            "oadrCanceledPartyRegistration",
            response=resp,
            ven_id=ven_id,
            registration_id=extra.get("registration_id"),
        )
    if message_type == "oadrRequestEvent":
        return distribute_event(settings.vtn_id, ven_id or "", (), error=resp)
    if message_type in ("oadrCreateOpt", "oadrCancelOpt"):
        reply = "oadrCreatedOpt" if message_type == "oadrCreateOpt" else "oadrCanceledOpt"
        return render(reply, response=resp, opt_id=extra.get("opt_id") or "")
    if message_type == "oadrRegisterReport":
        return render("oadrRegisteredReport", response=resp, report_requests=[], ven_id=ven_id)
    if message_type == "oadrUpdateReport":
        return render("oadrUpdatedReport", response=resp, ven_id=ven_id)
    if message_type in ("oadrCreateReport", "oadrCancelReport"):
        reply = "oadrCreatedReport" if message_type == "oadrCreateReport" else "oadrCanceledReport"
        return render(reply, response=resp, pending_reports=[], ven_id=ven_id)
    return render("oadrResponse", response=resp, ven_id=ven_id)
