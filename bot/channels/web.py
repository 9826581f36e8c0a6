"""Web chat's outbound side: messages go to the citizen's page through the live hub (its WebSocket), and the
page that lost its socket polls the transcript (GET /api/chat/{conversation_id}/messages?after=SEQ)."""

from __future__ import annotations

from bot.channels.base import OutboundMessage
from bot.handoff.desk import Conversation
from bot.handoff.pubsub import Hub, citizen_topic


class WebChannel:
    name = "web"
    pushes = True  # to an open page now, and into the transcript the page reads on its return

    def __init__(self, hub: Hub):
        self.hub = hub

    async def deliver(self, conversation: Conversation, message: OutboundMessage) -> bool:
        self.hub.publish(citizen_topic(conversation.sender_id), message.json())
        return True
