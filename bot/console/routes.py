"""/console: logging in and out, and the admin's user page. Other pages (queue, conversation, tickets,
supervisor, analytics) are routers of their own, included into `router` here.

`install(app)` is all the gateway does for the console: this router, the static files at /console/static,
and the handlers that turn LoginRequired / PageForbidden into a redirect or a 403 page.

Handlers are plain `def` where they touch the database: FastAPI runs them in its thread pool.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from bot.api.access import SESSION_COOKIE, console_session
from bot.api.clients import request_client_tag
from bot.auth import Role
from bot.console.accounts import MIN_PASSWORD_LENGTH, AccountError, AccountEvent, AccountStore
from bot.console.auth import (
    HOME_PATH,
    LOGIN_PATH,
    ConsoleAdmin,
    ConsoleUser,
    LoginRequired,
    PageForbidden,
    login_url,
    safe_next,
)
from bot.console.sessions import SessionStore
from bot.console.templating import STATIC, render

router = APIRouter(prefix="/console", include_in_schema=False)

#: Before a session exists the login form is guarded by a double-submit token: this cookie must match the
#: form's csrf_token, which another site can neither read nor set. It stops a page elsewhere logging a
#: browser in as someone else.
LOGIN_CSRF_COOKIE = "hotline_login_csrf"
LOGIN_FAILED = "登录名或密码错误。连续输错 5 次密码，账号将锁定 15 分钟。"
EVENT_LABELS = {
    AccountEvent.LOGIN: "登录",
    AccountEvent.LOGIN_FAILED: "登录失败",
    AccountEvent.LOCKED: "连续失败，锁定 15 分钟",
    AccountEvent.LOGOUT: "退出登录",
    AccountEvent.USER_ADDED: "添加用户",
    AccountEvent.DISABLED: "停用",
    AccountEvent.PASSWORD_CHANGED: "修改密码",
}


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(LoginRequired, _to_login)  # type: ignore[arg-type]
    app.add_exception_handler(PageForbidden, _forbidden)  # type: ignore[arg-type]


def _to_login(request: Request, exc: LoginRequired) -> Response:
    target = login_url(exc.next_path)
    if request.headers.get("HX-Request"):  # htmx would swap the login page into a fragment: send the page there
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _forbidden(request: Request, exc: PageForbidden) -> HTMLResponse:
    return render(request, "error.html", status_code=403, heading="无权访问", message=exc.message)


def _sessions(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def _accounts(request: Request) -> AccountStore:
    store: AccountStore = request.app.state.accounts
    return store


@router.get("")
def console_home(_user: ConsoleUser) -> RedirectResponse:
    return RedirectResponse(HOME_PATH, status_code=303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    if console_session(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, next_path=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    login: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = HOME_PATH,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        notice = "登录页面已过期，请重新输入。"
        return _login_form(request, next_path=safe_next(next), login=login, notice=notice, status_code=403)
    opened = _sessions(request).login(login, password, client=request_client_tag(request))
    if opened is None:
        return _login_form(request, next_path=safe_next(next), login=login, error=LOGIN_FAILED, status_code=401)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        max_age=int(_sessions(request).ttl.total_seconds()),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",  # Strict would log out whoever follows a link to a ticket from another intranet page
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


def _login_form(request: Request, *, next_path: str, status_code: int = 200, **context: str) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", status_code=status_code, csrf_token=token, next=next_path, **context)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path=LOGIN_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout")
def logout(request: Request, _user: ConsoleUser) -> RedirectResponse:
    session = console_session(request)
    if session is not None:
        _sessions(request).logout(session.id, client=request_client_tag(request))
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=request.url.scheme == "https", httponly=True)
    return response


@router.get("/users")
def users_page(
    request: Request, _admin: ConsoleAdmin, added: str | None = None, disabled: str | None = None
) -> Response:
    accounts = _accounts(request)
    # Only a real account is named: the link must not let anyone put words on the admin's page.
    notice = "".join(
        template.format(account.login)
        for template, login in (("已添加用户 {}。", added), ("已停用用户 {}。", disabled))
        if login and (account := accounts.get(login)) is not None
    )
    return _users_page(request, notice=notice or None)


def _users_page(request: Request, *, status_code: int = 200, **context: object) -> HTMLResponse:
    accounts = _accounts(request)
    return render(
        request,
        "users.html",
        status_code=status_code,
        users=accounts.list(),
        events=accounts.events(limit=100),
        event_labels=EVENT_LABELS,
        roles=list(Role),
        min_password_length=MIN_PASSWORD_LENGTH,
        now=_sessions(request).now(),
        **context,
    )


@router.post("/users")
def add_user(
    request: Request,
    admin: ConsoleAdmin,
    login: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = Role.OPERATOR.value,
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
) -> Response:
    again = {"form_login": login, "form_role": role, "status_code": 400}
    if role not in {r.value for r in Role}:
        return _users_page(request, error="请选择角色：话务员、主管或管理员。", **again)
    if password != password_again:
        return _users_page(request, error="两次输入的密码不一致。", **again)
    try:
        added = _accounts(request).add(login, password, role, actor=admin.actor)
    except AccountError as error:
        return _users_page(request, error=error.zh, **again)
    return RedirectResponse(f"/console/users?added={added.login}", status_code=303)


@router.post("/users/{login}/disable")
def disable_user(request: Request, login: str, admin: ConsoleAdmin) -> Response:
    if login.strip().lower() == admin.name:
        return _users_page(request, error="不能停用自己的账号。", status_code=400)
    if not _accounts(request).disable(login, actor=admin.actor):
        return _users_page(request, error=f"没有可停用的用户 {login}。", status_code=404)
    return RedirectResponse(f"/console/users?disabled={login.strip().lower()}", status_code=303)
