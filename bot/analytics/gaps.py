"""知识盲区: what citizens asked that the assistant could not answer, grouped by meaning.

The query fetches the period's citizen turns whose outcome was a fallback (not understood), not_found (below
the relevance threshold) or a handoff; grouping is plain Python: the masked texts are embedded with the
project's embedder (e5 query vectors) and grouped by cosine (bot/analytics/grouping.py). Each group shows the
question that says it best, how often it was asked, how each time ended, and links to the transcripts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, select

from bot.analytics.figure import Chart, Column, Context, Figure, Kind
from bot.analytics.grouping import group_by_meaning, representative
from bot.analytics.period import Period
from bot.conversation.transcript import Outcome, Speaker, TurnRow
from bot.redaction import redact_numbers

GAP_OUTCOMES = (Outcome.FALLBACK, Outcome.NOT_FOUND, Outcome.HANDOFF)
#: The most recent questions a period groups: embedding is ~500 short questions a second on two cores, so a
#: year of a busy line would take minutes; the figure's note says when the cap was reached.
MAX_QUESTIONS = 5000
TRANSCRIPT_LINK = "/console/conversations/{conversation_id}"


def _query(period: Period) -> Select[Any]:
    return (
        select(TurnRow.id, TurnRow.sender_id, TurnRow.at, TurnRow.text, TurnRow.outcome)
        .where(
            TurnRow.speaker == Speaker.CITIZEN,
            TurnRow.outcome.in_(GAP_OUTCOMES),
            TurnRow.at >= period.start,
            TurnRow.at < period.end,
            TurnRow.text != "",  # cleared by the retention purge: nothing left to group
        )
        .order_by(TurnRow.at.desc(), TurnRow.id.desc())
        .limit(MAX_QUESTIONS)
    )


def _present(rows: Sequence[Row[Any]], _period: Period, context: Context) -> list[dict[str, Any]]:
    turns = list(reversed(rows))  # oldest first: the groups do not change when later questions arrive
    # Masked before anything else sees them, the embedder included; one vector per distinct question.
    texts = [" ".join(redact_numbers(turn.text).split()) for turn in turns]
    distinct = list(dict.fromkeys(text for text in texts if text))
    if not distinct:
        return []
    vectors = context.embedder.embed_queries(distinct)
    grouped = group_by_meaning(vectors)
    group_of = {distinct[m]: number for number, members in enumerate(grouped) for m in members}
    asked: list[list[Row[Any]]] = [[] for _ in grouped]
    for turn, text in zip(turns, texts, strict=True):
        if text:
            asked[group_of[text]].append(turn)
    groups = []
    for members, turns_asked in zip(grouped, asked, strict=True):
        outcomes = Counter(str(turn.outcome) for turn in turns_asked)
        # The newest conversation first: the one an editor most likely still remembers.
        conversations = list(dict.fromkeys(turn.sender_id for turn in reversed(turns_asked)))
        groups.append(
            {
                "question": distinct[representative(vectors, members)],
                "asked": len(turns_asked),
                "fallback": outcomes[Outcome.FALLBACK],
                "not_found": outcomes[Outcome.NOT_FOUND],
                "handoff": outcomes[Outcome.HANDOFF],
                "conversations": len(conversations),
                "links": [TRANSCRIPT_LINK.format(conversation_id=c) for c in conversations],
                "_first": members[0],
            }
        )
    groups.sort(key=lambda group: (-group["asked"], group["_first"]))
    return groups


KNOWLEDGE_GAPS = Figure(
    name="knowledge_gaps",
    title="知识盲区：未能解答的问题（按语义归并）",
    section="知识盲区",
    columns=(
        Column("question", "代表问题"),
        Column("asked", "提问次数", Kind.COUNT),
        Column("fallback", "未能理解", Kind.COUNT),
        Column("not_found", "未检索到答案", Kind.COUNT),
        Column("handoff", "转人工", Kind.COUNT),
        Column("conversations", "会话数", Kind.COUNT),
        Column("links", "对话记录", Kind.LINKS),
    ),
    query=_query,
    present=_present,
    chart=Chart("table"),
    note=(
        f"市民提问中机器人未能理解、检索不到足够相关的答案或转人工的，按语义（e5 向量余弦相似度）归并；"
        f"每期最多取最近 {MAX_QUESTIONS} 条。电话号码和身份证号已隐去。"
    ),
)
