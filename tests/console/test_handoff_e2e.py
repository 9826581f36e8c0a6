"""The handoff, end to end, in two pages of one browser (Debian's chromium, Playwright): a citizen on the web chat
page and an operator on the console, logged in through the real login page, against the real stack (`hotline
up`: the trained Rasa model, the action server, the gateway).

1. The citizen asks for a person; the conversation appears in the operator's queue live (no reload).
2. The operator takes it; the citizen's next message reaches the operator and not Rasa (the tracker gets no new
   user event).
3. The operator replies with a suggested passage (one click inserts it with its source); the citizen sees it
   live. The operator files a ticket from the conversation, pre-filled; the citizen is told its number.
4. The operator hands back; the bot answers the next message, a knowledge question, with its citation.
5. The citizen asks for a person again; the operator takes it and closes it with a note; the citizen rates the
   conversation with one tap.

On the way it saves the screenshots of the queue, the conversation and the tickets (tests/console/screenshots.py:
docs/screenshots/ under `make screenshots`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.auth import Principal, Role
from bot.console.accounts import AccountStore
from bot.conversation.ratings import RatingStore
from bot.conversation.transcript import Speaker, TranscriptStore
from bot.database import create_ticket_engine
from bot.handoff.desk import HandoffDesk
from bot.handoff.workflow import Owner, Priority
from bot.tickets import TicketService
from bot.tickets.domain import TicketDraft, TicketKind
from tests.bot.test_web_chat import browser  # noqa: F401  (the fixture: Debian's chromium)
from tests.console.conftest import PASSWORD
from tests.console.screenshots import save_screenshot
from tests.test_privacy_stack import stored_conversation

pytestmark = pytest.mark.screenshots

TURN_S = 60_000  # a turn through Rasa on a busy machine
LIVE_S = 10_000  # a live update: well under the pages' own polling (15 s for the queue, 20 s for a transcript)
QUESTION_FOR_A_PERSON = "孩子的出生医学证明丢了，要怎么补办？"
KNOWLEDGE_QUESTION = "被狗咬了怎么处理"
#: Others waiting, so that the queue's screenshot shows an urgent one first and the order after it.
OTHERS = [
    ("我家老人突然晕倒了，叫不醒", "emergency", Priority.URGENT),
    ("医院给我做的手术出了问题，我要讨个说法", "sensitive:医疗纠纷", Priority.NORMAL),
]
#: Tickets beside the one the operator files, for the tickets page's screenshot.
TICKETS = [
    (TicketKind.COMPLAINT, "市第三医院挂号处多收了50元挂号费，还不给退"),
    (TicketKind.SUGGESTION, "建议社区卫生服务中心周末也开设儿科门诊"),
    (TicketKind.REPORT, "小区门口有一家无证诊所在给人输液"),
]


def user_events(tracker_db: str, conversation_id: str) -> list[str]:
    """What Rasa was told the citizen said, from the stack's tracker store."""
    return [e["text"] for e in stored_conversation(tracker_db, conversation_id) if e["event"] == "user"]


@pytest.fixture
def stack_engine(hotline_stack) -> Iterator[Engine]:
    engine = create_ticket_engine(hotline_stack.database_url)  # the stack migrated it
    yield engine
    engine.dispose()


@pytest.fixture
def others_waiting(stack_engine: Engine) -> Iterator[list[str]]:
    """Two more citizens in the queue; taken and closed afterwards, so that the shared stack's queue is left as
    it was found."""
    desk, transcript = HandoffDesk(stack_engine), TranscriptStore(stack_engine)
    waiting = []
    for text, reason, priority in OTHERS:
        sender = f"web-e2e-{uuid.uuid4().hex[:12]}"
        transcript.record(sender, Speaker.CITIZEN, text)
        desk.request(sender, "web", reason, priority)
        waiting.append(sender)
    yield waiting
    cleaner = Principal("e2e-cleanup", Role.SUPERVISOR)
    for sender in waiting:
        if desk.get(sender).owner is Owner.QUEUE:
            desk.take(sender, cleaner)
        if desk.get(sender).owner is Owner.OPERATOR:
            desk.close(sender, cleaner, "测试数据，已清理")


