"""POST /api/chat: the web chat's turn endpoint, and the reference for every other channel.

The contract: `{"text"}` without an id starts a conversation, and the response carries its `conversation_id`;
later turns send `{"conversation_id", "text"}`. An id the server did not issue gets 404 with one fixed body,
whatever the id, so that nothing about any conversation can be learnt by trying ids.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from actions.service_card import read_card
from bot.api.clients import ClientTag
from bot.conversation.conversation_ids import WEB, ConversationRegistry
from bot.conversation.core import STORE_DOWN, ConversationCore, InboundMessage
from bot.conversation.welcome import SUGGESTIONS, WELCOME

router = APIRouter()
logger = logging.getLogger(__name__)

UNKNOWN_CONVERSATION = "没有这个会话，请开始新的会话（不带 conversation_id 发送消息）。"
SENDER_ID_REFUSED = (
    "sender_id is no longer accepted: the server issues conversation ids. "
    'Send {"text"} to start a conversation, then {"conversation_id", "text"} with the id it returns.'
)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str | None = None  # any string: one not issued, of whatever length, is a 404
    text: str = Field(min_length=1, max_length=4000)

    @model_validator(mode="before")
    @classmethod
    def _no_client_chosen_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and "sender_id" in data:
            raise ValueError(SENDER_ID_REFUSED)
        return data


class Citation(BaseModel):
    doc_id: str
    title: str
    section: str
    url: str


class Button(BaseModel):
    title: str
    payload: str


class CardField(BaseModel):
    label: str
    value: str
    #: 材料, 时限, 地点: shown first; the rest may be folded.
    key: bool


class Card(BaseModel):
    """一次告知 as fields (actions/service_card.py), for a page that folds it; `text` holds the same, whole."""

    title: str
    #: What the reply says before the card (the field the question was about) and after it.
    intro: str
    outro: str
    fields: list[CardField]


def card_of(text: str) -> Card | None:
    reading = read_card(text)
    return None if reading is None else Card(**reading.json())


class Message(BaseModel):
    #: What is said, without its sources: `citations` carries them, and the page shows them once, as links.
    text: str
    citations: list[Citation] = []
    buttons: list[Button] = []
    card: Card | None = None


class Welcome(BaseModel):
    text: str
    suggestions: list[str]


class Intent(BaseModel):
    name: str
    confidence: float | None  # None when the model gave none


class ChatResponse(BaseModel):
    #: None only when the database is down: the reply says so (or gives emergency guidance), no conversation is
    #: started or continued.
    conversation_id: str | None
    messages: list[Message]
    intent: Intent | None
    handoff: bool
    ticket_id: str | None
    #: True while the dialogue service is down and answers come straight from the knowledge base.
    reduced_mode: bool = False
    #: The transcript turns this exchange wrote: the live page (bot/api/chat_live.py) shows each turn once.
    seqs: list[int] = []


class _RegistryDown(Exception):
    pass


async def _conversation(registry: ConversationRegistry, conversation_id: str | None) -> str:
    """The turn's conversation: a new one, or the one the client sent if the server issued it for the web."""
    try:
        if conversation_id is None:
            return await run_in_threadpool(registry.start_web)
        issued = await run_in_threadpool(registry.is_issued, conversation_id, WEB)
    except SQLAlchemyError as exc:
        logger.exception("conversation registry failed")
        raise _RegistryDown from exc
    if not issued:
        raise HTTPException(status_code=404, detail=UNKNOWN_CONVERSATION)
    return conversation_id


@router.get("/api/chat/welcome")
async def welcome(response: Response) -> Welcome:
    """What the page and the widget open with (bot/conversation/welcome.py)."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return Welcome(text=WELCOME, suggestions=list(SUGGESTIONS))


@router.post("/api/chat")
async def chat(body: ChatRequest, request: Request, client: ClientTag) -> ChatResponse:
    core: ConversationCore = request.app.state.core
    if not body.text.strip():
        raise HTTPException(status_code=422, detail="text is empty")
    text = body.text.strip()
    try:
        conversation_id = await _conversation(request.app.state.conversations, body.conversation_id)
    except _RegistryDown:
        # No id can be issued or checked, so no conversation is touched; emergency guidance does not wait for it.
        emergency = core.emergency_guidance(text)
        reply = STORE_DOWN if emergency is None else emergency.text
        intent = None if emergency is None else Intent(name="emergency", confidence=1.0)
        return ChatResponse(
            conversation_id=None, messages=[Message(text=reply)], intent=intent, handoff=False, ticket_id=None
        )
    # The client tag, not the address: Rasa's tracker store keeps the metadata; the status query's limiter reads it.
    turn = await core.handle(InboundMessage(conversation_id, text, channel=WEB, metadata={"client": client}))
    intent = Intent(name=turn.intent["name"], confidence=turn.intent["confidence"]) if turn.intent else None
    return ChatResponse(
        conversation_id=conversation_id,
        messages=[
            Message(
                text=m.text,
                citations=[Citation(**c) for c in m.citations],
                buttons=[Button(**b) for b in m.buttons],
                card=card_of(m.text),
            )
            for m in turn.messages
        ],
        intent=intent,
        handoff=turn.handoff,
        ticket_id=turn.ticket_id,
        reduced_mode=turn.reduced_mode,
        seqs=turn.seqs,
    )
