"""Security headers over real HTTP, and what they do in a real browser (Debian's Chromium):
the chat page works under its policy, a script injected into it does not run, and only the
configured sites may show it in a frame."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from supportflow.api.headers import inline_hashes
from tests.abuse.conftest import StartApi
from tests.helpers import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def _directives(csp: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in csp.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


async def test_page_and_api_headers(start_api: StartApi) -> None:
    async with start_api() as api:
        page = await api.http.get("/chat")
        assert page.status_code == 200
        csp = _directives(page.headers["Content-Security-Policy"])
        assert csp["default-src"] == ["'self'"] and csp["frame-ancestors"] == ["'self'"]
        assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
        # Inline code runs only by hash: exactly the page's own blocks, no 'unsafe-inline'.
        scripts, styles = inline_hashes(page.text)
        assert scripts and set(scripts) <= set(csp["script-src"])
        assert set(styles) <= set(csp["style-src"])
        assert "'unsafe-inline'" not in csp["script-src"]
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert page.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"

        for r in (
            await api.http.get("/health"),
            await api.http.get("/v1/templates"),  # 401
            await api.http.post("/v1/chat/messages", json={}, headers={"X-Chat-Key": "x"}),
        ):
            assert r.headers["content-type"].startswith("application/json")
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert (
                r.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
            )

        docs = await api.http.get("/docs")
        assert "cdn.jsdelivr.net" in docs.headers["Content-Security-Policy"]


async def test_frame_ancestors_are_configurable(start_api: StartApi) -> None:
    async with start_api(frame_ancestors=["'self'", "https://shop.example.com"]) as api:
        page = await api.http.get("/chat")
        csp = _directives(page.headers["Content-Security-Policy"])
        assert csp["frame-ancestors"] == ["'self'", "https://shop.example.com"]
        assert "X-Frame-Options" not in page.headers


@contextlib.asynccontextmanager
async def _shop(chat_url: str) -> AsyncIterator[str]:
    """A merchant's page on another origin that embeds the chat page in a frame."""

    async def embed(_: object) -> HTMLResponse:
        return HTMLResponse(f'<h1>Shop</h1><iframe id="chat" src="{chat_url}"></iframe>')

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/", embed)]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await task


async def _framed(browser: object, shop_url: str) -> bool:
    page = await browser.new_page()  # type: ignore[attr-defined]
    await page.goto(shop_url)
    await page.wait_for_timeout(1500)
    frame = next((f for f in page.frames if "/chat" in f.url), None)
    shown = frame is not None and await frame.locator("#text").count() == 1
    await page.close()
    return shown


async def test_in_a_real_browser(start_api: StartApi, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    async with start_api() as api, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            violations: list[str] = []
            page.on(
                "console",
                lambda m: (
                    violations.append(m.text) if "Content Security Policy" in m.text else None
                ),
            )
            await page.goto(f"{api.url}/chat?key={api.tenant.chat_key}")
            # The page's own script runs, and talks to the API over the WebSocket.
            await page.fill("#text", "hello")
            await page.click("button[type=submit]")
            await page.locator(".msg.agent").first.wait_for(timeout=30_000)
            assert violations == []

            # A script injected into the page (as an unescaped reply would) does not run.
            ran = await page.evaluate(
                """() => new Promise((resolve) => {
                    document.addEventListener('securitypolicyviolation', () => resolve(false));
                    const s = document.createElement('script');
                    s.textContent = 'window.pwned = true';
                    document.body.appendChild(s);
                    setTimeout(() => resolve(window.pwned === true), 1000);
                })"""
            )
            assert ran is False
            await page.screenshot(path=str(tmp_path / "chat.png"))

            # Framed by another site: refused by default.
            async with _shop(f"{api.url}/chat?key={api.tenant.chat_key}") as shop:
                assert not await _framed(browser, shop)
        finally:
            await browser.close()

    async with (
        start_api(frame_ancestors=["'self'", "http://127.0.0.1:*"]) as api,
        async_playwright() as pw,
    ):
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            async with _shop(f"{api.url}/chat?key={api.tenant.chat_key}") as shop:
                assert await _framed(browser, shop), "an allowed site shows the widget"
        finally:
            await browser.close()
