"""The web chat's first words (the page and the embedded widget): what the hotline does, and questions to start
from. One place, so that both say the same; GET /api/chat/welcome serves it."""

from __future__ import annotations

WELCOME = (
    "您好，这里是12320卫生健康热线智能助手。我可以为您解答卫生健康政策、健康知识和办事指南，"
    "受理投诉、举报和建议，也可以为您转人工客服。如遇急危重症，请立即拨打120急救电话。"
)
#: Each is answered by the shipped corpus and model (tests/bot/test_widget_stack.py asks them all).
SUGGESTIONS = (
    "出生医学证明丢了怎么补办",
    "被狗咬了要不要打狂犬疫苗",
    "无偿献血有什么要求",
    "怎么申请政府信息公开",
    "我要投诉",
)
