"""The widget and the web page with the real bot: `hotline up` (a trained model, the action server, a real index)
allowing one other site (HOTLINE_WIDGET_ORIGINS), in Debian's chromium. A real answer shows its source once, as
a link; a real 一次告知 card opens with its key fields and folds the rest. The screenshots in docs/screenshots/
are taken here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.conversation.welcome import SUGGESTIONS
from tests.bot.test_web_chat import browser  # noqa: F401  (the fixture)
from tests.bot.widget_site import Site
from tests.chat_client import Citizen
from tests.conftest import ROOT, Stack, running_stack

SCREENSHOTS = ROOT / "docs" / "screenshots"
GUIDE_URL = "https://example.gov.cn/guides/birth-medical-certificate"
KEY_FIELDS = ["四、申请材料", "六、办理时限", "九、办理地点与时间"]


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    site = Site({"/": ""})
    yield site
    site.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, trained_model, knowledge_index, site: Site) -> Iterator[Stack]:
    var = tmp_path_factory.mktemp("widget-var")
    database_url = f"sqlite:///{var / 'hotline.db'}"
    env = {"DATABASE_URL": database_url}
    with running_stack(
        knowledge_index, var, env, database_url, extra_env={"HOTLINE_WIDGET_ORIGINS": site.origin}
    ) as up:
        site.gateway = up.url
        yield up


def test_every_suggested_question_is_answered_by_the_shipped_bot(stack: Stack) -> None:
    for question in SUGGESTIONS:
        citizen = Citizen(stack.url)
        turn = citizen.say(question)
        citizen.close()
        assert turn["intent"]["name"] != "nlu_fallback", question
        said = "\n".join(m["text"] for m in turn["messages"])
        if question == "我要投诉":
            assert "发生了什么" in said, said  # the complaint form starts
            continue
        cited = [c for m in turn["messages"] for c in m["citations"]]
        assert cited, question
        assert "来源" not in said and not any(c["url"] in said for c in cited if c["url"]), said


def bubble_with(w, text: str):
    answer = w.locator(".msg.bot:not(.welcome):not(.pending)", has_text=text)
    answer.first.wait_for(timeout=90_000)
    return answer.first


def check_card(answer) -> None:
    """The birth certificate guide: the field asked about and the key fields open, the others folded, the source
    once, as a link."""
    card = answer.locator(".card")
    assert card.locator("h3").inner_text() == "出生医学证明办理指南"
    shown = card.locator(":scope > dl dt").all_inner_texts()
    assert [label for label in shown if label in KEY_FIELDS] == KEY_FIELDS and len(shown) <= 4
    folded = 10 - len(shown)
    assert card.locator("details dt").count() == folded and card.locator("details dd").first.is_hidden()
    assert f"更多办理信息（{folded}项）" in card.locator("summary").inner_text()
    links = answer.locator(".cite a")
    assert links.count() == 1 and links.get_attribute("href") == GUIDE_URL
    assert answer.inner_text().count("来源") == 1 and "https://" not in answer.inner_text()


def test_the_widget_on_another_site_shows_real_answers_with_their_source_once(
    stack: Stack,
    site: Site,
    browser,  # noqa: F811
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(site.origin + "/")
        w = page.locator("hotline-widget")
        w.locator(".launcher").click()
        w.locator(".welcome .row button").first.wait_for(timeout=10_000)
        w.get_by_role("button", name="被狗咬了要不要打狂犬疫苗").click()
        answer = bubble_with(w, "狂犬")
        link = answer.locator(".cite a")
        assert link.count() == 1 and link.inner_text().startswith("《健康知识常见问题（示例）》")
        assert link.get_attribute("href") == "https://example.gov.cn/12320/faq"
        assert answer.inner_text().count("来源") == 1 and "https://" not in answer.inner_text()
        page.wait_for_timeout(500)  # the log's smooth scroll settles
        page.screenshot(path=str(SCREENSHOTS / "widget.png"))

        w.get_by_role("button", name="出生医学证明丢了怎么补办").click()
        check_card(bubble_with(w, "出生医学证明办理指南"))
    finally:
        context.close()


def test_on_a_phone_the_card_opens_with_its_key_fields(stack: Stack, site: Site, browser) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(site.origin + "/")
        w = page.locator("hotline-widget")
        w.locator(".launcher").tap()
        w.locator("#text").fill("出生医学证明丢了怎么补办，要带什么材料")
        w.locator("#text").press("Enter")
        answer = bubble_with(w, "出生医学证明办理指南")
        check_card(answer)
        answer.locator(".card").evaluate("(card) => card.scrollIntoView({block: 'start', behavior: 'instant'})")
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / "widget-mobile.png"))
    finally:
        context.close()


def test_the_web_page_opens_with_the_same_welcome_and_folds_the_card(stack: Stack, browser) -> None:  # noqa: F811
    page = browser.new_page()
    try:
        page.goto(stack.url + "/")
        chips = page.locator(".welcome .buttons button")
        chips.first.wait_for(timeout=10_000)
        assert chips.all_inner_texts() == list(SUGGESTIONS)
        assert "12320" in page.locator(".welcome").inner_text()
        chips.first.click()
        answer = page.locator(".msg.bot", has_text="出生医学证明办理指南")
        answer.wait_for(timeout=90_000)
        check_card(answer)
        cite = answer.locator(".cite")
        assert cite.count() == 1 and cite.locator("a").get_attribute("href") == GUIDE_URL
        assert answer.inner_text().count("来源") == 1 and "https://" not in answer.inner_text()
    finally:
        page.close()
