"""The citizen's page, live, in a real browser (Debian's chromium, Playwright): an operator's reply, "typing",
the queue place and the rating prompt arrive over the WebSocket, and by polling when the socket is down.

The gateway is real (uvicorn, SQLite); Rasa is the local fake of test_conversation_faults.py: the page's
handoff is the point here, the real bot's answers are test_web_chat.py's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.conversation.ratings import RatingStore
from bot.handoff import notices
from bot.handoff.live import RATING_REQUEST
from tests.bot.test_conversation_faults import FakeRasa
from tests.bot.test_handoff_api import HANDOFF_TURN, Desk, running
from tests.bot.test_web_chat import browser  # noqa: F401  (the fixture)

#: Stands in for a network that lets no WebSocket through: every socket the page opens fails at once.
NO_WEBSOCKETS = """
window.WebSocket = class {
  constructor() { setTimeout(() => this.onclose && this.onclose({code: 1006}), 0); }
  close() {}
};
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Desk]:
    fake = FakeRasa()
    with running(f"sqlite:///{tmp_path / 'hotline.db'}", fake) as desk:
        yield desk
    fake.close()


def ask_for_a_person(page, live: Desk) -> str:
    live.rasa.answer(HANDOFF_TURN)
    page.fill("#text", "我要找人工客服")
    page.press("#text", "Enter")
    page.locator(".notice", has_text="已转人工客服").wait_for(timeout=20_000)
    conversation_id = page.evaluate("localStorage.getItem('hotline-conversation')")
    assert conversation_id and live.desk.get(conversation_id).owner == "queue"
    return conversation_id


def operator(live: Desk, conversation_id: str, action: str, **body: str) -> httpx.Response:
    with live.http() as client:
        response = client.post(f"/api/handoff/{conversation_id}/{action}", json=body or None, headers=live.wang)
    assert response.status_code == 200, response.text
    return response


def rate_with_one_tap(page, live: Desk, conversation_id: str) -> None:
    prompt = page.locator(".rating")
    prompt.wait_for(timeout=20_000)
    assert RATING_REQUEST in prompt.inner_text()
    page.fill(".rating input", "很耐心")
    page.get_by_role("button", name="5分").click()
    page.locator(".rating", has_text="感谢您的评价").wait_for(timeout=10_000)
    ratings = RatingStore(live.desk.engine).for_conversation(conversation_id)
    assert [(r.score, r.comment, r.operator) for r in ratings] == [(5, "很耐心", "wang")]


def test_the_operator_reaches_the_page_over_its_socket(browser, live: Desk) -> None:  # noqa: F811
    page = browser.new_page()
    try:
        page.goto(live.url + "/")
        conversation_id = ask_for_a_person(page, live)
        bot_bubbles = page.locator(".msg.bot").count()
        # The place came before the socket was open: the page read it once the socket was ready.
        page.locator("#place", has_text="您是下一位").wait_for(timeout=10_000)

        operator(live, conversation_id, "take")
        page.locator(".sys", has_text=notices.TAKEN).wait_for(timeout=10_000)
        assert page.locator("#place").inner_text() == ""
        operator(live, conversation_id, "typing")
        page.locator("#typing").wait_for(state="visible", timeout=10_000)
        operator(live, conversation_id, "messages", text="您好，我是人工客服，请讲。")
        reply = page.locator(".msg.agent")
        reply.wait_for(timeout=10_000)
        assert reply.inner_text().splitlines() == ["人工客服", "您好，我是人工客服，请讲。"]
        assert page.locator("#typing").is_hidden()

        operator(live, conversation_id, "close", note="已解答")
        page.locator(".sys", has_text=notices.CLOSED).wait_for(timeout=10_000)
        rate_with_one_tap(page, live, conversation_id)
        assert page.locator(".msg.agent").count() == 1 and page.locator(".msg.bot").count() == bot_bubbles
    finally:
        page.close()


def test_without_a_socket_the_page_polls_and_shows_each_turn_once(browser, live: Desk) -> None:  # noqa: F811
    page = browser.new_page()
    page.add_init_script(NO_WEBSOCKETS)
    try:
        page.goto(live.url + "/")
        conversation_id = ask_for_a_person(page, live)
        bot_bubbles = page.locator(".msg.bot").count()
        page.locator("#place", has_text="您是下一位").wait_for(timeout=10_000)

        operator(live, conversation_id, "take")
        operator(live, conversation_id, "messages", text="您好，请问有什么可以帮您？")
        page.locator(".msg.agent", has_text="有什么可以帮您").wait_for(timeout=10_000)
        page.locator(".sys", has_text=notices.TAKEN).wait_for(timeout=10_000)
        page.wait_for_timeout(4500)  # two more polls: nothing is shown twice
        assert page.locator(".msg.agent").count() == 1
        assert page.locator(".sys", has_text=notices.TAKEN).count() == 1
        assert page.locator(".msg.bot").count() == bot_bubbles  # the bot's replies came in the response only

        operator(live, conversation_id, "close", note="已解答")
        rate_with_one_tap(page, live, conversation_id)

        # A reload shows what came after the last turn it had shown, and no rating prompt for a rated request.
        page.reload()
        page.wait_for_timeout(3000)
        assert page.locator(".msg").count() == 0 and page.locator(".rating").count() == 0
    finally:
        page.close()
