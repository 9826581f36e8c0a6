"""Playing Twilio in tests and benchmarks: webhooks signed with the twilio library's own RequestValidator, TwiML read
with defusedxml, and a local server standing in for Twilio's REST API (Messages.create)."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.etree.ElementTree import Element

import httpx
from defusedxml.ElementTree import fromstring
from twilio.request_validator import RequestValidator

AUTH_TOKEN = "test-auth-token-" + "0" * 16
ACCOUNT_SID = "AC" + "1" * 32
HOTLINE_NUMBER = "+8657112320"
#: Where Twilio believes the gateway is: not the loopback address the tests reach it on (a proxy in between).
PUBLIC_URL = "https://hotline.example.org"


def twilio_env(api_url: str, **more: str) -> dict[str, str]:
    """The settings that turn the Twilio channels on, pointed at a fake REST API."""
    return {
        "HOTLINE_PUBLIC_URL": PUBLIC_URL,
        "HOTLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "HOTLINE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "HOTLINE_TWILIO_FROM": HOTLINE_NUMBER,
        "HOTLINE_TWILIO_API_URL": api_url,
        **more,
    }


def twiml(response: httpx.Response) -> Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root: Element = fromstring(response.text)
    assert root.tag == "Response"
    return root


def said(root: Element) -> str:
    """Everything <Say> says, in order, nested in <Gather> or not."""
    return "".join(say.text or "" for say in root.iter("Say"))


class TwilioWebhookClient:
    """Posts webhooks as Twilio does: form-encoded, X-Twilio-Signature over the public URL and the fields."""

    def __init__(self, http: httpx.Client, token: str = AUTH_TOKEN, public_url: str = PUBLIC_URL):
        self.http = http
        self.validator = RequestValidator(token)
        self.public_url = public_url

    def path_of(self, url: str) -> str:
        """A URL from TwiML (absolute, on the public address) as the path and query the gateway serves."""
        assert url.startswith(self.public_url + "/"), url
        return url[len(self.public_url) :]

    def post(self, path: str, params: Mapping[str, str], *, signature: str | None = None) -> httpx.Response:
        url = self.public_url + path
        signed = self.validator.compute_signature(url, dict(params)) if signature is None else signature
        headers = {"X-Twilio-Signature": signed} if signed else {}
        return self.http.post(path, data=dict(params), headers=headers)


@dataclass
class Call:
    """One phone call: the TwiML the gateway gave last, and the caller's next move along its <Gather action>."""

    client: TwilioWebhookClient
    caller: str = "+8613912345678"
    sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    last: Element | None = None

    def params(self, **more: str) -> dict[str, str]:
        return {"CallSid": self.sid, "AccountSid": ACCOUNT_SID, "From": self.caller, "To": HOTLINE_NUMBER, **more}

    def ring(self) -> Element:
        self.last = twiml(self.client.post("/channels/twilio/voice", self.params(CallStatus="ringing")))
        return self.last

    def gather(self) -> Element:
        assert self.last is not None
        gather = self.last.find("Gather")
        assert gather is not None, said(self.last)
        return gather

    def _answer(self, **fields: str) -> Element:
        action = self.gather().get("action")
        assert action
        self.last = twiml(self.client.post(self.client.path_of(action), self.params(**fields)))
        return self.last

    def say(self, speech: str, confidence: str = "0.92") -> Element:
        return self._answer(SpeechResult=speech, Confidence=confidence)

    def press(self, digits: str) -> Element:
        return self._answer(Digits=digits)

    def silence(self) -> Element:
        return self._answer()


class FakeTwilioApi:
    """Twilio's REST API on loopback: records every Messages.create and answers as Twilio does (201, the message)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        self.auth: list[str] = []
        self.fail = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                fields = dict(parse_qsl(self.rfile.read(length).decode()))
                path = urlsplit(self.path).path
                fake.auth.append(self.headers.get("authorization", ""))
                if fake.fail or not path.endswith("/Messages.json"):
                    self._send(500 if fake.fail else 404, {"code": 20500, "message": "fake failure", "status": 500})
                    return
                fake.messages.append({"path": path, **fields})
                sid = "SM" + secrets.token_hex(16)
                self._send(201, {"sid": sid, "status": "queued", "body": fields.get("Body"), "to": fields.get("To")})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies_to(self, number: str) -> list[str]:
        return [m["Body"] for m in self.messages if m.get("To") == number]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
