"""One aiohttp handler per OpenADR service endpoint: check transport, parse, authorise, route.

Transport errors (wrong Content-Type, oversized or malformed body) get an HTTP error status
with an oadrResponse body naming the problem. Protocol errors get HTTP 200 and the OpenADR
reply type for the message, carrying the response code (452, 463, ...).

Authentication, on every message and before any handler runs: the client certificate must be
the VEN's provisioned one (vtn/tls.py), and the XML signature must be valid, fresh and not a
replay as the VEN's signature policy says (vtn/openadr/signature.py); either failure is 463.
Replies to a VEN that signs are signed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from aggregator.registration import check_registered
from vtn.db.errors import PoolExhausted
from vtn.db.uow import UnitOfWork
from vtn.errors import Unauthorized, VtnError
from vtn.keys import CLOCK, POLL_CACHE, REPORT_WRITER, SESSIONS, SETTINGS
from vtn.openadr import codes
from vtn.openadr.acks import write_then_tell
from vtn.openadr.context import Context, Handler, message_ven_id
from vtn.openadr.limits import check_lengths
from vtn.openadr.render import render, response
from vtn.openadr.signature import SignaturePolicy, SignatureRefused, Signatures, signature_element
from vtn.openadr.xml import MalformedMessage, parse_payload, text
from vtn.request_body import BodyRefused, read_body, send_and_close
from vtn.services.poll_cache import PollCache
from vtn.tls import ClientCertificates, Provisioned, check_fingerprint

log = logging.getLogger(__name__)

XML = "application/xml"
# Messages a VEN may send before (or without) a registration.
OPEN_MESSAGES = frozenset(
    {"oadrQueryRegistration", "oadrCreatePartyRegistration", "oadrCanceledPartyRegistration"}
)
# The client certificates of the connection and the provisioned fingerprints (vtn/tls.py).
CLIENT_CERTIFICATES = web.AppKey("client_certificates", ClientCertificates)
# The signature policy, the replay window's nonce store and the VTN's signing key.
SIGNATURES = web.AppKey("signatures", Signatures)

BUSY_RETRY_AFTER_S = 5  # what a VEN refused for want of a database connection is told to wait


def _transport_error(
    status: int, code: int, description: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = render("oadrResponse", response=response(code, description, None), ven_id=None)
    return web.Response(body=body.encode(), status=status, content_type=XML, headers=headers)


async def _read_body(request: web.Request, max_bytes: int, timeout_seconds: float) -> bytes | web.Response:
    content_type = request.headers.get("Content-Type", "")
    if not content_type.lower().startswith(XML):
        return _transport_error(
            415, codes.COMPLIANCE_ERROR, f"Content-Type must be {XML}, not {content_type!r}"
        )
    try:
        return await read_body(request, max_bytes, timeout_seconds)
    except BodyRefused as refused:
        refusal = _transport_error(refused.status, codes.INVALID_DATA, str(refused))
        return await send_and_close(request, refusal)


async def _check_certificate(certificates: ClientCertificates | None, ctx: Context) -> Provisioned | None:
    """On every message: a VEN provisioned with a fingerprint must present that certificate (463).

    A VEN provisioned without one is refused too when `ven_fingerprint_required` (the default
    when client certificates are required): the CA alone would let any VEN's certificate act for it.

    Returns what the VEN was provisioned with (None: an unknown VEN, or no VEN named).
    """
    ven_name = None if ctx.ven_id else text(ctx.message, "oadr:oadrVenName")
    if certificates is None or not (ctx.ven_id or ven_name):
        return None
    provisioned = await certificates.provisioned_record(ctx.sessions, ctx.ven_id, ven_name)
    problem = check_fingerprint(provisioned.fingerprint if provisioned else None, ctx.tls_fingerprint)
    if provisioned is not None and not provisioned.fingerprint and ctx.settings.ven_fingerprint_required:
        problem = "this VEN was provisioned without a certificate fingerprint, which this VTN requires"
    if problem is not None:
        log.warning("refused a message for VEN %s: %s", ctx.ven_id or ven_name, problem)
        raise Unauthorized(problem)
    return provisioned


async def _check_signature(
    signatures: Signatures, ctx: Context, policy: SignaturePolicy, provisioned: Provisioned | None
) -> None:
    """The XML signature, as the VEN's policy says: checked against the VEN's certificate (463)."""
    root = ctx.message.getparent().getparent()  # oadrPayload / oadrSignedObject / message
    expected = (provisioned.fingerprint if provisioned else None) or ctx.tls_fingerprint
    try:
        await signatures.check(ctx.sessions, root, policy, expected, ctx.ven_id)
    except SignatureRefused as err:
        who = ctx.ven_id or text(ctx.message, "oadr:oadrVenName") or "(unnamed)"
        log.warning("refused a message for VEN %s: %s", who, err)
        raise Unauthorized(str(err)) from None


async def _authorise(ctx: Context, message_type: str) -> None:
    """The VEN named in the message must be registered: unknown venID 452, unregistered 463."""
    if message_type in OPEN_MESSAGES:
        return
    ven_id = ctx.ven_id
    if ven_id is None:
        raise Unauthorized(f"{message_type} must carry the venID the VTN gave at registration")
    if ven_id in ctx.cache.registrations:
        return
    await check_registered(UnitOfWork(ctx.sessions), ven_id, ctx.cache)


def service_handler(
    service: str, handlers: dict[str, Handler], clock: Callable[[], datetime]
) -> Callable[[web.Request], object]:
    async def handle(request: web.Request) -> web.StreamResponse:
        settings = request.config_dict[SETTINGS]
        body = await _read_body(request, settings.max_body_bytes, settings.body_timeout_seconds)
        if isinstance(body, web.Response):
            return body
        try:
            message_type, message = parse_payload(body, settings.accept_unqualified_schema_version)
        except MalformedMessage as err:
            log.info("refused a malformed %s message: %s", service, err)
            return _transport_error(400, codes.INVALID_DATA, str(err))
        time_source = request.config_dict.get(CLOCK, clock)
        now = time_source()
        cache: PollCache = request.config_dict[POLL_CACHE]
        sessions = request.config_dict[SESSIONS]
        ven_id = message_ven_id(message)
        certificates = request.config_dict.get(CLIENT_CERTIFICATES)
        fingerprint = certificates.presented(request) if certificates else _tls_fingerprint(request)
        writer = request.config_dict.get(REPORT_WRITER)
        ctx = Context(settings, sessions, cache, now, message, ven_id, fingerprint, report_sink=writer)
        signatures: Signatures = request.config_dict[SIGNATURES]
        signed = signature_element(message.getparent().getparent()) is not None
        policy = signatures.default
        try:
            handler = handlers.get(message_type) or _generic(message_type, service)
            check_lengths(message)
            provisioned = await _check_certificate(certificates, ctx)
            policy = signatures.policy(provisioned.xml_signatures if provisioned else None)
            await _check_signature(signatures, ctx, policy, provisioned)
            await _authorise(ctx, message_type)
            reply = await handler(ctx)
        except VtnError as err:
            reply = codes.error_reply(
                settings,
                message_type,
                codes.response_code(err),
                str(err),
                ctx.request_id,
                ctx.ven_id,
                {"opt_id": text(message, "ei:optID"), "registration_id": text(message, "ei:registrationID")},
            )
        except PoolExhausted:
            # Overloaded, not broken (thousands of VENs registering at once): one line, and the
            # VEN is told when to try again instead of getting a 500 and a traceback in the log.
            log.warning("%s %s from VEN %s: no database connection free; answered 503", service,
                        message_type, ctx.ven_id or "?")  # fmt: skip
            return _transport_error(
                503, 469, "the VTN is busy; try again", {"Retry-After": str(BUSY_RETRY_AFTER_S)}
            )
        except Exception:
            log.exception("%s %s failed", service, message_type)
            return _transport_error(500, 469, "the VTN failed to handle this message")
        data = reply if isinstance(reply, bytes) else reply.encode("utf-8")
        # A VEN that signs (or must) gets signed replies: openleadr's client then verifies them.
        sign = policy is SignaturePolicy.REQUIRED or (signed and policy is not SignaturePolicy.OFF)
        if sign and signatures.signer is not None:
            data = signatures.signer.sign(data)
        reply_response = web.Response(body=data, content_type=XML)
        if ctx.after_written:  # a poll reply whose write acknowledges its message (vtn/openadr/acks.py)
            await write_then_tell(request, reply_response, ctx.after_written, time_source)
        return reply_response

    return handle


def _tls_fingerprint(request: web.Request) -> str | None:
    """The client certificate's fingerprint on a TLS connection (checked at registration)."""
    if not request.secure:
        return None
    from openleadr.utils import get_cert_fingerprint_from_request

    fingerprint: str | None = get_cert_fingerprint_from_request(request)
    return fingerprint


def _generic(message_type: str, service: str) -> Handler:
    async def oadr_response(ctx: Context) -> str:
        return render("oadrResponse", response=response(200, "OK", ctx.request_id), ven_id=ctx.ven_id)

    async def wrong_service(ctx: Context) -> str:
        raise VtnError(f"{message_type} is not a message of the {service} service")

    if message_type == "oadrResponse":
        return oadr_response
    return wrong_service
