import pytest

from actions.answering import NO_ANSWER, Answerer, trim_to_point
from actions.service_card import KEY_FIELDS, read_card
from index.documents import SERVICE_GUIDE_FIELDS


@pytest.fixture(scope="module")
def answerer(retriever):
    return Answerer(retriever)


def test_policy_question_is_answered_from_its_clause_with_a_citation(answerer):
    answer = answerer.answer("卫生部的意见对12320热线建设提出了什么要求")
    assert answer.kind == "passage"
    assert "12320" in answer.text
    (citation,) = answer.citations
    assert citation.doc_id == "health-ministry-opinion-2012"
    assert citation.section.endswith("（八）充分发挥“12320”卫生热线作用")
    assert citation.date == "2012-03-21"
    assert citation.title == "卫生部关于深化卫生政务公开加强卫生政务服务的意见"
    # The source travels beside the text, never in it: each channel shows it once, its own way.
    assert "来源" not in answer.text and citation.title not in answer.text
    # As a line, for text that goes without its citations (an operator's reply quoting the passage).
    assert citation.line().startswith("来源：《卫生部关于深化卫生政务公开加强卫生政务服务的意见》")
    assert citation.line().endswith("，2012-03-21" + (f" {citation.url}" if citation.url else ""))


def test_service_guide_question_gets_the_whole_card_at_once(answerer):
    answer = answerer.answer("出生医学证明补办要多久")
    assert answer.kind == "service_guide"
    assert answer.text.startswith("您问的六、办理时限：")
    for field in SERVICE_GUIDE_FIELDS:
        assert field in answer.text
    assert answer.citations[0].doc_id == "birth-medical-certificate"
    assert answer.text.index("一、办理主体") < answer.text.index("十、监督渠道")
    assert "来源" not in answer.text and "https://" not in answer.text


@pytest.mark.parametrize(
    "question",
    ["出生医学证明补办要多久", "无偿献血有什么要求", "怎么申请政府信息公开", "医师执业注册要什么材料",
     "预防接种证丢了怎么补", "医疗纠纷怎么调解", "开诊所要办什么手续"],
)  # fmt: skip
def test_a_guide_card_reads_back_from_its_text_with_the_key_fields_first(answerer, question):
    answer = answerer.answer(question)
    assert answer.kind == "service_guide", question
    reading = read_card(answer.text)
    assert reading is not None
    assert reading.intro.startswith("您问的") and reading.outro == ""
    asked = reading.intro.removeprefix("您问的").split("：", 1)[0]
    card = reading.json()
    # The field asked about first, whole (its excerpt leaves the intro), then 材料, 时限, 地点, open; the rest folded.
    assert card["intro"] == "" and card["fields"][0]["label"] == asked
    shown = [field["label"].split("、", 1)[1] for field in card["fields"] if field["key"]]
    asked_name = asked.split("、", 1)[1]
    assert shown == [asked_name, *(name for name in KEY_FIELDS if name != asked_name)]
    assert [f["key"] for f in card["fields"]] == [True] * len(shown) + [False] * (10 - len(shown))
    names = [field["label"].split("、", 1)[1] for field in card["fields"]]
    assert sorted(names) == sorted(SERVICE_GUIDE_FIELDS)  # every field, once
    assert card["title"] == answer.citations[0].title
    # Read back, nothing is lost: every field line of the text is a field of the card, word for word.
    lines = answer.text.split("\n")[2:]
    assert [f"{f.label}：{f.value}" for f in reading.card.fields] == lines


def test_text_around_a_card_stays_outside_it_and_a_text_without_one_has_none(answerer):
    text = answerer.answer("出生医学证明补办要多久").text
    reading = read_card(f"【简化服务】以下内容直接摘自知识库。\n{text}\n您也可以留言，工作人员将在1个工作日内回电。")
    assert reading is not None and reading.intro.startswith("【简化服务】")
    assert reading.json()["intro"] == "【简化服务】以下内容直接摘自知识库。"  # the notice stays, the excerpt goes
    assert reading.outro == "您也可以留言，工作人员将在1个工作日内回电。"
    assert len(reading.card.fields) == len(SERVICE_GUIDE_FIELDS)
    assert read_card(answerer.answer("被狗咬了怎么办").text) is None
    assert read_card("【出生医学证明办理指南】以下一次性告知办理所需全部信息：") is None  # a title without fields


