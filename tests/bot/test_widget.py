"""The embeddable chat widget (/widget.js) on another site, in a real browser (Debian's chromium, Playwright).

The site is a server of its own on another port, so every call the widget makes is cross-origin, as on a
health commission's site; one of its pages has CSS that tries to break the widget. The gateway is real
(uvicorn, SQLite, HOTLINE_WIDGET_ORIGINS naming the site); Rasa is the local fake of test_conversation_faults.py,
because the widget is the point here. The real bot's answers through the widget: test_widget_stack.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from actions.service_card import ServiceCard
from bot.conversation.ratings import RatingStore
from bot.conversation.welcome import SUGGESTIONS, WELCOME
from bot.handoff import notices
from bot.handoff.live import RATING_REQUEST
from bot.settings import SettingsError, load_settings
from tests.bot.test_conversation_faults import FakeRasa
from tests.bot.test_handoff_api import HANDOFF_TURN, Desk, running, webhook_texts
from tests.bot.test_web_chat import browser  # noqa: F401  (the fixture)
from tests.bot.widget_site import HOSTILE_CSS, Site

CITED = {
    "doc_id": "health-faq",
    "title": "健康知识常见问题（示例）",
    "section": "6. 被狗咬伤或抓伤后怎么处理？",
    "url": "https://example.gov.cn/12320/faq",
}
ANSWER = "立即用肥皂水和流动清水交替冲洗伤口约15分钟，并尽快到狂犬病预防处置门诊就诊。"
ANSWER_TURN = {
    "messages": [{"text": ANSWER}, {"custom": {"citations": [CITED]}}],
    "intent": {"name": "ask_health", "confidence": 0.93},
    "slots_set": {},
}
CARD = ServiceCard.of(
    "出生医学证明办理指南",
    [
        ("一、办理主体", "（示例）某市妇幼保健院出生医学证明管理窗口。"),
        ("四、申请材料", "父母双方有效身份证件；公安机关户籍部门出具的新生儿未落户证明。"),
        ("六、办理时限", "（示例）受理后10个工作日内办结。"),
        ("八、收费依据与标准", "不收费。"),
        ("九、办理地点与时间", "（示例）某市妇幼保健院门诊楼一楼窗口，周一至周五 8:30—17:30。"),
    ],
)
CARD_TURN = {
    "messages": [
        {"text": f"您问的四、申请材料：父母双方有效身份证件。\n{CARD.text()}"},
        {"custom": {"citations": [{**CITED, "title": "出生医学证明办理指南", "section": "全文"}]}},
    ],
    "intent": {"name": "ask_service", "confidence": 0.95},
    "slots_set": {},
}
WIDGET_ERROR = "暂时无法连接在线咨询服务"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """The site allowed to embed the widget: a plain page at /, a hostile one at /hostile."""
    site = Site({"/": "", "/hostile": HOSTILE_CSS})
    yield site
    site.close()


@pytest.fixture(scope="module")
def stranger() -> Iterator[Site]:
    """A site nobody configured."""
    site = Site({"/": ""})
    yield site
    site.close()


@pytest.fixture
def live(tmp_path: Path, site: Site, stranger: Site) -> Iterator[Desk]:
    fake = FakeRasa()
    fake.answer(ANSWER_TURN)
    with running(f"sqlite:///{tmp_path / 'hotline.db'}", fake, widget_origins=f"{site.origin}/") as desk:
        site.gateway = stranger.gateway = desk.url
        yield desk
    fake.close()


@pytest.fixture
def context(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    context.close()


def widget(page):
    return page.locator("hotline-widget")


def open_widget(page, url: str, path: str = "/"):
    page.goto(url + path)
    w = widget(page)
    w.locator(".launcher").click()
    w.locator(".welcome").wait_for(timeout=10_000)
    return w


def ask(w, text: str) -> None:
    w.locator("#text").fill(text)
    w.locator("#text").press("Enter")


def stored_id(page, live: Desk) -> str | None:
    return page.evaluate(f"sessionStorage.getItem('hotline-widget:{live.url}/:conversation')")


def answers(w):
    return w.locator(".msg.bot:not(.welcome):not(.pending)")


def style_of(locator, prop: str) -> str:
    return locator.evaluate(f"(node) => getComputedStyle(node).getPropertyValue('{prop}')")


def operator(live: Desk, conversation_id: str, action: str, **body: str) -> httpx.Response:
    with live.http() as client:
        response = client.post(f"/api/handoff/{conversation_id}/{action}", json=body or None, headers=live.wang)
    assert response.status_code == 200, response.text
    return response


# --- over HTTP: the script, CORS, the welcome, the history ----------------------------------------------------


def test_the_script_is_served_for_any_page_and_revalidated_by_its_etag(live: Desk) -> None:
    with live.http() as client:
        script = client.get("/widget.js")
        assert script.status_code == 200
        assert script.headers["content-type"] == "text/javascript; charset=utf-8"
        assert script.headers["cache-control"] == "public, max-age=300, must-revalidate"
        assert script.headers["cross-origin-resource-policy"] == "cross-origin"
        assert script.headers["x-content-type-options"] == "nosniff"
        assert "attachShadow" in script.text and "import " not in script.text  # no modules, no dependencies
        again = client.get("/widget.js", headers={"If-None-Match": script.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert client.get("/widget.js", headers={"If-None-Match": '"other"'}).status_code == 200


def test_only_the_configured_sites_may_call_the_chat_api_and_nothing_else(
    live: Desk, site: Site, stranger: Site
) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    with live.http() as client:
        allowed = client.options("/api/chat", headers={"Origin": site.origin, **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == site.origin
        assert "access-control-allow-credentials" not in allowed.headers  # the widget sends no cookies
        refused = client.options("/api/chat", headers={"Origin": stranger.origin, **preflight})
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers

        for path in ("/api/chat/welcome", "/api/chat/web-unknown/messages"):
            answered = client.get(path, headers={"Origin": site.origin})
            assert answered.headers["access-control-allow-origin"] == site.origin, path
            assert "access-control-allow-origin" not in client.get(path, headers={"Origin": stranger.origin}).headers
        # Only /api/chat*: the ticket, handoff and console APIs answer no other site's page.
        for path in ("/api/tickets", "/api/handoff/queue", "/console/login", "/healthz", "/api/chatter"):
            response = client.options(path, headers={"Origin": site.origin, **preflight})
            assert "access-control-allow-origin" not in response.headers, path
            response = client.get(path, headers={"Origin": site.origin})
            assert "access-control-allow-origin" not in response.headers, path


def test_the_allowed_origins_are_origins_never_a_wildcard() -> None:
    settings = load_settings(widget_origins=" HTTPS://WWW.Example.gov.cn/ ,http://127.0.0.1:8080,, ")
    assert settings.widget_origin_list == ["https://www.example.gov.cn", "http://127.0.0.1:8080"]
    assert load_settings().widget_origin_list == []
    for bad in ("*", "https://*.example.gov.cn", "https://www.example.gov.cn/chat", "www.example.gov.cn", "null"):
        with pytest.raises(SettingsError, match="HOTLINE_WIDGET_ORIGINS: item 1 is not an origin"):
            load_settings(widget_origins=bad)


def test_the_welcome_says_what_the_hotline_does_with_questions_to_start_from(live: Desk) -> None:
    with live.http() as client:
        response = client.get("/api/chat/welcome")
    assert response.status_code == 200 and response.headers["cache-control"] == "public, max-age=300"
    body = response.json()
    assert body == {"text": WELCOME, "suggestions": list(SUGGESTIONS)}
    for does in ("12320", "卫生健康政策", "健康知识", "办事指南", "投诉", "举报"):
        assert does in body["text"]
    assert 4 <= len(body["suggestions"]) <= 6


def test_the_history_holds_the_citizens_own_turns_only_when_asked_and_a_card_as_fields(live: Desk) -> None:
    live.rasa.answer(CARD_TURN)
    turn = live.chats.say("c1", "出生医学证明怎么补办")
    conversation_id = live.chats.ids["c1"]
    card = turn["messages"][0]["card"]
    # The field asked about is shown whole among the open ones: its excerpt is not said twice.
    assert card["title"] == "出生医学证明办理指南" and card["intro"] == "" and card["outro"] == ""
    assert [(f["label"], f["key"]) for f in card["fields"]] == [
        ("四、申请材料", True), ("六、办理时限", True), ("九、办理地点与时间", True),
        ("一、办理主体", False), ("八、收费依据与标准", False),
    ]  # fmt: skip
    with live.http() as client:
        said = client.get(f"/api/chat/{conversation_id}/messages").json()["turns"]
        history = client.get(f"/api/chat/{conversation_id}/messages", params={"after": 0, "citizen": "true"})
    assert [t["speaker"] for t in said] == ["bot"]
    turns = history.json()["turns"]
    assert (turns[0]["speaker"], turns[0]["text"]) == ("citizen", "出生医学证明怎么补办")
    assert turns[1]["card"] == card and turns[0]["card"] is None


# --- in the browser -------------------------------------------------------------------------------------------


def test_on_a_hostile_page_the_widget_opens_with_the_welcome_and_a_chip_asks_its_question(
    live: Desk, site: Site, context
) -> None:
    page = context.new_page()
    w = open_widget(page, site.origin, "/hostile")
    launcher_gone = w.locator(".launcher")
    assert launcher_gone.is_hidden()  # open: the panel has the corner
    panel = w.locator(".panel")
    box = panel.bounding_box()
    assert box and box["width"] == 380 and box["x"] + box["width"] == 1280 - 20  # its own size, bottom right
    assert style_of(w.locator(".root"), "font-size") == "15px"  # not the page's 40px
    assert style_of(w.locator("header"), "background-color") == "rgb(11, 83, 148)"
    assert w.locator(".welcome p").inner_text() == WELCOME
    chips = w.locator(".welcome .row button")
    assert chips.all_inner_texts() == list(SUGGESTIONS)
    assert style_of(chips.first, "background-color") == "rgb(255, 255, 255)"  # not the page's red buttons

    chips.nth(1).click()
    answer = answers(w).first
    answer.wait_for(timeout=20_000)
    conversation_id = stored_id(page, live)
    assert conversation_id and conversation_id.startswith("web-")
    assert webhook_texts(live.rasa, conversation_id) == [SUGGESTIONS[1]]
    assert w.locator(".msg.user").all_inner_texts() == [SUGGESTIONS[1]]
    # The source once, as a link, beside the text.
    assert answer.locator("p").inner_text() == ANSWER
    link = answer.locator(".cite a")
    assert link.count() == 1 and link.get_attribute("href") == CITED["url"]
    assert link.inner_text() == f"《{CITED['title']}》 {CITED['section']}"
    assert answer.inner_text().count("来源") == 1 and "https://" not in answer.inner_text()
    assert link.get_attribute("target") == "_blank" and "noopener" in (link.get_attribute("rel") or "")


def test_the_page_keeps_its_own_styles_beside_the_widget(live: Desk, site: Site, context) -> None:
    bare = context.new_page()
    bare.route("**/widget.js", lambda route: route.abort())
    bare.goto(site.origin + "/")
    page = context.new_page()
    open_widget(page, site.origin, "/")
    for selector in ("#own-button", "#own-text", "body", "main"):
        for prop in ("position", "background-color", "color", "font-family", "font-size", "display", "padding"):
            assert style_of(page.locator(selector), prop) == style_of(bare.locator(selector), prop), (selector, prop)
    assert style_of(page.locator("#own-button"), "background-color") == "rgb(0, 128, 0)"


def test_a_reload_keeps_the_conversation_its_history_and_the_card_folded(live: Desk, site: Site, context) -> None:
    page = context.new_page()
    w = open_widget(page, site.origin)
    ask(w, "被狗咬了怎么办")
    answers(w).first.wait_for(timeout=20_000)
    live.rasa.answer(CARD_TURN)
    ask(w, "出生医学证明怎么补办")
    answers(w).nth(1).wait_for(timeout=20_000)
    conversation_id = stored_id(page, live)

    def shown() -> list[str]:
        return w.locator(".msg:not(.welcome)").all_inner_texts()

    def card_state() -> tuple[list[str], list[str], bool]:
        card = w.locator(".card")
        key, folded = card.locator(":scope > dl dt"), card.locator("details dt")  # folded: no inner text
        return key.all_inner_texts(), folded.all_text_contents(), card.locator("details").evaluate("(d) => d.open")

    before, card_before = shown(), card_state()
    key_fields, folded_fields = (
        ["四、申请材料", "六、办理时限", "九、办理地点与时间"],
        ["一、办理主体", "八、收费依据与标准"],
    )
    assert card_before == (key_fields, folded_fields, False)
    assert w.locator(".card details dd").first.is_hidden()  # folded
    page.reload()
    w.locator(".msg.user").nth(1).wait_for(timeout=10_000)
    assert w.locator(".panel").is_visible()  # it was open: it opens again
    assert stored_id(page, live) == conversation_id
    page.wait_for_timeout(4000)  # polls come and go: nothing is shown twice
    after = shown()
    assert [text.splitlines()[0] for text in after] == [text.splitlines()[0] for text in before]
    assert card_state() == card_before
    w.locator(".card summary").click()
    assert w.locator(".card details dd").first.is_visible()

    live.rasa.answer(ANSWER_TURN)
    ask(w, "还要注意什么")
    answers(w).nth(2).wait_for(timeout=20_000)
    assert webhook_texts(live.rasa, conversation_id) == ["被狗咬了怎么办", "出生医学证明怎么补办", "还要注意什么"]

    # Another tab of the same site is another conversation (sessionStorage is the tab's).
    other = context.new_page()
    open_widget(other, site.origin)
    assert stored_id(other, live) is None and widget(other).locator(".msg.user").count() == 0


def ask_for_a_person(w, page, live: Desk) -> str:
    live.rasa.answer(HANDOFF_TURN)
    ask(w, "我要找人工客服")
    w.locator(".notice", has_text="已转人工客服").wait_for(timeout=20_000)
    conversation_id = stored_id(page, live)
    assert conversation_id and live.desk.get(conversation_id).owner == "queue"
    w.locator(".state", has_text="您是下一位").wait_for(timeout=10_000)
    return conversation_id


def an_operator_serves_and_is_rated(w, live: Desk, conversation_id: str) -> None:
    taken = w.locator(".sys", has_text=notices.TAKEN)
    takes = taken.count()
    operator(live, conversation_id, "take")
    taken.nth(takes).wait_for(timeout=10_000)
    w.locator(".state", has_text="人工客服正在为您服务").wait_for(timeout=10_000)
    operator(live, conversation_id, "typing")
    typing = w.locator(".state span", has_text="人工客服正在输入")
    operator(live, conversation_id, "messages", text="您好，我是人工客服，请讲。")
    reply = w.locator(".msg.agent")
    reply.wait_for(timeout=10_000)
    assert reply.inner_text().splitlines() == ["人工客服", "您好，我是人工客服，请讲。"]
    assert typing.is_hidden()
    operator(live, conversation_id, "close", note="已解答")
    w.locator(".sys", has_text=notices.CLOSED).wait_for(timeout=10_000)
    prompt = w.locator(".rating")
    prompt.wait_for(timeout=10_000)
    assert RATING_REQUEST in prompt.inner_text()
    prompt.locator("input").fill("很耐心")
    prompt.get_by_role("button", name="5分").click()
    w.locator(".rating", has_text="感谢您的评价").wait_for(timeout=10_000)
    ratings = RatingStore(live.desk.engine).for_conversation(conversation_id)
    assert [(r.score, r.comment, r.operator) for r in ratings] == [(5, "很耐心", "wang")]
    assert w.locator(".msg.agent").count() == 1 and taken.count() == takes + 1  # each turn shown once


def test_the_operator_reaches_the_widget_over_its_socket(live: Desk, site: Site, context) -> None:
    page = context.new_page()
    sockets: list[Any] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    w = open_widget(page, site.origin, "/hostile")
    conversation_id = ask_for_a_person(w, page, live)
    operator(live, conversation_id, "take")
    w.locator(".state", has_text="人工客服正在为您服务").wait_for(timeout=10_000)
    operator(live, conversation_id, "typing")
    w.locator(".state span", has_text="人工客服正在输入").wait_for(state="visible", timeout=10_000)
    operator(live, conversation_id, "release")
    w.locator(".sys", has_text=notices.RELEASED).wait_for(timeout=10_000)
    an_operator_serves_and_is_rated(w, live, conversation_id)
    assert [s.url for s in sockets] == [f"ws://{live.url.removeprefix('http://')}/api/chat/{conversation_id}/live"]


def test_with_websockets_blocked_the_widget_polls_and_does_not_storm_the_gateway(
    live: Desk, site: Site, context
) -> None:
    page = context.new_page()
    refused: list[float] = []

    def block(socket: Any) -> None:  # a network that lets no WebSocket through
        refused.append(time.monotonic())
        socket.close(code=4000, reason="blocked")

    page.route_web_socket(re.compile(r"/live$"), block)
    w = open_widget(page, site.origin)
    conversation_id = ask_for_a_person(w, page, live)
    started = time.monotonic()
    an_operator_serves_and_is_rated(w, live, conversation_id)
    took = time.monotonic() - started
    # Backed off: 1 s doubling to 30 s (with jitter), not a retry on every poll.
    assert 1 <= len(refused) <= 3 + took / 4, (len(refused), took)


def test_after_a_dropped_socket_the_widget_reconnects_and_misses_nothing(live: Desk, site: Site, context) -> None:
    page = context.new_page()
    routes: list[Any] = []

    def through(socket: Any) -> None:
        socket.connect_to_server()
        routes.append(socket)

    page.route_web_socket(re.compile(r"/live$"), through)
    w = open_widget(page, site.origin)
    conversation_id = ask_for_a_person(w, page, live)
    operator(live, conversation_id, "take")
    w.locator(".state", has_text="人工客服正在为您服务").wait_for(timeout=10_000)
    assert len(routes) == 1
    routes[0].close(code=4001, reason="network drop")
    operator(live, conversation_id, "messages", text="刚才网络断了吗？")  # said while the socket was down
    w.locator(".msg.agent", has_text="刚才网络断了吗").wait_for(timeout=10_000)
    deadline = time.monotonic() + 20
    while len(routes) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert len(routes) == 2, "the widget opened a new socket"
    page.wait_for_timeout(500)
    operator(live, conversation_id, "messages", text="现在好了。")
    w.locator(".msg.agent", has_text="现在好了").wait_for(timeout=10_000)
    assert w.locator(".msg.agent").all_inner_texts() == ["人工客服\n刚才网络断了吗？", "人工客服\n现在好了。"]


def focused(page) -> str:
    """What has the keyboard: inside the widget, its element (tag.class#id, and its text for buttons)."""
    return page.evaluate(
        """() => {
        const outer = document.activeElement;
        const node = outer && outer.shadowRoot ? outer.shadowRoot.activeElement : outer;
        if (!node) return "";
        const name = node.tagName.toLowerCase() + (node.className ? "." + node.className : "")
            + (node.id ? "#" + node.id : "");
        const text = node.tagName === "BUTTON" ? " " + node.textContent.trim() : "";
        return (outer.shadowRoot ? "widget:" : "page:") + name + text;
    }"""
    )


def tab_to(page, wanted: str, key: str = "Tab", limit: int = 30) -> None:
    for _ in range(limit):
        page.keyboard.press(key)
        if focused(page).startswith(wanted):
            return
    raise AssertionError(f"{wanted} never got the focus (last: {focused(page)})")


def test_the_widget_is_used_with_the_keyboard_alone(live: Desk, site: Site, context) -> None:
    page = context.new_page()
    page.goto(site.origin + "/")
    widget(page).locator(".launcher").wait_for()
    tab_to(page, "widget:button.launcher")  # after the page's own link and button
    page.keyboard.press("Enter")
    w = widget(page)
    w.locator(".welcome").wait_for(timeout=10_000)
    assert focused(page) == "widget:input#text"  # opened: the keyboard is in the input
    page.keyboard.type("被狗咬了怎么办")
    page.keyboard.press("Enter")
    answers(w).first.wait_for(timeout=20_000)
    assert focused(page) == "widget:input#text"

    # Back through the log to the first chip, in order: the answer's link, then the chips.
    tab_to(page, "widget:a", key="Shift+Tab")
    tab_to(page, f"widget:button {SUGGESTIONS[-1]}", key="Shift+Tab")
    tab_to(page, f"widget:button {SUGGESTIONS[0]}", key="Shift+Tab")
    page.keyboard.press("Enter")
    answers(w).nth(1).wait_for(timeout=20_000)
    assert webhook_texts(live.rasa, stored_id(page, live) or "")[-1] == SUGGESTIONS[0]
    assert focused(page) == "widget:input#text"

    tab_to(page, "widget:button.large-toggle", key="Shift+Tab")
    page.keyboard.press("Space")
    assert w.locator(".large-toggle").get_attribute("aria-pressed") == "true"
    tab_to(page, "widget:input#text")
    page.keyboard.press("Escape")
    assert w.locator(".panel").is_hidden()
    assert focused(page) == "widget:button.launcher 在线咨询"  # the focus goes back where it came from
    page.keyboard.press("Enter")
    assert w.locator(".panel").is_visible() and focused(page) == "widget:input#text"


def test_new_messages_are_announced_in_a_live_region(live: Desk, site: Site, context) -> None:
    page = context.new_page()
    w = open_widget(page, site.origin)
    log = w.locator(".log")
    assert log.get_attribute("role") == "log" and log.get_attribute("aria-live") == "polite"
    ask(w, "被狗咬了怎么办")
    answers(w).first.wait_for(timeout=20_000)
    assert log.locator(".msg.bot").count() == 2  # the welcome and the answer, inside the region
    assert w.locator(".state").get_attribute("role") == "status"
    assert w.locator(".panel").get_attribute("role") == "dialog"
    assert w.locator("#text").evaluate("(i) => i.labels[0].textContent") == "输入您的问题"


def test_the_large_text_mode_is_remembered_on_the_site(live: Desk, site: Site, context) -> None:
    page = context.new_page()
    w = open_widget(page, site.origin)
    ask(w, "被狗咬了怎么办")
    answer = answers(w).first
    answer.wait_for(timeout=20_000)
    small = float(style_of(answer, "font-size").removesuffix("px"))
    w.locator(".large-toggle").click()
    large = float(style_of(answer, "font-size").removesuffix("px"))
    assert (small, large) == (15, 20)
    assert style_of(w.locator(".welcome .row button").first, "font-size") == "20px"
    page.reload()
    answers(w).first.wait_for(timeout=10_000)
    assert style_of(answers(w).first, "font-size") == "20px"
    assert w.locator(".large-toggle").get_attribute("aria-pressed") == "true"
    another = context.new_page()  # another visit to the site: still large
    w2 = open_widget(another, site.origin)
    assert style_of(w2.locator(".welcome"), "font-size") == "20px"
    w2.locator(".large-toggle").click()
    assert style_of(w2.locator(".welcome"), "font-size") == "15px"


def test_on_a_phone_the_widget_takes_the_whole_screen(live: Desk, site: Site, browser) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(site.origin + "/hostile")
        w = widget(page)
        launcher = w.locator(".launcher").bounding_box()
        assert launcher and launcher["x"] + launcher["width"] <= 375 and launcher["height"] >= 44  # a finger's size
        w.locator(".launcher").tap()
        w.locator(".welcome").wait_for(timeout=10_000)
        assert w.locator(".panel").bounding_box() == {"x": 0, "y": 0, "width": 375, "height": 667}
        assert float(style_of(w.locator("#text"), "font-size").removesuffix("px")) >= 16  # no zoom on focus
        for target in w.locator("header button, form button").all():
            box = target.bounding_box()
            assert box and box["height"] >= 44 and box["width"] >= 44
        ask(w, "被狗咬了怎么办")
        answers(w).first.wait_for(timeout=20_000)
        w.locator(".close").tap()
        assert w.locator(".panel").is_hidden() and w.locator(".launcher").is_visible()
    finally:
        context.close()


def test_a_site_not_allowed_is_refused_by_cors(live: Desk, stranger: Site, context) -> None:
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "CORS" in message.text else None)
    page.goto(stranger.origin + "/")
    w = widget(page)
    w.locator(".launcher").click()
    w.locator(".welcome", has_text=WIDGET_ERROR).wait_for(timeout=10_000)
    ask(w, "被狗咬了怎么办")
    w.locator(".msg.error", has_text="网络异常").wait_for(timeout=10_000)
    assert w.locator("#text").input_value() == "被狗咬了怎么办"  # kept, to send again
    assert stored_id(page, live) is None
    assert not any(path.endswith("/webhook") for path, _ in live.rasa.received)  # nothing reached the bot
    assert refused and all(stranger.origin in text for text in refused)


