"""End to end in headless Chromium, on the whole stack (real API, workers on the Temporal dev
server, the demo store): a customer in /chat asks for a person; an operator signs in, sees
the conversation in the inbox, claims it, replies; the customer sees the reply in /chat; the
operator hands it back. An approval from the customer's request to the cancelled order,
after an agent-role operator over their limit is refused with a visible message; a denial
whose note the customer hears."""

from __future__ import annotations

import asyncio
import re
import time
from urllib.parse import quote

from playwright.async_api import Browser, Page, expect

from supportflow.identity.tokens import sign_identity_token
from tests.console.conftest import (
    NAMELESS,
    UNLABELLED,
    Console,
    Watch,
    new_page,
    shot,
    sign_in,
)
from tests.helpers import store_order

HUMAN = "isabella.johansson1233@example.com"  # asks for a person; has a store account
APPROVE = ("mei.kim6594@example.com", "#W3263208")  # pending, 2,951.71: over the 500 policy
DENY = ("raj.anderson8179@example.com", "#W8389220")  # pending, 5,393.41


async def open_chat(browser: Browser, console: Console, watch: Watch, email: str) -> Page:
    """/chat as a shopper signed in on the store's site (a signed identity token)."""
    secret = console.shop.identity_secret
    assert secret is not None
    token = sign_identity_token(secret, email=email)
    page = await new_page(browser, watch)
    await page.goto(
        f"{console.url}/chat?key={quote(console.shop.chat_key)}&identity_token={quote(token)}"
    )
    return page


async def say(chat: Page, text: str) -> None:
    """The customer sends ``text`` and the agent's answer (or holding line) arrives."""
    before = await chat.locator(".msg.agent").count()
    await chat.fill("#text", text)
    await chat.press("#text", "Enter")
    await expect(chat.locator(".msg.agent")).to_have_count(before + 1)


async def until_order(console: Console, order_id: str, status: str) -> None:
    for _ in range(100):
        if (await store_order(console.settings, order_id))["status"] == status:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{order_id} never became {status}")


