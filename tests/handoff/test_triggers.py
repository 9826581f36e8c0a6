"""What sends a conversation to a person, through the real gateway (Rasa stands in as a local fake server):
a sensitive matter at once, anger the citizen confirms, working hours and long waits, leaving a message while
waiting, and a closed conversation coming back to the bot."""

from __future__ import annotations

from typing import Any

from bot.auth import Principal, Role
from bot.conversation.anger import APOLOGY
from bot.conversation.callbacks import ASK_FOR_MESSAGE, LEAVE_MESSAGE_PAYLOAD
from bot.conversation.transcript import TranscriptStore
from bot.handoff.desk import HandoffDesk
from bot.handoff.workflow import Owner
from bot.tickets import open_ticket_service
from tests.bot.test_conversation_faults import FakeRasa, gateway
from tests.chat_client import texts

HANDOFF_TURN: dict[str, Any] = {
    "messages": [{"text": "好的，正在为您转接人工客服，请稍候。转接期间您发的消息会直接交给工作人员。"}],
    "intent": {"name": "request_human", "confidence": 0.98},
    "slots_set": {"handoff": True, "handoff_reason": "requested"},
}
ANSWER_TURN: dict[str, Any] = {
    "messages": [{"text": "出生医学证明由助产机构签发。"}],
    "intent": {"name": "ask_procedure", "confidence": 0.95},
    "slots_set": {},
}


def _desk(database_url: str) -> tuple[HandoffDesk, Any]:
    service = open_ticket_service(database_url)
    return HandoffDesk(service.engine), service


def test_a_sensitive_matter_goes_to_a_person_before_the_bot_is_asked(database_url: str, fake_rasa: FakeRasa) -> None:
    fake_rasa.answer(ANSWER_TURN)
    with gateway(database_url, fake_rasa.url) as chats:
        turn = chats.say("c", "我父亲在医院做手术出了医疗事故，我要个说法")
        assert turn["handoff"] is True and "医疗纠纷" in texts(turn) and "排队等待人工客服" in texts(turn)
        desk, service = _desk(database_url)
        conversation = desk.get(chats.ids["c"])
        assert conversation.owner is Owner.QUEUE and conversation.handoff_reason == "sensitive:医疗纠纷"
        service.close()


def test_anger_the_citizen_confirms_is_the_reason_of_the_handoff(database_url: str, fake_rasa: FakeRasa) -> None:
    fake_rasa.answer(ANSWER_TURN)
    with gateway(database_url, fake_rasa.url) as chats:
        turn = chats.say("c", "打了十几次电话都没人管！！！")
        assert turn["messages"][0]["text"] == APOLOGY and turn["handoff"] is False
        fake_rasa.answer(HANDOFF_TURN)
        assert chats.say("c", "/request_human")["handoff"] is True
        desk, service = _desk(database_url)
        assert desk.get(chats.ids["c"]).handoff_reason == "angry"
        service.close()


def test_outside_working_hours_the_citizen_is_offered_a_message_instead(database_url: str, fake_rasa: FakeRasa) -> None:
    fake_rasa.answer(HANDOFF_TURN)
    # A one-minute window that is never now: 03:00–03:01 Beijing time is closed at any other minute.
    with gateway(database_url, fake_rasa.url, handoff_hours="03:00-03:01") as chats:
        turn = chats.say("c", "转人工")
        desk, service = _desk(database_url)
        if desk.policy.hours.is_open(desk.clock()):  # the test ran at 03:00 exactly
            service.close()
            return
        assert turn["handoff"] is False and "转接" not in texts(turn) and "服务时间是每天03:00至03:01" in texts(turn)
        assert turn["messages"][-1]["buttons"][0]["payload"] == LEAVE_MESSAGE_PAYLOAD
        assert desk.get(chats.ids["c"]).owner is Owner.BOT
        assert texts(chats.say("c", LEAVE_MESSAGE_PAYLOAD)) == ASK_FOR_MESSAGE
        receipt = chats.say("c", "想咨询疫苗预约，电话13912345678")
        assert receipt["ticket_id"] and "回电" in texts(receipt)
        service.close()


