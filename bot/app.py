"""The gateway (FastAPI): channels, the conversation core, and soon the console and ticket API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse

from bot.api import chat
from bot.conversation import ConversationCore
from bot.ownership import OwnershipStore
from bot.rasa_client import RasaClient
from bot.settings import Settings, get_settings
from bot.tickets.database import create_ticket_engine

STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_ticket_engine(settings.database_url)  # one database: tickets and ownership
        rasa = RasaClient(settings.rasa_urls, settings.rasa_timeout_s)
        app.state.core = ConversationCore(rasa, OwnershipStore(engine))
        yield
        await rasa.aclose()
        engine.dispose()

    app = FastAPI(title="12320 hotline gateway", lifespan=lifespan)
    app.include_router(chat.router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    async def web_chat() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app
