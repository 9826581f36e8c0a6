"""The gateway (FastAPI): channels, the conversation core, and soon the console and ticket API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from sqlalchemy import Engine

from bot.api import chat
from bot.conversation import ConversationCore
from bot.ownership import OwnershipStore
from bot.rasa_client import RasaClient
from bot.settings import Settings, get_settings
from bot.tickets.outbox import OutboxDispatcher, dispatching
from bot.tickets.service import open_ticket_service

STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One database for tickets and ownership; opening the service migrates it to head first.
        tickets = open_ticket_service(settings.database_url)
        rasa = RasaClient(settings.rasa_url, settings.rasa_timeout_s)
        app.state.tickets = tickets
        app.state.core = ConversationCore(rasa, OwnershipStore(tickets.engine))
        async with _webhooks(settings, tickets.engine):
            yield
        await rasa.aclose()
        tickets.close()

    app = FastAPI(title="12320 hotline gateway", lifespan=lifespan)
    app.include_router(chat.router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    async def web_chat() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app


def _webhooks(settings: Settings, engine: Engine) -> AbstractAsyncContextManager[object]:
    """Outbox delivery in the background while the gateway runs, if a webhook URL is configured."""
    if not settings.webhook_url:
        return nullcontext()
    if settings.webhook_secret is None:  # Settings refuses this already; kept for a hand-built Settings
        raise RuntimeError("HOTLINE_WEBHOOK_SECRET is required when HOTLINE_WEBHOOK_URL is set")
    dispatcher = OutboxDispatcher(
        engine, settings.webhook_url, settings.webhook_secret.get_secret_value(), timeout_s=settings.webhook_timeout_s
    )
    return dispatching(dispatcher, settings.webhook_interval_s)
