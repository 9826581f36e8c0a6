"""What an action sends besides text: citations and buttons, in one shape for every channel.

Citations travel in the message's custom payload; the gateway merges them back into the message.
"""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answering import Citation
from index.documents import CatalogueEntry

HUMAN_BUTTON = {"title": "转人工", "payload": "/request_human"}
COMPLAINT_BUTTON = {"title": "我要投诉", "payload": "/complaint"}
#: The entity (and slot) a 依申请公开 request button carries: the document, as the citizen is told it.
REQUESTED_DOCUMENT = "requested_document"


def disclosure_request_button(document: CatalogueEntry) -> dict[str, str]:
    """Starts the 依申请公开 form with the document already named (Rasa's `/intent{entities}` payload)."""
    entities = json.dumps({REQUESTED_DOCUMENT: document.reference()}, ensure_ascii=False)
    return {"title": "申请公开这份文件", "payload": f"/disclosure_request{entities}"}


def citation_payload(citation: Citation) -> dict[str, str]:
    return {"doc_id": citation.doc_id, "title": citation.title, "section": citation.section, "url": citation.url}


def utter(
    dispatcher: CollectingDispatcher,
    text: str,
    *,
    citations: list[Citation] | None = None,
    buttons: list[dict[str, str]] | None = None,
    **payload: Any,
) -> None:
    custom: dict[str, Any] = dict(payload)
    if citations:
        custom["citations"] = [citation_payload(c) for c in citations]
    if custom:
        dispatcher.utter_message(text=text, buttons=buttons or [], json_message=custom)
    else:
        dispatcher.utter_message(text=text, buttons=buttons or [])


def latest_user_text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def user_metadata(tracker: Tracker) -> dict[str, Any]:
    """What the gateway sent along with the latest citizen message (channel, client tag)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata")
            return metadata if isinstance(metadata, dict) else {}
    return {}


def channel_of(tracker: Tracker) -> str:
    """The citizen's channel (web, phone, sms, wechat), as the gateway put it in the metadata."""
    return str(user_metadata(tracker).get("channel") or "web")
