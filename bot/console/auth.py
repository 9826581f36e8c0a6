"""Page dependencies: who may see a console page. `ConsoleUser` (any role), `ConsoleSupervisor` (supervisor or
admin), `ConsoleAdmin` (admin). Each is a bot.auth.Principal.

Without a live session a page answers 303 to /console/login?next=<the page> (an htmx request gets 401 with
HX-Redirect, so the login page is not swapped into a fragment); a role too low gets a 403 page in Chinese; a
state-changing request without the session's CSRF token gets 403 too. The same rules as the API
(bot/api/access.py): one session, one token, one role model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from bot.api.access import console_session, csrf_passes
from bot.auth import Principal, Role

LOGIN_PATH = "/console/login"
HOME_PATH = "/console/queue"


class LoginRequired(Exception):
    """No live session: the handler (bot/console/routes.py) sends the browser to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageForbidden(Exception):
    """The caller is logged in but may not do this: a 403 page saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def safe_next(value: str | None) -> str:
    """Where to go after logging in: `value` if it is a console page on this site, else the queue. Anything
    else (another host, //host, a scheme, a backslash browsers read as a slash) would make the login page an
    open redirect."""
    if not value or "\\" in value or any(ord(c) < 0x20 for c in value):
        return HOME_PATH
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return HOME_PATH
    if not (parts.path == "/console" or parts.path.startswith("/console/")) or parts.path == LOGIN_PATH:
        return HOME_PATH
    return value


def login_url(next_path: str) -> str:
    return f"{LOGIN_PATH}?next={quote(safe_next(next_path), safe='/')}"


async def console_user(request: Request) -> Principal:
    session = await run_in_threadpool(console_session, request)
    if session is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(here if request.method == "GET" else HOME_PATH)
    if not await csrf_passes(request, session):
        raise PageForbidden("页面已过期或请求缺少安全令牌（CSRF），请刷新页面后重试。")
    return session.principal


def at_least(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(user: Annotated[Principal, Depends(console_user)]) -> Principal:
        if not user.role.at_least(role):
            raise PageForbidden(f"此页面需要{role.label}及以上权限。")
        return user

    return check


ConsoleUser = Annotated[Principal, Depends(console_user)]
ConsoleSupervisor = Annotated[Principal, Depends(at_least(Role.SUPERVISOR))]
ConsoleAdmin = Annotated[Principal, Depends(at_least(Role.ADMIN))]
