"""The console's Metrics page in headless Chromium against the real API: figures and charts
drawn on the server (no script, nothing fetched), every control labelled, no CSP refusal; a
supervisor lifts a guard from it, an agent sees no Lift button."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.async_api import Browser, expect

from supportflow.management.buckets_store import write_buckets
from supportflow.management.guards_store import trip
from supportflow.management.metrics import hour_of
from supportflow.policy.guards import REFUND_ACTIONS
from supportflow.policy.store import PolicyStore
from tests.console.conftest import NAMELESS, UNLABELLED, Console, Watch, new_page, shot, sign_in


async def test_the_metrics_page_shows_figures_charts_and_lifts_a_guard(
    console: Console, browser: Browser
) -> None:
    tenant = console.shop.tenant_id
    now = hour_of(datetime.now(UTC))
    write_buckets(
        console.sessions,
        tenant,
        {
            now - 3: {"cases_closed": 8, "cases_by_person": 2, "handoffs": 2},
            now - 2: {"refunds": 3, "refund_amount": 120.0, "csat_count": 2, "csat_sum": 9},
        },
    )
    write_buckets(console.sessions, console.other.tenant_id, {now - 3: {"cases_closed": 500}})
    guard, _ = trip(
        console.sessions,
        tenant_id=tenant,
        guard_id="gd_" + "f" * 24,
        kind="refund_spike",
        effect="require_approval",
        actions=sorted(REFUND_ACTIONS),
        reason="refunds: 9 in the last hour; baseline 0 ± 0 per hour over 168 hours",
    )
    supervisor = console.operator("supervisor")
    watch = Watch()
    page = await new_page(browser, watch)
    await sign_in(page, console, supervisor)
    await page.click("nav.mainnav >> text=Metrics")
    await page.wait_for_url("**/console/metrics")
    stats = page.locator("#metric-stats")
    await expect(stats.locator('[data-stat="cases"] .stat-value')).to_have_text("8")
    await expect(stats.locator('[data-stat="automation"] .stat-value')).to_have_text("75%")
    await expect(stats.locator('[data-stat="refunds"]')).to_contain_text("120.00")
    await expect(stats.locator('[data-stat="csat"] .stat-value')).to_have_text("4.50")
    await expect(page.locator("#metric-charts svg")).to_have_count(10)
    cases_bars = page.locator('[data-chart="cases_closed"] rect')
    await expect(cases_bars).to_have_count(1)
    assert await page.locator("#active-guards").inner_text() != ""
    assert await page.evaluate(UNLABELLED) == []
    assert await page.evaluate(NAMELESS) == []
    assert await page.locator("h1").count() == 1
    await shot(page, "metrics-guard")
    # The range form works without script: 30 days by day.
    await page.select_option("#metrics-range", "30d")
    await page.click(".range-form button")
    await page.wait_for_url("**/console/metrics?range=30d")
    await expect(page.locator("#charts-title")).to_contain_text("per day")
    await expect(stats.locator('[data-stat="cases"] .stat-value')).to_have_text("8")
    # Lifting it: the policy is as written again, and the page says so.
    assert PolicyStore(console.sessions).get(tenant).approval_required == REFUND_ACTIONS
    await page.click(f'[data-lift-guard="{guard.guard_id}"]')
    await expect(page.locator("#no-guards")).to_be_visible()
    assert PolicyStore(console.sessions).get(tenant).approval_required == frozenset()
    await expect(page.locator(".lifted-guards summary")).to_contain_text("Lifted guards (1)")
    assert watch.problems == []


async def test_an_agent_sees_the_figures_but_no_lift_button(
    console: Console, browser: Browser
) -> None:
    trip(
        console.sessions,
        tenant_id=console.shop.tenant_id,
        guard_id="gd_" + "9" * 24,
        kind="store_error_burst",
        effect="pause",
        actions=["cancel_order"],
        reason="store_errors: 7 in the last hour",
    )
    agent = console.operator("agent", "50")
    watch = Watch()
    page = await new_page(browser, watch)
    await sign_in(page, console, agent)
    await page.goto(f"{console.url}/console/metrics?range=24h")
    await expect(page.locator("#active-guards")).to_contain_text("cancel_order")
    await expect(page.locator("[data-lift-guard]")).to_have_count(0)
    await expect(page.locator("#guards")).to_contain_text("A supervisor or an admin lifts")
    assert watch.problems == []
    # Signed out: the page sends the visitor to sign in, and shows nothing.
    other = await new_page(browser, watch)
    await other.goto(f"{console.url}/console/metrics")
    await other.wait_for_url("**/console/login?next=%2Fconsole%2Fmetrics")
