"""The API restarts under an open widget: the widget says it is reconnecting, comes back on a
new socket by itself (with back-off), and a message typed while the API was down is sent
and answered once it is back."""

from __future__ import annotations

import contextlib
import json

from playwright.async_api import Browser, expect
from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.tenants.service import create_tenant
from tests.console.conftest import Watch, shot
from tests.helpers import TEST_KEYRING, free_port, running_workers, serve_api
from tests.widget.conftest import Traffic, serving_shop, shopper


async def test_the_widget_reconnects_after_the_api_restarts(
    dev_env: WorkflowEnvironment, settings: Settings, browser: Browser
) -> None:
    settings = settings.model_copy(
        update={"api_port": free_port(), "chat_reply_wait_seconds": 30.0}
    )
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    tenant = create_tenant(make_session_factory(engine), "Restart Shop", keyring=TEST_KEYRING)
    watch, traffic = Watch(), Traffic()
    host = "#supportflow-chat"
    try:
        async with (
            running_workers(dev_env.client, settings),
            serving_shop(settings.api_url) as shop,
        ):
            page = await shopper(browser, watch, traffic)
            async with serve_api(settings, dev_env.client):
                await page.goto(shop.page("home", tenant.chat_key))
                await page.get_by_role("button", name="Open chat").click()
                await page.fill("#text", "hello")
                await page.press("#text", "Enter")
                await expect(page.locator(".msg.agent")).to_have_count(1)
                await expect(page.locator(host)).to_have_attribute("data-connection", "open")
            # The API is gone (its sockets closed as it shut down): the widget says so, and
            # keeps what the shopper types.
            await expect(page.get_by_text("Connection lost. Reconnecting")).to_be_visible()
            await page.fill("#text", "are you there?")
            await page.press("#text", "Enter")
            await expect(page.locator(".msg.customer")).to_have_count(2)
            await shot(page, "widget-04-reconnecting")

            async with serve_api(settings, dev_env.client):
                await expect(page.locator(host)).to_have_attribute("data-connection", "open")
                await expect(page.locator(".msg.agent:not(.holding)")).to_have_count(2)
                await expect(page.get_by_text("Connection lost")).to_be_hidden()
                # Sent once the socket was back, on the new socket; shown once.
                opened = [s for s in traffic.sockets if s]
                assert len(traffic.sockets) >= 2 and len(opened) >= 2
                assert any(json.loads(f)["text"] == "are you there?" for f in opened[-1])
                await page.wait_for_timeout(1000)
                await expect(page.locator(".msg.customer")).to_have_count(2)
                await expect(page.locator(".msg.error")).to_have_count(0)
    finally:
        with contextlib.suppress(Exception):
            await browser.contexts[-1].close()
        engine.dispose()
    assert watch.problems == []
