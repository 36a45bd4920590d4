"""Signing in and out of the console in headless Chromium: a signed-out visitor is sent to
the login page (and back after), a wrong password is refused with a clear message, the nav
names the operator and their role, signing out ends the session; keyboard-only sign-in."""

from __future__ import annotations

from urllib.parse import quote

from playwright.async_api import Browser, expect

from tests.console.conftest import Console, Watch, new_page, shot, sign_in


async def test_signed_out_visitors_are_sent_to_the_login_page(console: Console) -> None:
    for path in (
        "/console/inbox",
        "/console/approvals",
        "/console/audit",
        "/console/settings/policy",
        "/console/conversations/c_0123456789abcdef",
    ):
        r = await console.http.get(path)
        assert r.status_code == 303, (path, r.status_code)
        assert r.headers["location"] == f"/console/login?next={quote(path, safe='')}"
        assert r.headers["cache-control"] == "no-store"
    r = await console.http.get("/console/inbox", headers={"Cookie": "sf_session=forged"})
    assert r.status_code == 303, "an unknown session is no session"
    assert (await console.http.get("/console")).headers["location"] == "/console/inbox"
    login = await console.http.get("/console/login", params={"next": "https://evil.example/"})
    assert login.status_code == 200
    assert 'data-next="/console/inbox"' in login.text, "never an open redirect"
    assert "<script>" not in login.text and "http://" not in login.text.replace(console.url, ""), (
        "no inline code, nothing fetched from another site"
    )
    csp = login.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    js = await console.http.get("/console/static/console.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert (await console.http.get("/console/static/secrets.txt")).status_code == 404


async def test_wrong_password_then_sign_in_and_out(console: Console, browser: Browser) -> None:
    admin = console.operator("admin")
    watch = Watch()
    page = await new_page(browser, watch)
    await page.goto(f"{console.url}/console/audit")
    await page.wait_for_url("**/console/login?next=%2Fconsole%2Faudit")
    await page.fill("#login-tenant", admin.operator.tenant_id)
    await page.fill("#login-email", admin.operator.email)
    await page.fill("#login-password", "not the password")
    await page.click("#login-submit")
    error = page.locator("#login-error")
    await expect(error).to_have_text("Wrong email or password.")
    await expect(error).to_have_attribute("role", "alert")
    await expect(page.locator("#login-password")).to_be_focused()
    await shot(page, "01-login-wrong-password")

    await page.fill("#login-password", admin.password)
    await page.click("#login-submit")
    await page.wait_for_url("**/console/audit")  # back where they were going
    await expect(page.locator("#who-email")).to_have_text(admin.operator.email)
    await expect(page.locator("#who-role")).to_have_text("admin")
    await expect(page.locator("nav.mainnav a[aria-current=page]")).to_have_text("Audit")
    cookies = await page.context.cookies()
    [session] = [c for c in cookies if c["name"] == "sf_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert await page.evaluate("document.cookie") == "", "scripts never see the session"

    await page.click("#logout")
    await page.wait_for_url("**/console/login")
    await page.goto(f"{console.url}/console/inbox")
    await page.wait_for_url("**/console/login?next=%2Fconsole%2Finbox")
    # The old cookie value is dead on the server too, not only dropped by the browser.
    r = await console.http.get("/v1/auth/me", headers={"Cookie": f"sf_session={session['value']}"})
    assert r.status_code == 401
    assert watch.problems == []


async def test_keyboard_only_sign_in(console: Console, browser: Browser) -> None:
    agent = console.operator("agent")
    watch = Watch()
    page = await new_page(browser, watch)
    await page.goto(f"{console.url}/console/login?tenant={agent.operator.tenant_id}")
    # The tenant came with the link: the email field has the focus.
    await expect(page.locator("#login-email")).to_be_focused()
    await page.keyboard.type(agent.operator.email)
    await page.keyboard.press("Tab")
    await expect(page.locator("#login-password")).to_be_focused()
    await page.keyboard.type(agent.password)
    await page.keyboard.press("Tab")
    await expect(page.locator("#login-submit")).to_be_focused()
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid", "the focused button shows a focus ring"
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/console/inbox")
    await expect(page.locator("#who-role")).to_have_text("agent")
    # Tab from the top reaches the skip link first, then the nav.
    await page.keyboard.press("Tab")
    await expect(page.locator(".skip-link")).to_be_focused()
    await shot(page, "02-inbox-empty-agent")
    assert watch.problems == []


async def test_sign_in_with_an_empty_field_says_what_is_missing(
    console: Console, browser: Browser
) -> None:
    watch = Watch()
    page = await new_page(browser, watch)
    await page.goto(f"{console.url}/console/login")
    await page.fill("#login-tenant", console.shop.tenant_id)
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_have_text("Enter your email.")
    await expect(page.locator("#login-email")).to_be_focused()
    await expect(page.locator("#login-email")).to_have_attribute("aria-invalid", "true")
    assert watch.problems == []


async def test_already_signed_in_skips_the_login_page(console: Console, browser: Browser) -> None:
    admin = console.operator("admin")
    page = await new_page(browser, Watch())
    await sign_in(page, console, admin)
    await page.goto(f"{console.url}/console/login?next=%2Fconsole%2Fapprovals")
    await page.wait_for_url("**/console/approvals")


async def test_a_session_ended_elsewhere_sends_the_page_to_the_login(
    console: Console, browser: Browser
) -> None:
    supervisor = console.operator("supervisor")
    page = await new_page(browser, Watch())
    await sign_in(page, console, supervisor)
    await page.goto(f"{console.url}/console/approvals")
    # The session ends on the server (as when an admin disables the operator or it expires):
    # the page's next refresh is refused and the operator is asked to sign in again.
    await page.evaluate(
        """async () => {
          const csrf = document.querySelector('meta[name="csrf-token"]').content;
          await fetch('/v1/auth/logout', {method: 'POST', headers: {'X-CSRF-Token': csrf}});
        }"""
    )
    await page.wait_for_url("**/console/login?next=%2Fconsole%2Fapprovals")
