"""The gateway's input channel: Rasa's REST webhook plus what the turn decided.

The gateway needs the intent and the slots an action set (a handoff, a filed ticket) along with
the replies. Rasa's REST channel returns only the replies, so this one reads the tracker once the
turn is done, inside the same request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse


def slots_set_this_turn(tracker: DialogueStateTracker) -> dict[str, Any]:
    """Slot values set after the latest user message, the last value winning."""
    slots: dict[str, Any] = {}
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, SlotSet) and event.key not in slots:
            slots[event.key] = event.value
    return slots


class HotlineInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "hotline"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("hotline_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json or {}
            sender_id, text = body.get("sender"), body.get("message")
            if not isinstance(sender_id, str) or not sender_id or not isinstance(text, str):
                return response.json({"error": "'sender' and 'message' must be strings"}, status=400)
            metadata: dict[str, Any] | None = body.get("metadata")
            collector = CollectingOutputChannel()
            await on_new_message(UserMessage(text, collector, sender_id, input_channel=self.name(), metadata=metadata))
            tracker = await request.app.ctx.agent.tracker_store.retrieve(sender_id)
            messages: list[dict[str, Any]] = collector.messages
            if tracker is None:  # the store lost it: still deliver the replies
                return response.json({"messages": messages, "intent": None, "slots_set": {}, "active_loop": None})
            return response.json(
                {
                    "messages": messages,
                    "intent": tracker.latest_message.intent if tracker.latest_message else None,
                    "slots_set": slots_set_this_turn(tracker),
                    "active_loop": tracker.active_loop_name,
                }
            )

        return webhook
