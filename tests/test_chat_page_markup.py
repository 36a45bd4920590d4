"""Markup in merchant- or store-controlled text is shown as text on the /chat page, never run:
a reply template with an <img onerror> and a <script>, and a customer's own message with
markup, in Debian's headless Chromium against the real stack (tests/fuzz/live.py)."""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from supportflow.settings import Settings
from tests.fuzz.live import live_api

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]

IMG = "<img src=x onerror=alert(1)>"
# Sets a flag instead of only alerting, so a run that executes it is seen even without a dialog.
IMG_FLAG = "<img src=x onerror=\"window.__pwned='img'\">"
SCRIPT = "<script>window.__pwned='script'</script>"
GREETING = f"Hi! {IMG} {IMG_FLAG} {SCRIPT} <b>How</b> can I help?"


async def test_reply_and_message_markup_is_shown_as_text(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    from playwright.async_api import Dialog, async_playwright

    async with live_api(dev_env, settings) as api:
        key = {"X-Api-Key": api.tenant.api_key}
        r = await api.http.put("/v1/templates/greeting", json={"source": GREETING}, headers=key)
        assert r.status_code == 204, r.text
        dialogs: list[str] = []
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()

                async def on_dialog(dialog: Dialog) -> None:
                    dialogs.append(dialog.message)
                    await dialog.dismiss()

                page.on("dialog", on_dialog)
                await page.goto(f"{api.url}/chat?key={api.tenant.chat_key}")
                await page.fill("#text", f"hello {IMG}")
                await page.click("button[type=submit]")
                answer = page.locator(".msg.agent").first
                await answer.wait_for(timeout=30_000)
                shown = await answer.inner_text()
                mine = await page.locator(".msg.customer").first.inner_text()
                # The conversation lives in the widget's shadow root (api/static/widget.js).
                elements = await page.evaluate(
                    "document.getElementById('supportflow-chat').shadowRoot"
                    ".querySelectorAll('.log img, .log script, .log b').length"
                )
                pwned = await page.evaluate("window.__pwned || null")
                await page.screenshot(path=str(tmp_path / "markup.png"))
            finally:
                await browser.close()
    assert shown == GREETING  # every character shown, as typed by the merchant
    assert mine == f"hello {IMG}"
    assert elements == 0 and pwned is None and dialogs == []
