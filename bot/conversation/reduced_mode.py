"""Reduced mode (简化服务): what the gateway does on its own while Rasa cannot be reached.

A question still gets an answer from retrieval, with its citation, from the same Answerer the Rasa
action uses. A request (a complaint, a human) becomes a message left for a call back. The citizen is
told the assistant is in reduced mode; there is never a 503 for a question.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from actions.answering import Answer, Answerer

logger = logging.getLogger(__name__)

NOTICE = "【简化服务】智能对话服务暂时不可用，以下内容直接摘自知识库，仅供参考。"
NO_INDEX = "【简化服务】智能对话服务暂时不可用，知识库也暂时无法查询。"
OFFER_MESSAGE = "您也可以留言，工作人员将在1个工作日内回电。"
REQUEST_TAKEN_AS_MESSAGE = (
    "【简化服务】智能对话服务暂时不可用，暂时无法在线登记投诉、举报等事项，可以先为您登记留言回电。"
)

# A request names something to be done; a question asks about it (rule 4: a question gets an answer).
_REQUEST = re.compile(r"投诉|举报|反映|建议|申请公开|留言|回电|人工|客服|找人")
_QUESTION = re.compile(r"[吗呢？?]|怎么|怎样|如何|什么|哪|多久|多长|几|是否|能不能|要不要|有没有")


def is_request(text: str) -> bool:
    """A clear request (我要投诉…, 转人工), not a question about one (投诉多久有结果？)."""
    return bool(_REQUEST.search(text)) and not _QUESTION.search(text)


@dataclass(frozen=True)
class ReducedAnswer:
    text: str
    citations: list[dict[str, str]] = field(default_factory=list)
    found: bool = False


class ReducedMode:
    def __init__(self, answerer: Callable[[], Answerer | None]):
        """`answerer` gives the loaded Answerer, or None when no index is available to this gateway."""
        self._answerer = answerer

    def answer(self, question: str) -> ReducedAnswer:
        try:
            answerer = self._answerer()
            answer: Answer | None = answerer.answer(question) if answerer is not None else None
        except Exception:  # the index is the last thing standing: its failure must not become a 500
            logger.exception("reduced mode: retrieval failed")
            answer = None
        if answer is None:
            return ReducedAnswer(f"{NO_INDEX}{OFFER_MESSAGE}")
        citations = [
            {"doc_id": c.doc_id, "title": c.title, "section": c.section, "url": c.url} for c in answer.citations
        ]
        return ReducedAnswer(f"{NOTICE}\n{answer.text}\n{OFFER_MESSAGE}", citations, answer.found)
