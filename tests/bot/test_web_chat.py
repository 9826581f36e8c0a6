"""The web chat page in a real browser (Debian's chromium, driven by Playwright) against the real stack."""

from __future__ import annotations

import shutil

import pytest

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
def page(browser, hotline_stack):
    page = browser.new_page()
    page.goto(hotline_stack.url + "/")
    yield page
    page.close()


def type_and_send(page, text: str):
    """Types like a citizen, presses Enter, and returns the first reply once it is shown."""
    page.fill("#text", text)
    page.press("#text", "Enter")
    reply = page.locator(".msg.bot").first
    reply.wait_for(timeout=60_000)
    return reply


def test_a_question_typed_in_the_page_is_answered_with_its_source(page):
    answer = type_and_send(page, "被狗咬了怎么处理")
    assert "狂犬" in answer.inner_text()
    citation = answer.locator(".cite")
    assert "健康知识" in citation.first.inner_text()


def test_buttons_send_their_payload(page):
    type_and_send(page, "帮我订一张去上海的机票")
    page.get_by_role("button", name="转人工").click()
    page.locator(".notice", has_text="已转人工客服").wait_for(timeout=60_000)
    assert "人工客服" in page.locator(".msg.bot").last.inner_text()


def test_the_page_keeps_its_conversation_across_reloads_and_starts_anew_when_it_is_unknown(page):
    type_and_send(page, "我要投诉")
    page.locator(".msg.bot", has_text="发生了什么").wait_for(timeout=60_000)
    conversation_id = page.evaluate("localStorage.getItem('hotline-conversation')")
    assert conversation_id and conversation_id.startswith("web-")

    page.reload()
    page.fill("#text", "市第三医院挂号处多收了我50元挂号费")
    page.press("#text", "Enter")
    page.locator(".msg.bot", has_text="什么地方").wait_for(timeout=60_000)  # the form went on: same conversation
    assert page.evaluate("localStorage.getItem('hotline-conversation')") == conversation_id

    # An id the server does not know (another database, or one typed in by hand): the page starts a new one.
    page.evaluate("localStorage.setItem('hotline-conversation', 'web-not-issued-by-the-server')")
    page.reload()
    answer = type_and_send(page, "被狗咬了怎么处理")
    assert "狂犬" in answer.inner_text()
    page.locator(".notice", has_text="已开始新的会话").wait_for(timeout=10_000)
    fresh = page.evaluate("localStorage.getItem('hotline-conversation')")
    assert fresh not in (None, conversation_id, "web-not-issued-by-the-server")
