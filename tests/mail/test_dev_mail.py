"""/dev/mail over real HTTP: the API on loopback, mail sent over SMTP to the embedded server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from supportflow.api.app import create_app
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.mail.sender import MailSender, OutgoingMail
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import free_port, serve_api


@dataclass
class DevApi:
    http: httpx.AsyncClient
    demo: CreatedTenant
    other: CreatedTenant
    sender: MailSender


@pytest.fixture
async def dev_api(
    dev_env: WorkflowEnvironment, mail_settings: Settings, tmp_path: Path
) -> AsyncIterator[DevApi]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    demo = create_tenant(sessions, "Demo Store")
    other = create_tenant(sessions, "Other Shop")
    settings = mail_settings.model_copy(
        update={
            "database_url": url,
            "api_port": free_port(),
            "dev_endpoints": True,
            "demo_tenant_id": demo.tenant_id,
        }
    )
    try:
        async with serve_api(settings, dev_env.client) as http:
            yield DevApi(http, demo, other, MailSender(settings))
    finally:
        engine.dispose()


def _code_mail(to: str, code: str, n: int) -> OutgoingMail:
    return OutgoingMail(
        to=to,
        subject=f"Your sign-in code {code}",
        text=f"Your code is {code}.",
        from_name="Demo Store",
        message_id=f"<code-{n}@supportflow.localhost>",
    )


async def test_lists_mail_for_the_demo_key_only(dev_api: DevApi) -> None:
    await dev_api.sender.send(_code_mail("ann@example.com", "111111", 1))
    await dev_api.sender.send(_code_mail("bob@example.com", "222222", 2))

    r = await dev_api.http.get("/dev/mail", headers={"X-Api-Key": dev_api.demo.api_key})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    mails = r.json()
    assert [m["to"] for m in mails] == ["bob@example.com", "ann@example.com"]
    assert mails[0]["subject"] == "Your sign-in code 222222"
    assert mails[0]["text"].strip() == "Your code is 222222."
    assert mails[0]["from"] == "Demo Store <support@supportflow.localhost>"
    assert mails[0]["date"]

    r = await dev_api.http.get(
        "/dev/mail", params={"to": "ANN@example.com"}, headers={"X-Api-Key": dev_api.demo.api_key}
    )
    assert [m["text"].strip() for m in r.json()] == ["Your code is 111111."]

    assert (await dev_api.http.get("/dev/mail")).status_code == 401
    wrong = await dev_api.http.get("/dev/mail", headers={"X-Api-Key": "sk_not_a_key"})
    assert wrong.status_code == 401
    # Another tenant's valid key reads nothing, and learns nothing of the page.
    other = await dev_api.http.get("/dev/mail", headers={"X-Api-Key": dev_api.other.api_key})
    assert other.status_code == 404
    assert "111111" not in other.text and "222222" not in other.text


async def test_browser_view_is_escaped_and_takes_the_key_by_form(dev_api: DevApi) -> None:
    mail = OutgoingMail(
        to="eve@example.com",
        subject="<script>alert(1)</script> code 333333",
        text="<img src=x onerror=alert(2)> 333333",
        message_id="<code-3@supportflow.localhost>",
    )
    await dev_api.sender.send(mail)
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}

    form = await dev_api.http.get("/dev/mail", headers=browser)
    assert form.status_code == 200
    assert form.headers["content-type"].startswith("text/html")
    assert 'name="key"' in form.text and "333333" not in form.text

    page = await dev_api.http.post("/dev/mail", data={"key": dev_api.demo.api_key})
    assert page.status_code == 200
    assert "333333" in page.text
    assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert dev_api.demo.api_key not in page.text

    with_header = await dev_api.http.get(
        "/dev/mail", headers={**browser, "X-Api-Key": dev_api.demo.api_key}
    )
    assert "333333" in with_header.text and "<script>alert" not in with_header.text

    refused = await dev_api.http.post("/dev/mail", data={"key": dev_api.other.api_key})
    assert refused.status_code == 404 and "333333" not in refused.text
    refused = await dev_api.http.post("/dev/mail", data={"key": "nope"})
    assert refused.status_code == 401 and "333333" not in refused.text


def test_not_served_unless_dev_endpoints_are_on(tmp_path: Path) -> None:
    # Standalone `supportflow api` leaves them off; the fuzzer's schema never sees them.
    assert "/dev/mail" not in create_app(Settings(data_dir=tmp_path)).openapi()["paths"]
    on = create_app(Settings(data_dir=tmp_path, dev_endpoints=True))
    assert "/dev/mail" in on.openapi()["paths"]
