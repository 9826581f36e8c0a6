"""Conversation ids: issued by the server (web), or keyed hashes of a platform identity (other channels).

A conversation id is the only credential a citizen holds for their conversation: whoever sends it continues
it, hears the form's read-back and, later, the operator's replies. So the web client never chooses it: the
gateway issues 192 random bits and refuses ids it did not issue. A phone or WeChat conversation is tied to
the platform's identity instead, but the id is an HMAC of it under a server secret
(HOTLINE_CONVERSATION_KEY): the raw number never becomes an id, and without the key the id of a known
number cannot be computed (an unkeyed hash of an 11-digit number is reversed in minutes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.database import READ_ONLY
from bot.handoff.models import ConversationRow
from bot.handoff.workflow import Owner, Priority
from bot.settings import MIN_CONVERSATION_KEY_LENGTH

WEB = "web"
#: Random bytes in a web id: 192 bits, well above the 128 the contract asks for.
WEB_ID_BYTES = 24
MIN_KEY_LENGTH = MIN_CONVERSATION_KEY_LENGTH
ID_MAX_LENGTH = 128  # conversations.sender_id
_CHANNEL = re.compile(r"^[a-z][a-z0-9_]{0,15}$")  # fits conversations.channel (String(16))


def issue_web_id() -> str:
    """A new web conversation id: `web-` and 192 random bits, URL-safe (36 characters)."""
    return f"{WEB}-{secrets.token_urlsafe(WEB_ID_BYTES)}"


def keyed_hash(purpose: str, value: str, key: str) -> str:
    """HMAC-SHA256 of `value` under `key`, separated by `purpose` so that one value never hashes alike for
    two uses; 256 bits, URL-safe, unpadded (43 characters)."""
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"the conversation key must be at least {MIN_KEY_LENGTH} characters")
    digest = hmac.new(key.encode(), f"{purpose}\x1f{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def channel_id(channel: str, platform_identity: str, key: str) -> str:
    """The conversation id of a platform identity (a caller's number, a WeChat openid) on `channel`.

    Stable for the same identity and key, so a caller who rings again continues their conversation; a new
    key starts new conversations for everyone (keep it as long as the conversations should last).
    """
    if not _CHANNEL.match(channel) or channel == WEB:
        raise ValueError(f"not a channel that derives its ids: {channel!r}")
    if not platform_identity:
        raise ValueError("a platform identity is needed")
    return f"{channel}-{keyed_hash(f'conversation:{channel}', platform_identity, key)}"


def load_or_create_key(path: Path) -> str:
    """The conversation key kept in `path` for embedded defaults (`hotline up` without HOTLINE_CONVERSATION_KEY):
    read it, or generate one once and write it readable by its owner only. A key that changed on every start
    would start new conversations for every phone and WeChat user."""
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another start wrote it first: use theirs
            return load_or_create_key(path)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(key + "\n")
        return key
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"{path}: the conversation key must be at least {MIN_KEY_LENGTH} characters")
    return key


class ConversationRegistry:
    """The ids the gateway issued, as rows of the conversations table (the handoff console lists the same rows).

    `engine`'s schema must be at head (bot.database.upgrade_schema).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read_sessions = sessionmaker(engine.execution_options(**{READ_ONLY: True}))

    def start_web(self) -> str:
        """Issue a web conversation id and record it; the conversation starts owned by the bot."""
        conversation_id = issue_web_id()
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            session.add(
                ConversationRow(
                    sender_id=conversation_id,
                    channel=WEB,
                    owner=Owner.BOT,
                    priority=Priority.NORMAL,
                    created_at=now,
                    updated_at=now,
                )
            )
        return conversation_id

    def is_issued(self, conversation_id: str, channel: str) -> bool:
        """Whether the server issued `conversation_id` for `channel` (a phone conversation's id is not a web id)."""
        if not conversation_id or len(conversation_id) > ID_MAX_LENGTH:
            return False
        with self._read_sessions() as session:
            row = session.get(ConversationRow, conversation_id)
            return row is not None and row.channel == channel
