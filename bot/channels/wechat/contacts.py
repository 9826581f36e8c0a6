"""Who can still be written to on WeChat, and what a numbered reply stands for.

The customer-service API (客服消息) may write to a citizen only for a while after they wrote: 48 hours and 5
messages after a message of theirs; 1 minute and 3 messages after a menu click or a subscribe. Outside that
window WeChat refuses (errcode 45015, or 45047 past the quota), so the adapter tracks it per conversation and
says beforehand whether a message can reach the citizen (`reachable`): the console shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.channels.wechat.models import WeChatContactRow
from bot.database import READ_ONLY

AFTER_MESSAGE = (timedelta(hours=48), 5)
AFTER_EVENT = (timedelta(minutes=1), 3)


class Contacts:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.clock = clock
        self._reader = engine.execution_options(**{READ_ONLY: True})

    def wrote(self, conversation_id: str, openid: str, *, message: bool) -> dict[str, Any] | None:
        """The citizen wrote (`message`) or clicked/subscribed: the window opens again. Returns the options the
        last answer offered (a number in this message may pick one) and forgets them."""
        now = self.clock()
        span, quota = AFTER_MESSAGE if message else AFTER_EVENT
        with Session(self.engine) as session, session.begin():
            row = session.get(WeChatContactRow, conversation_id, with_for_update=True)
            if row is None:
                row = WeChatContactRow(
                    conversation_id=conversation_id, openid=openid, window_until=now, quota_left=0, updated_at=now
                )
                session.add(row)
            options = row.options
            open_now = row.window_until > now
            if message:
                row.window_until, row.quota_left, row.last_message_at = now + span, quota, now
            else:
                row.window_until = max(row.window_until, now + span)
                row.quota_left = max(row.quota_left if open_now else 0, quota)
            row.openid, row.options, row.updated_at = openid, None, now
            return options

    def offer(self, conversation_id: str, options: dict[str, Any] | None) -> None:
        """What a bare number replied next stands for (None: nothing)."""
        with Session(self.engine) as session, session.begin():
            row = session.get(WeChatContactRow, conversation_id)
            if row is not None:
                row.options, row.updated_at = options, self.clock()

    def reachable(self, conversation_id: str) -> bool:
        """Whether the customer-service API may write to the citizen now (within the window, quota left)."""
        with Session(self._reader) as session:
            row = session.get(WeChatContactRow, conversation_id)
            return row is not None and row.window_until > self.clock() and row.quota_left > 0

    def openid_if_reachable(self, conversation_id: str) -> str | None:
        """The OpenID, if the window is open (for what costs no quota: the typing indicator)."""
        with Session(self._reader) as session:
            row = session.get(WeChatContactRow, conversation_id)
            return row.openid if row is not None and row.window_until > self.clock() else None

    def spend(self, conversation_id: str, count: int = 1) -> str | None:
        """Take `count` messages of the quota: the OpenID to send to, or None (nothing taken) if the window is
        shut or the quota would not cover them."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            row = session.get(WeChatContactRow, conversation_id, with_for_update=True)
            if row is None or row.window_until <= now or row.quota_left < count:
                return None
            row.quota_left -= count
            return row.openid

    def refund(self, conversation_id: str, count: int = 1) -> None:
        """Messages taken but not sent (the API failed) go back to the quota."""
        with Session(self.engine) as session, session.begin():
            row = session.get(WeChatContactRow, conversation_id, with_for_update=True)
            if row is not None:
                row.quota_left += count

    def shut(self, conversation_id: str) -> None:
        """WeChat said the window is shut (the citizen unsubscribed, or our count drifted from theirs)."""
        with Session(self.engine) as session, session.begin():
            row = session.get(WeChatContactRow, conversation_id, with_for_update=True)
            if row is not None:
                row.quota_left, row.window_until = 0, min(row.window_until, self.clock())