def test_a_field_merged_into_its_neighbour_is_still_shown_once_under_its_own_heading(answerer, retriever):
    # 八、收费依据与标准 (不收费。) was too short to stand alone: it shares a chunk with 七、办理结果.
    merged = next(
        c for c in retriever.document_chunks("birth-medical-certificate") if "八、收费依据与标准" in c.section
    )
    assert merged.section == ("七、办理结果", "八、收费依据与标准")
    answer = answerer.answer("出生证明开一张要交多少钱啊")
    assert answer.kind == "service_guide" and answer.citations[0].doc_id == "birth-medical-certificate"
    assert answer.text.startswith("您问的八、收费依据与标准：")  # the merged chunk's clause that answers
    card = answer.text.split("\n", 1)[1]
    for field in SERVICE_GUIDE_FIELDS:
        assert sum(line.startswith(f"{field}：") or f"、{field}：" in line for line in card.splitlines()) == 1, field
    assert "八、收费依据与标准：不收费。" in card


def test_every_answer_carries_its_calibrated_trust(answerer):
    found = answerer.answer("卫生部对12320卫生热线建设有什么要求")
    missing = answerer.answer("帮我订一张明天去上海的机票")
    assert 0 <= missing.trust < answerer.min_trust <= found.trust <= 1


def test_nothing_relevant_is_said_honestly_without_a_source(answerer):
    answer = answerer.answer("帮我订一张明天去上海的机票")
    assert answer.kind == "no_answer" and not answer.found
    assert answer.text == NO_ANSWER
    assert answer.citations == []


def test_trim_keeps_the_sentence_that_answers():
    text = (
        "献血前一天应保证充足睡眠。献血前不要空腹，也不要吃油腻食物。"
        "全血献血的间隔不少于6个月，单采血小板间隔不少于2周。献血后24小时内不做剧烈运动。"
    ) * 3
    trimmed = trim_to_point(text, "献血间隔多久", max_chars=60)
    assert "间隔不少于6个月" in trimmed
    assert len(trimmed.strip("…")) <= 60


def test_short_text_is_not_trimmed():
    assert trim_to_point("调解不收费。", "调解收费吗") == "调解不收费。"


# The sample 依申请公开 document in knowledge/by-request/: named, never quoted.
BY_REQUEST_TITLE = "关于同意某区社区卫生服务站迁址的批复（示例）"
BY_REQUEST_BODY_PHRASES = ["和平路二十八号", "站点编号乙-03", "慢病随访点", "请示》收悉", "诊疗衔接"]


@pytest.mark.parametrize("question", ["幸福里社区卫生服务站迁址的批复能给我看看吗", "社区卫生服务站搬迁有没有批复文件"])
def test_a_by_request_document_is_named_and_the_request_offered_never_quoted(answerer, question):
    answer = answerer.answer(question)
    assert answer.kind == "by_request" and answer.found
    assert answer.document is not None and answer.document.title == BY_REQUEST_TITLE
    for stated in (BY_REQUEST_TITLE, "某卫基层函〔2026〕12号", "（示例）某市卫生健康委员会", "依申请公开"):
        assert stated in answer.text
    assert not any(phrase in answer.text for phrase in BY_REQUEST_BODY_PHRASES)
    assert answer.citations == []  # nothing is quoted, so nothing is cited


def test_a_by_request_document_never_reaches_the_passages(retriever):
    for question in ["幸福里社区卫生服务站迁至和平路二十八号", "站点编号乙-03迁址", "社区卫生服务站迁址的批复"]:
        for hit in retriever.search(question, k=10, per_doc=5):
            assert hit.doc_id != "health-station-relocation-approval"
            assert not any(phrase in hit.text for phrase in BY_REQUEST_BODY_PHRASES)
    assert retriever.document_chunks("health-station-relocation-approval") == []


def test_a_question_answered_by_a_public_passage_is_not_sent_to_a_request(answerer):
    for question in ["被狗咬了怎么办", "怎么申请政府信息公开", "医疗机构变更执业地址怎么办"]:
        assert answerer.answer(question).kind in ("passage", "service_guide"), question
