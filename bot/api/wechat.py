"""GET/POST /channels/wechat: the official account's webhook (服务器配置). Thin: bot/channels/wechat/ does the
work. Without HOTLINE_WECHAT_TOKEN the endpoints are off (404), never open."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response

from bot.channels.wechat.channel import WeChatChannel
from bot.channels.wechat.protocol import MAX_BODY_BYTES, TOO_LARGE, BadRequest, Query, Refused

router = APIRouter()


def _channel(request: Request) -> WeChatChannel:
    channel: WeChatChannel | None = getattr(request.app.state, "wechat", None)
    if channel is None:
        raise HTTPException(status_code=404, detail="Not Found")
    return channel


def _query(request: Request) -> Query:
    params = request.query_params
    return Query(
        signature=params.get("signature", ""),
        timestamp=params.get("timestamp", ""),
        nonce=params.get("nonce", ""),
        echostr=params.get("echostr"),
        encrypt_type=params.get("encrypt_type"),
        msg_signature=params.get("msg_signature"),
    )


async def _bounded_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BadRequest(TOO_LARGE)
    return bytes(body)


@router.get("/channels/wechat", include_in_schema=False)
async def verify(request: Request) -> PlainTextResponse:
    channel = _channel(request)
    try:
        return PlainTextResponse(channel.verify_server(_query(request)))
    except Refused as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None


@router.post("/channels/wechat", include_in_schema=False)
async def receive(request: Request) -> Response:
    channel = _channel(request)
    query = _query(request)
    try:
        channel.protocol.check_signature(query)  # a forged request is refused before its body is read
        body, media_type = await channel.receive(query, await _bounded_body(request))
    except Refused as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None
    return Response(body, media_type=media_type)
