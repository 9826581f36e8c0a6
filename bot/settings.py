"""Settings from the environment, with safe defaults for a laptop (ARCHITECTURE.md: Configuration)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.emergency import DEFAULT_PSYCH_LINE
from bot.tickets.database import default_database_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    #: Rasa's HTTP server; the gateway talks to it over our own input channel. Several Rasa workers:
    #: their URLs separated by commas (each sender is pinned to one; see bot/rasa_client.py).
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_s: float = 30.0
    #: The knowledge index the actions answer from; the gateway answers from it too while Rasa is down.
    index: Path = Path(__file__).resolve().parent.parent / "var" / "index" / "knowledge"
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
    #: The psychological assistance line self-harm guidance gives beside 120/110 (全国心理援助热线 by default).
    psych_line: str = Field(default=DEFAULT_PSYCH_LINE, pattern=r"^[0-9][0-9-]{2,19}$")

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
