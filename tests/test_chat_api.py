"""POST /api/chat through the real stack: `hotline up` with a model trained in this run, the real
action server answering from a real index, tickets in a real SQLite file."""

from __future__ import annotations

import itertools
import re
import time

import httpx
import pytest

from bot.tickets import TicketDraft, TicketKind, open_ticket_service
from tests.chat_client import Citizen, texts
from tests.conftest import STACK_TICKET_CHECK_LOCKOUT_S

TICKET_NUMBER = re.compile(r"^12320-\d{8}-\d{6}$")
# Each citizen at an address of its own, as the stack's trusted proxy (loopback) reports it: the limiter of
# ticket checks counts per client, and one test's wrong pairs must not lock another's.
_ADDRESSES = (f"127.77.{i // 250}.{i % 250 + 1}" for i in itertools.count())


def new_citizen(url: str, address: str | None = None) -> Citizen:
    return Citizen(url, forwarded_for=address or next(_ADDRESSES))


@pytest.fixture
def citizen(hotline_stack) -> Citizen:
    return new_citizen(hotline_stack.url)


def test_service_question_gets_the_one_time_notice_with_its_citation(citizen):
    turn = citizen.say("孩子的出生医学证明丢了怎么补办，要带什么材料")
    assert turn["intent"]["name"] == "ask_service"
    assert 0 < turn["intent"]["confidence"] <= 1
    assert turn["handoff"] is False and turn["ticket_id"] is None
    answer = turn["messages"][0]
    assert "出生医学证明" in answer["text"]
    assert answer["citations"], "an answer always carries its source"
    citation = answer["citations"][0]
    assert "出生医学证明" in citation["title"] and citation["doc_id"]
    assert set(citation) == {"doc_id", "title", "section", "url"}
    # Once: in `citations`, not again in the text (the page shows it as a link, SMS as a short line).
    assert "来源" not in answer["text"] and citation["url"] not in answer["text"]
    # The 一次告知 card as fields too, the key ones (材料, 时限, 地点) open.
    card = answer["card"]
    assert card["title"] == citation["title"]
    shown = [f["label"] for f in card["fields"] if f["key"]]
    assert {"四、申请材料", "六、办理时限", "九、办理地点与时间"} <= set(shown) and len(card["fields"]) == 10


def test_health_question_is_answered_from_the_faq(citizen):
    turn = citizen.say("被狗咬了要不要打狂犬疫苗")
    assert turn["intent"]["name"] == "ask_health"
    assert turn["messages"][0]["citations"]
    assert "狂犬" in turn["messages"][0]["text"]


FORM_ANSWERS = {
    "complaint": [
        "我要投诉",
        "市第三医院挂号处多收了我50元挂号费，还不给退",
        "市第三医院门诊楼一层",
        "上周五上午",
        "挂号处工作人员",
        "张三",
    ],
    "report": [
        "我要举报",
        "小区门口有人无证行医，给人打针输液",
        "幸福路12号",
        "最近一个月天天都有",
        "一个姓王的人",
        "匿名",
    ],
    "suggestion": [
        "我想提个建议",
        "建议社区医院周末也开放疫苗接种",
        "朝阳区各社区卫生服务中心",
        "不清楚",
        "社区卫生服务中心",
        "李四",
    ],
    "disclosure_request": [
        "我要申请政府信息公开",
        "2025年本市医疗机构执业登记的名单",
        "本市",
        "2025年",
        "市卫生健康委员会",
        "王五",
    ],
}


@pytest.mark.parametrize("kind", list(FORM_ANSWERS))
def test_each_form_reads_back_and_files_a_ticket(citizen, hotline_stack, kind):
    opening, *answers = FORM_ANSWERS[kind]
    turn = citizen.say(opening)
    assert turn["intent"]["name"] == kind
    for answer in answers:
        turn = citizen.say(answer)
        assert turn["ticket_id"] is None
    assert "电话" in texts(turn)

    turn = citizen.say("12345")  # not a phone number: asked again, nothing lost
    assert "号码好像不对" in texts(turn)
    turn = citizen.say("+86 139 1234 5678")
    assert "同意" in texts(turn)
    turn = citizen.say("同意")
    readback = texts(turn)
    assert "请核对" in readback and "139****5678" in readback and "13912345678" not in readback
    assert answers[0] in readback

    turn = citizen.say("确认")
    number = turn["ticket_id"]
    assert number and TICKET_NUMBER.match(number)
    assert number in texts(turn) and "承办单位" in texts(turn) and "前办结" in texts(turn)

    service = open_ticket_service(hotline_stack.database_url)
    ticket = service.get(number)
    assert ticket is not None and str(ticket.kind) == kind
    assert ticket.description == answers[0]
    assert ticket.phone_masked == "139****5678"
    assert ticket.consent_to_contact is True
    assert ticket.channel == "web"

    again = citizen.say("确认")  # a late duplicate of the last message files nothing new
    assert again["ticket_id"] is None


