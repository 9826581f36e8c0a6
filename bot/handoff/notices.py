"""What the citizen is told about the queue, in one place for the core, the live updates and every channel."""

from __future__ import annotations

from bot.conversation.callbacks import LEAVE_MESSAGE_BUTTON
from bot.handoff.policy import WorkingHours

__all__ = ["LEAVE_MESSAGE_BUTTON", "long_wait", "out_of_hours", "place", "sensitive"]


def _minutes(seconds: int) -> int:
    return max(1, round(seconds / 60))


def place(position: int, expected_wait_s: int) -> str:
    wait = f"预计等待约{_minutes(expected_wait_s)}分钟"
    if position <= 1:
        return f"正在排队等待人工客服：您是下一位，{wait}，工作人员接入后会直接回复您。"
    return f"正在排队等待人工客服：您前面还有{position - 1}位市民，{wait}。"


def out_of_hours(hours: WorkingHours) -> str:
    return (
        f"人工客服的服务时间是{hours.spoken()}，现在不在服务时间。"
        "您可以留言并留下电话，工作人员上班后会给您回电。如情况紧急，请直接拨打120或110。"
    )


def long_wait(expected_wait_s: int) -> str:
    return (
        f"目前排队的市民较多，预计要等{_minutes(expected_wait_s)}分钟左右。"
        "您可以继续等待，也可以点“留言回电”，工作人员会给您回电。"
    )


def sensitive(category: str) -> str:
    return f"您反映的事情涉及{category}，需要由工作人员直接处理，正在为您转接人工客服，请稍候。"


TAKEN = "工作人员已接入，请直接说明您的情况。"
HANDED_BACK = "人工服务已结束，接下来由智能助手继续为您服务。"
CLOSED = "本次人工服务已结束，感谢您的耐心。"
RELEASED = "工作人员暂时离开，您的会话已回到队列原来的位置，请稍候。"
