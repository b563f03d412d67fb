"""The dashboard's HTML: Jinja2 templates (vtn/dashboard/templates) with autoescaping on, so every
value a page shows (VEN names, event ids, error messages) is escaped; plot data goes to the page as
JSON through Jinja's `tojson`, which escapes `<`, `>`, `&` and quotes for a <script> block."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2
from aiohttp import web

from vtn.api.tokens import Principal


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking, and the CSRF token their forms carry."""

    principal: Principal
    csrf_token: str


VIEWER = web.RequestKey("dashboard_viewer", Viewer)
TEMPLATES = web.AppKey("dashboard_templates", jinja2.Environment)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("vtn.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the test, not the operator silently
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["kw"] = _kw
    env.filters["when"] = _when
    env.filters["seconds"] = _seconds
    env.filters["entry_json"] = _entry_json
    return env


def _entry_json(entry: Any) -> str:
    """A site entry as indented JSON with each list of numbers on one line (96 slots: one line,
    not 96). Autoescaped where the template puts it."""
    text = json.dumps(entry, indent=2, default=str)
    return _NUMBER_LIST.sub(lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text)


_NUMBER_LIST = re.compile(r"\[\s*((?:-?[\d.eE+-]+,?\s*)+)\]")


def _kw(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f} kW"


def _when(value: datetime | None) -> str:
    return "never" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def render(
    request: web.Request,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> web.Response:
    viewer = request.get(VIEWER)
    html = request.app[TEMPLATES].get_template(template).render(viewer=viewer, **context)
    response = web.Response(text=html, status=status, content_type="text/html", headers=headers)
    # The pages show fleet data: never cached, never framed (clickjacking), scripts from us only.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'"
    )
    return response
