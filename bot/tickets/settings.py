"""Ticket store settings from the environment, with a laptop default."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.tickets.database import default_database_url


class TicketSettings(BaseSettings):
    """DATABASE_URL picks the store: a SQLite file by default, postgresql+psycopg://… when scaled out."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = Field(default_factory=default_database_url, validation_alias="DATABASE_URL")
