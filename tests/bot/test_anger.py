import pytest

from bot.conversation.anger import is_angry


@pytest.mark.parametrize(
    "text",
    [
        "打了几次电话都没人管！",
        "你们这是什么垃圾服务",
        "反映了好多次了，一直推来推去",
        "到底有没有人管！！！",
        "我已经投诉了3次了",
        "忍无可忍，天天施工扰民",
    ],
)
def test_angry_messages(text):
    assert is_angry(text)


@pytest.mark.parametrize(
    "text",
    ["出生医学证明怎么补办", "谢谢！！！太感谢了", "我要投诉医院乱收费", "请问疫苗几点能打？", "滚动播放的通知在哪看"],
)
def test_calm_messages(text):
    assert not is_angry(text)
