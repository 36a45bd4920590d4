"""The console's settings and audit pages in headless Chromium against the real API (no
Temporal needed): what each role sees and may do, errors shown where they happen, every
input labelled."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, Page, expect

from supportflow.policy.store import PolicyStore
from tests.console.conftest import (
    NAMELESS,
    UNLABELLED,
    Console,
    Watch,
    new_page,
    shot,
    sign_in,
)


async def _in_page_fetch(page: Page, method: str, path: str, body: Any = None) -> int:
    """What the API answers this browser's own session (cookie and CSRF header): what a
    page that ignored its hidden buttons would get."""
    status: int = await page.evaluate(
        """async ([method, path, body]) => {
          const csrf = document.querySelector('meta[name="csrf-token"]').content;
          const r = await fetch(path, {method, credentials: 'same-origin',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
            body: body === null ? undefined : JSON.stringify(body)});
          return r.status;
        }""",
        [method, path, body],
    )
    return status


async def test_every_input_has_a_label_on_every_page(console: Console, browser: Browser) -> None:
    admin = console.operator("admin")
    watch = Watch()
    page = await new_page(browser, watch)
    await page.goto(f"{console.url}/console/login")
    assert await page.evaluate(UNLABELLED) == []
    await sign_in(page, console, admin)
    for path, ready in (
        ("/console/inbox", "#inbox-empty"),
        ("/console/approvals", "#approvals-empty"),
        ("/console/audit", "#audit-rows tr"),
        ("/console/settings/policy", "#policy-json"),
        ("/console/settings/templates", "details[data-template]"),
        ("/console/settings/knowledge", "#knowledge-list article"),
        ("/console/settings/operators", "#operator-rows tr"),
    ):
        await page.goto(console.url + path)
        await page.locator(ready).first.wait_for(state="attached")
        assert await page.evaluate(UNLABELLED) == [], path
        assert await page.evaluate(NAMELESS) == [], path
        assert await page.locator("h1").count() == 1, path
    assert watch.problems == []


async def test_an_agent_sees_no_operator_actions_and_the_api_refuses_them(
    console: Console, browser: Browser
) -> None:
    agent = console.operator("agent", "50")
    admin = console.operator("admin")
    watch = Watch()
    page = await new_page(browser, watch)
    await sign_in(page, console, agent)
    # No Audit in the nav for an agent (no read_audit permission).
    await expect(page.locator("nav.mainnav")).not_to_contain_text("Audit")
    await page.click("nav.mainnav >> text=Settings")
    await page.wait_for_url("**/console/settings/policy")
    await expect(page.locator("#policy-json")).to_have_attribute("readonly", "")
    await expect(page.locator("#policy-save")).to_have_count(0)
    await page.click("nav.tabs >> text=Operators")
    await page.wait_for_url("**/console/settings/operators")
    await expect(page.locator("#operators-denied")).to_contain_text("Only admins")
    await expect(page.locator("#operator-form")).to_have_count(0)
    await expect(page.locator("button", has_text="Disable")).to_have_count(0)
    await shot(page, "03-settings-operators-agent")

    # The server does not trust the page: the same session, calling the API directly.
    created = {"email": "sneaky@shop.example", "role": "admin"}
    assert await _in_page_fetch(page, "POST", "/v1/operators", created) == 403
    disable = f"/v1/operators/{admin.operator.operator_id}/disable"
    assert await _in_page_fetch(page, "POST", disable, None) == 403
    assert await _in_page_fetch(page, "PUT", "/v1/policy", {"approval_above": 1}) == 403
    assert await _in_page_fetch(page, "GET", "/v1/audit") == 403
    r = await console.http.get("/v1/operators", headers=console.api_key)
    assert [o["email"] for o in r.json()] == [agent.operator.email, admin.operator.email]
    assert all(o["status"] == "active" for o in r.json())
    # The audit page itself says why it is empty.
    await page.goto(f"{console.url}/console/audit")
    await expect(page.locator("#audit-error")).to_contain_text("Not allowed")
    assert watch.problems == []


async def test_an_admin_adds_and_disables_an_operator(console: Console, browser: Browser) -> None:
    admin = console.operator("admin")
    watch = Watch()
    page = await new_page(browser, watch)
    await sign_in(page, console, admin)
    await page.goto(f"{console.url}/console/settings/operators")
    await expect(page.locator("#operator-rows tr")).to_have_count(1)
    await expect(page.locator("#operator-rows")).to_contain_text("(you)")

    await page.fill("#op-email", "new.person@shop.example")
    await page.select_option("#op-role", "agent")
    await page.fill("#op-limit", "12.345")
    await page.click("#op-create")
    await expect(page.locator("#op-form-error")).to_contain_text("amount such as 100")
    await page.fill("#op-limit", "75")
    await page.click("#op-create")
    created = page.locator("#op-created")
    await expect(created).to_be_visible()
    await expect(page.locator("#op-created-tenant")).to_have_text(console.shop.tenant_id)
    password = (await page.locator("#op-created-password").inner_text()).strip()
    assert (await page.locator("#op-created-token").inner_text()).startswith("sf_op_")
    await expect(page.locator("#operator-rows tr")).to_have_count(2)
    await shot(page, "04-settings-operators-admin")

    # The same email again: the API's refusal is shown in the form.
    await page.fill("#op-email", "new.person@shop.example")
    await page.click("#op-create")
    await expect(page.locator("#op-form-error")).to_be_visible()

    login = {
        "tenant_id": console.shop.tenant_id,
        "email": "new.person@shop.example",
        "password": password,
    }
    async with console.http.stream("POST", "/v1/auth/login", json=login) as r:
        assert r.status_code == 200
    row = page.locator("#operator-rows tr", has_text="new.person@shop.example")
    await expect(row).to_contain_text("75.00")
    button = row.get_by_role("button", name="Disable new.person@shop.example")
    await button.click()
    await expect(button).to_have_text("Press again to disable")
    await button.click()
    await expect(row.locator(".badge", has_text="Disabled")).to_be_visible()
    r = await console.http.post("/v1/auth/login", json=login)
    assert r.status_code == 401, "a disabled operator cannot sign in"
    assert watch.problems == []


async def test_policy_editor_shows_what_is_wrong_and_saves_a_good_policy(
    console: Console, browser: Browser
) -> None:
    admin = console.operator("admin")
    watch = Watch()
    page = await new_page(browser, watch)
    await sign_in(page, console, admin)
    await page.goto(f"{console.url}/console/settings/policy")
    editor = page.locator("#policy-json")
    await expect(editor).to_have_value(containing('"version": 1'))
    error = page.locator("#policy-error")

    await editor.fill('{"approval_above": 100,')
    await page.click("#policy-save")
    await expect(error).to_contain_text("not valid JSON")
    await expect(editor).to_have_attribute("aria-invalid", "true")

    await editor.fill('{"approval_above": -5, "max_auto_refnud": 10}')
    await page.click("#policy-save")
    await expect(error).to_contain_text("approval_above")
    await expect(error).to_contain_text("max_auto_refnud")
    await shot(page, "05-settings-policy-error")
    before = PolicyStore(console.sessions).get(console.shop.tenant_id)
    assert before.approval_above is None, "a refused policy changes nothing"

    await editor.fill('{"approval_above": 250}')
    await page.click("#policy-save")
    await expect(page.locator("#toast")).to_contain_text("Policy saved")
    await expect(error).to_be_hidden()
    await expect(editor).to_have_value(containing('"approval_above": 250'))
    assert PolicyStore(console.sessions).get(console.shop.tenant_id).approval_above == 250
    assert watch.problems == []


def containing(text: str) -> Any:
    """A regular expression matching any value that contains ``text``."""
    return re.compile(".*" + re.escape(text) + ".*", re.DOTALL)


async def test_templates_and_knowledge_are_edited_in_place(
    console: Console, browser: Browser
) -> None:
    supervisor = console.operator("supervisor")
    watch = Watch()
    page = await new_page(browser, watch)
    await sign_in(page, console, supervisor)

    await page.goto(f"{console.url}/console/settings/templates")
    greeting = page.locator("details[data-template=greeting]")
    await greeting.locator("summary").click()
    await greeting.locator("textarea").fill("Hello from the {{ broken")
    await greeting.get_by_role("button", name="Save").click()
    await expect(greeting.locator(".form-error")).to_be_visible()
    await greeting.locator("textarea").fill("Welcome to <b>Console Shop</b>! How can I help?")
    await greeting.get_by_role("button", name="Save").click()
    await expect(page.locator("#toast")).to_contain_text("Saved")
    await expect(greeting.locator(".badge")).to_have_text("Customised")
    r = await console.http.get("/v1/templates", headers=console.api_key)
    [row] = [t for t in r.json() if t["name"] == "greeting"]
    assert row["override"] == "Welcome to <b>Console Shop</b>! How can I help?"
    await shot(page, "06-settings-templates")
    await greeting.get_by_role("button", name="Reset to default").click()
    await expect(greeting.locator(".badge")).to_have_text("Default")

    await page.goto(f"{console.url}/console/settings/knowledge")
    await expect(page.locator("#knowledge-defaults")).to_be_visible()
    await page.click("#knowledge-import")
    await expect(page.locator("#knowledge-defaults")).to_be_hidden()
    count = await page.locator("#knowledge-list article").count()
    await page.fill("#kb-title", "Gift wrapping")
    await page.fill("#kb-body", "We wrap any order for 3.00; ask before it ships.")
    await page.fill("#kb-tags", "gifts, wrapping")
    await page.click("#kb-save")
    article = page.locator("#knowledge-list article", has_text="Gift wrapping")
    await expect(article).to_contain_text("We wrap any order")
    await expect(page.locator("#knowledge-list article")).to_have_count(count + 1)
    await article.get_by_role("button", name="Edit").click()
    await expect(page.locator("#kb-title")).to_be_focused()
    await page.fill("#kb-body", "Gift wrapping is free in December.")
    await page.click("#kb-save")
    await expect(article).to_contain_text("free in December")
    await shot(page, "07-settings-knowledge")
    delete = article.get_by_role("button", name="Delete")
    await delete.click()
    await article.get_by_role("button", name="Press again to delete").click()
    await expect(page.locator("#knowledge-list article")).to_have_count(count)
    assert watch.problems == []


async def test_audit_page_lists_filters_and_exports(console: Console, browser: Browser) -> None:
    admin = console.operator("admin")
    watch = Watch()
    page = await new_page(browser, watch)
    await sign_in(page, console, admin)
    r = await console.http.put("/v1/policy", json={"approval_above": 40}, headers=console.api_key)
    assert r.status_code == 200
    await page.goto(f"{console.url}/console/audit")
    rows = page.locator("#audit-rows tr")
    await expect(rows.first).to_be_visible()
    await expect(page.locator("#audit-rows")).to_contain_text("operator.login")
    await expect(page.locator("#audit-rows")).to_contain_text("policy.update")
    await shot(page, "08-audit")

    await page.fill("#a-action", "policy")
    await page.click("text=Apply filters")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("policy.update")
    href = await page.get_attribute("#audit-export", "href")
    assert href == "/v1/audit/export?action=policy"
    exported = await page.evaluate(
        "async (href) => (await fetch(href, {credentials: 'same-origin'})).text()", href
    )
    lines = exported.strip().splitlines()
    assert len(lines) == 1 and '"action":"policy.update"' in lines[0]

    await page.fill("#a-action", "nothing.like.this")
    await page.click("text=Apply filters")
    await expect(page.locator("#audit-empty")).to_be_visible()
    await page.fill("#a-action", "bad action!")
    await page.click("text=Apply filters")
    await expect(page.locator("#audit-error")).to_be_visible()
    assert watch.problems == []
