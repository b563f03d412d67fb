"""The OpenADR 2.0b simpleHttp (pull) VTN endpoints, one module per service as the spec names them."""

from __future__ import annotations

from aiohttp import web

from vtn.keys import utc_now
from vtn.openadr import ei_event, ei_opt, ei_register_party, ei_report, oadr_poll
from vtn.openadr.acks import acknowledging
from vtn.openadr.dispatch import CLIENT_CERTIFICATES, SIGNATURES, service_handler
from vtn.openadr.signature import Signatures
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


def create_openadr_app(settings: VtnSettings) -> web.Application:
    """Routes POST /<Service> for each OpenADR service; state comes from the parent app's keys."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[CLIENT_CERTIFICATES] = ClientCertificates(
        settings.trusted_proxy_addresses, settings.client_cert_header
    )
    app[SIGNATURES] = Signatures.from_settings(settings)  # the signing key is loaded here, once
    for service, handlers in SERVICES.items():
        app.router.add_post(f"/{service}", service_handler(service, handlers, utc_now))  # type: ignore[arg-type]
    return app
