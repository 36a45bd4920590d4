"""Security headers on every response, as a pure ASGI middleware.

Pages (text/html: the /chat widget page) get a Content-Security-Policy that allows only this
origin's scripts, styles and connections (WebSocket included), plus the exact inline
`<script>` and `<style>` blocks of the pages the app ships, by hash: a script injected into
a page (say, through a reply that was not escaped) does not run. `frame-ancestors` says who
may show the page in a frame: this origin by default, the merchant's shop when it embeds
the widget (SUPPORTFLOW_FRAME_ANCESTORS). FastAPI's own /docs pages load Swagger UI from its
CDN and get a policy that allows it.

Every response gets X-Content-Type-Options: nosniff (a JSON reply is never run as a script
or page) and a Referrer-Policy that sends no path or query (the chat page's URL carries
its key) to other sites; API responses also a `default-src 'none'` policy, so an API body a
browser is tricked into showing can do nothing.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from importlib import resources

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_INLINE = re.compile(
    r"<(script|style)(?![^>]*\bsrc\s*=)[^>]*>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE
)
_DOCS_PATHS = ("/docs", "/redoc")
_API_POLICY = "default-src 'none'; frame-ancestors 'none'"


def inline_hashes(page: str) -> tuple[list[str], list[str]]:
    """CSP hash sources of a page's inline scripts and styles, as browsers compute them
    (SHA-256 of the exact text between the tags)."""
    scripts: list[str] = []
    styles: list[str] = []
    for tag, body in _INLINE.findall(page):
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        (scripts if tag.lower() == "script" else styles).append(f"'sha256-{digest}'")
    return scripts, styles


def shipped_pages() -> list[str]:
    static = resources.files("supportflow.api").joinpath("static")
    return [
        f.read_text("utf-8") for f in static.iterdir() if f.is_file() and f.name.endswith(".html")
    ]


def page_policy(frame_ancestors: Sequence[str], pages: Iterable[str]) -> str:
    scripts: list[str] = []
    styles: list[str] = []
    for page in pages:
        s, t = inline_hashes(page)
        scripts += s
        styles += t
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *dict.fromkeys(scripts)]),
            " ".join(["style-src 'self'", *dict.fromkeys(styles)]),
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors " + " ".join(frame_ancestors),
        ]
    )


def docs_policy(frame_ancestors: Sequence[str]) -> str:
    cdn = "https://cdn.jsdelivr.net"
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'unsafe-inline' {cdn}",
            f"style-src 'self' 'unsafe-inline' {cdn} https://fonts.googleapis.com",
            "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
            "font-src 'self' https://fonts.gstatic.com",
            "worker-src 'self' blob:",
            "connect-src 'self'",
            "object-src 'none'",
            "frame-ancestors " + " ".join(frame_ancestors),
        ]
    )


class SecurityHeaders:
    def __init__(
        self,
        app: ASGIApp,
        frame_ancestors: Sequence[str] = ("'self'",),
        pages: Iterable[str] | None = None,
    ) -> None:
        self.app = app
        self.page_policy = page_policy(frame_ancestors, shipped_pages() if pages is None else pages)
        self.docs_policy = docs_policy(frame_ancestors)
        # Older browsers know only X-Frame-Options, which cannot name other sites.
        self.frame_options = "SAMEORIGIN" if list(frame_ancestors) == ["'self'"] else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith(_DOCS_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = (
                        self.docs_policy if docs else self.page_policy
                    )
                    if self.frame_options:
                        headers.setdefault("X-Frame-Options", self.frame_options)
                    headers.setdefault(
                        "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
                    )
                else:
                    headers.setdefault("Content-Security-Policy", _API_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)
