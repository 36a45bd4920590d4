"""The widget on a merchant's page on another origin, against the whole stack: the launcher,
a conversation, history after a reload, a signed-in shopper, the one-time-code step, and
markup in anyone's text shown as text."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from supportflow.identity.tokens import sign_identity_token
from supportflow.mail.maildir_server import MaildirServer
from tests.console.conftest import Console, Watch, shot
from tests.helpers import read_code
from tests.widget.conftest import SHADOW, Shop, Traffic, shopper

JAMES = "james.li4495@example.com"  # order #W2611340, tracking number 357962501027
IMG = "<img src=x onerror=\"window.__pwned='img'\">"
SCRIPT = "<script>window.__pwned='script'</script>"

# Inside the widget: inputs without a label, buttons without a name.
UNNAMED = f"""() => {{
  const root = {SHADOW};
  const inputs = [...root.querySelectorAll('input')].filter((el) =>
    !(el.labels && el.labels.length) && !el.getAttribute('aria-label'));
  const buttons = [...root.querySelectorAll('button')].filter((el) =>
    !(el.textContent.trim() || el.getAttribute('aria-label')));
  return [...inputs, ...buttons].map((el) => el.outerHTML);
}}"""
FOCUSED = f"() => {{ const el = {SHADOW}.activeElement; return el && (el.id || el.className); }}"


async def ask(page: Page, text: str) -> None:
    """The shopper sends ``text``; the agent's answer arrives."""
    before = await page.locator(".msg.agent:not(.holding)").count()
    await page.fill("#text", text)
    await page.press("#text", "Enter")
    await expect(page.locator(".msg.agent:not(.holding)")).to_have_count(before + 1)


async def test_a_shopper_chats_on_a_merchant_page_and_finds_it_again_after_a_reload(
    live_console: Console, shop: Shop, browser: Browser
) -> None:
    watch, traffic = Watch(), Traffic()
    page = await shopper(browser, watch, traffic)
    await page.goto(shop.page("home", live_console.shop.chat_key))

    launcher = page.get_by_role("button", name="Open chat")
    await expect(launcher).to_be_visible()  # the store's CSS hides its own buttons, not ours
    panel = page.get_by_role("dialog", name="Chat with us")
    await expect(panel).to_be_hidden()
    assert await page.evaluate(UNNAMED) == []

    await launcher.click()
    await expect(panel).to_be_visible()
    await expect(page.locator("#text")).to_be_focused()
    assert await page.evaluate(FOCUSED) == "text"  # the message box, in the shadow root
    await ask(page, "where is my order")
    reply = await page.locator(".msg.agent:not(.holding)").last.inner_text()
    assert reply.strip()
    # The store paints all text red (!important): not the widget's.
    color = await page.locator(".msg.agent").last.evaluate("el => getComputedStyle(el).color")
    assert color == "rgb(17, 24, 39)"
    await expect(page.locator(".msg.customer")).to_have_text(["where is my order"])
    await expect(page.locator(".typing")).to_be_hidden()
    await shot(page, "widget-01-conversation")

    # Escape closes the panel and gives the focus back to the launcher.
    await page.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    assert await page.evaluate(FOCUSED) == "launcher"

    # A reload (another page of the shop): the conversation is still there.
    await page.reload()
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.locator(".msg.customer")).to_have_text(["where is my order"])
    await expect(page.locator(".msg.agent").last).to_have_text(reply)
    await expect(page.locator("#supportflow-chat")).to_have_attribute("data-connection", "open")

    # Only the shop and the API were asked for anything, the API cross-origin (CORS).
    api = live_console.url
    assert traffic.origins() <= {shop.url, api, api.replace("http://", "ws://")}
    assert any(u.startswith(f"{api}/v1/chat/updates") for u in traffic.urls)
    assert watch.problems == []


