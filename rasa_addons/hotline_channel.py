"""The gateway's input channel: Rasa's REST webhook plus what the turn decided.

The gateway needs the intent and the slots an action set (a handoff, a filed ticket) along with
the replies. Rasa's REST channel returns only the replies, so this one reads the tracker once the
turn is done, inside the same request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
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

        @webhook.route("/history", methods=["POST"])
        async def history(request: Request) -> HTTPResponse:
            """What was said while a person owned the conversation, appended when it is handed back: the
            operator's turns as bot utterances marked with who said them, so the transcript stays whole and the
            next message is understood in context. The handoff slots are reset: the bot owns it again."""
            body = request.json or {}
            sender_id, turns = body.get("sender"), body.get("turns")
            valid = isinstance(turns, list) and all(
                isinstance(t, dict) and isinstance(t.get("text"), str) for t in turns
            )
            if not isinstance(sender_id, str) or not sender_id or not valid:
                return response.json({"error": "'sender' must be a string and 'turns' a list of {text}"}, status=400)
            agent = request.app.ctx.agent
            async with agent.lock_store.lock(sender_id):
                tracker = await agent.tracker_store.get_or_create_tracker(sender_id)
                for turn in turns:
                    metadata = {"speaker": "operator", "operator": str(turn.get("operator") or "")}
                    tracker.update(BotUttered(turn["text"], metadata=metadata))
                for slot in ("handoff", "handoff_reason"):
                    tracker.update(SlotSet(slot, None if slot == "handoff_reason" else False))
                await agent.tracker_store.save(tracker)
            return response.json({"appended": len(turns)})

        return webhook
