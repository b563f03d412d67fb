"""Run the VTN until interrupted."""

from __future__ import annotations

import logging

from aiohttp import web

from vtn.app import create_app
from vtn.settings import VtnSettings

log = logging.getLogger(__name__)


def run_server(settings: VtnSettings) -> None:
    log.info("VTN %s on http://%s:%d", settings.vtn_id, settings.host, settings.port)
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