async def test_a_signed_in_shopper_is_answered_about_their_own_order(
    live_console: Console, shop: Shop, browser: Browser
) -> None:
    """The merchant's page puts the identity token its server signed on the tag, or hands it
    over later with SupportflowChat.identify(token)."""
    secret = live_console.shop.identity_secret
    assert secret is not None
    token = sign_identity_token(secret, email=JAMES)
    watch = Watch()
    page = await shopper(browser, watch)
    await page.goto(shop.page("account", live_console.shop.chat_key, identity_token=token))
    await page.get_by_role("button", name="Open chat").click()
    await ask(page, "where is my order #W2611340")
    await expect(page.locator(".msg.agent").last).to_contain_text("357962501027")

    # Another shopper signs in on this browser, the page calling the widget's hook: James's
    # conversation is not theirs to see.
    await page.goto(shop.page("next", live_console.shop.chat_key))
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.locator(".msg.customer")).to_have_count(1)  # before: still James
    other = sign_identity_token(secret, email="someone.else@example.com")
    await page.evaluate("(token) => window.SupportflowChat.identify(token)", other)
    await expect(page.locator(".msg")).to_have_count(0)
    assert watch.problems == []


async def test_a_shopper_who_is_not_signed_in_types_the_emailed_code(
    live_console: Console, shop: Shop, browser: Browser, smtp_server: MaildirServer
) -> None:
    watch = Watch()
    page = await shopper(browser, watch)
    await page.goto(shop.page("guest", live_console.shop.chat_key))
    await page.get_by_role("button", name="Open chat").click()
    text = page.locator("#text")
    await ask(page, "where is my order #W2611340")
    await expect(page.locator(".msg.agent").last).to_contain_text("code")
    await ask(page, JAMES)
    await expect(page.locator(".msg.agent").last).to_contain_text("type the code")
    # The code step: a phone shows digits and offers the code it read from the mail.
    await expect(text).to_have_attribute("inputmode", "numeric")
    await expect(text).to_have_attribute("autocomplete", "one-time-code")
    await expect(page.locator("#hint")).to_be_visible()
    await expect(text).to_have_attribute("aria-describedby", "hint")
    await shot(page, "widget-02-code-step")
    await ask(page, read_code(smtp_server.maildir_dir, JAMES))
    await expect(page.locator(".msg.agent").last).to_contain_text("verified")
    await expect(text).to_have_attribute("inputmode", "text")
    await ask(page, "where is my order #W2611340")
    await expect(page.locator(".msg.agent").last).to_contain_text("357962501027")
    assert watch.problems == []


async def test_markup_from_the_merchant_the_agent_or_the_shopper_is_shown_as_text(
    live_console: Console, shop: Shop, browser: Browser
) -> None:
    greeting = f"Hi! {IMG} {SCRIPT} <b>How</b> can I help?"
    r = await live_console.http.put(
        "/v1/templates/greeting", json={"source": greeting}, headers=live_console.api_key
    )
    assert r.status_code == 204, r.text
    watch = Watch()
    page = await shopper(browser, watch)
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    await page.goto(shop.page("xss", live_console.shop.chat_key))
    await page.get_by_role("button", name="Open chat").click()
    await ask(page, f"hello {IMG}")
    await expect(page.locator(".msg.customer")).to_have_text([f"hello {IMG}"])
    await expect(page.locator(".msg.agent").last).to_have_text(greeting)
    # Again from the history this browser keeps, after a reload.
    await page.reload()
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.locator(".msg.agent").last).to_have_text(greeting)
    elements = await page.evaluate(f"{SHADOW}.querySelectorAll('.log *:not(.msg)').length")
    assert elements == 0
    assert await page.evaluate("window.__pwned || null") is None and dialogs == []
    assert watch.problems == []


async def test_the_widget_script_has_no_way_to_run_text_as_markup(console: Console) -> None:
    r = await console.http.get("/widget.js")
    assert r.status_code == 200
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in r.text, sink
    assert re.search(r"new Function\b", r.text) is None
