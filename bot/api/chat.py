"""POST /api/chat: the web chat's turn endpoint, and the reference for every other channel."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from bot.conversation import ConversationCore, InboundMessage
from bot.rasa_client import RasaUnavailable

router = APIRouter()


class ChatRequest(BaseModel):
    sender_id: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=4000)


class Citation(BaseModel):
    doc_id: str
    title: str
    section: str
    url: str


class Button(BaseModel):
    title: str
    payload: str


class Message(BaseModel):
    text: str
    citations: list[Citation] = []
    buttons: list[Button] = []


class Intent(BaseModel):
    name: str
    confidence: float


class ChatResponse(BaseModel):
    messages: list[Message]
    intent: Intent | None
    handoff: bool
    ticket_id: str | None


@router.post("/api/chat")
async def chat(body: ChatRequest, request: Request) -> ChatResponse:
    core: ConversationCore = request.app.state.core
    if not body.text.strip():
        raise HTTPException(status_code=422, detail="text is empty")
    try:
        turn = await core.handle(InboundMessage(body.sender_id, body.text.strip(), channel="web"))
    except RasaUnavailable as exc:
        raise HTTPException(status_code=503, detail="对话服务暂时不可用，请稍后再试或拨打人工热线。") from exc
    intent = Intent(name=turn.intent["name"], confidence=turn.intent["confidence"]) if turn.intent else None
    return ChatResponse(
        messages=[
            Message(
                text=m.text,
                citations=[Citation(**c) for c in m.citations],
                buttons=[Button(**b) for b in m.buttons],
            )
            for m in turn.messages
        ],
        intent=intent,
        handoff=turn.handoff,
        ticket_id=turn.ticket_id,
    )