async def test_customer_asks_for_a_person_and_an_operator_answers_in_the_chat(
    live_console: Console, browser: Browser
) -> None:
    console = live_console
    agent = console.operator("agent", "100")
    watch = Watch()
    chat = await open_chat(browser, console, watch, HUMAN)
    await say(chat, "I want to talk to a human")
    await expect(chat.locator(".msg.agent").last).to_contain_text("member of our support team")
    asked_at = time.monotonic()

    desk = await new_page(browser, watch)
    await sign_in(desk, console, agent)
    row = desk.locator("#inbox-rows tr").first
    await expect(row).to_contain_text("Handoff")
    in_inbox = time.monotonic() - asked_at
    await expect(row).to_contain_text("chat")
    await expect(row).to_contain_text("Unclaimed")
    await expect(desk.locator("#inbox-status")).to_have_text("1 conversation waiting")
    await shot(desk, "10-inbox-handoff")
    # The filters: an approval filter hides it, "unclaimed" keeps it.
    await desk.select_option("#f-reason", "approval")
    await expect(desk.locator("#inbox-empty")).to_be_visible()
    await expect(desk.locator("#inbox-empty")).to_contain_text("Nothing matches")
    await desk.select_option("#f-reason", "")
    await desk.fill("#f-q", "no-such-customer-anywhere")
    await expect(desk.locator("#inbox-empty")).to_contain_text("Nothing matches")
    await desk.fill("#f-q", "")
    await desk.check("#f-unclaimed")
    await expect(desk.locator("#inbox-rows tr")).to_have_count(1)
    assert "unclaimed=true" in desk.url, "filters live in the URL"

    await row.locator("a.cell-link").click()
    await desk.wait_for_url(re.compile(r".*/console/conversations/c_[0-9a-f]{16}$"))
    transcript = desk.locator("#transcript")
    await expect(transcript.locator(".entry-customer").first).to_contain_text(
        "I want to talk to a human"
    )
    await expect(transcript).to_have_attribute("aria-live", "polite")
    await expect(desk.locator("#handover-banner")).to_contain_text("Handoff")
    await expect(desk.locator("#temporal-link")).to_have_attribute(
        "href", re.compile(r"/namespaces/.+/workflows/sf%2F")
    )
    await expect(desk.locator("#profile")).to_contain_text(HUMAN)
    await expect(desk.locator("#reply-text")).to_be_disabled()
    assert await desk.evaluate(UNLABELLED) == [] and await desk.evaluate(NAMELESS) == []

    await desk.click("#claim")
    await expect(desk.locator("#reply-text")).to_be_enabled()
    await expect(desk.locator("#reply-text")).to_be_focused()
    await expect(desk.locator("#convo-holder")).to_contain_text("You hold this conversation")
    reply = "Hi, this is Sam from the shop. How can I help?"
    await desk.fill("#reply-text", reply)
    sent_at = time.monotonic()
    await desk.click("#reply-send")
    await expect(transcript.locator(".entry-operator")).to_contain_text(reply)
    await expect(desk.locator("#reply-text")).to_have_value("")

    # The customer sees the person's answer in /chat (the page polls /v1/chat/updates).
    await expect(chat.locator(".msg.operator")).to_have_text(reply)
    on_screen = time.monotonic() - sent_at
    await shot(chat, "11-chat-operator-reply")

    # While a person holds it, the agent stays quiet; the operator sees the message live.
    agent_lines = await chat.locator(".msg.agent").count()
    await chat.fill("#text", "my parcel never came")
    await chat.press("#text", "Enter")
    await expect(transcript.locator(".entry-customer").last).to_have_text(
        re.compile("my parcel never came")
    )
    await shot(desk, "12-conversation-claimed")
    assert await chat.locator(".msg.agent").count() == agent_lines, "no empty bubble, no bot"
    await desk.fill("#reply-text", "Sorry about that, I am checking with the carrier now.")
    await desk.press("#reply-text", "Control+Enter")  # the keyboard shortcut sends too
    await expect(chat.locator(".msg.operator")).to_have_count(2)

    # Each message once: none twice (the socket's push and the poll), no error bubble.
    await chat.wait_for_timeout(2500)
    await expect(chat.locator(".msg.operator")).to_have_count(2)
    await expect(chat.locator(".msg.error")).to_have_count(0)

    await desk.click("#release")
    await expect(desk.locator("#convo-holder")).to_have_text(
        "The agent is handling this conversation."
    )
    await expect(desk.locator("#claim")).to_be_visible()
    await say(chat, "thanks!")
    await desk.click("nav.mainnav >> text=Inbox")
    await expect(desk.locator("#inbox-empty")).to_be_visible()
    # The inbox polls every 4 s and the chat every 2 s: both well inside these bounds.
    assert in_inbox < 10 and on_screen < 10, (in_inbox, on_screen)
    assert watch.problems == []


