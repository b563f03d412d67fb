"""EiRegisterParty: oadrQueryRegistration, oadrCreatePartyRegistration, oadrCancelPartyRegistration,
and the VEN's oadrCanceledPartyRegistration answer to a VTN-initiated cancel."""

from __future__ import annotations

from datetime import timedelta

from aggregator import registration
from aggregator.registration import RegistrationRequest
from vtn.db.uow import UnitOfWork
from vtn.errors import NotFound
from vtn.openadr.codes import profiles
from vtn.openadr.context import Context, Handler
from vtn.openadr.render import render, response
from vtn.openadr.xml import parse_bool, text


def _poll_freq(ctx: Context) -> timedelta:
    return timedelta(seconds=ctx.settings.poll_interval_seconds)


async def oadr_query_registration(ctx: Context) -> str:
    """Tell the VEN what the VTN offers; no IDs are given out here."""
    return render(
        "oadrCreatedPartyRegistration",
        response=response(200, "OK", ctx.request_id),
        vtn_id=ctx.settings.vtn_id,
        profiles=profiles(),
        requested_oadr_poll_freq=_poll_freq(ctx),
    )


def _registration_request(ctx: Context) -> RegistrationRequest:
    m = ctx.message
    return RegistrationRequest(
        ven_name=text(m, "oadr:oadrVenName"),
        ven_id=text(m, "ei:venID"),
        registration_id=text(m, "ei:registrationID"),
        profile_name=text(m, "oadr:oadrProfileName") or "",
        transport_name=text(m, "oadr:oadrTransportName") or "",
        http_pull_model=parse_bool(text(m, "oadr:oadrHttpPullModel") or "true"),
        report_only=parse_bool(text(m, "oadr:oadrReportOnly")),
        xml_signature=parse_bool(text(m, "oadr:oadrXmlSignature")),
        tls_fingerprint=ctx.tls_fingerprint,
    )


async def oadr_create_party_registration(ctx: Context) -> str:
    result = await registration.register_party(
        UnitOfWork(ctx.sessions), _registration_request(ctx), ctx.now, ctx.cache
    )
    return render(
        "oadrCreatedPartyRegistration",
        response=response(200, "OK", ctx.request_id),
        ven_id=result.ven_id,
        registration_id=result.registration_id,
        vtn_id=ctx.settings.vtn_id,
        profiles=profiles(),
        requested_oadr_poll_freq=_poll_freq(ctx),
    )


async def oadr_cancel_party_registration(ctx: Context) -> str:
    ven_id = ctx.ven_id or ""
    registration_id = text(ctx.message, "ei:registrationID")
    await registration.cancel_party_registration(
        UnitOfWork(ctx.sessions), ven_id, registration_id, ctx.now, ctx.cache
    )
    return render(
        "oadrCanceledPartyRegistration",
        response=response(200, "OK", ctx.request_id),
        registration_id=registration_id,
        ven_id=ven_id,
    )


async def oadr_canceled_party_registration(ctx: Context) -> str:
    """The VEN confirms a cancel the VTN sent: that acknowledges it, and the registration ends
    (vtn/openadr/acks.py, around this handler)."""
    ven_id = ctx.ven_id or ""
    async with UnitOfWork(ctx.sessions) as uow:
        if await uow.vens.get(ven_id) is None:
            raise NotFound("VEN", ven_id)
    return render("oadrResponse", response=response(200, "OK", ctx.request_id), ven_id=ven_id)


HANDLERS: dict[str, Handler] = {
    "oadrQueryRegistration": oadr_query_registration,
    "oadrCreatePartyRegistration": oadr_create_party_registration,
    "oadrCancelPartyRegistration": oadr_cancel_party_registration,
    "oadrCanceledPartyRegistration": oadr_canceled_party_registration,
}
