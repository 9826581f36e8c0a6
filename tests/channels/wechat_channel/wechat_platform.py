"""WeChat's side, for tests and benchmarks: the platform that pushes signed (and, in safe mode, encrypted)
messages with wechatpy itself, and a local fake of its API (token + customer-service messages).

Signatures are computed with wechatpy's signer (the algorithm `wechatpy.utils.check_signature` checks) and safe
mode's messages with `wechatpy.crypto.WeChatCrypto`, so the gateway is tested against the library's idea of the
protocol, not against its own code.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner, check_signature

TOKEN = "hotlinetoken2026"
APPID = "wx0123456789abcdef"
SECRET = "s3cr3t-of-the-account"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as the 公众平台 issues them
ACCOUNT = "gh_12320hotline"


def wechat_env(api_url: str, **more: str) -> dict[str, str]:
    """The gateway's WeChat settings as environment variables (for `hotline up`)."""
    return {
        "HOTLINE_WECHAT_TOKEN": TOKEN,
        "HOTLINE_WECHAT_APPID": APPID,
        "HOTLINE_WECHAT_SECRET": SECRET,
        "HOTLINE_WECHAT_AES_KEY": AES_KEY,
        "HOTLINE_WECHAT_API_URL": api_url,
        **more,
    }


def wechat_settings(api_url: str, **more: Any) -> dict[str, Any]:
    """The same as Settings fields."""
    return {
        "wechat_token": TOKEN,
        "wechat_appid": APPID,
        "wechat_secret": SECRET,
        "wechat_aes_key": AES_KEY,
        "wechat_api_url": api_url,
        **more,
    }


