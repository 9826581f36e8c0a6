"""The handoff through the real stack (`hotline up`: the trained Rasa model, the action server, the gateway): while
an operator holds the conversation the citizen's messages never reach Rasa; when it is handed back, Rasa's
tracker holds the operator's turns as bot events marked speaker=operator, and the bot answers the next message."""

from __future__ import annotations

import uuid

import httpx

from bot.auth import Role, TokenStore
from bot.tickets import open_ticket_service
from tests.chat_client import Citizen, texts
from tests.test_privacy_stack import stored_conversation

OPERATOR_SAID = ["您好，我是12320人工客服。医保卡补办请到社保经办窗口。", "其他问题可以继续问智能助手。"]


def test_after_a_handback_rasa_has_the_operators_turns_and_the_bot_answers_again(hotline_stack) -> None:
    tracker_db = str(hotline_stack.var / "rasa-trackers.db")
    tickets = open_ticket_service(hotline_stack.database_url)
    name = f"stack-{uuid.uuid4().hex[:8]}"  # the stack is shared, and token names are never reused
    headers = {"Authorization": f"Bearer {TokenStore(tickets.engine).issue(name, Role.OPERATOR)}"}
    tickets.close()
    citizen = Citizen(hotline_stack.url)
    operator = httpx.Client(base_url=hotline_stack.url, headers=headers, timeout=60, trust_env=False)
    try:
        assert citizen.say("我要找人工客服")["handoff"] is True
        conversation_id = citizen.conversation_id
        assert operator.post(f"/api/handoff/{conversation_id}/take").status_code == 200

        def user_events() -> list[str]:
            return [e["text"] for e in stored_conversation(tracker_db, conversation_id) if e["event"] == "user"]

        asked = user_events()
        assert citizen.say("我的医保卡丢了，怎么补办？")["messages"] == []  # for the operator, not the bot
        assert user_events() == asked
        for text in OPERATOR_SAID:
            assert operator.post(f"/api/handoff/{conversation_id}/messages", json={"text": text}).status_code == 200
        assert operator.post(f"/api/handoff/{conversation_id}/handback").json()["owner"] == "bot"

        events = stored_conversation(tracker_db, conversation_id)
        by_operator = [e for e in events if e["event"] == "bot" and (e.get("metadata") or {}).get("speaker")]
        said = [(e["text"], e["metadata"]["speaker"], e["metadata"]["operator"]) for e in by_operator]
        assert said == [(text, "operator", name) for text in OPERATOR_SAID]  # Rasa adds its model's ids
        assert user_events() == asked  # the held message was the operator's alone

        answer = citizen.say("被狗咬了怎么处理")
        assert answer["handoff"] is False and "狂犬" in texts(answer)
        assert user_events()[-1] == "被狗咬了怎么处理"
        transcript = operator.get(f"/api/conversations/{conversation_id}").json()
        speakers = [turn["speaker"] for turn in transcript["turns"]]
        assert speakers.count("operator") == 2 and speakers[-1] == "bot"
    finally:
        citizen.close()
        operator.close()
