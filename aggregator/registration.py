"""EiRegisterParty on the VTN's stored state: query, create, re-register and cancel.

Errors: NotFound -> a wrong ID (OpenADR 452); Unauthorized -> a VEN that is not provisioned
or acts for another VEN (463); InvalidInput -> a profile or transport the VTN does not offer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from aggregator import outbox
from aggregator.errors import InvalidInput, NotFound, Unauthorized
from aggregator.ids import new_id
from aggregator.ports import PollNotifier
from aggregator.records import VenRecord
from aggregator.uow import UnitOfWork

PROFILE_NAME = "2.0b"
TRANSPORT_NAME = "simpleHttp"


@dataclass(frozen=True, slots=True)
class RegistrationRequest:
    """An oadrCreatePartyRegistration."""

    ven_name: str | None
    ven_id: str | None = None
    registration_id: str | None = None
    profile_name: str = PROFILE_NAME
    transport_name: str = TRANSPORT_NAME
    http_pull_model: bool = True
    report_only: bool = False
    xml_signature: bool = False
    tls_fingerprint: str | None = None  # of the client certificate, when the connection has one


@dataclass(frozen=True, slots=True)
class Registration:
    ven_id: str
    registration_id: str


def _check_offer(request: RegistrationRequest) -> None:
    if request.profile_name != PROFILE_NAME:
        raise InvalidInput("oadrProfileName", f"this VTN speaks profile {PROFILE_NAME} only")
    if request.transport_name != TRANSPORT_NAME:
        raise InvalidInput("oadrTransportName", f"this VTN offers {TRANSPORT_NAME} only")
    if not request.http_pull_model:
        raise InvalidInput("oadrHttpPullModel", "this VTN supports the pull model only")


async def _find_ven(uow: UnitOfWork, request: RegistrationRequest) -> VenRecord:
    if request.ven_id:
        ven = await uow.vens.get(request.ven_id)
        if ven is None:
            raise NotFound("VEN", request.ven_id)
        if request.ven_name and request.ven_name != ven.ven_name:
            raise Unauthorized(f"venID {request.ven_id} is not provisioned for venName {request.ven_name!r}")
        return ven
    if not request.ven_name:
        raise Unauthorized("a registration must name a provisioned venName or venID")
    ven = await uow.vens.by_name(request.ven_name)
    if ven is None:
        raise Unauthorized(f"venName {request.ven_name!r} is not provisioned on this VTN")
    return ven


async def register_party(
    uow: UnitOfWork, request: RegistrationRequest, now: datetime, notifier: PollNotifier
) -> Registration:
    """Register (or re-register) a provisioned VEN and queue the VTN's METADATA report for it."""
    _check_offer(request)
    async with uow:
        ven = await _find_ven(uow, request)
        if ven.fingerprint and request.tls_fingerprint and ven.fingerprint != request.tls_fingerprint:
            raise Unauthorized("the client certificate does not match the provisioned fingerprint")
        if request.registration_id is not None and request.registration_id != ven.registration_id:
            raise NotFound("registration", request.registration_id)
        registration_id = request.registration_id or new_id()  # equal to the stored one, checked above
        ven = replace(
            ven,
            registration_id=registration_id,
            registered_at=now,
            profile_name=request.profile_name,
            transport_name=request.transport_name,
            report_only=request.report_only,
            xml_signature=request.xml_signature,
            http_pull_model=request.http_pull_model,
        )
        await uow.vens.save(ven)
        uow.outbox.enqueue(ven.ven_id, outbox.REGISTER_REPORT, {}, now)
        await uow.commit()
    notifier.set_registration(ven.ven_id, registration_id)
    notifier.mark_pending([ven.ven_id])
    return Registration(ven.ven_id, registration_id)


async def end_registration(uow: UnitOfWork, ven: VenRecord, now: datetime) -> None:
    """Forget the registration and everything tied to it (report requests, undelivered messages).

    A step of a use case: runs in the caller's open unit of work, which commits and tells the
    poll path (`set_registration(ven_id, None)`)."""
    await uow.vens.save(replace(ven, registration_id=None, registered_at=None))
    await uow.reports.cancel_live_requests(ven.ven_id, now)
    await uow.outbox.discard_pending(ven.ven_id)


async def cancel_party_registration(
    uow: UnitOfWork, ven_id: str, registration_id: str | None, now: datetime, notifier: PollNotifier
) -> str:
    """A VEN cancels its own registration. NotFound (452) for a wrong venID or registrationID."""
    async with uow:
        ven = await uow.vens.get(ven_id)
        if ven is None:
            raise NotFound("VEN", ven_id)
        if ven.registration_id is None or registration_id != ven.registration_id:
            raise NotFound("registration", registration_id or "")
        await end_registration(uow, ven, now)
        await uow.commit()
    notifier.set_registration(ven_id, None)
    return registration_id


async def check_registered(uow: UnitOfWork, ven_id: str, notifier: PollNotifier) -> str:
    """The VEN's registrationID. NotFound (452) for an unknown venID, Unauthorized (463) if unregistered.

    The poll path is told the registration it found (its cache may not have it yet: a second
    worker registered the VEN)."""
    async with uow:
        ven = await uow.vens.get(ven_id)
    if ven is None:
        raise NotFound("VEN", ven_id)
    if ven.registration_id is None:
        raise Unauthorized(f"VEN {ven_id} is not registered")
    notifier.set_registration(ven_id, ven.registration_id)
    return ven.registration_id
