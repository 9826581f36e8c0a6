"""Why a conversation went to a person, or left one: the reasons the desk records (handoff_events.reason,
conversations.handoff_reason), in Chinese, for the console and analytics alike."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.handoff.triggers import SENSITIVE_REASON_PREFIX

REASON_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "requested": "市民要求转人工",
        "offered_after_failures": "连续未能解答，转人工",
        "angry": "市民情绪激动",
        "emergency": "紧急情况",
        "operator_reply_timeout": "坐席超时未回复",
        "citizen_silent": "市民长时间未回复",
        "queue_abandoned": "排队过久，市民离开",
        "citizen_left": "市民排队时离开",
    }
)


def reason_label(reason: str | None, none: str = "") -> str:
    """市民要求转人工, 敏感事项：医疗纠纷, …; `none` for no reason."""
    if not reason:
        return none
    if reason.startswith(SENSITIVE_REASON_PREFIX):
        return f"敏感事项：{reason.removeprefix(SENSITIVE_REASON_PREFIX)}"
    return REASON_LABELS.get(reason, reason)
