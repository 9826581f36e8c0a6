"""The login page in a real browser (Debian's chromium, driven by Playwright) against a real gateway: an
admin types the password, lands on the console, uses an admin page through its form, and logs out."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.auth import Role
from tests.console.conftest import PASSWORD, Gateway, start_gateway

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Gateway]:
    # The browser sees the storage only through the pages: SQLite is enough here (test_access runs both).
    yield from start_gateway(f"sqlite:///{tmp_path / 'hotline.db'}")


def test_an_admin_logs_in_through_the_page_and_lands_on_the_console(browser, console: Gateway) -> None:
    console.add_user("wang", Role.ADMIN)
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(console.url + "/console/users")
        assert page.url == console.url + "/console/login?next=/console/users"
        assert page.title() == "登录 · 12320 热线"

        page.get_by_label("登录名").fill("wang")
        page.get_by_label("密码").fill("a wrong password")
        page.get_by_role("button", name="登录").click()
        page.get_by_role("alert").wait_for()
        assert "登录名或密码错误" in page.get_by_role("alert").inner_text()

        page.get_by_label("登录名").fill("wang")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(console.url + "/console/users")
        assert page.locator(".user-name").inner_text() == "wang"
        assert page.locator("nav a.active").inner_text() == "用户"
        assert [a.inner_text() for a in page.locator("nav a").all()] == ["队列", "工单", "督办", "统计", "用户"]
        cookie = next(c for c in context.cookies() if c["name"] == "hotline_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        assert page.evaluate("document.cookie").find("hotline_session") == -1  # HttpOnly: no script reads it
        assert page.evaluate("typeof htmx") == "object"  # the vendored htmx loads, from the gateway itself
        assert page.request.get(console.url + "/console/static/vendor/echarts.min.js").ok
        headers = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))")
        assert headers["X-CSRF-Token"] == page.locator("meta[name=csrf-token]").get_attribute("content")

        form = page.locator("#add-user")
        form.get_by_label("登录名").fill("li")
        form.get_by_label("角色").select_option("operator")
        form.get_by_label("初始密码").fill(PASSWORD)
        form.get_by_label("再次输入密码").fill(PASSWORD)
        form.get_by_role("button", name="添加").click()
        page.locator(".alert.notice", has_text="已添加用户 li").wait_for()
        assert page.locator("#users tr[data-login=li]").inner_text().split("\t")[:2] == ["li", "话务员"]
        assert console.accounts.get("li") is not None

        page.get_by_role("button", name="退出登录").click()
        page.wait_for_url(console.url + "/console/login")
        page.goto(console.url + "/console")
        assert page.url.startswith(console.url + "/console/login")
    finally:
        context.close()
