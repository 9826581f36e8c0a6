"""The operator API of the handoff (the console is its first client): the queue, taking a conversation, replying,
releasing, handing back, closing, the transcript; and the operators' WebSocket, /api/handoff/live.

A thin router over bot/handoff/live.py HandoffService and bot/handoff/desk.py. Every endpoint needs a caller
(bot/api/access.py: an API token, or the console's session). Refusals are JSON with a Chinese `detail`:
404 unknown conversation, 409 taken by another operator or a move its owner does not allow, 403 held by
another operator, 422 bad input, 503 when the database is down.

The socket: the queue as it is on connect ({"type": "queue", "entries"}), then every QUEUE_TOPIC event (owner
changes, the queue again after each change, who is online). The client sends {"watch": conversation_id} to
follow one conversation as well (its turns and owner changes; {"type": "watching"} says from when), {"watch":
null} to stop, {"queue": true} for the queue again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, WebSocket
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from bot.api.access import Caller, websocket_principal
from bot.api.sockets import POLICY_VIOLATION, TRY_AGAIN_LATER, Sender, forward, receive_object, stop
from bot.auth import Principal
from bot.conversation.ratings import RatingStore
from bot.conversation.transcript import TranscriptStore
from bot.handoff.desk import Conversation, HandoffDesk, NotYours, TakenByAnother, UnknownConversation
from bot.handoff.live import HandoffService, NotHeld
from bot.handoff.pubsub import QUEUE_TOPIC, Hub, console_topic
from bot.handoff.workflow import InvalidMove
from bot.redaction import redact_numbers

router = APIRouter(prefix="/api")
logger = logging.getLogger(__name__)

STORE_DOWN = "系统暂时无法访问数据库，请稍后重试。"
NO_SUCH_CONVERSATION = "没有这个会话"
MAX_REPLY = 4000
UNKNOWN_FRAME = '无法识别的消息：请发送 {"watch": 会话ID} 或 {"queue": true}'


def handoff_service(request: Request) -> HandoffService:
    service: HandoffService = request.app.state.handoff
    return service


Service = Annotated[HandoffService, Depends(handoff_service)]


class ReplyBody(BaseModel):
    text: str


class NoteBody(BaseModel):
    note: str = ""


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    return {
        "conversation_id": conversation.sender_id,
        "channel": conversation.channel,
        "owner": str(conversation.owner),
        "operator": conversation.operator,
        "priority": str(conversation.priority),
        "reason": conversation.handoff_reason,
    }


@contextmanager
def handoff_errors() -> Iterator[None]:
    """The service's refusals as HTTP; never a 500."""
    try:
        yield
    except UnknownConversation as error:
        raise HTTPException(404, NO_SUCH_CONVERSATION) from error
    except TakenByAnother as error:
        raise HTTPException(409, f"{error}（{error.operator}）" if error.operator else str(error)) from error
    except (InvalidMove, NotHeld) as error:
        raise HTTPException(409, str(error)) from error
    except NotYours as error:
        raise HTTPException(403, str(error)) from error
    except ValueError as error:
        raise HTTPException(422, str(error)) from error
    except SQLAlchemyError as error:
        logger.exception("handoff store failed")
        raise HTTPException(503, STORE_DOWN) from error


@router.get("/handoff/queue")
async def queue(service: Service, _caller: Caller) -> list[dict[str, Any]]:
    with handoff_errors():
        entries = await run_in_threadpool(service.desk.queue)
    return [entry.json() for entry in entries]


@router.post("/handoff/{conversation_id}/take")
async def take(conversation_id: str, service: Service, caller: Caller) -> dict[str, Any]:
    with handoff_errors():
        return conversation_json(await service.take(conversation_id, caller))


@router.post("/handoff/{conversation_id}/messages")
async def reply(conversation_id: str, body: ReplyBody, service: Service, caller: Caller) -> dict[str, Any]:
    text = body.text.strip()
    if not text:
        raise HTTPException(422, "回复内容不能为空")
    if len(text) > MAX_REPLY:
        raise HTTPException(422, f"回复内容不能超过{MAX_REPLY}字")
    with handoff_errors():
        turn = await service.reply(conversation_id, caller, text)
    return turn.masked().json()


@router.post("/handoff/{conversation_id}/typing")
async def typing(conversation_id: str, service: Service, caller: Caller) -> dict[str, bool]:
    """The console's "typing" to the citizen; ignored unless the caller holds the conversation."""
    with handoff_errors():
        await service.typing(conversation_id, caller)
    return {"ok": True}


@router.post("/handoff/{conversation_id}/release")
async def release(conversation_id: str, service: Service, caller: Caller) -> dict[str, Any]:
    with handoff_errors():
        return conversation_json(await service.release(conversation_id, caller))