def test_a_replys_buttons_send_their_payload_and_news_while_closed_is_flagged(live: Desk, site: Site, context) -> None:
    live.rasa.answer(
        {
            "messages": [{"text": "抱歉，我没太明白。", "buttons": [{"title": "转人工", "payload": "/request_human"}]}],
            "intent": {"name": "nlu_fallback", "confidence": 0.3},
            "slots_set": {},
        }
    )
    page = context.new_page()
    w = open_widget(page, site.origin)
    ask(w, "帮我订一张机票")
    answers(w).first.wait_for(timeout=20_000)
    live.rasa.answer(HANDOFF_TURN)
    answers(w).first.get_by_role("button", name="转人工").click()
    w.locator(".notice", has_text="已转人工客服").wait_for(timeout=20_000)
    conversation_id = stored_id(page, live) or ""
    assert webhook_texts(live.rasa, conversation_id) == ["帮我订一张机票", "/request_human"]
    assert w.locator(".msg.user").all_inner_texts() == ["帮我订一张机票", "转人工"]  # the title, not the payload

    w.locator(".close").click()
    launcher = w.locator(".launcher")
    assert w.locator(".badge").is_hidden()
    operator(live, conversation_id, "take")
    operator(live, conversation_id, "messages", text="您好，请讲。")
    w.locator(".badge").wait_for(state="visible", timeout=10_000)
    assert launcher.get_attribute("aria-label") == "在线咨询（有新消息）"
    launcher.click()
    assert w.locator(".badge").is_hidden() and launcher.get_attribute("aria-label") is None
    assert w.locator(".msg.agent").inner_text().endswith("您好，请讲。")
