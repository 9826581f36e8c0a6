"""HandoffService's reply on a channel that cannot take it now: the console is told, in the transcript."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from bot.auth import Principal, Role
from bot.channels.base import Channels
from bot.channels.web import WebChannel
from bot.conversation.transcript import Speaker, TranscriptStore
from bot.handoff.desk import HandoffDesk
from bot.handoff.live import HandoffService
from bot.handoff.pubsub import InProcessHub
from tests.handoff.test_desk import engine  # noqa: F401  (the fixture)

ALICE = Principal("alice", Role.OPERATOR)


def test_a_reply_the_channel_cannot_take_leaves_a_note_for_the_console(engine: Engine) -> None:  # noqa: F811
    hub = InProcessHub()
    desk, transcript = HandoffDesk(engine, hub=hub), TranscriptStore(engine, hub)
    service = HandoffService(desk, transcript, Channels(WebChannel(hub)), hub)
    desk.request("caller-1", "voice", "requested")  # a phone call: nothing can be pushed between its turns
    asyncio.run(service.take("caller-1", ALICE))
    reply = asyncio.run(service.reply("caller-1", ALICE, "您好，请问有什么可以帮您？"))
    assert reply.delivered is False and reply.turn.speaker is Speaker.OPERATOR
    assert transcript.turns("caller-1")[-1].text == "这条回复暂时无法通过电话送达市民，请改用电话回访。"
    desk.request("web-1", "web", "requested")
    asyncio.run(service.take("web-1", ALICE))
    assert asyncio.run(service.reply("web-1", ALICE, "您好")).delivered is True
