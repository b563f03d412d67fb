"""The VTN application's typed state (STYLE rule 4): the `web.AppKey`s vtn/app.py fills.

The handlers of both sub-apps (vtn/openadr, vtn/api) read them through `request.config_dict`;
they import this module, not vtn/app.py, because the app factory imports the handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from vtn.db.engine import Engine
from vtn.db.uow import Sessions
from vtn.services.leadership import Leadership
from vtn.services.poll_cache import PollCache
from vtn.services.report_writer import ReportWriter
from vtn.settings import VtnSettings
from vtn.worker import Worker

SETTINGS = web.AppKey("settings", VtnSettings)
ENGINE = web.AppKey("engine", Engine)
SESSIONS = web.AppKey("sessions", Sessions)
POLL_CACHE = web.AppKey("poll_cache", PollCache)
REPORT_WRITER = web.AppKey("report_writer", ReportWriter)
# The VTN's time source (OpenADR, REST and the planner); tests put a fixed clock here (tz-aware UTC).
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")


def utc_now() -> datetime:
    """The wall clock (tz-aware UTC): the time source where no CLOCK is set."""
    return datetime.now(UTC)


# Which worker process this is (vtn/server.py).
WORKER = web.AppKey("worker", Worker)
# Whether this instance leads: runs the planning loop and the once-only jobs (the election).
LEADERSHIP = web.AppKey("leadership", Leadership)
