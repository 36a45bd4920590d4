"""CORS for the public chat API, so the embedded widget (/widget.js on a merchant's site, another
origin than this API) can call it from the shopper's browser.

Only paths under /v1/chat/ get CORS, for any origin and without credentials: those routes
carry no ambient authority. Their key is public (it ships in every page that embeds the
widget), the browser sends no cookies (no Access-Control-Allow-Credentials, so a page cannot
ask it to), and a shopper is known only by a signed identity token in the body, which a page
that has one could send from anywhere anyway. Reading these answers cross-origin therefore
gives a page nothing a script outside a browser could not get. Every other path (the
merchant API, the console and its session cookie, the codec server with its own list) stays
same-origin. The WebSocket (/v1/chat/stream) needs no CORS: browsers let any page open it.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CHAT_PREFIX = "/v1/chat/"


class ChatCors:
    """Pure ASGI middleware: Starlette's CORS handling on the chat paths only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_credentials=False,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-Chat-Key"],
            # The widget reads these: where a pending reply is, and how long to wait when
            # rate limited.
            expose_headers=["Location", "Retry-After"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(CHAT_PREFIX):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
