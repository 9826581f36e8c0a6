"""The question-or-request decision alone: the form of the message, the intent's confidence, the answer's trust."""

import pytest

from actions.question_or_request import Decision, Reading, Route, decide, related_action


def reading(text, intent, confidence=0.95, understood=True, **ranking):
    return Reading(intent, confidence, {intent: confidence, **ranking}, text, understood)


@pytest.mark.parametrize(
    "text",
    [
        "公文上的公开属性一共分几种？",
        "医院收费项目要不要向社会公开",
        "投诉一般多久有结果",
        "五公开是哪五个",
        "依申请公开是否收费呢",
        "请问信息公开申请在哪交",
    ],
)
def test_a_question_about_a_request_is_answered_when_retrieval_trusts_its_answer(text):
    assert decide(reading(text, "disclosure_request", 1.0), trust=0.9) == Decision(Route.ANSWER, "disclosure_request")


def test_a_question_about_a_request_is_not_started_even_without_an_answer():
    # The form is offered as a button, never started on a question.
    assert decide(reading("举报了以后会有人来查吗", "report", 0.99), trust=None) == Decision(Route.ANSWER, "report")


@pytest.mark.parametrize(
    "text",
    [
        "我要投诉，怎么这么久都没人管",  # angry, and asks, but says what it wants
        "帮我投诉一下社区医院的医生",
        "我想申请公开我们区今年的卫生预算",
        "麻烦你帮我登记一个举报",
        "投诉市一医院乱收费",
        "我有个建议，社区医院能不能周末也开门",  # declares a suggestion, then words it as a question
    ],
)
def test_a_clear_request_starts_its_form(text):
    intent = (
        "disclosure_request"
        if "公开" in text
        else "report"
        if "举报" in text
        else "suggestion"
        if "建议" in text
        else "complaint"
    )
    assert decide(reading(text, intent, 0.9), trust=0.95).route is Route.START_TICKET


def test_a_statement_starts_the_form_unless_the_answer_is_likelier_right_than_the_intent():
    statement = "医院乱收费，多收了检查费"
    assert decide(reading(statement, "complaint", 0.9), trust=0.8).route is Route.START_TICKET
    assert decide(reading(statement, "complaint", 0.4), trust=0.8) == Decision(Route.ANSWER, "complaint")
    assert decide(reading(statement, "complaint", 0.4), trust=None).route is Route.START_TICKET


def test_a_button_payload_starts_the_form_whatever_retrieval_says():
    assert decide(reading("/disclosure_request", "disclosure_request", 1.0), trust=0.99).route is Route.START_TICKET
    assert decide(reading("/query_ticket", "query_ticket", 1.0), trust=0.99).route is Route.START_STATUS


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("12320这个电话到底是干嘛的", Route.ANSWER),
        ("工单编号在哪看", Route.ANSWER),
        ("12320-20261120-000042", Route.START_STATUS),
        ("我上周投诉的那个有结果了吗", Route.START_STATUS),
        ("查一下进度", Route.START_STATUS),
        ("我的举报有回复没", Route.START_STATUS),
        ("请帮我查询本人上月提交的投诉件的办理情况", Route.START_STATUS),
    ],
)
def test_a_ticket_query_needs_a_number_or_an_ask_about_ones_own_matter(text, route):
    assert decide(reading(text, "query_ticket", 1.0), trust=0.8).route is route


def test_questions_are_answered_and_offer_the_request_the_model_finds_likely():
    likely = reading("投诉需要什么材料", "ask_service", 0.6, complaint=0.3, report=0.05)
    assert decide(likely, trust=0.9) == Decision(Route.ANSWER, "complaint")
    unlikely = reading("出生医学证明怎么补办", "ask_service", 0.97, complaint=0.01)
    assert decide(unlikely, trust=0.9) == Decision(Route.ANSWER, None)
    assert related_action(unlikely, fallback="query_ticket") == "query_ticket"


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("转人工", Route.HANDOFF),
        ("帮我接人工客服", Route.HANDOFF),
        ("能不能帮我转人工", Route.HANDOFF),
        ("嗯 那个 能不能 让工作人员来接一下", Route.HANDOFF),  # polar and polite: a request
        ("人工客服的上班时间是几点", Route.ANSWER),
    ],
)
def test_a_human_is_fetched_when_asked_for_not_when_asked_about(text, route):
    assert decide(reading(text, "request_human", 0.9), trust=0.9).route is route


@pytest.mark.parametrize(
    "text",
    [
        "尊敬的领导：本人上周在医院就诊时遭到推诿，特此投诉，望予处理。",
        "我想对镇卫生院乱收费的问题进行投诉，请予登记。",
    ],
)
def test_formal_requests_start_their_form(text):
    assert decide(reading(text, "complaint", 0.5), trust=0.9).route is Route.START_TICKET
    # Below the fallback the model guessed something else; the request names its kind.
    assert decide(reading(text, "query_ticket", 0.2, understood=False), trust=0.9) == Decision(
        Route.START_TICKET, "complaint"
    )


def test_the_kind_the_citizen_names_wins_over_the_models_guess():
    assert decide(reading("投诉！牙科诊所把我好牙给拔了", "report", 0.64), trust=0.9) == Decision(
        Route.START_TICKET, "complaint"
    )
    formal = "本人依据《政府信息公开条例》，申请公开本市2025年度医疗机构校验结果，请予受理。"
    assert decide(reading(formal, "disclosure_request", 0.94), trust=0.9) == Decision(
        Route.START_TICKET, "disclosure_request"
    )
