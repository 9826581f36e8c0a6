"""Who owns a conversation, and the moves between owners (首问负责).

The bot owns a conversation until it is handed to the queue; one operator takes it from the queue and owns it
until it is handed back to the bot, closed with a resolution note, or released (by the operator, or by the
reply timeout) to the queue at its old place. The desk (bot/handoff/desk.py) refuses any move not in MOVES
and writes an event for every move it makes.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Owner(StrEnum):
    BOT = "bot"
    QUEUE = "queue"
    OPERATOR = "operator"
    CLOSED = "closed"  # resolved by a person (or ended by silence); the citizen's next message goes to the bot


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"  # emergencies jump the queue


class Move(StrEnum):
    HANDOFF = "handoff"  # the citizen asked, the bot failed twice, anger confirmed, a sensitive matter, an emergency
    TAKE = "take"
    RELEASE = "release"  # the operator gives it back to the queue
    TIMEOUT = "timeout"  # the operator did not answer in time: back to the queue
    HANDBACK = "handback"  # the operator hands it back to the bot
    CLOSE = "close"  # resolved, with a note
    ABANDON = "abandon"  # the citizen went silent: ended, with a note
    LEAVE_MESSAGE = "leave_message"  # the citizen stops waiting and leaves a message for a call back
    RESUME = "resume"  # a closed conversation: the citizen writes again and the bot answers


#: move → (the owners it may start from, the owner it ends with)
MOVES: Mapping[Move, tuple[frozenset[Owner], Owner]] = MappingProxyType(
    {
        Move.HANDOFF: (frozenset({Owner.BOT, Owner.CLOSED}), Owner.QUEUE),
        Move.TAKE: (frozenset({Owner.QUEUE}), Owner.OPERATOR),
        Move.RELEASE: (frozenset({Owner.OPERATOR}), Owner.QUEUE),
        Move.TIMEOUT: (frozenset({Owner.OPERATOR}), Owner.QUEUE),
        Move.HANDBACK: (frozenset({Owner.OPERATOR}), Owner.BOT),
        Move.CLOSE: (frozenset({Owner.OPERATOR}), Owner.CLOSED),
        Move.ABANDON: (frozenset({Owner.QUEUE, Owner.OPERATOR}), Owner.CLOSED),
        Move.LEAVE_MESSAGE: (frozenset({Owner.QUEUE}), Owner.BOT),
        Move.RESUME: (frozenset({Owner.CLOSED}), Owner.BOT),
    }
)

OWNER_LABELS: Mapping[Owner, str] = MappingProxyType(
    {Owner.BOT: "机器人", Owner.QUEUE: "排队中", Owner.OPERATOR: "人工服务中", Owner.CLOSED: "已结束"}
)
MOVE_LABELS: Mapping[Move, str] = MappingProxyType(
    {
        Move.HANDOFF: "转人工",
        Move.TAKE: "接入",
        Move.RELEASE: "放回队列",
        Move.TIMEOUT: "超时未回复，放回队列",
        Move.HANDBACK: "交还机器人",
        Move.CLOSE: "结束会话",
        Move.ABANDON: "市民长时间未回复，会话结束",
        Move.LEAVE_MESSAGE: "改为留言",
        Move.RESUME: "市民再次来信，机器人接待",
    }
)


class InvalidMove(ValueError):
    """A move the conversation's owner does not allow; the message says which moves it does."""

    def __init__(self, move: Move, current: Owner):
        self.move, self.current = move, current
        options = "、".join(f"{MOVE_LABELS[m]}（{m}）" for m in allowed_moves(current)) or "无"
        super().__init__(
            f"会话{OWNER_LABELS[current]}（{current}），不能{MOVE_LABELS[move]}（{move}）；当前可以：{options}"
        )


def allowed_moves(current: Owner) -> list[Move]:
    return [move for move, (sources, _) in MOVES.items() if current in sources]


def check_move(move: Move, current: Owner) -> Owner:
    """The owner after `move` from `current`; InvalidMove if the move is not allowed from there."""
    sources, target = MOVES[move]
    if current not in sources:
        raise InvalidMove(move, current)
    return target
