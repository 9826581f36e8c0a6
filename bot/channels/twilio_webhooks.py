"""Twilio's side of the gateway: every webhook checked with the twilio library's RequestValidator, and the REST API
for the messages the gateway sends itself.

Signatures. Twilio signs the URL it called (with the query) and the POSTed form fields with the account's auth token
(X-Twilio-Signature). Behind a proxy the gateway sees another host and scheme, so the URL is rebuilt from
HOTLINE_PUBLIC_URL and the request's own path and query, never from the Host header. A request that does not verify
gets 403 before anything reads it; with no token configured the endpoints are off (404), never open.

REST. Messages.create through the library's Client with its async HTTP client; the base URL is a setting
(HOTLINE_TWILIO_API_URL), so that tests and staging point it at a server of their own. The library logs requests at
INFO (URL and headers, never the body); its logger is kept at WARNING all the same.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from fastapi import HTTPException, Request
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.settings import Settings

logger = logging.getLogger(__name__)

OFF = "Twilio 渠道未启用。"
FORGED = "签名无效。"
SIGNATURE_HEADER = "X-Twilio-Signature"


class TwilioWebhooks:
    def __init__(self, auth_token: str, public_url: str):
        self._validator = RequestValidator(auth_token)
        self.public_url = public_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioWebhooks | None:
        """The webhooks' checker, or None when Twilio is not configured (the endpoints are then off)."""
        if settings.twilio_auth_token is None or not settings.public_url:
            return None
        return cls(settings.twilio_auth_token.get_secret_value(), settings.public_url)

    def url(self, path: str) -> str:
        """The public URL of one of our paths, as Twilio must call it back (TwiML action and wait URLs)."""
        return f"{self.public_url}{path}"

    def signed_url(self, request: Request) -> str:
        query = request.url.query
        return self.url(request.url.path) + (f"?{query}" if query else "")

    async def verified_form(self, request: Request) -> dict[str, str]:
        """The webhook's form fields, once its signature verifies; HTTPException 403 otherwise."""
        signature = request.headers.get(SIGNATURE_HEADER, "")
        form = await request.form()
        params = {key: value for key, value in form.items() if isinstance(value, str)}
        if not signature or not self._validator.validate(self.signed_url(request), params, signature):
            logger.warning("refused a Twilio webhook on %s: bad or missing signature", request.url.path)
            raise HTTPException(status_code=403, detail=FORGED)
        return params


def webhooks_of(request: Request) -> TwilioWebhooks:
    """The app's Twilio checker; 404 when Twilio is not configured."""
    webhooks: TwilioWebhooks | None = getattr(request.app.state, "twilio_webhooks", None)
    if webhooks is None:
        raise HTTPException(status_code=404, detail=OFF)
    return webhooks


class TwilioMessages:
    """SMS the gateway sends on its own (not as a reply to the citizen's message): through Twilio's REST API."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str, api_url: str, timeout_s: float):
        self.account_sid, self.from_number = account_sid, from_number
        self._auth_token, self._api_url, self._timeout_s = auth_token, api_url.rstrip("/"), timeout_s
        self._client: Client | None = None
        self._http: AsyncTwilioHttpClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioMessages | None:
        """None when the gateway cannot send on its own: no auth token, account or number to send from."""
        token = settings.twilio_auth_token
        if token is None or not settings.twilio_account_sid or not settings.twilio_from:
            return None
        return cls(
            settings.twilio_account_sid,
            token.get_secret_value(),
            settings.twilio_from,
            settings.twilio_api_url,
            settings.twilio_timeout_s,
        )

    def _messages(self) -> Any:
        if self._client is None:
            # Created on first use, inside the event loop: aiohttp's session belongs to the loop it was made in.
            quiet = logging.getLogger("bot.channels.twilio_http")
            quiet.setLevel(logging.WARNING)
            self._http = AsyncTwilioHttpClient(timeout=self._timeout_s, logger=quiet)
            self._client = Client(self.account_sid, self._auth_token, http_client=self._http)
            self._client.api.base_url = self._api_url
        return self._client.messages

    async def send(self, to: str, body: str) -> bool:
        """Send one SMS; False (logged without the number or the text) if Twilio refused it or could not be reached."""
        try:
            message = await self._messages().create_async(to=to, from_=self.from_number, body=body)
        except (TwilioException, aiohttp.ClientError, TimeoutError, OSError) as exc:
            logger.warning("SMS not sent: %s", type(exc).__name__)
            return False
        logger.info("SMS sent (%s)", getattr(message, "sid", None) or "no sid")
        return True

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
