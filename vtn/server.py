"""Run the VTN until interrupted."""

from __future__ import annotations

import logging

from aiohttp import web

from vtn.app import create_app
from vtn.settings import VtnSettings
from vtn.tls import settings_ssl_context

log = logging.getLogger(__name__)


def run_server(settings: VtnSettings) -> None:
    """Serve until interrupted; TLS (mutual with tls_ca_file) when tls_cert_file is set.

    Raises vtn.tls.TlsConfigError when a certificate, key or CA file cannot be used.
    """
    ssl_context = settings_ssl_context(settings)
    scheme = "https" if ssl_context is not None else "http"
    log.info("VTN %s on %s://%s:%d", settings.vtn_id, scheme, settings.host, settings.port)
    web.run_app(
        create_app(settings), host=settings.host, port=settings.port, ssl_context=ssl_context, print=None
    )
