"""What the phone and SMS channels keep between requests, on SQLite and PostgreSQL: the rest of a reply (taken once,
part by part), the choices, the SMS recipients' opt-outs, and the retention purge of the kept text."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from bot.channels.followups import Followup, FollowupStore, SmsRecipients
from bot.tickets import open_ticket_service


def test_the_rest_of_a_reply_is_taken_part_by_part_and_once(database_url: str) -> None:
    service = open_ticket_service(database_url)
    store = FollowupStore(service.engine)
    assert store.get("sms-a") == Followup() and store.next_part("sms-a") is None
    store.put("sms-a", "sms", Followup(["二", "三"], {"1": "确认"}))
    assert store.get("sms-a").choices == {"1": "确认"}
    assert store.next_part("sms-a") == ("二", True)
    assert store.next_part("sms-a") == ("三", False)
    assert store.next_part("sms-a") is None

    parts = [str(i) for i in range(20)]
    store.put("sms-b", "sms", Followup(parts))
    with ThreadPoolExecutor(4) as pool:  # "更多" sent many times at once: every part goes out exactly once
        taken = [t for t in pool.map(lambda _: store.next_part("sms-b"), range(25)) if t is not None]
    assert sorted(part for part, _ in taken) == sorted(parts)
    service.close()


def test_an_opt_out_stands_until_the_number_opts_in(database_url: str) -> None:
    service = open_ticket_service(database_url)
    recipients = SmsRecipients(service.engine)
    assert recipients.reachable_number("sms-c") is None and not recipients.opted_out("sms-c")
    recipients.remember("sms-c", "+8613912345678")
    assert recipients.reachable_number("sms-c") == "+8613912345678"
    recipients.opt_out("sms-c", "+8613912345678")
    recipients.remember("sms-c", "+8613912345678")  # writing again does not undo it
    assert recipients.opted_out("sms-c") and recipients.reachable_number("sms-c") is None
    recipients.opt_in("sms-c", "+8613912345678")
    assert recipients.reachable_number("sms-c") == "+8613912345678"
    service.close()


def test_retention_clears_the_kept_text(database_url: str) -> None:
    service = open_ticket_service(database_url)
    now = datetime.now(UTC)
    old = FollowupStore(service.engine, clock=lambda: now - timedelta(days=200))
    old.put("voice-old", "voice", Followup(["旧的答复"], {"9": "#sms"}, "请问？", {"text": "旧的", "citations": []}))
    FollowupStore(service.engine).put("voice-new", "voice", Followup(["新的答复"]))
    assert FollowupStore(service.engine).clear_before(now - timedelta(days=180)) == 1
    cleared = FollowupStore(service.engine).get("voice-old")
    assert cleared.rest == [] and cleared.prompt is None and cleared.answer is None
    assert FollowupStore(service.engine).get("voice-new").rest == ["新的答复"]
    service.close()
