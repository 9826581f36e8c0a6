"""The WeChat channel: a pushed message becomes one InboundMessage for the conversation core, and the core's
replies become WeChat text, within WeChat's five seconds or through the customer-service API.

It only translates. What the hotline answers is the core's (bot/conversation/core.py); this module decides
where the answer goes: the webhook's own reply when the turn is done within the passive budget (4.5 s by
default), else "success" at once and the answer through the API, with every retry of the message getting
no second turn (bot/channels/wechat/ledger.py). The conversation id is the keyed hash of the OpenID; the
OpenID itself is kept only where the API needs it (bot/channels/wechat/contacts.py), and never logged.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.background import off_loop
from bot.channels.base import Kind, OutboundMessage
from bot.channels.wechat import render
from bot.channels.wechat.api import CustomerServiceApi, WeChatApiError
from bot.channels.wechat.contacts import Contacts
from bot.channels.wechat.ledger import MessageLedger, Seen, State
from bot.channels.wechat.menu import Menu
from bot.channels.wechat.protocol import Incoming, Query, WeChatProtocol
from bot.conversation.conversation_ids import channel_id
from bot.conversation.core import STORE_DOWN, ConversationCore, InboundMessage, Reply
from bot.conversation.ratings import RatingRefused, RatingStore
from bot.handoff.desk import Conversation
from bot.settings import Settings

logger = logging.getLogger(__name__)

CHANNEL = "wechat"
GREETING = (
    "您好，欢迎关注12320卫生健康热线！我是热线的智能助手，可以解答卫生健康政策、健康知识和办事指南，"
    "受理投诉、举报、建议和政府信息公开申请，查询工单办理进度，也可以为您转人工客服。"
    "请直接发送文字或语音提问，或使用下方菜单。如遇急危重症，请立即拨打120急救电话。"
)
IMAGE = "收到您的图片，谢谢。目前我还不能识别图片内容，请用文字描述您的问题；需要人工帮助，请回复“转人工”。"
VOICE_UNHEARD = "抱歉，没能听清您的语音，请用文字输入您的问题。"
UNSUPPORTED = "抱歉，暂时不支持这类消息，请用文字描述您的问题。"
EMPTY = "请用文字描述您的问题。"
RATED = "感谢您的评价！"
#: Sends through the API that fail for a passing reason are tried this many times, waiting 0.5, 1, 2 s.
SEND_ATTEMPTS = 3


class WeChatChannel:
    name = CHANNEL

    def __init__(
        self,
        protocol: WeChatProtocol,
        core: ConversationCore,
        engine: Engine,
        api: CustomerServiceApi,
        conversation_key: str,
        *,
        passive_budget_s: float = 4.5,
        menu: Menu | None = None,
        ratings: RatingStore | None = None,
    ) -> None:
        self.protocol = protocol
        self.core = core
        self.api = api
        self.ledger = MessageLedger(engine)
        self.contacts = Contacts(engine)
        self.ratings = ratings or RatingStore(engine)
        self.menu = menu or Menu.load()
        self.passive_budget_s = passive_budget_s
        self._key = conversation_key
        self._tasks: set[asyncio.Task[Any]] = set()  # answers still on their way (kept from the collector)

    @classmethod
    def from_settings(cls, settings: Settings, core: ConversationCore, engine: Engine) -> WeChatChannel | None:
        """The channel HOTLINE_WECHAT_* describe, or None without a token (the endpoints are then off)."""
        if settings.wechat_token is None or settings.wechat_secret is None or settings.conversation_key is None:
            return None
        aes_key = settings.wechat_aes_key.get_secret_value() if settings.wechat_aes_key else None
        protocol = WeChatProtocol(settings.wechat_token.get_secret_value(), settings.wechat_appid, aes_key)
        api = CustomerServiceApi(
            engine,
            settings.wechat_api_url,
            settings.wechat_appid,
            settings.wechat_secret.get_secret_value(),
            timeout_s=settings.wechat_api_timeout_s,
        )
        key = settings.conversation_key.get_secret_value()
        return cls(protocol, core, engine, api, key, passive_budget_s=settings.wechat_passive_budget_s)

    async def aclose(self) -> None:
        """Let answers on their way finish (briefly), then close the API client."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)
        await self.api.aclose()

    # -- in: the webhook -----------------------------------------------------------------------------------

    def verify_server(self, query: Query) -> str:
        return self.protocol.verify_server(query)

    async def receive(self, query: Query, body: bytes) -> tuple[str, str]:
        """The webhook's response (body, media type) to a pushed message; protocol.Refused for a bad request."""
        started = asyncio.get_running_loop().time()
        incoming = self.protocol.open(query, body)
        text = await self._answer(incoming, started + self.passive_budget_s)
        return self.protocol.reply(incoming, text, query.nonce)

    async def _answer(self, incoming: Incoming, deadline: float) -> str | None:
        """The passive reply's text, or None for "success" (nothing, or the answer comes through the API)."""
        conversation_id = channel_id(CHANNEL, incoming.openid, self._key)
        try:
            if incoming.kind == "unsubscribe":
                await off_loop(self.contacts.shut, conversation_id)
                return None
            if incoming.kind == "event":
                return None  # location reports, menu links, scans: nothing to answer
            return await self._answer_once(incoming, conversation_id, deadline)
        except SQLAlchemyError:
            # No dedup, no turn without the database; the guidance of an emergency does not wait for it.
            logger.exception("the WeChat ledger failed")
            guidance = self.core.emergency_guidance(incoming.text) if incoming.kind in ("text", "voice") else None
            return STORE_DOWN if guidance is None else guidance.text

    async def _answer_once(self, incoming: Incoming, conversation_id: str, deadline: float) -> str | None:
        key = incoming.dedup_key(conversation_id)
        seen = await off_loop(self.ledger.claim, key, conversation_id)
        if seen is not None:
            return await self._retry(key, seen)
        task = self._keep(self._turn(incoming, conversation_id))
        try:
            remaining = deadline - asyncio.get_running_loop().time()
            parts = await asyncio.wait_for(asyncio.shield(task), max(remaining, 0))
        except TimeoutError:
            parts = None
        if parts and await off_loop(self.ledger.move, key, State.PASSIVE, parts):
            if len(parts) > 1:  # a long answer: the rest follows through the API at once
                self._keep(self._send_rest(conversation_id, parts[1:]))
            return parts[0]
        await off_loop(self.ledger.move, key, State.PUSH)  # False if a retry moved it there already
        self._keep(self._push(task, key, conversation_id))
        return None

    async def _retry(self, key: str, seen: Seen) -> str | None:
        """WeChat sent the message again: it gave up on the request before, whose reply is lost."""
        if seen.state is State.RUNNING:
            if await off_loop(self.ledger.move, key, State.PUSH):
                return None  # the turn's answer will go through the API
            seen = await off_loop(self.ledger.seen, key)
        if seen.state is State.PASSIVE and seen.parts:
            return seen.parts[0]  # answered already, but the reply never arrived: the same answer again
        return None

    async def _turn(self, incoming: Incoming, conversation_id: str) -> list[str]:
        """The message through the core (or the adapter's own words for what is not a question): the parts."""
        try:
            options = await off_loop(
                lambda: self.contacts.wrote(
                    conversation_id, incoming.openid, message=incoming.kind not in ("subscribe", "click")
                )
            )
            text = self._question(incoming)
            if text is None:
                return [self._not_a_question(incoming)]
            score = render.rating_score(text, options)
            if score is not None:
                try:
                    await off_loop(self.ratings.rate, conversation_id, score)
                    return [RATED]
                except RatingRefused:
                    pass  # no rating asked for any more: the digit is just text
            text = render.chosen(text, options) or text
            result = await self.core.handle(InboundMessage(conversation_id, text, channel=CHANNEL))
            rendered = render.render(result.messages)
            if rendered.options is not None:  # `wrote` forgot the last ones already
                await off_loop(self.contacts.offer, conversation_id, rendered.options)
            return rendered.parts  # none while a person has the conversation: the bot says nothing
        except Exception:  # a webhook that fails makes WeChat tell the citizen the account is out of service
            logger.exception("a WeChat turn failed")
            return [STORE_DOWN]

    def _question(self, incoming: Incoming) -> str | None:
        """What the citizen asks, as the core takes it; None when the message is not one."""
        if incoming.kind == "click":
            return self.menu.payload(incoming.text)
        if incoming.kind in ("text", "voice"):
            return incoming.text or None
        return None

    @staticmethod
    def _not_a_question(incoming: Incoming) -> str:
        return {
            "subscribe": GREETING,
            "image": IMAGE,
            "voice": VOICE_UNHEARD,
            "text": EMPTY,
            "click": GREETING,  # a button no longer in the menu
        }.get(incoming.kind, UNSUPPORTED)

    async def _push(self, turn: asyncio.Task[list[str]], key: str, conversation_id: str) -> None:
        try:
            parts = await turn
            sent = await self._send(conversation_id, parts)
            await off_loop(self.ledger.move, key, State.PUSHED if sent else State.FAILED, parts)
        except Exception:  # a background task: nobody else would see it
            logger.exception("a WeChat answer could not be pushed")

    async def _send_rest(self, conversation_id: str, parts: list[str]) -> None:
        try:
            await self._send(conversation_id, parts)
        except Exception:  # a background task: nobody else would see it
            logger.exception("the rest of a long WeChat answer could not be sent")

    # -- out: the customer-service API ---------------------------------------------------------------------

    async def deliver(self, conversation: Conversation, message: OutboundMessage) -> bool:
        """An operator's reply, a notice or a rating request, through the customer-service API; False when the
        citizen cannot be reached on WeChat now (out of the 48-hour window or the quota)."""
        try:
            return await self._deliver(conversation, message)
        except SQLAlchemyError:
            logger.exception("a WeChat delivery failed on the database")
            return False

    async def _deliver(self, conversation: Conversation, message: OutboundMessage) -> bool:
        cid = conversation.sender_id
        if message.kind is Kind.TYPING:
            openid = await off_loop(self.contacts.openid_if_reachable, cid)
            return openid is not None and await self._attempt(cid, functools.partial(self.api.typing, openid))
        if message.kind is Kind.PLACE:
            # Each message costs one of the five the window allows: the place was told in the citizen's turn.
            return False
        if not message.text:
            return False
        if message.kind is Kind.RATING_REQUEST:
            rendered = render.rating_request(message.text)
        else:
            rendered = render.render([Reply(message.text)])
        sent = await self._send(cid, rendered.parts)
        if sent and rendered.options is not None:
            await off_loop(self.contacts.offer, cid, rendered.options)
        return sent

    async def reachable(self, conversation: Conversation) -> bool:
        """Whether a message can reach the citizen on WeChat now: the console says so when it cannot."""
        return await off_loop(self.contacts.reachable, conversation.sender_id)

    async def _send(self, conversation_id: str, parts: list[str]) -> bool:
        """The parts in order, each taking one message of the window's quota; False if any did not go out."""
        for part in parts:
            openid = await off_loop(self.contacts.spend, conversation_id)
            if openid is None:
                logger.warning("a WeChat message not sent: the citizen is out of the customer-service window")
                return False
            if not await self._attempt(conversation_id, functools.partial(self.api.send_text, openid, part)):
                await off_loop(self.contacts.refund, conversation_id)
                return False
        return True

    async def _attempt(self, conversation_id: str, call: Callable[[], Any]) -> bool:
        for attempt in range(SEND_ATTEMPTS):
            try:
                await call()
                return True
            except WeChatApiError as exc:
                if exc.unreachable:
                    logger.warning("WeChat refused a message: errcode %s (the window is shut)", exc.errcode)
                    await off_loop(self.contacts.shut, conversation_id)
                    return False
                logger.warning("WeChat API errcode %s (attempt %d)", exc.errcode, attempt + 1)
            except (httpx.HTTPError, TimeoutError) as exc:
                logger.warning("WeChat API unreachable (attempt %d): %s", attempt + 1, type(exc).__name__)
            if attempt + 1 < SEND_ATTEMPTS:
                await asyncio.sleep(0.5 * 2**attempt)
        return False

    def _keep(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