def test_a_story_told_up_front_is_not_asked_again(citizen):
    turn = citizen.say("我要投诉市中心医院急诊科医生态度恶劣，推诿病人")
    assert turn["intent"]["name"] == "complaint"
    assert "发生了什么" not in texts(turn)
    assert "什么地方" in texts(turn)


def test_disclosure_request_needs_a_named_applicant(citizen):
    for text in FORM_ANSWERS["disclosure_request"][:5]:
        citizen.say(text)
    turn = citizen.say("匿名")
    assert "不能匿名" in texts(turn)


def test_cancel_mid_form_files_nothing(citizen):
    citizen.say("我要投诉")
    citizen.say("诊所乱收费")
    turn = citizen.say("取消")
    assert "没有提交" in texts(turn)
    assert turn["ticket_id"] is None
    turn = citizen.say("你好")
    assert turn["intent"]["name"] == "greet"


def test_ticket_status_needs_the_number_and_the_phone(citizen, hotline_stack):
    opening, *answers = FORM_ANSWERS["complaint"]
    for text in [opening, *answers, "13912345678", "同意"]:
        citizen.say(text)
    number = citizen.say("确认")["ticket_id"]

    asker = new_citizen(hotline_stack.url)
    asker.say("我想查一下工单进度")
    turn = asker.say(number)
    assert "后四位" in texts(turn)
    wrong = asker.say("0000")
    assert number not in texts(wrong) and "没有查到" in texts(wrong)

    asker.say("我想查一下工单进度")
    asker.say(number)
    right = asker.say("5678")
    assert number in texts(right) and "已受理" in texts(right)


def test_two_conversations_never_see_each_other(citizen, hotline_stack):
    """The form's read-back belongs to the conversation that gave the answers, and only its issued id reaches it."""
    opening, description, *_ = FORM_ANSWERS["complaint"]
    citizen.say(opening)
    asked = citizen.say(description)
    other = new_citizen(hotline_stack.url)
    turn = other.say("市第三医院门诊楼一层")  # an answer to the first citizen's next question, in a new conversation
    assert other.conversation_id != citizen.conversation_id
    assert description not in texts(turn) and "请核对" not in texts(turn)
    assert citizen.conversation_id
    forged = citizen.conversation_id[:-1] + ("A" if citizen.conversation_id[-1] != "A" else "B")
    refused = httpx.post(
        f"{hotline_stack.url}/api/chat", json={"conversation_id": forged, "text": "确认"}, timeout=30, trust_env=False
    )
    unknown = httpx.post(
        f"{hotline_stack.url}/api/chat", json={"conversation_id": "web-x", "text": "确认"}, timeout=30, trust_env=False
    )
    assert refused.status_code == unknown.status_code == 404 and refused.text == unknown.text
    assert description not in refused.text
    # The first conversation goes on where it was, the other's message not in it.
    assert texts(citizen.say("市第三医院门诊楼一层")) != texts(asked)


def test_five_wrong_pairs_lock_the_status_query_and_offer_a_human(hotline_stack):
    """Ticket numbers are sequential: without a limit, the 10,000 combinations of last four digits of any ticket
    could be tried in chat. Five wrong pairs lock the check for the client and the conversation, right pairs
    included, until the lockout has passed; a human is offered instead."""
    service = open_ticket_service(hotline_stack.database_url)
    number = service.create(
        TicketDraft(
            kind=TicketKind.COMPLAINT,
            description="社区诊所收费不开发票",
            location="幸福路12号",
            occurred_at="上周",
            subject="收费处",
            name="赵六",
            phone="13912345678",
            consent_to_contact=True,
            channel="web",
            sender_id="web-other-citizen",
            idempotency_key="lockout-test",
        )
    ).number
    service.close()

    def check(citizen: Citizen, last4: str) -> dict:
        assert "后四位" in texts(citizen.say(f"帮我查下{number}处理到哪了"))
        return citizen.say(last4)

    human = {"title": "转人工", "payload": "/request_human"}
    address = next(_ADDRESSES)
    guesser = new_citizen(hotline_stack.url, address)
    wrong = [check(guesser, f"{1000 + n}") for n in range(5)]
    locked_by = time.monotonic()  # the lock was set before this, and lasts the stack's lockout
    assert all("没有查到" in texts(turn) and number not in texts(turn) for turn in wrong)
    assert ["过多" in texts(turn) for turn in wrong] == [False] * 4 + [True]
    assert human in wrong[-1]["messages"][-1]["buttons"]

    right = texts(check(guesser, "5678"))
    assert "过多" in right and number not in right and "已受理" not in right
    same_client = new_citizen(hotline_stack.url, address)  # a new conversation does not help
    refused = check(same_client, "5678")
    assert "过多" in texts(refused) and number not in texts(refused)
    assert human in refused["messages"][-1]["buttons"]
    assert same_client.say("好的")["handoff"] is True  # the offered human, accepted
    elsewhere = texts(check(new_citizen(hotline_stack.url), "5678"))  # another client is not locked out
    assert number in elsewhere and "已受理" in elsewhere

    time.sleep(max(0.0, locked_by + STACK_TICKET_CHECK_LOCKOUT_S + 1 - time.monotonic()))
    after = texts(check(guesser, "5678"))
    assert number in after and "已受理" in after


