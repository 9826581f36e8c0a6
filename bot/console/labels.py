"""What the console calls things: channels, handoff reasons, speakers and owners, in Chinese.

The codes stay in the database and the API (bot/handoff/workflow.py, bot/conversation/transcript.py); only
the console reads them out. An unknown code is shown as it is rather than hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# The channels' and the reasons' names have one home each; the console shows them from here too.
from bot.channels.base import CHANNEL_LABELS as CHANNEL_LABELS
from bot.channels.base import channel_label as channel_label
from bot.conversation.transcript import Speaker
from bot.handoff.reasons import REASON_LABELS as REASON_LABELS
from bot.handoff.reasons import reason_label as reason_label
from bot.handoff.workflow import MOVE_LABELS, OWNER_LABELS, Move, Owner, Priority

SPEAKER_LABELS: Mapping[Speaker, str] = MappingProxyType(
    {Speaker.CITIZEN: "市民", Speaker.BOT: "机器人", Speaker.OPERATOR: "坐席", Speaker.SYSTEM: "系统"}
)
#: The ticket audit log's actions (bot/tickets/service.py), for the supervisor's audit trail.
AUDIT_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "create": "受理",
        "link_duplicate": "并入重复反映",
        "hotspot": "归入热点",
        "view_contact": "查看联系方式",
        "assign_domain": "纠正领域",
        "assign_department": "分派承办单位",
        "assign": "指定承办人",
        "transition": "流转",
        "reopen": "重新办理",
        "reply": "答复",
        "rate": "市民评价",
        "escalate": "超期督办",
    }
)
PRIORITY_LABELS: Mapping[Priority, str] = MappingProxyType({Priority.NORMAL: "普通", Priority.URGENT: "紧急"})


def audit_label(action: str) -> str:
    return AUDIT_LABELS.get(action, action)


def owner_label(owner: str | None) -> str:
    try:
        return OWNER_LABELS[Owner(owner)]
    except ValueError:
        return owner or ""


def move_label(move: str) -> str:
    try:
        return MOVE_LABELS[Move(move)]
    except ValueError:
        return "升为紧急" if move == "escalate" else move


def speaker_label(speaker: str) -> str:
    try:
        return SPEAKER_LABELS[Speaker(speaker)]
    except ValueError:
        return speaker


def priority_label(priority: str) -> str:
    try:
        return PRIORITY_LABELS[Priority(priority)]
    except ValueError:
        return priority


def duration(seconds: int) -> str:
    """A wait as an operator reads it: 45秒, 3分12秒, 1小时5分."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}秒"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}分{seconds:02d}秒"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}小时{minutes}分"