def test_a_citizen_and_an_operator_from_the_queue_to_the_rating(
    browser,  # noqa: F811
    hotline_stack,
    stack_engine: Engine,
    others_waiting: list[str],
    tmp_path: Path,
) -> None:
    url = hotline_stack.url
    tracker_db = str(hotline_stack.var / "rasa-trackers.db")
    login = f"op-{uuid.uuid4().hex[:8]}"  # the stack is shared
    AccountStore(stack_engine).add(login, PASSWORD, Role.OPERATOR, actor="test")
    service = TicketService(stack_engine)
    for kind, description in TICKETS:
        draft = TicketDraft(
            kind=kind, description=description, location="", occurred_at="", subject="", name="张先生",
            phone=f"137{uuid.uuid4().int % 10**8:08d}", consent_to_contact=True, channel="web",
            sender_id=f"web-e2e-{uuid.uuid4().hex[:12]}", idempotency_key=uuid.uuid4().hex,
        )  # fmt: skip
        service.create(draft)
    shots = tmp_path / "screenshots"

    citizen_context = browser.new_context(locale="zh-CN", viewport={"width": 480, "height": 860})
    operator_context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    try:
        # The operator logs in through the login page and waits on the queue, its socket connected.
        operator = operator_context.new_page()
        operator.goto(url + "/console/queue")
        assert operator.url == url + "/console/login?next=/console/queue"
        operator.get_by_label("登录名").fill(login)
        operator.get_by_label("密码").fill(PASSWORD)
        operator.get_by_role("button", name="登录").click()
        operator.wait_for_url(url + "/console/queue")
        operator.locator(".live-status.up").wait_for(timeout=LIVE_S)
        operator.evaluate("window.notReloaded = true")
        operator.locator("#online", has_text=login).wait_for(timeout=LIVE_S)  # online while its socket is open

        # 1. The citizen asks for a person: the queue shows it live.
        citizen = citizen_context.new_page()
        citizen.goto(url + "/")
        citizen.fill("#text", "我要找人工客服")
        citizen.press("#text", "Enter")
        citizen.locator(".notice", has_text="已转人工客服").wait_for(timeout=TURN_S)
        conversation_id = citizen.evaluate("localStorage.getItem('hotline-conversation')")
        assert conversation_id and conversation_id.startswith("web-")
        row = operator.locator(f'tr[data-conversation="{conversation_id}"]')
        row.wait_for(timeout=LIVE_S)
        assert operator.evaluate("window.notReloaded === true"), "the queue must update without a reload"
        assert "市民要求转人工" in row.inner_text() and "网页" in row.inner_text()
        order = operator.locator("#queue tbody tr").evaluate_all("rows => rows.map(r => r.dataset.conversation)")
        assert order.index(others_waiting[0]) == 0  # the emergency first
        assert "紧急" in operator.locator(f'tr[data-conversation="{others_waiting[0]}"]').inner_text()
        save_screenshot(operator, "queue.png", shots)

        # 2. The operator takes it; the citizen's next message is the operator's, not Rasa's.
        told_rasa = user_events(tracker_db, conversation_id)
        row.get_by_role("button", name="接入").click()
        operator.wait_for_url(url + f"/console/conversations/{conversation_id}")
        operator.locator(".live-status.up").wait_for(timeout=LIVE_S)
        citizen.locator(".msg.sys", has_text="工作人员已接入").wait_for(timeout=LIVE_S)
        operator.evaluate("window.notReloaded = true")
        citizen.fill("#text", QUESTION_FOR_A_PERSON)
        citizen.press("#text", "Enter")
        operator.locator("#transcript .turn.citizen", has_text="出生医学证明丢了").wait_for(timeout=LIVE_S)
        assert operator.evaluate("window.notReloaded === true")
        assert user_events(tracker_db, conversation_id) == told_rasa, "Rasa must not hear a message for a person"

        # 3. The operator replies with a suggested passage, one click from the knowledge search on the citizen's
        # question; the citizen sees it live.
        suggestion = operator.locator("#suggestions .suggestion").first
        suggestion.wait_for(timeout=TURN_S)
        title = suggestion.locator(".source").inner_text().split("》")[0] + "》"
        suggestion.get_by_role("button", name="插入回复").click()
        reply = operator.locator("#reply-text").input_value()
        assert f"来源：{title}" in reply
        operator.get_by_role("button", name="发送").click()
        citizen.locator(".msg.agent", has_text=f"来源：{title}").wait_for(timeout=LIVE_S)
        operator.locator("#transcript .turn.operator", has_text=title).wait_for(timeout=LIVE_S)
        assert operator.locator("#reply-text").input_value() == ""
        save_screenshot(operator, "conversation.png", shots)

        # The operator files a ticket from the conversation, pre-filled; the citizen is told its number.
        operator.get_by_role("link", name="按当前对话填写工单").click()
        form = operator.locator("#ticket-form")
        form.wait_for(timeout=LIVE_S)
        assert "出生医学证明丢了" in form.locator("textarea[name=description]").input_value()
        form.locator("select[name=kind]").select_option("callback")
        form.locator("input[name=phone]").fill(f"138{uuid.uuid4().int % 10**8:08d}")
        form.get_by_role("button", name="生成工单").click()
        filed = operator.locator("#filed")
        filed.wait_for(timeout=LIVE_S)
        number = filed.locator("a").inner_text()
        citizen.locator(".msg.agent", has_text=number).wait_for(timeout=LIVE_S)

        # 4. Handed back: the bot answers the next message, with its source.
        operator.get_by_role("button", name="交还机器人").click()
        operator.locator("#conversation-state .owner", has_text="机器人").wait_for(timeout=LIVE_S)
        citizen.locator(".msg.sys", has_text="人工服务已结束").wait_for(timeout=LIVE_S)
        answers = citizen.locator(".msg.bot")
        answered_before = answers.count()
        citizen.fill("#text", KNOWLEDGE_QUESTION)
        citizen.press("#text", "Enter")
        answer = answers.nth(answered_before)
        answer.wait_for(timeout=TURN_S)
        assert "狂犬" in answer.inner_text() and "来源" in answer.locator(".cite").first.inner_text()
        assert user_events(tracker_db, conversation_id) == [*told_rasa, KNOWLEDGE_QUESTION]
        operator.locator("#transcript .turn.bot", has_text="狂犬").wait_for(timeout=LIVE_S)

        # 5. A person again, closed with a note; the citizen rates it with one tap.
        citizen.fill("#text", "我还是想找人工客服")
        citizen.press("#text", "Enter")
        take = operator.locator("#conversation-state").get_by_role("button", name="接入")
        take.wait_for(timeout=TURN_S)  # the page shows it waiting again, live
        take.click()
        operator.wait_for_url(url + f"/console/conversations/{conversation_id}")
        operator.locator("#close-form input[name=note]").fill("已告知出生医学证明补办流程，并登记回电工单")
        operator.get_by_role("button", name="结束会话").click()
        operator.locator("#conversation-state .owner", has_text="已结束").wait_for(timeout=LIVE_S)
        citizen.locator(".rating").wait_for(timeout=LIVE_S)
        citizen.get_by_role("button", name="5分").click()
        citizen.locator(".rating", has_text="感谢您的评价").wait_for(timeout=LIVE_S)
        ratings = RatingStore(stack_engine).for_conversation(conversation_id)
        assert [(r.score, r.operator) for r in ratings] == [(5, login)]

        # The tickets page, with the one just filed.
        operator.goto(url + "/console/tickets")
        operator.locator(f'tr[data-number="{number}"]').wait_for()
        save_screenshot(operator, "tickets.png", shots)
    finally:
        citizen_context.close()
        operator_context.close()
