"""The gateway (FastAPI): channels, the conversation core, the ticket API, and in the background the outbox
webhook and the daily retention purge."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, nullcontext
from datetime import timedelta
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from actions.answering import Answerer
from bot.api import chat, chat_live, handoff, tickets, twilio, users, wechat, widget
from bot.auth import TokenStore
from bot.channels.base import Channels
from bot.channels.followups import FollowupStore, SmsRecipients
from bot.channels.ticket_updates import TicketUpdates
from bot.channels.twilio_sms import SmsAdapter, SmsChannel
from bot.channels.twilio_voice import VoiceChannel, VoiceIvr, VoiceSettings
from bot.channels.twilio_webhooks import TwilioMessages, TwilioWebhooks
from bot.channels.web import WebChannel
from bot.channels.wechat.channel import WeChatChannel
from bot.client_address import TrustedProxyScheme, parse_trusted_proxies
from bot.console import analytics_routes, pages
from bot.console import routes as console
from bot.console.accounts import AccountStore
from bot.console.sessions import SessionStore
from bot.conversation.callbacks import CallbackDesk
from bot.conversation.conversation_ids import ConversationRegistry
from bot.conversation.core import ConversationCore
from bot.conversation.rasa_client import RasaClient
from bot.conversation.ratings import RatingStore
from bot.conversation.reduced_mode import ReducedMode
from bot.conversation.retention import ConversationRetention, purging
from bot.conversation.transcript import TranscriptStore
from bot.handoff.desk import HandoffDesk
from bot.handoff.live import HandoffService
from bot.handoff.policy import policy_from_settings
from bot.handoff.pubsub import open_hub
from bot.handoff.triggers import SensitiveMatters
from bot.ratelimit import AttemptLimiter, conversation_check_policy, ticket_check_policy
from bot.settings import Settings, get_settings
from bot.supervisor import free_port, wait_for_http
from bot.tickets.outbox import OutboxDispatcher, dispatching
from bot.tickets.routing import route_by_domain
from bot.tickets.service import open_ticket_service

STATIC = Path(__file__).resolve().parent / "static"
logger = logging.getLogger(__name__)
MISSING_KEY = (
    "HOTLINE_CONVERSATION_KEY is not set: the gateway derives conversation ids and client tags with it. "
    "`hotline up` generates one into var/conversation.key; elsewhere set a random value of at least 32 characters, "
    "e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if settings.conversation_key is None:  # fail closed: ids of a platform identity would be unkeyed hashes
        raise RuntimeError(MISSING_KEY)
    trusted_proxies = parse_trusted_proxies(settings.trusted_proxies)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One database for tickets and ownership; opening the service migrates it to head first.
        ticket_service = open_ticket_service(settings=settings, router=route_by_domain)
        rasa = RasaClient(settings.rasa_urls, settings.rasa_timeout_s)
        app.state.rasa = rasa
        app.state.tickets = ticket_service
        app.state.tokens = TokenStore(ticket_service.engine)
        # The handoff: one hub for live events, one desk for ownership, the channels that deliver.
        hub = open_hub(settings.database_url, settings.hub)
        online: list[HandoffService] = []  # the service counts the consoles; the desk's estimate asks it
        policy = policy_from_settings(settings, lambda: online[0].operators_online() if online else 0)
        desk = HandoffDesk(ticket_service.engine, hub=hub, policy=policy)
        transcript = TranscriptStore(ticket_service.engine, hub)
        ratings = RatingStore(ticket_service.engine)
        # SMS delivers through Twilio's REST API (when configured); a phone call cannot be pushed to.
        followups = FollowupStore(ticket_service.engine)
        texting = TwilioMessages.from_settings(settings)
        sms = SmsChannel(texting, SmsRecipients(ticket_service.engine), followups, app.state.conversation_key)
        channels = Channels(WebChannel(hub), sms, VoiceChannel())
        app.state.channels = channels
        handoff = HandoffService(
            desk,
            transcript,
            channels,
            hub,
            rasa,
            ratings=ratings,
            rating_after_quiet_s=settings.rating_after_quiet_s,
        )
        online.append(handoff)
        app.state.hub, app.state.desk, app.state.transcript, app.state.handoff = hub, desk, transcript, handoff
        app.state.ratings = ratings
        # One Answerer for the gateway: reduced mode answers with it, the console suggests replies from it.
        answerer = _answerer_loader(settings.index)
        app.state.answerer = answerer
        app.state.accounts = AccountStore(ticket_service.engine)
        app.state.sessions = SessionStore(
            ticket_service.engine,
            ttl=timedelta(seconds=settings.session_ttl_s),
            idle=timedelta(seconds=settings.session_idle_s),
        )
        app.state.core = ConversationCore(
            rasa,
            desk,
            transcript=transcript,
            callbacks=CallbackDesk(ticket_service),
            reduced_mode=ReducedMode(answerer),
            sensitive=SensitiveMatters.load(settings.sensitive_categories),
            psych_line=settings.psych_line,
            queue_changed=handoff.queue_changed,
        )
        app.state.conversations = ConversationRegistry(ticket_service.engine)
        app.state.wechat = WeChatChannel.from_settings(settings, app.state.core, ticket_service.engine)
        if app.state.wechat is not None:
            channels.add(app.state.wechat)
        webhooks: TwilioWebhooks | None = app.state.twilio_webhooks
        if webhooks is not None:
            voice = VoiceSettings.from_settings(settings)
            key = app.state.conversation_key
            app.state.voice_ivr = VoiceIvr(app.state.core, followups, webhooks, voice, key, sms)
            app.state.sms_adapter = SmsAdapter(app.state.core, sms)
        # Shared with the action server's status query through the database: one count per client.
        app.state.citizen_checks = AttemptLimiter(ticket_service.engine, ticket_check_policy(settings))
        # The live page's checks of its conversation id (socket, polling, rating): unknown ids counted per client.
        app.state.conversation_checks = AttemptLimiter(ticket_service.engine, conversation_check_policy(settings))
        updates = TicketUpdates(ticket_service.engine, channels, desk, transcript)
        async with (
            _webhooks(settings, ticket_service.engine),
            _retention(settings, ticket_service.engine),
            handoff.sweeping(settings.handoff_sweep_interval_s),
            updates.running(settings.ticket_updates_interval_s),
        ):
            yield
        if app.state.wechat is not None:
            await app.state.wechat.aclose()
        hub.close()
        await rasa.aclose()
        if texting is not None:
            await texting.aclose()
        ticket_service.close()

    app = FastAPI(title="12320 hotline gateway", lifespan=lifespan)
    app.state.conversation_key = settings.conversation_key.get_secret_value()
    app.state.trusted_proxies = trusted_proxies
    # Off (404) unless HOTLINE_TWILIO_AUTH_TOKEN is set; every request then carries Twilio's signature or gets 403.
    app.state.twilio_webhooks = TwilioWebhooks.from_settings(settings)
    app.state.widget_script = widget.Script()
    app.include_router(chat.router)
    app.include_router(chat_live.router)
    app.include_router(widget.router)
    app.include_router(handoff.router)
    app.include_router(twilio.router)
    app.include_router(tickets.router)
    app.include_router(users.router)
    app.include_router(wechat.router)
    console.install(app)
    app.include_router(analytics_routes.router)
    app.include_router(pages.router)  # the queue, conversations, tickets, the supervisor's page
    app.add_middleware(TrustedProxyScheme, trusted=trusted_proxies)  # https behind a trusted proxy: Secure cookies
    if settings.widget_origin_list:  # the sites that embed /widget.js may call /api/chat*, and only that
        app.add_middleware(widget.ChatCors, origins=settings.widget_origin_list)
    app.add_exception_handler(SQLAlchemyError, _store_down)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The gateway's own health: 200 while it serves, Rasa up or not (`hotline up` restarts a dead Rasa;
        the gateway must not be restarted with it). The body says whether every Rasa worker answers."""
        rasa_up = all(await app.state.rasa.workers_up())
        return {"status": "ok" if rasa_up else "degraded", "rasa": "up" if rasa_up else "down"}

    @app.get("/", include_in_schema=False)
    async def web_chat() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app


