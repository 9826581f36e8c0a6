"""Settings from the environment, with safe defaults for a laptop (ARCHITECTURE.md: Configuration)."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.conversation_ids import MIN_KEY_LENGTH
from bot.ratelimit import Policy
from bot.tickets.database import default_database_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    #: Rasa's HTTP server; the gateway talks to it over our own input channel. Several Rasa workers:
    #: their URLs separated by commas (each sender is pinned to one; see bot/rasa_client.py).
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_s: float = 30.0
    #: Tickets, audit, ownership. PostgreSQL in deployment, an SQLite file by default.
    database_url: str = Field(
        default_factory=default_database_url,
        validation_alias=AliasChoices("DATABASE_URL", "HOTLINE_DATABASE_URL"),
    )
    #: The external ticketing system's webhook; unset, no webhooks are sent (they wait in the outbox).
    webhook_url: str | None = None
    #: The HMAC key the receiver verifies X-Hotline-Signature with. Required with webhook_url.
    webhook_secret: SecretStr | None = Field(default=None, validate_default=True)
    webhook_interval_s: float = 2.0
    webhook_timeout_s: float = 10.0
    #: The HMAC key of conversation ids derived from a platform identity (bot/conversation_ids.py) and of the
    #: client tags the limiter counts by. The gateway does not start without it; `hotline up` generates one
    #: into var/ once when it is not set. Changing it starts new conversations for every phone and WeChat user.
    conversation_key: SecretStr | None = None
    #: Proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed, e.g. the nginx in front.
    #: Empty: the client is the socket's peer, and X-Forwarded-For is ignored.
    trusted_proxies: str = ""
    #: Ticket checks (number + last four phone digits, in chat and for ratings): this many wrong pairs per
    #: conversation or client within the window lock the check for the lockout (by default the window).
    ticket_check_limit: int = Field(default=5, ge=1)
    ticket_check_window_s: float = Field(default=900.0, gt=0)
    ticket_check_lockout_s: float | None = Field(default=None, gt=0)

    @field_validator("webhook_secret")
    @classmethod
    def _secret_with_url(cls, secret: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Checked on the secret, not the whole model: a model error would quote every setting, secrets included.
        if info.data.get("webhook_url") and not (secret and secret.get_secret_value()):
            raise ValueError("HOTLINE_WEBHOOK_SECRET is required when HOTLINE_WEBHOOK_URL is set")
        return secret

    @field_validator("conversation_key")
    @classmethod
    def _long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value()) < MIN_KEY_LENGTH:
            raise ValueError(f"HOTLINE_CONVERSATION_KEY must be at least {MIN_KEY_LENGTH} characters")
        return key

    @property
    def ticket_checks(self) -> Policy:
        lockout = None if self.ticket_check_lockout_s is None else timedelta(seconds=self.ticket_check_lockout_s)
        return Policy("ticket_check", self.ticket_check_limit, timedelta(seconds=self.ticket_check_window_s), lockout)

    @property
    def rasa_urls(self) -> list[str]:
        return [url.strip() for url in self.rasa_url.split(",") if url.strip()]


@cache
def get_settings() -> Settings:
    return Settings()
