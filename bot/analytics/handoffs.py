"""转人工: how often conversations reach a person and why, how soon a person first answers, and who gave up
waiting. Read from the handoff event log (bot/handoff/models.py HandoffEventRow), the transcript and the
conversations table."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, and_, distinct, func, or_, select
from sqlalchemy.orm import aliased

from bot.analytics.figure import TOTAL, Chart, Column, Context, Figure, Kind
from bot.analytics.period import Period
from bot.channels.base import channel_label
from bot.conversation.transcript import Speaker, TurnRow
from bot.handoff.models import ConversationRow, HandoffEventRow
from bot.handoff.reasons import reason_label
from bot.handoff.workflow import MOVE_LABELS, MOVES, Move, Owner

#: The moves that take a conversation away from its operator (from the state machine, not a second list): a
#: reply after one of these is not the answer to that take.
LEAVES_OPERATOR = tuple(sorted(move for move, (sources, _) in MOVES.items() if Owner.OPERATOR in sources))
#: Ways a citizen stops waiting in the queue.
ABANDONED = (Move.ABANDON, Move.LEAVE_MESSAGE)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks (None for no values).
    Computed here because SQLite has no percentile_cont; tests/analytics checks it against PostgreSQL's."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _in(period: Period, moment: Any) -> Any:
    return and_(moment >= period.start, moment < period.end)


# --- the handoff rate --------------------------------------------------------------------------------------


def _rate_query(period: Period) -> Select[Any]:
    talked = (
        select(TurnRow.sender_id)
        .where(TurnRow.speaker == Speaker.CITIZEN, _in(period, TurnRow.at))
        .distinct()
        .subquery("talked")
    )
    handed = (
        select(HandoffEventRow.sender_id)
        .where(HandoffEventRow.move == Move.HANDOFF, _in(period, HandoffEventRow.at))
        .distinct()
        .subquery("handed")
    )
    return (
        select(
            ConversationRow.channel,
            func.count(talked.c.sender_id).label("conversations"),
            func.count(handed.c.sender_id).label("handed_off"),
        )
        .select_from(talked)
        .outerjoin(ConversationRow, ConversationRow.sender_id == talked.c.sender_id)
        .outerjoin(handed, handed.c.sender_id == talked.c.sender_id)
        .group_by(ConversationRow.channel)
    )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _present_rate(rows: Sequence[Row[Any]], _period: Period, _context: Context) -> list[dict[str, Any]]:
    out = [
        {"channel": channel_label(row.channel, "未知"), "conversations": row.conversations,
         "handed_off": row.handed_off, "rate": _share(row.handed_off, row.conversations)}
        for row in sorted(rows, key=lambda row: (row.channel is None, row.channel or ""))
    ]  # fmt: skip
    conversations, handed_off = sum(r["conversations"] for r in out), sum(r["handed_off"] for r in out)
    out.append(
        {"channel": TOTAL, "conversations": conversations, "handed_off": handed_off,
         "rate": _share(handed_off, conversations)}
    )  # fmt: skip
    return out


HANDOFF_RATE = Figure(
    name="handoff_rate",
    title="转人工率",
    section="转人工",
    columns=(
        Column("channel", "渠道"),
        Column("conversations", "有市民发言的会话", Kind.COUNT),
        Column("handed_off", "其中转人工的会话", Kind.COUNT),
        Column("rate", "转人工率", Kind.SHARE),
    ),
    query=_rate_query,
    present=_present_rate,
    chart=Chart("bar", x="channel", y=("rate",)),
    note="本期内有市民发言的会话中，本期内转过人工的会话所占比例；一个会话转多次只计一次。",
)


# --- reasons -----------------------------------------------------------------------------------------------


def _reasons_query(period: Period) -> Select[Any]:
    handoffs = func.count(HandoffEventRow.id)
    return (
        select(HandoffEventRow.reason, handoffs.label("handoffs"))
        .where(HandoffEventRow.move == Move.HANDOFF, _in(period, HandoffEventRow.at))
        .group_by(HandoffEventRow.reason)
    )


def _present_reasons(rows: Sequence[Row[Any]], _period: Period, _context: Context) -> list[dict[str, Any]]:
    total = sum(row.handoffs for row in rows)
    ordered = sorted(rows, key=lambda row: (-row.handoffs, row.reason is None, row.reason or ""))
    return [
        {"reason": reason_label(row.reason, "未注明"), "code": row.reason or "", "handoffs": row.handoffs,
         "share": _share(row.handoffs, total)}
        for row in ordered
    ]  # fmt: skip


HANDOFF_REASONS = Figure(
    name="handoff_reasons",
    title="转人工原因",
    section="转人工",
    columns=(
        Column("reason", "原因"),
        Column("code", "原因代码"),
        Column("handoffs", "次数", Kind.COUNT),
        Column("share", "占比", Kind.SHARE),
    ),
    query=_reasons_query,
    present=_present_reasons,
    chart=Chart("pie", x="reason", y=("handoffs",)),
    note="每次转人工计一次（同一会话可能多次转人工）。",
)


# --- time to the first human reply -------------------------------------------------------------------------


def _first_reply_query(period: Period) -> Select[Any]:
    take = aliased(HandoffEventRow, name="take")
    later = aliased(HandoffEventRow, name="later")
    left_operator = (
        select(func.min(later.at))
        .where(later.sender_id == take.sender_id, later.at > take.at, later.move.in_(LEAVES_OPERATOR))
        .correlate(take)
        .scalar_subquery()
    )
    first_reply = (
        select(func.min(TurnRow.at))
        .where(
            TurnRow.sender_id == take.sender_id,
            TurnRow.speaker == Speaker.OPERATOR,
            TurnRow.at >= take.at,
            or_(left_operator.is_(None), TurnRow.at < left_operator),
        )
        .correlate(take)
        .scalar_subquery()
    )
    return (
        select(take.id, take.operator, take.at.label("taken_at"), first_reply.label("replied_at"))
        .where(take.move == Move.TAKE, _in(period, take.at))
        .order_by(take.at, take.id)
    )


def _reply_row(operator: str, waits: list[float], takes: int) -> dict[str, Any]:
    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {
        "operator": operator, "takes": takes, "replied": len(waits),
        "p50_s": rounded(percentile(waits, 0.5)), "p90_s": rounded(percentile(waits, 0.9)),
    }  # fmt: skip


def _seconds(replied_at: datetime, taken_at: datetime) -> float:
    return (replied_at - taken_at).total_seconds()


def _present_first_reply(rows: Sequence[Row[Any]], _period: Period, _context: Context) -> list[dict[str, Any]]:
    waits: dict[str, list[float]] = defaultdict(list)
    takes: dict[str, int] = defaultdict(int)
    for row in rows:
        operator = row.operator or "未知"
        takes[operator] += 1
        if row.replied_at is not None:
            waits[operator].append(_seconds(row.replied_at, row.taken_at))
    out = [_reply_row(operator, waits[operator], takes[operator]) for operator in sorted(takes)]
    out.append(_reply_row(TOTAL, [w for ws in waits.values() for w in ws], len(rows)))
    return out


FIRST_REPLY = Figure(
    name="first_reply",
    title="首次人工回复用时",
    section="转人工",
    columns=(
        Column("operator", "坐席"),
        Column("takes", "接入次数", Kind.COUNT),
        Column("replied", "接入后已回复", Kind.COUNT),
        Column("p50_s", "中位数（秒）", Kind.SECONDS),
        Column("p90_s", "P90（秒）", Kind.SECONDS),
    ),
    query=_first_reply_query,
    present=_present_first_reply,
    chart=Chart("bar", x="operator", y=("p50_s", "p90_s")),
    note=(
        "从坐席接入会话到该坐席第一条回复的用时；接入后未回复就放回队列、交还或结束的不计入用时。"
        "分位数按 PostgreSQL percentile_cont 的线性插值在程序中计算（SQLite 没有该函数）。"
    ),
)


# --- abandoned waits ---------------------------------------------------------------------------------------


def _abandoned_query(period: Period) -> Select[Any]:
    event = HandoffEventRow
    counts = [
        func.count(event.id).filter(event.move == move, event.from_owner == Owner.QUEUE).label(str(move))
        for move in ABANDONED
    ]
    return select(
        func.count(distinct(event.sender_id)).filter(event.move == Move.HANDOFF).label("handed_off"), *counts
    ).where(_in(period, event.at))


def _present_abandoned(rows: Sequence[Row[Any]], _period: Period, _context: Context) -> list[dict[str, Any]]:
    [row] = rows
    counts = row._mapping
    handed_off = counts["handed_off"]
    out = [
        {"outcome": MOVE_LABELS[move], "code": str(move), "waits": counts[str(move)],
         "share": _share(counts[str(move)], handed_off)}
        for move in ABANDONED
    ]  # fmt: skip
    waits = sum(r["waits"] for r in out)
    out.append({"outcome": TOTAL, "code": "", "waits": waits, "share": _share(waits, handed_off)})
    return out


ABANDONED_WAITS = Figure(
    name="abandoned_waits",
    title="放弃等待",
    section="转人工",
    columns=(
        Column("outcome", "结果"),
        Column("code", "代码"),
        Column("waits", "次数", Kind.COUNT),
        Column("share", "占转人工会话", Kind.SHARE),
    ),
    query=_abandoned_query,
    present=_present_abandoned,
    chart=Chart("bar", x="outcome", y=("waits",)),
    note="排队中的市民长时间未回复（会话结束）或改为留言的次数，与本期转人工的会话数之比。",
)
