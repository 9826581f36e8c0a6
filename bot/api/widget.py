"""The embeddable chat widget: /widget.js for any page, and CORS for the sites allowed to embed it.

A site embeds the chat with one tag, `<script src="https://gateway/widget.js" async></script>`. The script talks
to this gateway from the site's own origin, so its calls to /api/chat* are cross-origin: only the origins in
HOTLINE_WIDGET_ORIGINS get them (CORS, and only on /api/chat*: no other API answers another site's page). No
credentials are allowed: the widget sends no cookies, its conversation id (issued by POST /api/chat) is its
only credential, and the console's session cookie must never ride along. The live socket needs no CORS (browsers
do not apply it to WebSockets) and no Origin check: it takes no cookie, only the id in its path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter, Request, Response
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

STATIC = Path(__file__).resolve().parent.parent / "static"
#: Host pages fetch the script on every visit: a short life, then a cheap revalidation by its ETag, so that a new
#: version reaches every site within minutes.
CACHE_CONTROL = "public, max-age=300, must-revalidate"
CHAT_PATHS = "/api/chat"

router = APIRouter()


class Script:
    """widget.js, read once per gateway (app.state.widget_script), with a strong ETag of its content."""

    def __init__(self, path: Path = STATIC / "widget.js"):
        self.body = path.read_bytes()
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'


@router.get("/widget.js", include_in_schema=False)
async def widget_js(request: Request) -> Response:
    script: Script = request.app.state.widget_script
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "ETag": script.etag,
        "X-Content-Type-Options": "nosniff",
        # Loaded by pages of other sites, including ones that isolate themselves (COEP).
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if script.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(script.body, media_type="text/javascript; charset=utf-8", headers=headers)


class ChatCors:
    """CORS for the widget's origins on /api/chat* only; every other path passes through untouched."""

    def __init__(self, app: ASGIApp, origins: list[str]):
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=("GET", "POST"),
            allow_headers=("Content-Type",),
            allow_credentials=False,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == CHAT_PATHS or path.startswith(CHAT_PATHS + "/")):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
