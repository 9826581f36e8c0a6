"""The web chat between turns: what reaches the citizen's page outside their own requests.

- WebSocket /api/chat/{conversation_id}/live: everything delivered to the conversation (bot/channels/web.py):
  {"type": "message" | "place" | "typing" | "owner" | "rating_request", "text", "speaker", "seq", …}. The first
  frame is {"type": "ready"}: from then on nothing is missed (the page reads what came before by polling once).
- GET /api/chat/{conversation_id}/messages?after=SEQ: the fallback when the socket is down: the turns said to
  the citizen after SEQ (bot, operator, system; masked), the owner, the queue place and whether a rating is open.
  With `citizen=true` the citizen's own turns too: the widget rebuilds its history from after=0 on a reload.
- POST /api/chat/{conversation_id}/rating {"score", "comment"}: the answer to the open rating request.

The conversation id is the citizen's only credential (bot/conversation/conversation_ids.py): one the server did
not issue for the web gets the same 404 as /api/chat (a socket: close code 1008), and each client may try only
so many unknown ids (bot/ratelimit.py conversation_check_policy), so ids cannot be probed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from bot.api.chat import UNKNOWN_CONVERSATION, card_of
from bot.api.clients import ClientTag, request_client_tag
from bot.api.handoff import STORE_DOWN
from bot.api.sockets import POLICY_VIOLATION, TRY_AGAIN_LATER, Sender, forward, receive_object, stop
from bot.conversation.conversation_ids import WEB, ConversationRegistry
from bot.conversation.ratings import RatingRefused, RatingStore
from bot.conversation.transcript import Speaker, Turn
from bot.handoff import notices
from bot.handoff.desk import HandoffDesk
from bot.handoff.live import RATING_REQUEST, HandoffService
from bot.handoff.pubsub import citizen_topic
from bot.handoff.workflow import Owner
from bot.ratelimit import AttemptLimiter

router = APIRouter(prefix="/api/chat")
logger = logging.getLogger(__name__)

TOO_MANY = "尝试次数过多，请稍后再试。"
THANKS = "感谢您的评价！"
#: What the page is shown of the transcript: what was said to the citizen (they know what they wrote).
SHOWN = (Speaker.BOT, Speaker.OPERATOR, Speaker.SYSTEM)


class RatingBody(BaseModel):
    score: int
    comment: str | None = Field(default=None, max_length=2000)


class _Locked(Exception):
    pass


def _check(connection: HTTPConnection, conversation_id: str, client: str) -> bool:
    """Whether the server issued `conversation_id` for the web; counted against the client unless it did.
    _Locked while the client has tried too many unknown ids."""
    limiter: AttemptLimiter = connection.app.state.conversation_checks
    registry: ConversationRegistry = connection.app.state.conversations
    attempt = limiter.attempt(f"client:{client}")
    if attempt is None:
        raise _Locked
    if not registry.is_issued(conversation_id, WEB):
        return False
    attempt.succeeded()
    return True


async def _issued_or_refused(request: Request, conversation_id: str, client: str) -> None:
    try:
        issued = await run_in_threadpool(_check, request, conversation_id, client)
    except _Locked:
        raise HTTPException(429, TOO_MANY) from None
    except SQLAlchemyError as error:
        logger.exception("conversation check failed")
        raise HTTPException(503, STORE_DOWN) from error
    if not issued:
        raise HTTPException(404, UNKNOWN_CONVERSATION)


def citizen_turn(turn: Turn) -> dict[str, Any]:
    """A transcript turn as the page gets it, in the shape of what the socket delivers."""
    masked = turn.masked()
    rating = masked.speaker is Speaker.SYSTEM and masked.text == RATING_REQUEST
    card = card_of(masked.text) if masked.speaker is Speaker.BOT else None
    return {
        "type": "rating_request" if rating else "message",
        "seq": masked.seq,
        "at": masked.at.isoformat(timespec="seconds"),
        "speaker": str(masked.speaker),
        "text": masked.text,
        "citations": masked.citations,
        "card": None if card is None else card.model_dump(),
    }


def _messages_view(request: Request, conversation_id: str, after: int, citizen: bool) -> dict[str, Any]:
    service: HandoffService = request.app.state.handoff
    ratings: RatingStore = request.app.state.ratings
    desk: HandoffDesk = service.desk
    conversation = desk.get(conversation_id)
    shown = (*SHOWN, Speaker.CITIZEN) if citizen else SHOWN
    turns = [turn for turn in service.transcript.turns(conversation_id, after=after) if turn.speaker in shown]
    entry = desk.place(conversation_id) if conversation.owner is Owner.QUEUE else None
    return {
        "conversation_id": conversation_id,
        "owner": str(conversation.owner),
        "place": None
        if entry is None
        else {
            "position": entry.position,
            "expected_wait_s": entry.expected_wait_s,
            "text": notices.place(entry.position, entry.expected_wait_s),
        },
        "rating_open": ratings.is_open(conversation_id),
        "turns": [citizen_turn(turn) for turn in turns],
    }


@router.get("/{conversation_id}/messages")
async def messages(
    conversation_id: str,
    request: Request,
    client: ClientTag,
    after: Annotated[int, Query(ge=0)] = 0,
    citizen: bool = False,
) -> dict[str, Any]:
    await _issued_or_refused(request, conversation_id, client)
    try:
        return await run_in_threadpool(_messages_view, request, conversation_id, after, citizen)
    except SQLAlchemyError as error:
        logger.exception("transcript read failed")
        raise HTTPException(503, STORE_DOWN) from error


@router.post("/{conversation_id}/rating")
async def rate(conversation_id: str, body: RatingBody, request: Request, client: ClientTag) -> dict[str, Any]:
    await _issued_or_refused(request, conversation_id, client)
    ratings: RatingStore = request.app.state.ratings
    try:
        rating = await run_in_threadpool(ratings.rate, conversation_id, body.score, body.comment)
    except RatingRefused as error:
        raise HTTPException(409, str(error)) from error
    except ValueError as error:
        raise HTTPException(422, str(error)) from error
    except SQLAlchemyError as error:
        logger.exception("rating store failed")
        raise HTTPException(503, STORE_DOWN) from error
    return {"score": rating.score, "comment": rating.comment, "detail": THANKS}


@router.websocket("/{conversation_id}/live")
async def live(websocket: WebSocket, conversation_id: str) -> None:
    await websocket.accept()
    try:
        issued = await run_in_threadpool(_check, websocket, conversation_id, request_client_tag(websocket))
    except _Locked:
        issued = False
    except SQLAlchemyError:
        logger.exception("conversation check failed for a live socket")
        await websocket.close(TRY_AGAIN_LATER, STORE_DOWN)
        return
    if not issued:
        # The same refusal for an unknown id and a locked client: the socket teaches nothing about ids.
        await websocket.close(POLICY_VIOLATION, "")
        return
    send = Sender(websocket)
    async with websocket.app.state.hub.subscribe(citizen_topic(conversation_id)) as events:
        await send({"type": "ready", "conversation_id": conversation_id})
        task = asyncio.create_task(forward(events, send))
        try:
            # The page sends nothing (its turns go through POST /api/chat); reading notices that it left.
            while await receive_object(websocket) is not None:
                pass
        finally:
            await stop(task)
