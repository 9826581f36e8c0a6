"""The gateway (FastAPI): channels, the conversation core, and soon the console and ticket API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from sqlalchemy import create_engine, event

from bot.api import chat
from bot.conversation import ConversationCore
from bot.ownership import OwnershipStore
from bot.rasa_client import RasaClient
from bot.settings import Settings, get_settings

STATIC = Path(__file__).resolve().parent / "static"


def _engine(url: str):
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _wal(dbapi_connection, _record) -> None:  # readers never block the writer
            dbapi_connection.execute("PRAGMA journal_mode=WAL")

        return engine
    return create_engine(url, pool_pre_ping=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = _engine(settings.database_url)
        rasa = RasaClient(settings.rasa_url, settings.rasa_timeout_s)
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
