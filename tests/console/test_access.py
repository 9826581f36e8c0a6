"""Who may reach the console and the operator API, over real HTTP on SQLite and PostgreSQL: a login or a token
for everything, the role for admin actions, the CSRF token for every state change, the lockout, expiry, and
the session cookie's flags."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.auth import Role, TokenStore
from bot.console.models import ConsoleSessionRow, ConsoleUserRow, LoginEventRow
from bot.console.routes import LOGIN_FAILED
from tests.console.conftest import PASSWORD, Gateway, csrf_of, login_through_form, start_gateway


@pytest.fixture
def untrusted(tmp_path: Path) -> Iterator[Gateway]:
    """A gateway that trusts no proxy (the default)."""
    yield from start_gateway(f"sqlite:///{tmp_path / 'hotline.db'}")


def test_no_console_page_or_api_call_without_a_login_or_token(gateway: Gateway) -> None:
    gateway.add_user("wang", Role.ADMIN)
    requests = [
        ("GET", "/console"),
        ("GET", "/console/users"),
        ("GET", "/console/users?added=wang"),
        ("POST", "/console/users"),
        ("POST", "/console/users/wang/disable"),
        ("POST", "/console/logout"),
    ]
    for cookies in ({}, {"hotline_session": "forged-or-expired"}):
        with gateway.client(cookies=cookies) as client:
            for method, path in requests:
                response = client.request(method, path)
                assert response.status_code == 303, (method, path)
                location = response.headers["location"]
                assert location.startswith("/console/login?next="), location
                assert location == "/console/login?next=" + (
                    path.replace("?", "%3F").replace("=", "%3D") if method == "GET" else "/console/queue"
                )
            # htmx asks for fragments: it is told where to send the whole page instead.
            fragment = client.get("/console/users", headers={"HX-Request": "true"})
            assert (
                fragment.status_code == 401 and fragment.headers["hx-redirect"] == "/console/login?next=/console/users"
            )
            for method, path in [
                ("GET", "/api/users"),
                ("GET", "/api/tickets"),
                ("POST", "/api/tickets/escalate-overdue"),
            ]:
                response = client.request(method, path)
                assert response.status_code == 401, (method, path)
                assert response.headers["www-authenticate"] == "Bearer"
    assert [user.login for user in gateway.accounts.list()] == ["wang"] and gateway.accounts.get(
        "wang"
    ).disabled_at is None


def test_an_operator_cannot_reach_admin_actions(gateway: Gateway) -> None:
    gateway.add_user("li", Role.OPERATOR)
    gateway.add_user("zhou", Role.SUPERVISOR)
    gateway.add_user("wang", Role.ADMIN)
    tokens = TokenStore(gateway.engine)
    operator_token = {"Authorization": f"Bearer {tokens.issue('li-token', Role.OPERATOR)}"}
    admin_token = {"Authorization": f"Bearer {tokens.issue('root', Role.ADMIN)}"}

    with gateway.logged_in("li") as operator:
        home = operator.get("/console")
        assert home.status_code == 303 and home.headers["location"] == "/console/queue"
        page = operator.get("/console/users")
        assert page.status_code == 403 and "无权访问" in page.text and "管理员" in page.text
        csrf = csrf_of(page.text)  # the 403 page still lets them log out
        added = operator.post(
            "/console/users",
            data={
                "csrf_token": csrf,
                "login": "mallory",
                "role": "admin",
                "password": PASSWORD,
                "password_again": PASSWORD,
            },
        )
        assert added.status_code == 403
        assert operator.post("/console/users/wang/disable", data={"csrf_token": csrf}).status_code == 403
        assert operator.get("/api/users").status_code == 403
        assert operator.get("/api/tickets").status_code == 200  # what an operator may do, the cookie does
        refused = operator.post("/api/tickets/escalate-overdue", headers={"X-CSRF-Token": csrf})
        assert refused.status_code == 403 and "主管" in refused.json()["detail"]
        # The nav shows an operator no admin page.
        assert 'href="/console/users"' not in page.text and 'href="/console/supervisor"' not in page.text
    with gateway.client() as client:
        assert client.get("/api/users", headers=operator_token).status_code == 403
        assert client.get("/api/users", headers=admin_token).status_code == 200
        # Supervisor admits an admin: the roles are ranked.
        assert client.post("/api/tickets/escalate-overdue", headers=admin_token).status_code == 200
    with gateway.logged_in("zhou") as supervisor:
        page = supervisor.get("/console/users")
        assert page.status_code == 403
        assert supervisor.post("/api/tickets/escalate-overdue", headers={"X-CSRF-Token": csrf_of(page.text)}).is_success
    with gateway.logged_in("wang") as admin:
        listing = admin.get("/api/users")
        assert listing.status_code == 200
        assert {(u["login"], u["role"]) for u in listing.json()} == {
            ("li", "operator"),
            ("zhou", "supervisor"),
            ("wang", "admin"),
        }
    assert gateway.accounts.get("mallory") is None and gateway.accounts.get("wang").disabled_at is None


def test_a_state_change_without_the_csrf_token_is_refused(gateway: Gateway) -> None:
    gateway.add_user("wang", Role.ADMIN)
    gateway.add_user("zhou", Role.SUPERVISOR)
    form = {"login": "li", "role": "operator", "password": PASSWORD, "password_again": PASSWORD}
    with gateway.logged_in("wang") as admin, gateway.logged_in("zhou") as other:
        csrf = csrf_of(admin.get("/console/users").text)
        for refused in (form, {**form, "csrf_token": ""}, {**form, "csrf_token": "not-the-token"}):
            response = admin.post("/console/users", data=refused)
            assert response.status_code == 403 and "CSRF" in response.text
        assert gateway.accounts.get("li") is None
        # Another session's token is not this session's (the 403 page a supervisor gets still carries theirs).
        zhou_csrf = csrf_of(other.get("/console/users").text)
        assert admin.post("/console/users", data={**form, "csrf_token": zhou_csrf}).status_code == 403
        # The API, called with the cookie, needs it too: header X-CSRF-Token.
        assert admin.post("/api/tickets/escalate-overdue").status_code == 403
        assert admin.post("/api/tickets/escalate-overdue", headers={"X-CSRF-Token": "wrong"}).status_code == 403
        assert admin.post("/api/tickets/escalate-overdue", headers={"X-CSRF-Token": csrf}).status_code == 200
        # Logging out is a state change: without the token the session lives on.
        assert admin.post("/console/logout").status_code == 403
        assert admin.get("/console/users").status_code == 200
        # With it (as a form field, or as htmx sends it, a header), the change is made.
        added = admin.post("/console/users", data={**form, "csrf_token": csrf})
        assert added.status_code == 303 and added.headers["location"] == "/console/users?added=li"
        assert gateway.accounts.get("li") is not None
        disabled = admin.post("/console/users/li/disable", headers={"X-CSRF-Token": csrf})
        assert disabled.status_code == 303 and gateway.accounts.get("li").disabled_at is not None


def test_the_login_form_needs_its_own_csrf_token(gateway: Gateway) -> None:
    gateway.add_user("wang", Role.ADMIN)
    with gateway.client() as client:
        # A page elsewhere cannot read the login form's token, nor set the cookie it must match.
        forged = client.post("/console/login", data={"login": "wang", "password": PASSWORD, "csrf_token": "guess"})
        assert forged.status_code == 403 and "hotline_session" not in forged.headers.get("set-cookie", "")
        assert "登录页面已过期" in forged.text
    assert _events(gateway, "login") == []


def test_five_wrong_passwords_lock_the_login_for_15_minutes(gateway: Gateway) -> None:
    gateway.add_user("wang", Role.OPERATOR)
    with gateway.client() as client:
        for _ in range(5):
            wrong = login_through_form(client, "wang", "not the password at all")
            assert wrong.status_code == 401 and LOGIN_FAILED in wrong.text
        locked = login_through_form(client, "wang", PASSWORD)  # the sixth, with the right password
        assert locked.status_code == 401 and LOGIN_FAILED in locked.text
        assert "hotline_session" not in client.cookies
        unknown = login_through_form(client, "nobody", PASSWORD)
        assert unknown.status_code == 401 and LOGIN_FAILED in unknown.text  # the same answer: nothing to tell apart
        assert _text_without_tokens(unknown.text) == _text_without_tokens(locked.text).replace("wang", "nobody")
    with Session(gateway.engine) as session:
        user = session.scalar(select(ConsoleUserRow).where(ConsoleUserRow.login == "wang"))
        assert user is not None and user.locked_until is not None
        left = user.locked_until - datetime.now(UTC)
        assert timedelta(minutes=14) < left <= timedelta(minutes=15)
    assert _events(gateway, "login_failed") == ["wang"] * 6 + [None]  # the unknown login is not written down
    assert _events(gateway, "locked") == ["wang"]
    # Fifteen minutes later (the lock moved back instead of waiting): the right password works again.
    with Session(gateway.engine) as session, session.begin():
        session.execute(
            update(ConsoleUserRow)
            .where(ConsoleUserRow.login == "wang")
            .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    with gateway.client() as client:
        assert login_through_form(client, "wang", PASSWORD).status_code == 303
        assert client.get("/console").status_code == 303 and client.get("/api/tickets").status_code == 200


@pytest.mark.parametrize("expiry", ["idle", "absolute"])
def test_an_expired_session_is_refused(gateway: Gateway, expiry: str) -> None:
    gateway.add_user("wang", Role.ADMIN)
    with gateway.logged_in("wang") as client:
        assert client.get("/console/users").status_code == 200
        now = datetime.now(UTC)
        values = (
            {"last_seen_at": now - timedelta(minutes=30, seconds=1)}  # HOTLINE_SESSION_IDLE_S: 30 minutes
            if expiry == "idle"
            else {"expires_at": now - timedelta(seconds=1)}  # HOTLINE_SESSION_TTL_S passed, however active
        )
        with Session(gateway.engine) as session, session.begin():
            session.execute(update(ConsoleSessionRow).values(**values))
        page = client.get("/console/users")
        assert page.status_code == 303 and page.headers["location"] == "/console/login?next=/console/users"
        assert client.get("/api/users").status_code == 401
    with Session(gateway.engine) as session:
        assert session.scalars(select(ConsoleSessionRow)).all() == []  # an ended session is deleted


def test_logging_out_ends_the_session_for_good(gateway: Gateway) -> None:
    gateway.add_user("wang", Role.ADMIN)
    with gateway.logged_in("wang") as client:
        cookie = client.cookies["hotline_session"]
        out = client.post("/console/logout", data={"csrf_token": csrf_of(client.get("/console/users").text)})
        assert out.status_code == 303 and out.headers["location"] == "/console/login"
        assert 'hotline_session=""' in out.headers["set-cookie"]
    with gateway.client(cookies={"hotline_session": cookie}) as replay:  # a copy of the old cookie
        assert replay.get("/console/users").status_code == 303
        assert replay.get("/api/users").status_code == 401
    assert _events(gateway, "logout") == ["wang"]


def test_disabling_a_user_ends_their_sessions(gateway: Gateway) -> None:
    gateway.add_user("wang", Role.ADMIN)
    gateway.add_user("li", Role.OPERATOR)
    with gateway.logged_in("wang") as admin, gateway.logged_in("li") as operator:
        assert operator.get("/api/tickets").status_code == 200
        csrf = csrf_of(admin.get("/console/users").text)
        assert admin.post("/console/users/li/disable", data={"csrf_token": csrf}).status_code == 303
        assert operator.get("/api/tickets").status_code == 401
        page = admin.get("/console/users?disabled=li")
        assert "已停用用户 li。" in page.text and "已停用" in page.text
        # No one disables themself (the last admin would lock everyone out).
        myself = admin.post("/console/users/wang/disable", data={"csrf_token": csrf})
        assert myself.status_code == 400 and "不能停用自己的账号" in myself.text
        # A link cannot put words on the admin's page.
        assert "evil" not in admin.get("/console/users?added=evil").text
    with gateway.client() as client:
        assert login_through_form(client, "li", PASSWORD).status_code == 401


def test_the_users_page_explains_a_refused_user_in_chinese(gateway: Gateway) -> None:
    gateway.add_user("wang", Role.ADMIN)
    with gateway.logged_in("wang") as admin:
        csrf = csrf_of(admin.get("/console/users").text)
        base = {"csrf_token": csrf, "role": "operator", "login": "li"}
        for form, message in [
            ({**base, "password": "short", "password_again": "short"}, "密码至少需要 12 个字符"),
            ({**base, "password": PASSWORD, "password_again": PASSWORD + "x"}, "两次输入的密码不一致"),
            ({**base, "login": "王芳", "password": PASSWORD, "password_again": PASSWORD}, "登录名须为"),
            ({**base, "login": "wang", "password": PASSWORD, "password_again": PASSWORD}, "已存在"),
            ({**base, "role": "root", "password": PASSWORD, "password_again": PASSWORD}, "请选择角色"),
        ]:
            response = admin.post("/console/users", data=form)
            assert response.status_code == 400 and message in response.text, message
        assert [user.login for user in gateway.accounts.list()] == ["wang"]


def test_the_session_cookie_is_httponly_samesite_and_expires(gateway: Gateway) -> None:
    gateway.add_user("wang", Role.ADMIN)
    with gateway.client() as client:
        response = login_through_form(client, "wang", PASSWORD)
        cookie = _set_cookie(response, "hotline_session")
        assert {"httponly", "samesite=lax", "path=/", "max-age=28800"} <= cookie  # HOTLINE_SESSION_TTL_S: 8 h
        assert "secure" not in cookie  # plain http on loopback: a Secure cookie would never come back
    # Behind the trusted proxy (HOTLINE_TRUSTED_PROXIES=127.0.0.1), which says the client used https: Secure.
    with gateway.client(headers={"X-Forwarded-Proto": "https"}) as client:
        page = client.get("/console/login")
        assert "secure" in _set_cookie(page, "hotline_login_csrf")
        token = csrf_of(page.text)  # the client keeps a Secure cookie for https only: sent here by hand
        form = {"login": "wang", "password": PASSWORD, "csrf_token": token}
        response = client.post("/console/login", data=form, headers={"Cookie": f"hotline_login_csrf={token}"})
        assert response.status_code == 303
        assert {"secure", "httponly", "samesite=lax"} <= _set_cookie(response, "hotline_session")


def test_x_forwarded_proto_from_an_untrusted_peer_is_ignored(untrusted: Gateway) -> None:
    # No trusted proxies: a client saying https about itself changes nothing.
    untrusted.add_user("wang", Role.ADMIN)
    with untrusted.client(headers={"X-Forwarded-Proto": "https"}) as client:
        response = login_through_form(client, "wang", PASSWORD)
        assert response.status_code == 303 and "secure" not in _set_cookie(response, "hotline_session")


def test_after_login_only_a_console_page_of_this_site(gateway: Gateway) -> None:
    gateway.add_user("wang", Role.ADMIN)
    for asked, landing in [
        ("/console/users", "/console/users"),
        ("/console/users?added=wang", "/console/users?added=wang"),
        ("//evil.example/console", "/console/queue"),
        ("https://evil.example/console/users", "/console/queue"),
        ("/\\evil.example", "/console/queue"),
        ("/console/\\evil.example", "/console/queue"),
        ("/api/users", "/console/queue"),
        ("/console/login", "/console/queue"),
    ]:
        with gateway.client() as client:
            response = login_through_form(client, "wang", PASSWORD, next_path=asked)
            assert response.status_code == 303 and response.headers["location"] == landing, asked


def test_a_logged_in_visit_to_the_login_page_goes_on(gateway: Gateway) -> None:
    gateway.add_user("wang", Role.ADMIN)
    with gateway.logged_in("wang") as client:
        again = client.get("/console/login", params={"next": "/console/users"})
        assert again.status_code == 303 and again.headers["location"] == "/console/users"


def _set_cookie(response: httpx.Response, name: str) -> set[str]:
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return {part.strip().lower() for part in header.split(";")[1:]}


def _events(gateway: Gateway, event: str) -> list[str | None]:
    with Session(gateway.engine) as session:
        return list(
            session.scalars(select(LoginEventRow.login).where(LoginEventRow.event == event).order_by(LoginEventRow.id))
        )


def _text_without_tokens(html: str) -> str:
    return html.replace(csrf_of(html), "")