async def test_an_approval_from_request_to_cancelled_order(
    live_console: Console, browser: Browser
) -> None:
    console = live_console
    email, order_id = APPROVE
    agent = console.operator("agent", "100")
    supervisor = console.operator("supervisor")
    watch = Watch()
    chat = await open_chat(browser, console, watch, email)
    await say(chat, f"cancel order {order_id}, I no longer need it")
    await say(chat, "yes")
    await expect(chat.locator(".msg.agent").last).to_contain_text(re.compile("approv"))

    # An agent with a limit of 100 sees the request and is refused, visibly.
    desk = await new_page(browser, watch)
    await sign_in(desk, console, agent)
    await expect(desk.locator("#inbox-rows tr").first).to_contain_text("Approval")
    await expect(desk.locator("#inbox-rows tr").first).to_contain_text(order_id)
    await desk.click("nav.mainnav >> text=Approvals")
    await expect(desk.locator("#approval-scope")).to_have_text("You can approve up to 100.00.")
    card = desk.locator("article.approval-card", has_text=order_id)
    await expect(card).to_contain_text("2,951.71")
    await expect(card.locator("dl")).to_contain_text("Customer")
    assert await desk.evaluate(UNLABELLED) == [] and await desk.evaluate(NAMELESS) == []
    await card.get_by_role("button", name="Approve").click()
    refusal = card.locator(".form-error")
    await expect(refusal).to_have_text(
        "Not allowed: the amount is over your approval limit; ask a supervisor"
    )
    await expect(refusal).to_have_attribute("role", "alert")
    await shot(desk, "13-approval-over-limit")
    assert (await store_order(console.settings, order_id))["status"] == "pending"

    # A supervisor approves, with a note kept for colleagues.
    boss = await new_page(browser, watch)
    await sign_in(boss, console, supervisor)
    await boss.goto(f"{console.url}/console/approvals")
    card = boss.locator("article.approval-card", has_text=order_id)
    await card.get_by_label("Note", exact=True).fill("Long-time customer; fine.")
    await shot(boss, "14-approvals-supervisor")
    await card.get_by_role("button", name="Approve").click()
    await expect(card.locator(".form-ok")).to_contain_text("Approved")
    await until_order(console, order_id, "cancelled")
    await expect(chat.locator(".msg.agent").last).to_contain_text("cancelled")
    await shot(chat, "15-chat-cancelled")
    await chat.wait_for_timeout(2500)
    await expect(chat.locator(".msg", has_text="cancelled")).to_have_count(1)
    await expect(chat.locator(".msg.error")).to_have_count(0)

    # The agent's page learns on its next refresh, without a reload: the card the agent was
    # working in says it is no longer waiting, and its buttons stop.
    stale = desk.locator("article.approval-card", has_text=order_id)
    await expect(stale.locator(".form-ok")).to_have_text(
        "No longer waiting: a colleague decided it, or it expired."
    )
    await expect(stale.get_by_role("button", name="Approve")).to_be_disabled()
    await expect(desk.locator("#approvals-empty")).to_be_visible()
    assert watch.problems == []


async def test_a_denial_with_a_shared_note_reaches_the_customer(
    live_console: Console, browser: Browser
) -> None:
    console = live_console
    email, order_id = DENY
    admin = console.operator("admin")
    watch = Watch()
    chat = await open_chat(browser, console, watch, email)
    await say(chat, f"cancel order {order_id}, I no longer need it")
    await say(chat, "yes")
    await expect(chat.locator(".msg.agent").last).to_contain_text(re.compile("approv"))
    desk = await new_page(browser, watch)
    await sign_in(desk, console, admin)
    await desk.goto(f"{console.url}/console/approvals")
    card = desk.locator("article.approval-card", has_text=order_id)
    await card.get_by_label("Note", exact=True).fill("It has already left our warehouse.")
    await card.get_by_label("Share the note with the customer").check()
    await card.get_by_role("button", name="Deny").click()
    await expect(card.locator(".form-ok")).to_contain_text("Denied")
    await expect(chat.locator(".msg.agent").last).to_contain_text("already left our warehouse")
    assert (await store_order(console.settings, order_id))["status"] == "pending"
    # The conversation page shows the decision, who made it and the note.
    await card.get_by_role("link").click()
    decided = desk.locator("#convo-approvals li", has_text=order_id)
    await expect(decided.locator(".badge")).to_have_text("denied")
    await expect(decided).to_contain_text("Decided by you")
    await expect(decided).to_contain_text("already left our warehouse")
    await expect(desk.locator("#transcript .entry-agent").last).to_contain_text(
        "already left our warehouse"
    )
    await shot(desk, "16-conversation-denied")
    r = await console.http.get("/v1/audit", params={"action": "approval"}, headers=console.api_key)
    [entry] = r.json()["entries"]
    assert entry["action"] == "approval.deny" and entry["actor_id"] == admin.operator.operator_id
    assert watch.problems == []