@router.post("/handoff/{conversation_id}/handback")
async def handback(conversation_id: str, service: Service, caller: Caller) -> dict[str, Any]:
    with handoff_errors():
        return conversation_json(await service.handback(conversation_id, caller))


@router.post("/handoff/{conversation_id}/close")
async def close(
    conversation_id: str, service: Service, caller: Caller, body: Annotated[NoteBody | None, Body()] = None
) -> dict[str, Any]:
    note = body.note if body else ""
    if not note.strip():
        raise HTTPException(422, "结束会话需要填写处理结果说明")
    with handoff_errors():
        return conversation_json(await service.close(conversation_id, caller, note))


@router.get("/conversations/{conversation_id}")
async def transcript(conversation_id: str, request: Request, service: Service, _caller: Caller) -> dict[str, Any]:
    """The whole conversation for an operator: every turn with who said it and the bot's intent, confidence and
    citations, every ownership move, and its ratings; phone and 身份证 numbers masked."""
    ratings: RatingStore = request.app.state.ratings
    with handoff_errors():
        return await run_in_threadpool(conversation_view, service.desk, service.transcript, ratings, conversation_id)


def conversation_view(
    desk: HandoffDesk, transcript: TranscriptStore, ratings: RatingStore, conversation_id: str
) -> dict[str, Any]:
    conversation = desk.find(conversation_id)
    events = [
        {**asdict(event), "at": event.at.isoformat(timespec="seconds"), "note": _masked(event.note)}
        for event in desk.events(conversation_id)
    ]
    return {
        **conversation_json(conversation),
        "turns": [turn.masked().json() for turn in transcript.turns(conversation_id, limit=5000)],
        "events": events,
        "ratings": [
            {
                "score": rating.score,
                "comment": _masked(rating.comment),
                "operator": rating.operator,
                "at": rating.at.isoformat(timespec="seconds"),
            }
            for rating in ratings.for_conversation(conversation_id)
        ],
    }


def _masked(text: str | None) -> str | None:
    return None if text is None else redact_numbers(text)


# -- the operators' socket --------------------------------------------------------------------------------------


@router.websocket("/handoff/live")
async def operator_live(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        operator = await run_in_threadpool(websocket_principal, websocket)
    except SQLAlchemyError:
        logger.exception("token check failed for an operator socket")
        await websocket.close(TRY_AGAIN_LATER, STORE_DOWN)
        return
    if operator is None:
        await websocket.close(POLICY_VIOLATION, "需要有效的API令牌或登录")
        return
    service: HandoffService = websocket.app.state.handoff
    await _serve_operator(websocket, service, operator)


async def _serve_operator(websocket: WebSocket, service: HandoffService, operator: Principal) -> None:
    hub: Hub = service.hub
    send = Sender(websocket)
    watching: asyncio.Task[None] | None = None
    async with hub.subscribe(QUEUE_TOPIC) as queue_events, service.online(operator):
        queue_task = asyncio.create_task(forward(queue_events, send))
        try:
            await _send_queue(service, send)
            while (message := await receive_object(websocket)) is not None:
                if "watch" in message:
                    await stop(watching)
                    watching = await _watch(service, send, message["watch"])
                elif message.get("queue"):
                    await _send_queue(service, send)
                else:
                    await send({"type": "error", "detail": UNKNOWN_FRAME})
        except SQLAlchemyError:
            logger.exception("handoff store failed for an operator socket")
            await websocket.close(TRY_AGAIN_LATER, STORE_DOWN)
        finally:
            await stop(queue_task, watching)


async def _send_queue(service: HandoffService, send: Sender) -> None:
    entries = await run_in_threadpool(service.desk.queue)
    await send({"type": "queue", "entries": [entry.json() for entry in entries]})


async def _watch(service: HandoffService, send: Sender, conversation_id: Any) -> asyncio.Task[None] | None:
    """Follow one conversation's console topic; None (and a word to the client) when there is nothing to follow."""
    if conversation_id is None:
        return None
    if not isinstance(conversation_id, str):
        await send({"type": "error", "detail": "watch 需要会话ID（字符串）"})
        return None
    try:
        await run_in_threadpool(service.desk.find, conversation_id)
    except UnknownConversation:
        await send({"type": "error", "detail": NO_SUCH_CONVERSATION, "conversation_id": conversation_id})
        return None

    async def follow() -> None:
        async with service.hub.subscribe(console_topic(conversation_id)) as events:
            # From here on nothing is missed: the console may read the transcript and add what follows.
            await send({"type": "watching", "conversation_id": conversation_id})
            await forward(events, send)

    return asyncio.create_task(follow())
