"""Rendering console pages: Jinja2 templates in bot/console/templates/, autoescaped, every page given the
logged-in `user` (a bot.auth.Principal, or None on the login page) and its `csrf_token`.

A page extends base.html and fills its blocks `title`, `content` and `scripts`. base.html puts the CSRF
token on every htmx request (hx-headers on <body>) and in <meta name="csrf-token"> for plain fetch();
a form that posts without htmx carries it in a hidden csrf_token field.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from bot.auth import Role
from bot.tickets.numbering import CHINA_TZ

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

templates = Jinja2Templates(directory=TEMPLATES)
templates.env.globals["Role"] = Role


def local_time(moment: datetime | None) -> str:
    """A moment as the hotline reads it: Beijing time, to the minute."""
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if moment else ""


templates.env.filters["local_time"] = local_time

#: Console pages hold personal data: not cached, not framed by another site, no referrer to other hosts.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The template `name` with `context`, plus `user` and `csrf_token` of the request's session (set by the
    page dependencies of bot/console/auth.py; a page may pass its own, as the login page does)."""
    session = getattr(request.state, "console_session", None)
    context = {
        "user": session.principal if session else None,
        "csrf_token": session.csrf_token if session else "",
        **context,
    }
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response
