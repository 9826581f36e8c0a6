"""Settings from the environment, one class for every process: the gateway, the action server and the CLI.

Every variable is HOTLINE_…; DATABASE_URL is accepted beside HOTLINE_DATABASE_URL because deployments set it,
and two that disagree stop startup rather than split tickets between two databases. Code reads settings through
`load_settings` (or the cached `get_settings`), whose error names the variable and never quotes a value: a
database URL may hold a password, and a secret is a secret.

A leaf module, like the FastAPI template's core/config: it imports nothing of the hotline's but another leaf,
so every module can import it.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.conversation.emergency import DEFAULT_PSYCH_LINE  # a leaf too: the standard library only

ROOT = Path(__file__).resolve().parent.parent
#: Where state lives by default: the ticket database and Rasa's trackers.
DEFAULT_VAR_DIR = ROOT / "var"
#: The shortest HOTLINE_CONVERSATION_KEY accepted (characters; `hotline up` generates 43).
MIN_CONVERSATION_KEY_LENGTH = 32
#: A web origin as browsers send it: scheme, host, maybe a port (lower case, no path).
_ORIGIN = re.compile(r"^https?://(?:[a-z0-9-]+\.)*[a-z0-9-]+(?::\d{1,5})?$|^https?://\[[0-9a-f:.]+\](?::\d{1,5})?$")


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names the variables, never their values."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    #: Where state lives unless a setting below says otherwise: the ticket database and Rasa's trackers.
    #: `hotline up --var DIR` sets it for every process it starts.
    var: Path = DEFAULT_VAR_DIR
    #: DATABASE_URL, the name deployments use for HOTLINE_DATABASE_URL; see _one_database.
    plain_database_url: str | None = Field(default=None, validation_alias="DATABASE_URL", exclude=True, repr=False)
    #: Tickets, audit, ownership. PostgreSQL in deployment, <var>/hotline.db (SQLite) by default.
    database_url: str = Field(default="", repr=False)
    #: Where `hotline up` serves the gateway.
    host: str = "127.0.0.1"
    port: int = 8000
    #: Rasa's HTTP server; the gateway talks to it over our own input channel. Several Rasa workers:
    #: their URLs separated by commas (each sender is pinned to one; see bot/conversation/rasa_client.py).
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_s: float = 30.0
    #: The knowledge index the actions answer from; the gateway answers from it too while Rasa is down.
    index: Path = DEFAULT_VAR_DIR / "index" / "knowledge"
    #: Working days per ticket kind, e.g. {"complaint": 10}; the rest keep their defaults (checked by
    #: bot/tickets/deadlines.py).
    deadline_days: dict[str, int] = Field(default_factory=dict)
    #: More yearly holiday calendars, beside the shipped ones.
    holiday_calendars: list[Path] = Field(default_factory=list)
    #: When people answer the queue, in the office's time: "08:00-20:00"; "00:00-24:00" is around the clock.
    #: Outside them a citizen asking for a person is offered to leave a message (bot/handoff/policy.py).
    handoff_hours: str = Field(default="00:00-24:00", pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    #: An expected wait above this offers to leave a message instead.
    handoff_max_wait_s: int = Field(default=600, ge=0)
    #: An operator who owes a reply this long loses the conversation back to the queue, at its old place.
    operator_reply_timeout_s: int = Field(default=180, ge=10)
    #: A citizen silent this long, once the operator has answered, ends the conversation.
    citizen_silence_s: int = Field(default=900, ge=10)
    #: How often the gateway applies those timeouts.
    handoff_sweep_interval_s: float = Field(default=10.0, gt=0)
    #: Live events between gateways: "process" (one gateway) or "postgresql" (LISTEN/NOTIFY, several gateways).
    hub: Literal["process", "postgresql"] = "process"
    #: 满意度: an answered conversation quiet this long is asked for a rating, once (bot/handoff/live.py).
    rating_after_quiet_s: float = Field(default=300.0, gt=0)
    #: Unknown conversation ids a client may try (live socket, polling, rating) within the window before its
    #: checks are refused for the window: a known id costs nothing, so only probing is counted.
    conversation_check_limit: int = Field(default=20, ge=1)
    conversation_check_window_s: float = Field(default=900.0, gt=0)
    #: How often the gateway tells citizens of their tickets' answers (bot/channels/ticket_updates.py).
    ticket_updates_interval_s: float = Field(default=5.0, gt=0)
    #: 敏感事项 that go to a person at once (bot/handoff/sensitive.yml's shape); the shipped file by default.
    sensitive_categories: Path | None = None
    #: The external ticketing system's webhook; unset, no webhooks are sent (they wait in the outbox).
    webhook_url: str | None = None
    #: The HMAC key the receiver verifies X-Hotline-Signature with. Required with webhook_url.
    webhook_secret: SecretStr | None = Field(default=None, validate_default=True)
    webhook_interval_s: float = 2.0
    webhook_timeout_s: float = 10.0
    #: The psychological assistance line self-harm guidance gives beside 120/110 (全国心理援助热线 by default).
    psych_line: str = Field(default=DEFAULT_PSYCH_LINE, pattern=r"^[0-9][0-9-]{2,19}$")
    #: The HMAC key of conversation ids derived from a platform identity
    #: (bot/conversation/conversation_ids.py) and of the client tags the limiter counts by. The gateway does
    #: not start without it; `hotline up` generates one into var/ once when it is not set. Changing it starts
    #: new conversations for every phone and WeChat user.
    conversation_key: SecretStr | None = None
    #: Proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed, e.g. the nginx in front.
    #: Empty: the client is the socket's peer, and X-Forwarded-For is ignored.
    trusted_proxies: str = ""
    #: The sites that may embed the chat widget (/widget.js), as origins, comma-separated:
    #: "https://www.example.gov.cn,https://wsjkw.example.gov.cn". Their pages may call /api/chat* (CORS, without
    #: credentials); no other site's may. Empty: the widget works on the gateway's own pages only.
    widget_origins: str = ""
    #: Ticket checks (number + last four phone digits, in chat and for ratings): this many wrong pairs per
    #: conversation or client within the window lock the check for the lockout (by default the window).
    ticket_check_limit: int = Field(default=5, ge=1)
    ticket_check_window_s: float = Field(default=900.0, gt=0)
    ticket_check_lockout_s: float | None = Field(default=None, gt=0)
    #: Rasa's tracker database, where the retention purge anonymises old conversations.
    #: <var>/rasa-trackers.db by default, where `hotline up` has Rasa keep them (HOTLINE_TRACKER_DB, bot/nlu.py).
    tracker_database_url: str = Field(default="", repr=False)
    #: 保存期限: conversation text older than this is anonymised (bot/conversation/retention.py); statistics stay.
    retention_days: int = Field(default=180, ge=1)
    #: How often the gateway runs the retention purge (the first run is at startup).
    purge_interval_s: float = Field(default=86_400.0, gt=0)
    #: A console login lasts this long at most (8 hours: a shift), and ends sooner after this long unused.
    session_ttl_s: float = Field(default=8 * 3600.0, gt=0)
    session_idle_s: float = Field(default=30 * 60.0, gt=0)
    #: WeChat Official Account (公众号) messaging, /channels/wechat (bot/channels/wechat/). Without a token the
    #: endpoints are off (404). The token signs every request (3–32 letters or digits, as set in the 公众平台).
    wechat_token: SecretStr | None = Field(default=None, validate_default=True)
    #: The account's AppID: safe mode's crypto checks it, the customer-service API needs it with the secret.
    wechat_appid: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,64}$")
    #: EncodingAESKey (43 characters): safe mode (encrypt_type=aes) is refused without it.
    wechat_aes_key: SecretStr | None = None
    #: AppSecret: fetches the access token of the customer-service message API (slow answers, operator replies).
    wechat_secret: SecretStr | None = Field(default=None, validate_default=True)
    #: The WeChat API's base URL (tests point it at a local fake).
    wechat_api_url: str = "https://api.weixin.qq.com"
    wechat_api_timeout_s: float = Field(default=5.0, gt=0)
    #: An answer ready within this is the webhook's reply (WeChat waits 5 s); a slower one goes through the API.
    wechat_passive_budget_s: float = Field(default=4.5, gt=0, lt=5)
    #: The address the outside world calls this gateway at, behind any proxy (e.g. https://hotline.example.org):
    #: Twilio signs the URL it called, so signatures are checked against this, never against the Host header.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$")
    #: Twilio (phone IVR and SMS, bot/channels/twilio_*.py). The auth token signs every webhook (X-Twilio-Signature);
    #: without it the Twilio endpoints are off (404), never open.
    twilio_auth_token: SecretStr | None = Field(default=None, validate_default=True)
    #: For messages the gateway sends itself (operator replies by SMS, an answer sent to a caller): the account,
    #: the hotline's number to send from, and the REST API's base URL. Without the account and number, SMS is only
    #: ever a reply to the citizen's own message.
    twilio_account_sid: str | None = Field(default=None, pattern=r"^AC[0-9a-fA-F]{32}$")
    twilio_from: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{5,14}$")
    twilio_api_url: str = Field(default="https://api.twilio.com", pattern=r"^https?://[^?#\s]+$")
    twilio_timeout_s: float = Field(default=10.0, gt=0)
    #: <Gather> speech recognition: Mandarin, Simplified, mainland China (see bot/channels/twilio_voice.py).
    twilio_speech_language: str = "cmn-Hans-CN"
    #: <Say>: Amazon Polly's Mandarin voice, and its language code.
    twilio_voice: str = "Polly.Zhiyu"
    twilio_voice_language: str = "cmn-CN"
    #: A caller who wants a person waits in this Twilio queue (<Enqueue>), or, if set, is put through to this number.
    twilio_queue: str = Field(default="hotline", min_length=1, max_length=64)
    twilio_operator_number: str | None = Field(default=None, pattern=r"^\+?[0-9]{3,15}$")
    #: An emergency caller is put straight through to this duty number after the guidance; unset, they are told to
    #: hang up and dial 120/110, and wait for a person meanwhile.
    twilio_duty_number: str | None = Field(default=None, pattern=r"^\+?[0-9]{3,15}$")

    @field_validator("var")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        # Children of `hotline up` run in another directory; a relative path would name another place there.
        return path.expanduser().resolve()

    @field_validator("webhook_secret")
    @classmethod
    def _secret_with_url(cls, secret: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Checked on the secret, not the whole model: a model error would quote every setting, secrets included.
        if info.data.get("webhook_url") and not (secret and secret.get_secret_value()):
            raise ValueError("HOTLINE_WEBHOOK_SECRET is required when HOTLINE_WEBHOOK_URL is set")
        return secret

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, url: str | None) -> str | None:
        return url.rstrip("/") if url else None

    @field_validator("twilio_auth_token")
    @classmethod
    def _signed_against_a_public_url(cls, token: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Twilio signs the URL it called: without the public address no signature can be checked.
        if token is not None and token.get_secret_value() and not info.data.get("public_url"):
            raise ValueError("HOTLINE_PUBLIC_URL is required when HOTLINE_TWILIO_AUTH_TOKEN is set")
        return token if token is not None and token.get_secret_value() else None

    @field_validator("widget_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        origins = [origin.strip().rstrip("/").lower() for origin in value.split(",") if origin.strip()]
        for number, origin in enumerate(origins, start=1):
            if not _ORIGIN.match(origin):
                raise ValueError(
                    f"HOTLINE_WIDGET_ORIGINS: item {number} is not an origin; write scheme://host[:port], e.g. "
                    "https://www.example.gov.cn (no path, no wildcard)"
                )
        return ",".join(origins)

    @field_validator("conversation_key")
    @classmethod
    def _long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value()) < MIN_CONVERSATION_KEY_LENGTH:
            raise ValueError(f"HOTLINE_CONVERSATION_KEY must be at least {MIN_CONVERSATION_KEY_LENGTH} characters")
        return key

    @field_validator("wechat_token")
    @classmethod
    def _wechat_token(cls, token: SecretStr | None) -> SecretStr | None:
        token = _unset_if_empty(token)
        if token is not None and not re.fullmatch(r"[A-Za-z0-9]{3,32}", token.get_secret_value()):
            raise ValueError("HOTLINE_WECHAT_TOKEN must be 3–32 letters or digits")
        return token

    @field_validator("wechat_aes_key")
    @classmethod
    def _wechat_aes_key(cls, key: SecretStr | None) -> SecretStr | None:
        key = _unset_if_empty(key)
        if key is not None and not re.fullmatch(r"[A-Za-z0-9]{43}", key.get_secret_value()):
            raise ValueError("HOTLINE_WECHAT_AES_KEY (EncodingAESKey) must be 43 letters or digits")
        return key

    @field_validator("wechat_secret")
    @classmethod
    def _wechat_api_credentials(cls, secret: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # An answer slower than 5 s and every operator reply need the API: a token alone would drop them.
        secret = _unset_if_empty(secret)
        if info.data.get("wechat_token") and not (secret and info.data.get("wechat_appid")):
            raise ValueError("HOTLINE_WECHAT_APPID and HOTLINE_WECHAT_SECRET are required with HOTLINE_WECHAT_TOKEN")
        return secret

    @model_validator(mode="after")
    def _one_database(self) -> Settings:
        plain, prefixed = self.plain_database_url, self.database_url
        if plain and prefixed and not _same_url(plain, prefixed):
            raise ValueError("HOTLINE_DATABASE_URL and DATABASE_URL name different databases: set only one")
        self.database_url = prefixed or plain or f"sqlite:///{self.var / 'hotline.db'}"
        self.tracker_database_url = self.tracker_database_url or f"sqlite:///{self.var / 'rasa-trackers.db'}"
        return self

    @field_validator("handoff_hours")
    @classmethod
    def _hours(cls, spec: str) -> str:
        from bot.handoff.policy import WorkingHours

        WorkingHours.parse(spec)
        return spec

    @property
    def rasa_urls(self) -> list[str]:
        return [url.strip() for url in self.rasa_url.split(",") if url.strip()]

    @property
    def widget_origin_list(self) -> list[str]:
        return [origin for origin in self.widget_origins.split(",") if origin]


def _unset_if_empty(secret: SecretStr | None) -> SecretStr | None:
    """An empty variable (`HOTLINE_WECHAT_TOKEN=`) means not set, as for every optional secret."""
    return None if secret is None or not secret.get_secret_value() else secret


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and `overrides`, by field name); a SettingsError names what is wrong."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None  # the chained error would quote the values


@cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        field = str(item["loc"][0]) if item["loc"] else ""
        message = item["msg"].removeprefix("Value error, ")
        variable = _variable(field)
        # A rule that already names its variables needs no prefix.
        problems.append(message if not variable or variable in message else f"{variable}: {message}")
    return "bad settings: " + "; ".join(problems)


def _variable(field: str) -> str:
    """The environment variable that sets `field` (a loc is the alias when the value came by one)."""
    if field not in Settings.model_fields or field.isupper():
        return field
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"HOTLINE_{field.upper()}"


def _same_url(a: str, b: str) -> bool:
    """Whether two database URLs name the same database, however they are spelled (a driver, a quoted password)."""
    try:
        return make_url(a) == make_url(b)
    except (ArgumentError, ValueError):
        return a == b  # not a URL: the engine will say so, once there is only one
