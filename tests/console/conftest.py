"""The console in Debian's headless Chromium (through Playwright) against the real API on
loopback: `console` serves it without Temporal (sign-in, settings, audit: routes that never
talk to it); `live_console` adds real workers on the Temporal dev server and the demo store,
for the customer-to-operator flows. Screenshots go to /tmp/console-shots/."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import cast

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.operators.accounts import CreatedOperator, create_operator
from supportflow.policy.store import PolicyStore
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import (
    TEST_ENCRYPTION_KEYS,
    TEST_KEYRING,
    free_port,
    running_workers,
    serve_api,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
SHOTS = Path("/tmp/console-shots")
# Playwright's waits, in ms: pages poll every few seconds, a workflow turn takes a few more.
WAIT = 30_000


# Every input, select and textarea has a name a screen reader reads out: a <label> (for= or
# around it), aria-label or aria-labelledby. Returns the ones that do not.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter((el) => el.type !== 'hidden')
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby'))
  .map((el) => el.outerHTML)"""
# Buttons and links with no text a screen reader could read.
NAMELESS = """() => [...document.querySelectorAll('button, a[href]')]
  .filter((el) => !(el.textContent.trim() || el.getAttribute('aria-label')))
  .map((el) => el.outerHTML)"""


@dataclass
class Console:
    url: str
    http: httpx.AsyncClient
    settings: Settings
    sessions: sessionmaker[Session]
    shop: CreatedTenant
    other: CreatedTenant

    def operator(
        self, role: str, limit: str | None = None, *, tenant: CreatedTenant | None = None
    ) -> CreatedOperator:
        """A new operator, made as `supportflow operators create` makes one."""
        return create_operator(
            self.sessions,
            (tenant or self.shop).tenant_id,
            f"{role}-{uuid.uuid4().hex[:6]}@shop.example",
            role,
            Decimal(limit) if limit is not None else None,
            actor="test",
        )

    @property
    def api_key(self) -> dict[str, str]:
        return {"X-Api-Key": self.shop.api_key}


@contextlib.asynccontextmanager
async def _serving(settings: Settings, temporal: Client) -> AsyncIterator[Console]:
    url = settings.resolved_database_url
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    shop = create_tenant(sessions, "Console Shop", keyring=TEST_KEYRING)
    other = create_tenant(sessions, "Other Shop", keyring=TEST_KEYRING)
    try:
        async with serve_api(settings, temporal, http_timeout=60) as http:
            yield Console(settings.api_url, http, settings, sessions, shop, other)
    finally:
        engine.dispose()


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    """The API alone (no Temporal), on a SQLite app database."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        api_port=free_port(),
        encryption_keys=SecretStr(TEST_ENCRYPTION_KEYS),
        demo_store_tenants="*",
    )
    async with _serving(settings, cast(Client, object())) as c:
        yield c


@pytest.fixture
async def live_console(dev_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Console]:
    """The whole stack: the API, real workers on the dev server, the demo store. The shop's
    policy asks for an approval above 500."""
    settings = settings.model_copy(
        update={"api_port": free_port(), "chat_reply_wait_seconds": 30.0}
    )
    async with running_workers(dev_env.client, settings), _serving(settings, dev_env.client) as c:
        PolicyStore(c.sessions).put(c.shop.tenant_id, {"approval_above": 500})
        yield c


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@dataclass
class Watch:
    """What went wrong in a page: script errors and Content-Security-Policy refusals (an
    inline script or a style the policy blocks). HTTP errors the page handles are fine."""

    problems: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> Page:
        page.on("pageerror", lambda err: self.problems.append(f"page error: {err}"))

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error" and "Content Security Policy" in msg.text:
                self.problems.append(f"CSP: {msg.text}")

        page.on("console", on_console)
        return page


async def new_page(browser: Browser, watch: Watch) -> Page:
    """A page in a fresh browser context (its own cookies: another person's browser)."""
    context = await browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(WAIT)
    return watch.attach(await context.new_page())


async def sign_in(page: Page, console: Console, made: CreatedOperator) -> None:
    await page.goto(f"{console.url}/console/login?tenant={made.operator.tenant_id}")
    await page.fill("#login-email", made.operator.email)
    await page.fill("#login-password", made.password)
    await page.click("#login-submit")
    await page.wait_for_url("**/console/inbox")


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Error):
        await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
