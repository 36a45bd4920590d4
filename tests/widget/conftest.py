"""The chat widget in Debian's headless Chromium (Playwright), as merchants embed it: one script
tag in a page that a merchant's own site serves, on another loopback origin than the API. The
stack is the console tests' (`live_console`: the real API, real workers on the Temporal dev
server, the demo store; `console`: the API alone), and so is the browser."""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.async_api import Browser, Page, Request, WebSocket
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.console import conftest as console_tests
from tests.console.conftest import Console, Watch
from tests.helpers import _serving, free_port

# The console tests' fixtures, shared: the browser, the API alone, the whole stack.
browser = console_tests.browser
console = console_tests.console
live_console = console_tests.live_console

# The widget's shadow root, for what Playwright's selectors (which pierce it) cannot say.
SHADOW = "document.getElementById('supportflow-chat').shadowRoot"

# A store whose CSS would hide every button and input on the page, and paint text red: the
# widget's own look survives it (its shadow root is out of reach of the page's selectors).
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Merchant shop</title>
<style>button, input {{ display: none !important; }} * {{ color: red !important; }}</style>
</head><body><h1>Merchant shop</h1><p>Our products.</p>
<script src="{api}/widget.js" data-chat-key="{key}"{attrs} async></script>
</body></html>"""


@dataclass
class Shop:
    """A merchant's site on its own origin. Its pages send a Content-Security-Policy that
    lets in the API's script and connections and nothing else from elsewhere."""

    url: str
    api_url: str
    pages: dict[str, str] = field(default_factory=dict)

    def page(self, name: str, chat_key: str, **data: str) -> str:
        """A page embedding the widget with ``chat_key`` and data-* ``data`` on its tag."""
        attrs = "".join(
            f' data-{k.replace("_", "-")}="{html.escape(v, quote=True)}"' for k, v in data.items()
        )
        self.pages[name] = _PAGE.format(
            api=self.api_url, key=html.escape(chat_key, quote=True), attrs=attrs
        )
        return f"{self.url}/{name}"

    def csp(self) -> str:
        api = urlsplit(self.api_url)
        ws = f"ws://{api.netloc}"
        return (
            f"default-src 'self'; script-src 'self' {self.api_url}; "
            f"connect-src 'self' {self.api_url} {ws}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self'; object-src 'none'; base-uri 'none'"
        )


@contextlib.asynccontextmanager
async def serving_shop(api_url: str) -> AsyncIterator[Shop]:
    port = free_port()
    shop = Shop(f"http://127.0.0.1:{port}", api_url)

    async def page(request: HttpRequest) -> Response:
        body = shop.pages.get(request.path_params["name"])
        if body is None:
            return Response("not found", status_code=404)
        return HTMLResponse(body, headers={"Content-Security-Policy": shop.csp()})

    app = Starlette(routes=[Route("/{name}", page)])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    async with _serving(uvicorn.Server(config)):
        yield shop


@pytest.fixture
async def shop(live_console: Console) -> AsyncIterator[Shop]:
    async with serving_shop(live_console.url) as s:
        yield s


@dataclass
class Traffic:
    """Every URL a page asked for, and the WebSockets it opened (frames sent on each)."""

    urls: list[str] = field(default_factory=list)
    sockets: list[list[str]] = field(default_factory=list)

    def attach(self, page: Page) -> Page:
        def on_request(request: Request) -> None:
            self.urls.append(request.url)

        page.on("request", on_request)

        def on_socket(ws: WebSocket) -> None:
            self.urls.append(ws.url)
            sent: list[str] = []
            self.sockets.append(sent)
            ws.on("framesent", lambda payload: sent.append(str(payload)))

        page.on("websocket", on_socket)
        return page

    def origins(self) -> set[str]:
        return {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in self.urls}


async def shopper(browser: Browser, watch: Watch, traffic: Traffic | None = None) -> Page:
    """A page in a fresh browser context: one shopper's browser (its own localStorage)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(30_000)
    page = watch.attach(await context.new_page())
    return traffic.attach(page) if traffic else page