async def _store_down(request: Request, exc: Exception) -> JSONResponse:
    """A database failure no router handled (e.g. while checking a token): 503 in words, never a 500."""
    logger.error("database failure on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return JSONResponse({"detail": "系统暂时无法访问数据库，请稍后重试。"}, status_code=503)


def _answerer_loader(index: Path) -> Callable[[], Answerer | None]:
    """The Answerer over `index`, loaded on first use (the embedder costs memory the gateway rarely needs);
    None when there is no index to answer from."""
    loaded: list[Answerer] = []
    lock = threading.Lock()

    def load() -> Answerer | None:
        with lock:
            if not loaded:
                if not index.is_dir():
                    return None
                from index.retriever import Retriever

                loaded.append(Answerer(Retriever(index)))
            return loaded[0]

    return load


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


def _retention(settings: Settings, engine: Engine) -> AbstractAsyncContextManager[object]:
    """The retention purge at startup and then every HOTLINE_PURGE_INTERVAL_S (a day) while the gateway runs."""
    retention = ConversationRetention(engine, settings.tracker_database_url)
    return purging(retention, timedelta(days=settings.retention_days), settings.purge_interval_s)


@contextmanager
def serve_in_thread(settings: Settings, *, start_timeout: float = 60.0) -> Iterator[str]:
    """The gateway on a free loopback port in a daemon thread, for tests and benchmarks; yields its base URL
    once /healthz answers, and stops it on leaving."""
    port = free_port()
    # proxy_headers off: uvicorn would otherwise believe X-Forwarded-For from loopback; the app decides whom to trust.
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_http(f"{url}/healthz", timeout=start_timeout):
            raise RuntimeError(f"the gateway did not answer on {url} within {start_timeout:g} s")
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
