"""/chat, the demo store page that embeds the widget (the URL `supportflow up` prints), and
how /widget.js and the chat API are served to other origins."""

from __future__ import annotations

import html

from playwright.async_api import Browser, expect

from supportflow.identity.tokens import sign_identity_token
from tests.console.conftest import Console, Watch, shot
from tests.widget.conftest import shopper

JAMES = "james.li4495@example.com"
SHOP = "https://shop.example"


async def test_the_demo_store_embeds_the_widget_with_the_key_it_is_given(
    console: Console,
) -> None:
    key = console.shop.chat_key
    r = await console.http.get("/chat", params={"key": key})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert f'<script src="/widget.js" data-chat-key="{key}" data-open="true" async>' in r.text
    # The snippet a merchant copies, with this API's address, shown as text.
    snippet = f'<script src="{console.url}/widget.js" data-chat-key="{key}" async></script>'
    assert html.escape(snippet) in r.text

    # Without a key: the store, and how to try the chat; no widget.
    bare = await console.http.get("/chat")
    assert bare.status_code == 200
    assert "data-chat-key=" not in bare.text.replace(html.escape("data-chat-key="), "")
    assert "?key=" in bare.text

    # Anything but a chat key is refused, never put in the page.
    for bad in (
        'sf_chat_x"><script>alert(1)</script>',
        "sf_live_abc",
        "abc",
        "sf_chat_",
        " ",
        "sf_chat_" + "a" * 300,
    ):
        refused = await console.http.get("/chat", params={"key": bad})
        assert refused.status_code == 400, bad
        assert "<script>alert" not in refused.text


async def test_widget_js_is_a_cacheable_public_script(console: Console) -> None:
    r = await console.http.get("/widget.js")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "public, max-age=600"
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    etag = r.headers["etag"]
    again = await console.http.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    changed = await console.http.get("/widget.js", headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200


async def test_the_chat_api_answers_other_origins_without_credentials(console: Console) -> None:
    preflight = await console.http.options(
        "/v1/chat/messages",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-chat-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "x-chat-key" in allowed and "content-type" in allowed

    # An answer (here a 401 for a wrong key) is readable by the page that asked.
    r = await console.http.get(
        "/v1/chat/updates",
        params={"visitor_id": "v-1"},
        headers={"Origin": SHOP, "X-Chat-Key": "sf_chat_wrong"},
    )
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "*"

    # Other headers are not allowed, and nothing else of the API is opened to other sites.
    cookie_try = await console.http.options(
        "/v1/chat/messages",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    assert cookie_try.status_code == 400
    for path in ("/v1/templates", "/v1/conversations", "/codec/decode"):
        other = await console.http.options(
            path, headers={"Origin": SHOP, "Access-Control-Request-Method": "GET"}
        )
        assert "access-control-allow-origin" not in other.headers, path


async def test_a_signed_in_shopper_on_the_demo_store(
    live_console: Console, browser: Browser
) -> None:
    """The demo page hands the widget the token with SupportflowChat("identify", ...), the
    page's call queued before the script loaded; its policy (no inline styles but its own)
    does not stop the widget."""
    secret = live_console.shop.identity_secret
    assert secret is not None
    token = sign_identity_token(secret, email=JAMES)
    watch = Watch()
    page = await shopper(browser, watch)
    key = live_console.shop.chat_key
    await page.goto(f"{live_console.url}/chat?key={key}&identity_token={token}")
    assert "identity_token" not in page.url  # not left in the address bar or history
    await expect(page.get_by_role("dialog", name="Chat with us")).to_be_visible()  # open
    await page.fill("#text", "where is my order #W2611340")
    await page.click("button[type=submit]")
    await expect(page.locator(".msg.agent").last).to_contain_text("357962501027")
    # Styled by its own sheet, under a policy that forbids inline styles.
    color = await page.locator(".msg.customer").evaluate("el => getComputedStyle(el).color")
    assert color == "rgb(255, 255, 255)"
    await shot(page, "widget-03-demo-store")
    assert watch.problems == []
