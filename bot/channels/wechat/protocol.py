"""WeChat's webhook protocol (公众号消息接口): signatures, safe mode's crypto, the XML in and out.

wechatpy does the signatures, the AES crypto and the parsing. It parses with xmltodict, which expands entities,
so every XML body (and, in safe mode, the decrypted message) is first parsed by defusedxml with DTDs forbidden:
an entity bomb or an external entity is refused with 400 before wechatpy sees a byte. A request is signed
over the token, its timestamp and its nonce: a forged or stale signature is refused with 403 before the body is
read at all. Nothing here knows what the hotline answers.
"""

from __future__ import annotations

import hmac
import struct
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as vetted_parse
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import WeChatSigner

#: A request whose timestamp is further than this from our clock is refused: a captured request cannot be
#: replayed later (the dedup rows outlive this window, bot/channels/wechat/models.py).
MAX_CLOCK_SKEW_S = 300
#: WeChat's messages are small; a larger body is refused before it is parsed.
MAX_BODY_BYTES = 64 * 1024
#: The webhook reply that tells WeChat "received, nothing to say now" (it then does not retry).
SUCCESS = "success"

Kind = Literal["text", "voice", "image", "subscribe", "unsubscribe", "click", "event", "other"]


class Refused(Exception):
    """A request refused; `status` is the HTTP status, the message is safe to show."""

    status = 400


class Forbidden(Refused):
    status = 403


class BadRequest(Refused):
    status = 400


FORGED = "签名校验失败"
BAD_XML = "消息格式不正确"
SAFE_MODE_OFF = "未配置 EncodingAESKey，不接受安全模式（encrypt_type=aes）的消息"
TOO_LARGE = "消息过大"


@dataclass(frozen=True)
class Query:
    """The query string WeChat signs each request with."""

    signature: str = ""
    timestamp: str = ""
    nonce: str = ""
    echostr: str | None = None
    encrypt_type: str | None = None
    msg_signature: str | None = None

    @property
    def safe_mode(self) -> bool:
        return (self.encrypt_type or "raw").lower() == "aes"


@dataclass(frozen=True)
class Incoming:
    """One message or event, as the adapter needs it."""

    kind: Kind
    openid: str  # FromUserName: the citizen, as this account sees them
    account: str  # ToUserName: the official account
    create_time: int
    msg_id: str | None  # events have none
    #: Text: the content; voice: WeChat's recognition ("" when it recognised nothing); click: the menu key.
    text: str = ""
    safe_mode: bool = False

    def dedup_key(self, conversation_id: str) -> str:
        """WeChat's own advice: messages by MsgId, events by FromUserName + CreateTime (the conversation id is
        the keyed hash of FromUserName: no OpenID is stored in the key)."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"event:{conversation_id}:{self.create_time}"


class WeChatProtocol:
    def __init__(
        self, token: str, appid: str, aes_key: str | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.token = token
        self.appid = appid
        self.crypto = WeChatCrypto(token, aes_key, appid) if aes_key else None
        self.clock = clock

    # -- in ------------------------------------------------------------------------------------------------

    def verify_server(self, query: Query) -> str:
        """GET /channels/wechat: the echostr back if WeChat signed it (服务器配置 验证)."""
        self.check_signature(query)
        if not query.echostr:
            raise BadRequest("缺少 echostr")
        return query.echostr

    def open(self, query: Query, body: bytes) -> Incoming:
        """The signed request's message: 403 on a forged or stale signature, 400 on bad or hostile XML."""
        self.check_signature(query)
        if len(body) > MAX_BODY_BYTES:
            raise BadRequest(TOO_LARGE)
        if not query.safe_mode:
            return _incoming(_vetted(body), safe_mode=False)
        if self.crypto is None:
            raise BadRequest(SAFE_MODE_OFF)
        envelope = _vetted(body)
        encrypted = envelope.findtext("Encrypt")
        if not encrypted or not query.msg_signature:
            raise BadRequest(BAD_XML)
        try:
            # A dict, not the XML: wechatpy would parse it again with xmltodict.
            plain = self.crypto.decrypt_message(
                {"Encrypt": encrypted}, query.msg_signature, query.timestamp, query.nonce
            )
        except InvalidSignatureException:
            raise Forbidden(FORGED) from None
        except (InvalidAppIdException, ValueError, TypeError, IndexError, struct.error):
            raise BadRequest(BAD_XML) from None  # another account's message, or not AES of ours at all
        return _incoming(_vetted(plain.encode() if isinstance(plain, str) else plain), safe_mode=True)

    def check_signature(self, query: Query) -> None:
        try:
            stamp = int(query.timestamp)
        except ValueError:
            raise Forbidden(FORGED) from None
        if abs(self.clock() - stamp) > MAX_CLOCK_SKEW_S:
            raise Forbidden(FORGED)
        expected = sign(self.token, query.timestamp, query.nonce)
        if not hmac.compare_digest(expected, query.signature.lower()):
            raise Forbidden(FORGED)

    # -- out -----------------------------------------------------------------------------------------------

    def reply(self, incoming: Incoming, text: str | None, nonce: str) -> tuple[str, str]:
        """The webhook's response body and media type: a passive text reply (encrypted in safe mode, as WeChat
        requires), or "success" when there is nothing to say now."""
        if text is None:
            return SUCCESS, "text/plain"
        reply = TextReply(source=incoming.account, target=incoming.openid, content=text).render()
        if incoming.safe_mode and self.crypto is not None:
            reply = self.crypto.encrypt_message(reply, nonce, str(int(self.clock())))
        return reply, "application/xml"


def sign(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """WeChat's request signature: SHA-1 of the sorted, concatenated strings (wechatpy's signer)."""
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce, *extra)
    return signer.signature


def _vetted(xml: bytes) -> ElementTree.Element:
    """The XML parsed by defusedxml, refusing any DTD (so any entity, internal or external): WeChat sends none."""
    try:
        root = vetted_parse(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ElementTree.ParseError, ValueError):
        raise BadRequest(BAD_XML) from None
    if root.tag != "xml":
        raise BadRequest(BAD_XML)
    return root


def _incoming(root: ElementTree.Element, *, safe_mode: bool) -> Incoming:
    # wechatpy reads the vetted tree's own XML again: what it sees has passed defusedxml.
    try:
        message = parse_message(ElementTree.tostring(root, encoding="unicode"))
        openid, account, create_time = message.source, message.target, int(message.time)
    except (KeyError, ValueError, TypeError, AttributeError):
        raise BadRequest(BAD_XML) from None
    if not openid or not account:
        raise BadRequest(BAD_XML)
    msg_id = str(message.id) if message.type != "event" and message.id else None
    kind: Kind
    text = ""
    if message.type == "text":
        kind, text = "text", message.content or ""
    elif message.type == "voice":
        kind, text = "voice", message.recognition or ""
    elif message.type == "image":
        kind = "image"
    elif message.type == "event":
        event = message.event
        if event in ("subscribe", "subscribe_scan"):
            kind = "subscribe"
        elif event == "unsubscribe":
            kind = "unsubscribe"
        elif event == "click":
            kind, text = "click", message.key or ""
        else:
            kind = "event"
    else:
        kind = "other"
    return Incoming(kind, openid, account, create_time, msg_id, text.strip(), safe_mode)
