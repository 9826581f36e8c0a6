"""The emergency net (bot/conversation/emergency.py): every labelled emergency caught, questions left alone."""

import json
from collections import Counter

import pytest
import yaml
from pydantic import ValidationError

from bot.conversation.emergency import EMERGENCY_GUIDANCE, Category, assess, guidance, is_emergency, normalise
from bot.settings import Settings
from tests.conftest import ROOT

LABELLED = [
    json.loads(line) for line in (ROOT / "tests/data/emergencies.jsonl").read_text(encoding="utf-8").splitlines()
]
EMERGENCIES = [row for row in LABELLED if row["label"] == "emergency"]
KNOWLEDGE = [row for row in LABELLED if row["label"] == "knowledge"]
MAX_FALSE_ALARMS = 0.10


def test_the_labelled_set_covers_every_category():
    assert {row["label"] for row in LABELLED} == {"emergency", "knowledge"}
    assert len(EMERGENCIES) >= 100 and len(KNOWLEDGE) >= 60
    per_category = Counter(row["category"] for row in EMERGENCIES)
    assert set(per_category) == {c.value for c in Category}
    assert min(per_category.values()) >= 9
    assert {row["category"] for row in KNOWLEDGE} == {c.value for c in Category}
    assert len({row["text"] for row in LABELLED}) == len(LABELLED)


@pytest.mark.parametrize("row", EMERGENCIES, ids=[row["text"][:24] for row in EMERGENCIES])
def test_every_labelled_emergency_is_caught_with_its_category(row):
    assessment = assess(row["text"])
    assert assessment is not None
    assert assessment.category == row["category"]


def test_knowledge_questions_are_rarely_escalated():
    escalated = [row["text"] for row in KNOWLEDGE if is_emergency(row["text"])]
    assert len(escalated) <= MAX_FALSE_ALARMS * len(KNOWLEDGE), escalated


def test_the_regression_a_danger_now_with_a_question_after_it():
    assessment = assess("我爸晕倒了叫不醒是什么原因")
    assert assessment is not None
    assert (assessment.category, assessment.reason) == (Category.MEDICAL, "happening")


@pytest.mark.parametrize(
    ("about", "happening"),
    [
        ("晕倒了一般是什么原因", "我爸晕倒了叫不醒是什么原因"),
        ("叫不醒是什么原因", "我老公叫不醒是什么原因"),
        ("溺水了怎么急救", "孩子溺水了怎么急救"),
        ("触电了怎么急救", "老公触电了怎么救"),
        ("老人突然晕倒是什么原因", "我爸突然晕倒是什么原因"),
        ("怎么预防一氧化碳中毒", "家里有人一氧化碳中毒了"),
        ("看到有人落水应该怎么施救", "我看到有人落水了"),
        ("遇到有人晕倒应该怎么急救", "有人晕倒了应该怎么急救"),
        ("怎样判断一个人是不是中风了", "我爸是不是中风了 嘴歪了"),
        ("我爸上次晕倒过一次，平时要注意什么", "我爸昨天晕倒了到现在还叫不醒"),
        ("孩子溺水了一般怎么急救", "我家孩子溺水了一般怎么急救"),
        ("被狗咬了要打什么疫苗", "我被人捅了一刀"),
        ("被车撞了医保能报销吗", "我儿子被车撞了躺在地上不动"),
        ("如果有人触电了怎么办", "我爸触电了如果叫不醒怎么办"),
    ],
)
def test_a_question_about_a_danger_is_knowledge_and_the_danger_itself_is_not(about, happening):
    assert assess(about) is None
    assert assess(happening) is not None


@pytest.mark.parametrize(
    "text",
    ["出生医学证明怎么办理", "我要投诉医院乱收费", "心脏病有哪些症状", "转人工", "", "   ", "救命药进医保了吗"],
)
def test_ordinary_messages_are_not(text):
    assert not is_emergency(text)


def test_cries_for_help_need_no_danger_word():
    for text in ["救命", "快来人啊", "SOS", "ｈｅｌｐ"]:
        assert assess(text) is not None, text


def test_spoken_and_written_variants_are_normalised():
    assert normalise("ＳＯＳ 我 爸  晕倒 了") == "sos我爸晕倒了"
    assert normalise("我媽剛才暈倒了") == "我妈刚才晕倒了"
    assert normalise("佢晕低咗") == "他晕倒了"
    assert is_emergency("ＳＯＳ 我老公胸口疼得厉害，满头大汗")
    assert is_emergency("我 爸 晕 倒 了 叫 不 醒")


SELF_HARM = [row["text"] for row in EMERGENCIES if row["category"] == "self_harm"]


@pytest.mark.parametrize("text", [*SELF_HARM, "我不想再活下去了", "活着没意思", "吃了一瓶安眠药", "想跳楼"])
def test_self_harm_gets_the_psychological_assistance_line_with_120_and_110(text):
    assessment = assess(text)
    assert assessment is not None and assessment.category is Category.SELF_HARM
    said = guidance(assessment)
    assert "12356" in said
    assert said.index("120") < said.index("12356") and "110" in said


def test_the_psychological_line_is_configurable():
    said = guidance(assess("我想死"), psych_line="400-161-9995")
    assert "400-161-9995" in said and "12356" not in said
    assert Settings().psych_line == "12356"
    assert Settings(psych_line="010-82951332").psych_line == "010-82951332"
    with pytest.raises(ValidationError):
        Settings(psych_line="call me")


@pytest.mark.parametrize("category", list(Category))
def test_every_guidance_names_a_number_first_and_hands_off(category):
    said = guidance(next(assess(r["text"]) for r in EMERGENCIES if r["category"] == category))
    first_number = {Category.FIRE: "119", Category.VIOLENCE: "110"}.get(category, "120")
    assert said.startswith("【紧急提示】")
    assert said.index(first_number) < 40
    assert said.endswith("我正在为您优先转接人工客服。")
    assert ("12356" in said) == (category is Category.SELF_HARM)


def test_the_general_guidance_is_what_an_emergency_without_a_category_gets():
    assert guidance(None) == EMERGENCY_GUIDANCE
    assert EMERGENCY_GUIDANCE.index("120") < 40
    assert "110" in EMERGENCY_GUIDANCE and "119" in EMERGENCY_GUIDANCE


def _nlu_examples() -> dict[str, list[str]]:
    nlu = yaml.safe_load((ROOT / "data/nlu.yml").read_text(encoding="utf-8"))["nlu"]
    return {
        block["intent"]: [line[2:].strip() for line in block["examples"].splitlines() if line.strip()]
        for block in nlu
        if "intent" in block
    }


def test_the_intent_training_data_agrees_with_the_net():
    """Both nets learn the same line: the `emergency` examples are emergencies, no other intent's are."""
    examples = _nlu_examples()
    assert [text for text in examples["emergency"] if not is_emergency(text)] == []
    others = [(intent, text) for intent, texts in examples.items() if intent != "emergency" for text in texts]
    assert [(intent, text) for intent, text in others if is_emergency(text)] == []