def test_a_long_wait_offers_a_message_and_leaving_one_takes_the_citizen_out_of_the_queue(
    database_url: str, fake_rasa: FakeRasa
) -> None:
    fake_rasa.answer(HANDOFF_TURN)
    with gateway(database_url, fake_rasa.url, handoff_max_wait_s=0) as chats:
        turn = chats.say("c", "转人工")
        assert turn["handoff"] is True and "预计要等" in texts(turn)
        assert turn["messages"][-1]["buttons"][0]["payload"] == LEAVE_MESSAGE_PAYLOAD
        assert texts(chats.say("c", LEAVE_MESSAGE_PAYLOAD)) == ASK_FOR_MESSAGE
        desk, service = _desk(database_url)
        conversation_id = chats.ids["c"]
        assert desk.get(conversation_id).owner is Owner.BOT
        assert [e.move for e in desk.events(conversation_id)] == ["handoff", "leave_message"]
        service.close()


def test_a_closed_conversation_comes_back_to_the_bot_and_every_turn_is_in_the_transcript(
    database_url: str, fake_rasa: FakeRasa
) -> None:
    fake_rasa.answer(HANDOFF_TURN)
    with gateway(database_url, fake_rasa.url) as chats:
        chats.say("c", "转人工")
        conversation_id = chats.ids["c"]
        desk, service = _desk(database_url)
        operator = Principal("alice", Role.OPERATOR)
        desk.take(conversation_id, operator)
        assert chats.say("c", "我电话13912345678")["messages"] == []  # held for the person, the bot silent
        desk.close(conversation_id, operator, "已电话联系")
        fake_rasa.answer(ANSWER_TURN)
        turn = chats.say("c", "出生医学证明在哪办")
        assert texts(turn) == "出生医学证明由助产机构签发。"
        assert desk.get(conversation_id).owner is Owner.BOT
        turns = TranscriptStore(service.engine).turns(conversation_id)
        assert [(t.speaker, t.text[:6]) for t in turns] == [
            ("citizen", "转人工"),
            ("bot", "好的，正在为"),
            ("bot", "正在排队等待"),
            ("citizen", "我电话139"),
            ("citizen", "出生医学证明"),
            ("bot", "出生医学证明"),
        ]
        assert turns[0].intent == "request_human" and turns[0].outcome == "handoff"
        assert turns[4].intent == "ask_procedure" and turns[4].confidence == 0.95
        assert "13912345678" not in turns[3].masked().text
        service.close()


def test_a_question_about_a_sensitive_matter_is_answered_not_handed_off(database_url: str, fake_rasa: FakeRasa) -> None:
    fake_rasa.answer(ANSWER_TURN)
    with gateway(database_url, fake_rasa.url) as chats:
        turn = chats.say("c", "医疗纠纷调解一般要多长时间")
        assert turn["handoff"] is False and texts(turn) == "出生医学证明由助产机构签发。"  # Rasa's answer


def test_what_counts_as_a_sensitive_matter() -> None:
    from bot.handoff.triggers import SensitiveMatters

    matters = SensitiveMatters.load()
    assert matters.category_of("医生误诊耽误了我的病，我要求医院赔偿") == "医疗纠纷"
    assert matters.category_of("再不解决我就找记者曝光你们") == "舆情"
    assert matters.category_of("医疗事故怎么鉴定") is None  # a question about it
    assert matters.category_of("申请公开某医院近三年医疗事故鉴定的数量") is None  # a disclosure request
    assert matters.category_of("社区医院挂号要带什么") is None


def test_a_digit_answers_the_rating_request_once_on_any_channel(database_url: str, fake_rasa: FakeRasa) -> None:
    import asyncio

    from bot.channels.base import Channels
    from bot.conversation.core import RATED
    from bot.conversation.ratings import RatingStore
    from bot.handoff.live import HandoffService
    from bot.handoff.pubsub import NullHub

    fake_rasa.answer(HANDOFF_TURN)
    with gateway(database_url, fake_rasa.url) as chats:
        chats.say("c", "转人工")
        conversation_id = chats.ids["c"]
        desk, service = _desk(database_url)
        operator = Principal("alice", Role.OPERATOR)
        handoff = HandoffService(desk, TranscriptStore(service.engine), Channels(), NullHub())
        desk.take(conversation_id, operator)
        asyncio.run(handoff.close(conversation_id, operator, "已解答"))  # closes and asks for the rating
        assert texts(chats.say("c", "5分")) == RATED
        (rating,) = RatingStore(service.engine).for_conversation(conversation_id)
        assert (rating.score, rating.operator) == (5, "alice")
        fake_rasa.answer(ANSWER_TURN)
        assert texts(chats.say("c", "5")) == "出生医学证明由助产机构签发。"  # answered already: just text
        service.close()
