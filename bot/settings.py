"""Settings from the environment, with safe defaults for a laptop (ARCHITECTURE.md: Configuration)."""

from __future__ import annotations

from functools import cache

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.tickets.database import ROOT, default_database_url


def default_tracker_database_url() -> str:
    """Where `hotline up` has Rasa keep its conversations (HOTLINE_TRACKER_DB, bot/nlu.py)."""
    return f"sqlite:///{ROOT / 'var' / 'rasa-trackers.db'}"


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
    #: Rasa's tracker database, where the retention purge anonymises old conversations.
    tracker_database_url: str = Field(default_factory=default_tracker_database_url)
    #: 保存期限: conversation text older than this is anonymised (bot/retention.py); statistics stay.
    retention_days: int = Field(default=180, ge=1)
    #: How often the gateway runs the retention purge (the first run is at startup).
    purge_interval_s: float = Field(default=86_400.0, gt=0)

    @field_validator("webhook_secret")
    @classmethod
    def _secret_with_url(cls, secret: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Checked on the secret, not the whole model: a model error would quote every setting, secrets included.
        if info.data.get("webhook_url") and not (secret and secret.get_secret_value()):
            raise ValueError("HOTLINE_WEBHOOK_SECRET is required when HOTLINE_WEBHOOK_URL is set")
        return secret

    @property
    def rasa_urls(self) -> list[str]:
        return [url.strip() for url in self.rasa_url.split(",") if url.strip()]


@cache
def get_settings() -> Settings:
    return Settings()
