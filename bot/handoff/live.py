"""The handoff at work: what an operator does, carried through to the citizen.

Each operator action is a desk move (bot/handoff/desk.py) followed by what the citizen must be told, through
their channel's `deliver` (bot/channels/base.py), and a line in the transcript. Queue changes re-tell every
waiting citizen whose place or expected wait changed. The sweeper applies the timeouts. Handing back appends
the operator's turns to Rasa's tracker, so the bot answers the next message with the whole conversation
behind it.

The REST API (bot/api/handoff.py) and the console are thin clients of this module.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.auth import Principal
from bot.background import off_loop
from bot.channels.base import Channels, Kind, OutboundMessage, channel_label
from bot.conversation.rasa_client import RasaClient, RasaUnavailable
from bot.conversation.ratings import RatingStore
from bot.conversation.transcript import Speaker, TranscriptStore, Turn
from bot.handoff import notices
from bot.handoff.desk import Conversation, HandoffDesk, QueueEntry, Timeout
from bot.handoff.pubsub import QUEUE_TOPIC, Hub, console_topic
from bot.handoff.workflow import Move, Owner

logger = logging.getLogger(__name__)


RATING_REQUEST = "请为本次服务打分：1分很不满意，5分非常满意。"


@dataclass(frozen=True)
class OperatorReply:
    turn: Turn
    delivered: bool  # False: the citizen's channel could not take it now


class NotHeld(Exception):
    """The operator tried to reply to a conversation no operator holds (take it first)."""


class HandoffService:
    def __init__(
        self,
        desk: HandoffDesk,
        transcript: TranscriptStore,
        channels: Channels,
        hub: Hub,
        rasa: RasaClient | None = None,
        *,
        ratings: RatingStore | None = None,
        rating_after_quiet_s: float | None = None,
    ):
        """With `ratings` and `rating_after_quiet_s`, the sweep also asks for a rating once an answered
        conversation has been quiet that long."""
        self.desk = desk
        self.transcript = transcript
        self.channels = channels
        self.hub = hub
        self.rasa = rasa
        self.ratings = ratings
        self.rating_after_quiet_s = rating_after_quiet_s
        #: What each waiting citizen was last told (position, expected minutes): told again when it changes.
        self._told: dict[str, tuple[int, int]] = {}
        self._online: dict[str, int] = {}  # operator name → open console sockets

    # -- operator actions ----------------------------------------------------------------------------------

    async def take(self, conversation_id: str, operator: Principal) -> Conversation:
        conversation = await off_loop(self.desk.take, conversation_id, operator)
        self._told.pop(conversation_id, None)
        await self._tell(conversation, notices.TAKEN, owner=True)
        await self.queue_changed()
        return conversation

    async def reply(self, conversation_id: str, operator: Principal, text: str) -> OperatorReply:
        """The operator's reply, in the transcript and delivered on the citizen's channel. A channel that cannot
        take it now (WeChat outside its 48-hour window, a phone call between turns) leaves a note in the
        transcript, so the console shows that the citizen must be called back instead."""
        conversation = await off_loop(self.desk.find, conversation_id)
        if conversation.owner is not Owner.OPERATOR:
            raise NotHeld("会话不在人工服务中，请先接入")
        conversation = await off_loop(self.desk.operator_replied, conversation_id, operator)
        turn = await off_loop(
            lambda: self.transcript.record(conversation_id, Speaker.OPERATOR, text, operator=operator.name)
        )
        message = OutboundMessage(Kind.MESSAGE, text, speaker="operator", seq=turn.seq)
        delivered = await self.channels.deliver(conversation, message)
        if not delivered:
            channel = channel_label(conversation.channel)
            note = f"这条回复暂时无法通过{channel}送达市民，请改用电话回访。"
            await off_loop(self.transcript.record, conversation_id, Speaker.SYSTEM, note)
        return OperatorReply(turn, delivered)

    async def typing(self, conversation_id: str, operator: Principal) -> None:
        conversation = await off_loop(self.desk.find, conversation_id)
        if conversation.owner is Owner.OPERATOR and conversation.operator == operator.name:
            await self.channels.deliver(conversation, OutboundMessage(Kind.TYPING, speaker="operator"))

    async def release(self, conversation_id: str, operator: Principal) -> Conversation:
        conversation = await off_loop(self.desk.release, conversation_id, operator)
        await self._tell(conversation, notices.RELEASED, owner=True)
        await self.queue_changed()
        return conversation

    async def handback(self, conversation_id: str, operator: Principal) -> Conversation:
        operator_turns = await off_loop(self._operator_turns_since_take, conversation_id)
        conversation = await off_loop(self.desk.handback, conversation_id, operator)
        if self.rasa is not None and operator_turns:
            turns = [{"text": t.text, "operator": t.operator or ""} for t in operator_turns]
            try:
                await self.rasa.append_history(conversation_id, turns)
            except RasaUnavailable as exc:
                # The handback stands; the bot answers next without the operator's words in its history.
                logger.warning("handback without history: %s", exc)
        await self._tell(conversation, notices.HANDED_BACK, owner=True)
        await self.queue_changed()
        return conversation

    async def close(self, conversation_id: str, operator: Principal, note: str) -> Conversation:
        conversation = await off_loop(self.desk.close, conversation_id, operator, note)
        await self._tell(conversation, notices.CLOSED, owner=True)
        await self.ask_rating(conversation)
        await self.queue_changed()
        return conversation

    async def ask_rating(self, conversation: Conversation) -> None:
        asked_at = await off_loop(self.desk.ask_rating, conversation.sender_id)
        turn = await off_loop(self.transcript.record, conversation.sender_id, Speaker.SYSTEM, RATING_REQUEST)
        request = OutboundMessage(
            Kind.RATING_REQUEST,
            RATING_REQUEST,
            seq=turn.seq,
            data={"asked_at": asked_at.isoformat(), "scale": [1, 2, 3, 4, 5]},
        )
        await self.channels.deliver(conversation, request)

    # -- the queue, live --------------------------------------------------------------------------------

    async def queue_changed(self) -> list[QueueEntry]:
        """Tell every waiting citizen whose place or expected wait changed, and every console the queue as it is
        now (one query for all of them; the desk's owner events say what moved)."""
        entries = await off_loop(self.desk.queue)
        self.hub.publish(QUEUE_TOPIC, {"type": "queue", "entries": [entry.json() for entry in entries]})
        waiting = {entry.conversation_id for entry in entries}
        for gone in set(self._told) - waiting:
            del self._told[gone]
        for entry in entries:
            told = (entry.position, round(entry.expected_wait_s / 60))
            if self._told.get(entry.conversation_id) == told:
                continue
            self._told[entry.conversation_id] = told
            conversation = await off_loop(self.desk.find, entry.conversation_id)
            text = notices.place(entry.position, entry.expected_wait_s)
            data = {"position": entry.position, "expected_wait_s": entry.expected_wait_s}
            await self.channels.deliver(conversation, OutboundMessage(Kind.PLACE, text, data=data))
        return entries

    async def sweep(self) -> list[Timeout]:
        """Apply the timeouts and tell the citizens concerned."""
        done = await off_loop(self.desk.sweep)
        for timeout in done:
            conversation = await off_loop(self.desk.find, timeout.sender_id)
            if timeout.move is Move.TIMEOUT:
                await self._tell(conversation, notices.RELEASED, owner=True)
            else:
                await self._tell(conversation, conversation.resolution_note or notices.CLOSED, owner=True)
        if done:
            await self.queue_changed()
        return done

    async def ask_quiet_ratings(self) -> list[str]:
        """满意度: ask once when an answered conversation has gone quiet; returns the conversations asked."""
        if self.ratings is None or self.rating_after_quiet_s is None:
            return []
        due = await off_loop(self.ratings.quiet_answered, self.rating_after_quiet_s)
        for conversation_id in due:
            await self.ask_rating(await off_loop(self.desk.find, conversation_id))
        return due

    @asynccontextmanager
    async def sweeping(self, interval_s: float) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                await asyncio.sleep(interval_s)
                try:
                    await self.sweep()
                    await self.ask_quiet_ratings()
                except SQLAlchemyError:
                    logger.exception("handoff sweep failed; the next one retries")

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()

    # -- who is online (the consoles' sockets) -----------------------------------------------------------

    @asynccontextmanager
    async def online(self, operator: Principal) -> AsyncIterator[None]:
        self._online[operator.name] = self._online.get(operator.name, 0) + 1
        self.hub.publish(QUEUE_TOPIC, {"type": "presence", "online": self.operators_online_names()})
        try:
            yield
        finally:
            self._online[operator.name] -= 1
            if not self._online[operator.name]:
                del self._online[operator.name]
            self.hub.publish(QUEUE_TOPIC, {"type": "presence", "online": self.operators_online_names()})

    def operators_online(self) -> int:
        return len(self._online)

    def operators_online_names(self) -> list[str]:
        return sorted(self._online)

    # -- internals ---------------------------------------------------------------------------------------

    async def _tell(self, conversation: Conversation, text: str, *, owner: bool = False) -> None:
        turn = await off_loop(self.transcript.record, conversation.sender_id, Speaker.SYSTEM, text)
        data: dict[str, Any] = {"owner": str(conversation.owner)} if owner else {}
        kind = Kind.OWNER if owner else Kind.MESSAGE
        await self.channels.deliver(conversation, OutboundMessage(kind, text, seq=turn.seq, data=data))
        self.hub.publish(console_topic(conversation.sender_id), {"type": "owner", **_owner_json(conversation)})

    def _operator_turns_since_take(self, conversation_id: str) -> list[Turn]:
        events = self.desk.events(conversation_id)
        taken_at: datetime | None = next((e.at for e in reversed(events) if e.move == Move.TAKE), None)
        turns = self.transcript.turns(conversation_id)
        return [t for t in turns if t.speaker is Speaker.OPERATOR and (taken_at is None or t.at >= taken_at)]


def _owner_json(conversation: Conversation) -> dict[str, Any]:
    return {
        "conversation_id": conversation.sender_id,
        "owner": str(conversation.owner),
        "operator": conversation.operator,
        "priority": str(conversation.priority),
    }
