"""POST /api/chat: the web chat's turn endpoint, and the reference for every other channel."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from bot.conversation import ConversationCore, InboundMessage

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
    confidence: float | None  # None when the model gave none


class ChatResponse(BaseModel):
    messages: list[Message]
    intent: Intent | None
    handoff: bool
    ticket_id: str | None
    #: True while the dialogue service is down and answers come straight from the knowledge base.
    reduced_mode: bool = False


@router.post("/api/chat")
async def chat(body: ChatRequest, request: Request) -> ChatResponse:
    core: ConversationCore = request.app.state.core
    if not body.text.strip():
        raise HTTPException(status_code=422, detail="text is empty")
    turn = await core.handle(InboundMessage(body.sender_id, body.text.strip(), channel="web"))
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
        reduced_mode=turn.reduced_mode,
    )
