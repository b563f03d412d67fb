"""The OpenADR 2.0b simpleHttp (pull) VTN endpoints, one module per service as the spec names them."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from vtn.keys import utc_now
from vtn.openadr import ei_event, ei_opt, ei_register_party, ei_report, oadr_poll
from vtn.openadr.acks import acknowledging, reply_written
from vtn.openadr.dispatch import CLIENT_CERTIFICATES, SIGNATURES, service_handler
from vtn.openadr.signature import Signatures
from vtn.openadr.xml import ACCEPT_UNQUALIFIED_SCHEMA_VERSION
from vtn.settings import VtnSettings
from vtn.tls import ClientCertificates

# A VEN's reply to a VTN-initiated message also acknowledges it (at-least-once outbox).
SERVICES = {
    "EiRegisterParty": acknowledging(ei_register_party.HANDLERS),
    "OadrPoll": oadr_poll.HANDLERS,
    "EiEvent": ei_event.HANDLERS,
    "EiOpt": ei_opt.HANDLERS,
    "EiReport": acknowledging(ei_report.HANDLERS),
}


@web.middleware
async def _accept_unqualified_schema_version(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The parser (vtn/openadr/xml.py) forgives an unqualified schemaVersion during this request."""
    token = ACCEPT_UNQUALIFIED_SCHEMA_VERSION.set(True)
    try:
        return await handler(request)
    finally:
        ACCEPT_UNQUALIFIED_SCHEMA_VERSION.reset(token)


def create_openadr_app(settings: VtnSettings) -> web.Application:
    """Routes POST /<Service> for each OpenADR service; state comes from the parent app's keys."""
    # reply_written: a poll reply that nothing else acknowledges counts once written (vtn/openadr/acks.py)
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[reply_written])
    app[CLIENT_CERTIFICATES] = ClientCertificates(
        settings.trusted_proxy_addresses, settings.client_cert_header
    )
    app[SIGNATURES] = Signatures.from_settings(settings)  # the signing key is loaded here, once
    if settings.accept_unqualified_schema_version:
        app.middlewares.append(_accept_unqualified_schema_version)
    for service, handlers in SERVICES.items():
        app.router.add_post(f"/{service}", service_handler(service, handlers, utc_now))  # type: ignore[arg-type]
    return app
