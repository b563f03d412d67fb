"""The operator's web dashboard, mounted by the VTN at /dashboard (docs/dashboard.md).

Server-rendered pages (Jinja2, autoescaped) over the aggregator's use cases, a little JavaScript
(static/dashboard.js) and uPlot for the plots, shipped in the package (static/, MIT licence beside
it): nothing is loaded from another site.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from aggregator.errors import DomainError, InvalidInput, NotFound
from vtn.api import ratelimit
from vtn.dashboard import auth, event_pages, mv_pages, pages, run_pages
from vtn.dashboard.render import TEMPLATES, environment, render
from vtn.dashboard.session import SessionCodec
from vtn.settings import VtnSettings

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
Next = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors_middleware(request: web.Request, handler: Next) -> web.StreamResponse:
    """A page for every failure; the process stays up and the cause is logged."""
    try:
        return await handler(request)
    except NotFound as exc:
        return render(request, "error.html", status=404, title="Not found", message=str(exc))
    except InvalidInput as exc:  # a bad query parameter (month, method) or what the use case refused
        return render(request, "error.html", status=422, title="Invalid input", message=str(exc))
    except DomainError as exc:
        return render(request, "error.html", status=409, title="Refused", message=str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return render(request, "error.html", status=exc.status, title=exc.reason, message=exc.text or "")
    except Exception:
        log.exception("dashboard: unexpected error in %s %s", request.method, request.path)
        return render(
            request,
            "error.html",
            status=500,
            title="Internal error",
            message="The page failed; the VTN logged the cause.",
        )


def create_dashboard_app(settings: VtnSettings) -> web.Application:
    """The dashboard sub-app; the database, poll cache and planning loop come from the VTN app."""
    app = web.Application(middlewares=[errors_middleware, auth.session_middleware])
    app[TEMPLATES] = environment()
    app[auth.CODEC] = SessionCodec(
        settings.dashboard_secret.get_secret_value(), timedelta(hours=settings.dashboard_session_hours)
    )
    ratelimit.install(app, settings)  # failed logins, as failed REST authentications
    app.router.add_get("/", pages.overview, name="overview")
    app.router.add_get("/overview.json", pages.overview_data)
    app.router.add_get("/login", auth.login_form)
    app.router.add_post("/login", auth.login)
    app.router.add_post("/logout", auth.logout)
    app.router.add_get("/vens/{ven_id}", pages.ven_page)
    app.router.add_get("/events", event_pages.list_page)
    app.router.add_post("/events", event_pages.create)
    app.router.add_get("/events/{event_id}/edit", event_pages.edit_page)
    app.router.add_post("/events/{event_id}", event_pages.modify)
    app.router.add_post("/events/{event_id}/cancel", event_pages.cancel)
    app.router.add_get("/runs", run_pages.list_page)
    app.router.add_post("/runs", run_pages.plan_now)
    app.router.add_get("/runs/{run_id}", run_pages.run_page)
    app.router.add_get("/performance", mv_pages.performance_page)
    app.router.add_get("/events/{event_id}/performance", mv_pages.event_performance_page)
    app.router.add_get("/settlement", mv_pages.settlement_page)
    app.router.add_static("/static/", STATIC)
    return app
