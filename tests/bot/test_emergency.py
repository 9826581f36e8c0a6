import pytest

from bot.emergency import EMERGENCY_GUIDANCE, is_emergency


@pytest.mark.parametrize(
    "text",
    [
        "俺娃发高烧抽过去了咋办",  # the held-out line the intent model missed
        "我爸突然晕倒了叫不醒",
        "救命！我妈喝了农药",
        "家里煤气中毒了，两个人都没反应了",
        "他说不想活了，站在楼顶",
        "孩子吃东西噎住了喘不上气",
        "楼下着火了",
        "有人拿刀砍人",
        "ＳＯＳ 我老公胸口疼得厉害，满头大汗",  # full-width letters are normalised first
    ],
)
def test_emergencies_are_caught(text):
    assert is_emergency(text)


@pytest.mark.parametrize(
    "text",
    [
        "一氧化碳中毒怎么预防",
        "出生医学证明怎么办理",
        "我要投诉医院乱收费",
        "心脏病有哪些症状",
        "转人工",
        "",
    ],
)
def test_ordinary_messages_are_not(text):
    assert not is_emergency(text)


def test_guidance_names_120_and_110_first():
    assert EMERGENCY_GUIDANCE.index("120") < 40
    assert "110" in EMERGENCY_GUIDANCE