def text_xml(openid: str, content: str, msg_id: int, create_time: int | None = None) -> str:
    return _xml(openid, create_time, "text", f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>")


def voice_xml(openid: str, recognition: str | None, msg_id: int) -> str:
    heard = f"<Recognition><![CDATA[{recognition}]]></Recognition>" if recognition is not None else ""
    body = f"<MediaId><![CDATA[media1]]></MediaId><Format><![CDATA[amr]]></Format>{heard}<MsgId>{msg_id}</MsgId>"
    return _xml(openid, None, "voice", body)


def image_xml(openid: str, msg_id: int) -> str:
    body = f"<PicUrl><![CDATA[http://127.0.0.1/p.jpg]]></PicUrl><MediaId><![CDATA[m]]></MediaId><MsgId>{msg_id}</MsgId>"
    return _xml(openid, None, "image", body)


def event_xml(openid: str, event: str, key: str = "", create_time: int | None = None) -> str:
    body = f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey>"
    return _xml(openid, create_time, "event", body)


def _xml(openid: str, create_time: int | None, msg_type: str, body: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        f"{body}</xml>"
    )


def new_openid() -> str:
    return "o" + secrets.token_urlsafe(20)[:27]


@dataclass
class Pushed:
    """What the platform sent, and what it made of the reply."""

    response: httpx.Response
    reply: str | None  # the passive reply's text; None for "success" or an error
    seconds: float


class WeChatPlatform:
    """Pushes messages to a gateway's /channels/wechat as WeChat's servers do."""

    def __init__(self, token: str = TOKEN, appid: str = APPID, aes_key: str = AES_KEY) -> None:
        self.token = token
        self.crypto = WeChatCrypto(token, aes_key, appid)

    def signed(self, *, timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
        timestamp_s, nonce = str(timestamp or int(time.time())), nonce or secrets.token_hex(5)
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp_s, nonce)
        check_signature(self.token, signer.signature, timestamp_s, nonce)  # wechatpy agrees
        return {"signature": signer.signature, "timestamp": timestamp_s, "nonce": nonce}

    def request(self, xml: str, *, safe: bool = False) -> tuple[dict[str, str], bytes]:
        """The query string and body WeChat would POST for `xml`."""
        params = self.signed()
        if not safe:
            return params, xml.encode()
        envelope = self.crypto.encrypt_message(xml, params["nonce"], params["timestamp"])
        msg_signature = xmltodict.parse(envelope)["xml"]["MsgSignature"]
        return {**params, "encrypt_type": "aes", "msg_signature": msg_signature}, envelope.encode()

    def reply_of(self, response: httpx.Response, *, safe: bool = False) -> str | None:
        if response.status_code != 200 or response.text in ("success", ""):
            return None
        xml = response.text
        if safe:
            envelope = xmltodict.parse(xml)["xml"]
            xml = self.crypto.decrypt_message(xml, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
        message = xmltodict.parse(xml)["xml"]
        assert message["MsgType"] == "text", message
        return str(message["Content"])

    def push(self, http: httpx.Client, url: str, xml: str, *, safe: bool = False) -> Pushed:
        params, body = self.request(xml, safe=safe)
        started = time.perf_counter()
        response = http.post(f"{url}/channels/wechat", params=params, content=body)
        return Pushed(response, self.reply_of(response, safe=safe), time.perf_counter() - started)

    async def push_async(self, http: httpx.AsyncClient, url: str, xml: str, *, safe: bool = False) -> Pushed:
        params, body = self.request(xml, safe=safe)
        started = time.perf_counter()
        response = await http.post(f"{url}/channels/wechat", params=params, content=body)
        return Pushed(response, self.reply_of(response, safe=safe), time.perf_counter() - started)


@dataclass
class Sent:
    openid: str
    content: str
    at: float


@dataclass
class FakeWeChatApi:
    """A local stand-in for WeChat's API: /cgi-bin/stable_token and the customer-service messages it records.

    `refuse` queues errcodes for the next sends (e.g. 45015, out of the 48-hour window; 40001, a bad token).
    """

    tokens_issued: int = 0
    sent: list[Sent] = field(default_factory=list)
    typing: list[str] = field(default_factory=list)
    refuse: list[int] = field(default_factory=list)
    bad_tokens: set[str] = field(default_factory=set)
    expires_in: int = 7200

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.received = threading.Condition(self.lock)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                url = urlparse(self.path)
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                token = (parse_qs(url.query).get("access_token") or [""])[0]
                self._answer(fake.handle(url.path, token, body))

            def _answer(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if path == "/cgi-bin/stable_token":
                if body.get("appid") != APPID or body.get("secret") != SECRET:
                    return {"errcode": 40125, "errmsg": "invalid appsecret"}
                self.tokens_issued += 1
                return {"access_token": f"token-{self.tokens_issued}", "expires_in": self.expires_in}
            if not token.startswith("token-") or token in self.bad_tokens:
                return {"errcode": 40001, "errmsg": "invalid credential"}
            if path == "/cgi-bin/message/custom/typing":
                self.typing.append(body["touser"])
                return {"errcode": 0, "errmsg": "ok"}
            if path != "/cgi-bin/message/custom/send":
                return {"errcode": 404, "errmsg": "unknown path"}
            if self.refuse:
                errcode = self.refuse.pop(0)
                if errcode == 40001:
                    self.bad_tokens.add(token)
                return {"errcode": errcode, "errmsg": "refused by the test"}
            assert body["msgtype"] == "text"
            self.sent.append(Sent(body["touser"], body["text"]["content"], time.monotonic()))
            self.received.notify_all()
            return {"errcode": 0, "errmsg": "ok"}

    def sent_to(self, openid: str) -> list[str]:
        with self.lock:
            return [s.content for s in self.sent if s.openid == openid]

    def wait_for(self, openid: str, count: int = 1, timeout: float = 60) -> list[str]:
        """The messages sent to `openid`, once there are `count` of them (or the timeout passes)."""
        deadline = time.monotonic() + timeout
        with self.received:
            while len([s for s in self.sent if s.openid == openid]) < count:
                if not self.received.wait(max(deadline - time.monotonic(), 0)) and time.monotonic() >= deadline:
                    break
            return [s.content for s in self.sent if s.openid == openid]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