def test_request_human_hands_off_and_the_bot_then_stays_silent(citizen):
    turn = citizen.say("我要找人工客服")
    assert turn["intent"]["name"] == "request_human"
    assert turn["handoff"] is True
    assert "人工" in texts(turn)
    held = citizen.say("你好，在吗")
    assert held["handoff"] is True and held["intent"] is None  # Rasa was not called
    assert "排队等待人工客服" in texts(held)  # told their place while waiting


def test_two_failures_in_a_row_offer_a_human(citizen):
    first = citizen.say("/nlu_fallback")
    assert first["handoff"] is False
    second = citizen.say("/nlu_fallback")
    assert "转接人工" in texts(second)
    assert {"title": "转人工", "payload": "/request_human"} in second["messages"][-1]["buttons"]
    accepted = citizen.say("好的")
    assert accepted["handoff"] is True


def test_emergency_gets_120_guidance_first_and_a_priority_handoff(citizen):
    turn = citizen.say("快来人，我爸突然晕倒了叫不醒")
    assert turn["intent"]["name"] == "emergency"
    first = turn["messages"][0]["text"]
    assert "120" in first[:40] and "110" in first
    assert turn["handoff"] is True


def test_anger_gets_an_apology_and_a_way_out(citizen):
    turn = citizen.say("打了好几次电话都没人管！！！")
    first = turn["messages"][0]
    assert "抱歉" in first["text"]
    assert {b["payload"] for b in first["buttons"]} == {"/request_human", "/complaint"}


def test_out_of_scope_says_what_the_hotline_does(citizen):
    turn = citizen.say("帮我订一张去上海的机票")
    assert turn["intent"]["name"] == "out_of_scope"
    assert "服务范围" in texts(turn)
    assert turn["handoff"] is False


@pytest.mark.parametrize(
    "body",
    [{}, {"conversation_id": "x"}, {"sender_id": "x", "text": "你好"}, {"text": "   "}, {"text": "你好", "user": "x"}],
)
def test_bad_requests_get_a_clear_error(hotline_stack, body):
    response = httpx.post(f"{hotline_stack.url}/api/chat", json=body, timeout=30)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_web_chat_page_is_served(hotline_stack):
    response = httpx.get(hotline_stack.url + "/", timeout=30)
    assert response.status_code == 200
    assert "/api/chat" in response.text and "12320" in response.text
    # Started without HOTLINE_CONVERSATION_KEY, `hotline up` generated one for the gateway, readable by it alone.
    assert (hotline_stack.var / "conversation.key").stat().st_mode & 0o777 == 0o600


def test_phone_and_id_numbers_never_reach_the_logs(citizen, hotline_stack):
    """The gateway, Rasa and the action server all write to the stack's log: a complaint that carries a phone
    number and a 身份证 number is filed, and neither number shows up there in any spelling."""
    phone, id_number = "13987650123", "11010519491231002X"
    opening, description, *rest = FORM_ANSWERS["complaint"]
    for text in [opening, f"{description}，我的身份证号{id_number}，电话{phone}", *rest, phone, "同意"]:
        citizen.say(text)
    number = citizen.say("确认")["ticket_id"]
    assert number
    citizen.say(f"我想查一下工单进度 {number}")
    citizen.say(phone[-4:])

    log = hotline_stack.log.read_text(encoding="utf-8", errors="replace")
    assert number in log  # the filing was logged, by its number
    for secret in (phone, id_number, "139 8765 0123", "110105194912"):
        assert secret not in log


def test_a_by_request_document_is_named_and_its_button_files_a_request_for_it(citizen, hotline_stack):
    turn = citizen.say("社区卫生服务站搬到哪里去了")
    assert turn["intent"]["name"] == "ask_service", turn
    (answer,) = turn["messages"]
    assert "依申请公开" in answer["text"] and "和平路" not in answer["text"] and not answer.get("citations")
    button = next(b for b in answer["buttons"] if b["title"] == "申请公开这份文件")
    turn = citizen.say(button["payload"])  # what the web page sends when the button is pressed
    assert turn["intent"]["name"] == "disclosure_request"
    assert "涉及哪个地区" in texts(turn)  # the document is already named: that question is not asked
    for text in ["某区", "不限", "某市卫生健康委员会", "李四", "13912345678"]:
        turn = citizen.say(text)
    readback = texts(citizen.say("同意"))
    reference = "《关于同意某区社区卫生服务站迁址的批复（示例）》（某卫基层函〔2026〕12号，（示例）某市卫生健康委员会）"
    assert f"内容：申请公开{reference}" in readback
    number = citizen.say("确认")["ticket_id"]
    ticket = open_ticket_service(hotline_stack.database_url).get(number)
    assert str(ticket.kind) == "disclosure_request" and ticket.description == f"申请公开{reference}"
