"""The chat API over real HTTP and WebSocket on loopback, with real workers, a real Temporal
dev server, the real demo store, and the app database on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.identity.tokens import sign_identity_token
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import TEST_KEYRING, free_port, running_workers, serve_api

JAMES = "james.li4495@example.com"


@dataclass
class Api:
    url: str
    http: httpx.AsyncClient
    tenant: CreatedTenant
    other: CreatedTenant
    sessions: sessionmaker[Session]

    def token(self, email: str, tenant: CreatedTenant | None = None) -> str:
        """What the merchant's login signs for a shopper (the tenant's identity secret)."""
        secret = (tenant or self.tenant).identity_secret
        assert secret is not None
        return sign_identity_token(secret, email=email)

    def chat(self, **body: object) -> dict[str, object]:
        return {
            "visitor_id": "v-" + uuid.uuid4().hex[:8],
            "message_id": uuid.uuid4().hex,
            "text": "hello",
            **body,
        }


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, settings: Settings, database_url: str
) -> AsyncIterator[Api]:
    settings = settings.model_copy(
        update={
            "database_url": database_url,
            "api_port": free_port(),
            "chat_reply_wait_seconds": 20.0,
        }
    )
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    tenant = create_tenant(sessions, "Test Shop", keyring=TEST_KEYRING)
    other = create_tenant(sessions, "Other Shop", keyring=TEST_KEYRING)
    try:
        async with (
            running_workers(dev_env.client, settings),
            serve_api(settings, dev_env.client, http_timeout=60) as http,
        ):
            yield Api(settings.api_url, http, tenant, other, sessions)
    finally:
        engine.dispose()


async def test_chat_answers_order_status_from_the_store(api: Api) -> None:
    body = api.chat(text="where is my order #W2611340", identity_token=api.token(JAMES))
    r = await api.http.post(
        "/v1/chat/messages", json=body, headers={"X-Chat-Key": api.tenant.chat_key}
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["status"] == "answered"
    assert "processed" in data["reply"] and "357962501027" in data["reply"]

    # The merchant reads the transcript with the secret API key, not the chat key.
    path = f"/v1/customers/{data['customer_id']}/transcript"
    t = await api.http.get(path, headers={"X-Api-Key": api.tenant.api_key})
    assert t.status_code == 200
    assert [e["role"] for e in t.json()["entries"]] == ["customer", "agent"]
    assert (await api.http.get(path, headers={"X-Api-Key": api.other.api_key})).status_code == 404
    assert (await api.http.get(path, headers={"X-Api-Key": api.tenant.chat_key})).status_code == 401


async def test_repeated_message_id_returns_the_first_reply(api: Api) -> None:
    body = api.chat(text="hello")
    h = {"X-Chat-Key": api.tenant.chat_key}
    first = (await api.http.post("/v1/chat/messages", json=body, headers=h)).json()
    second = await api.http.post("/v1/chat/messages", json=body, headers=h)
    assert second.status_code == 200
    assert second.json()["reply"] == first["reply"] and second.json()["duplicate"] is True
    path = f"/v1/customers/{first['customer_id']}/transcript"
    view = (await api.http.get(path, headers={"X-Api-Key": api.tenant.api_key})).json()
    assert view["turns"] == 1


@pytest.mark.parametrize(
    ("headers", "why"),
    [({}, "no key"), ({"X-Chat-Key": "sf_chat_nope"}, "unknown key")],
)
async def test_unknown_key_is_401_and_starts_nothing(
    api: Api, dev_env: WorkflowEnvironment, headers: dict[str, str], why: str
) -> None:
    r = await api.http.post("/v1/chat/messages", json=api.chat(), headers=headers)
    assert r.status_code == 401, why
    assert "traceback" not in r.text.lower()


async def test_api_key_is_not_a_chat_key(api: Api) -> None:
    r = await api.http.post(
        "/v1/chat/messages", json=api.chat(), headers={"X-Chat-Key": api.tenant.api_key}
    )
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"text": 5}, "text"),
        ({"message_id": ""}, "message_id"),
        ({"visitor_id": None}, "visitor_id"),
        ({"email": "not-an-email"}, "email"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_malformed_body_is_422_naming_the_field(
    api: Api, patch: dict[str, object], field: str
) -> None:
    r = await api.http.post(
        "/v1/chat/messages",
        json={**api.chat(), **patch},
        headers={"X-Chat-Key": api.tenant.chat_key},
    )
    assert r.status_code == 422
    assert any(field in err["loc"] for err in r.json()["detail"])


async def test_invalid_json_is_422(api: Api) -> None:
    r = await api.http.post(
        "/v1/chat/messages",
        content=b"{not json",
        headers={"X-Chat-Key": api.tenant.chat_key, "Content-Type": "application/json"},
    )
    assert r.status_code == 422


async def test_message_over_16kb_is_413_and_changes_nothing(api: Api) -> None:
    h = {"X-Chat-Key": api.tenant.chat_key}
    body = api.chat(text="a" * (16 * 1024 + 1))
    r = await api.http.post("/v1/chat/messages", json=body, headers=h)
    assert r.status_code == 413
    huge = await api.http.post("/v1/chat/messages", json=api.chat(text="a" * 200_000), headers=h)
    assert huge.status_code == 413
    # No conversation was started for that visitor: a later message is turn 1.
    ok = (await api.http.post("/v1/chat/messages", json={**body, "text": "hi"}, headers=h)).json()
    path = f"/v1/customers/{ok['customer_id']}/transcript"
    view = (await api.http.get(path, headers={"X-Api-Key": api.tenant.api_key})).json()
    assert view["turns"] == 1


async def test_websocket_pushes_replies(api: Api) -> None:
    ws_url = api.url.replace("http", "ws") + (
        f"/v1/chat/stream?chat_key={api.tenant.chat_key}&visitor_id=v-ws-{uuid.uuid4().hex[:6]}"
    )
    async with websockets.connect(ws_url) as ws:
        await ws.send(
            json.dumps(
                {
                    "message_id": "w1",
                    "text": "where is my order #W2611340",
                    "identity_token": api.token(JAMES),
                }
            )
        )
        reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert reply["type"] == "reply" and "357962501027" in reply["reply"]
        await ws.send(json.dumps({"message_id": "w2", "text": 7}))
        err = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert err["type"] == "error" and err["status"] == 422 and "text" in err["detail"]
        await ws.send("[1, 2]")
        err = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert err["status"] == 422


async def test_websocket_with_wrong_key_is_refused(api: Api) -> None:
    ws_url = api.url.replace("http", "ws") + "/v1/chat/stream?chat_key=bad&visitor_id=v"
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(ws_url):
            pass


async def test_chat_page_is_served(api: Api) -> None:
    r = await api.http.get("/chat")
    assert r.status_code == 200 and "/v1/chat/stream" in r.text


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def test_chat_page_in_a_real_browser(api: Api, tmp_path: Path) -> None:
    """A person opens /chat in Debian's Chromium, types a question, and reads the answer."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            # A shopper signed in on the store's site: the page carries the identity token.
            token = api.token(JAMES)
            await page.goto(f"{api.url}/chat?key={api.tenant.chat_key}&identity_token={token}")
            await page.fill("#text", "where is my order #W2611340")
            await page.click("button[type=submit]")
            answer = page.locator(".msg.agent").first
            await answer.wait_for(timeout=30_000)
            text = await answer.inner_text()
            await page.screenshot(path=str(tmp_path / "chat.png"))
        finally:
            await browser.close()
    assert "357962501027" in text


async def test_merchant_rewords_a_reply_and_facts_still_come_from_the_store(api: Api) -> None:
    key = {"X-Api-Key": api.tenant.api_key}
    source = (
        "Hey! {{ order_id }}: {{ status_phrase }}. Track it with {{ tracking_ids | join(' / ') }}."
    )
    r = await api.http.put("/v1/templates/order_status", json={"source": source}, headers=key)
    assert r.status_code == 204, r.text
    listed = (await api.http.get("/v1/templates", headers=key)).json()
    assert next(t for t in listed if t["name"] == "order_status")["override"] == source

    chat = {"X-Chat-Key": api.tenant.chat_key}
    body = api.chat(text="where is my order #W2611340", identity_token=api.token(JAMES))
    reply = (await api.http.post("/v1/chat/messages", json=body, headers=chat)).json()["reply"]
    assert reply.startswith("Hey! #W2611340") and "357962501027" in reply

    # Another tenant keeps the default wording.
    other = (
        await api.http.post(
            "/v1/chat/messages",
            json=api.chat(
                text="where is my order #W2611340", identity_token=api.token(JAMES, api.other)
            ),
            headers={"X-Chat-Key": api.other.chat_key},
        )
    ).json()["reply"]
    assert not other.startswith("Hey!") and "357962501027" in other

    # Reset to the default.
    assert (await api.http.delete("/v1/templates/order_status", headers=key)).status_code == 204
    listed = (await api.http.get("/v1/templates", headers=key)).json()
    assert next(t for t in listed if t["name"] == "order_status")["override"] is None


@pytest.mark.parametrize(
    ("name", "source", "status", "says"),
    [
        ("order_status", "{{ credit_card }}", 422, "credit_card"),
        ("order_status", "{% if %}", 422, "syntax"),
        ("order_status", "{{ ''.__class__.__mro__ }}", 422, "may not use"),
        ("order_status", "{{ order_id | nosuchfilter }}", 422, "nosuchfilter"),
        ("order_status", "   ", 422, "empty"),
        ("no_such_reply", "hello", 404, "no_such_reply"),
    ],
)
async def test_bad_templates_are_refused_and_change_nothing(
    api: Api, name: str, source: str, status: int, says: str
) -> None:
    key = {"X-Api-Key": api.tenant.api_key}
    r = await api.http.put(f"/v1/templates/{name}", json={"source": source}, headers=key)
    assert r.status_code == status, r.text
    assert says in r.json()["detail"]
    listed = (await api.http.get("/v1/templates", headers=key)).json()
    assert all(t["override"] is None for t in listed)


async def test_templates_need_the_secret_key(api: Api) -> None:
    r = await api.http.get("/v1/templates", headers={"X-Api-Key": api.tenant.chat_key})
    assert r.status_code == 401


async def test_merchant_sets_a_policy_and_bad_ones_change_nothing(api: Api) -> None:
    key = {"X-Api-Key": api.tenant.api_key}
    default = (await api.http.get("/v1/policy", headers=key)).json()
    assert default["max_auto_refund"] is None
    bad = await api.http.put(
        "/v1/policy", json={"max_auto_refund": 50, "approval_above": 80}, headers=key
    )
    assert bad.status_code == 422 and "approval_above" in bad.json()["detail"]
    typo = await api.http.put("/v1/policy", json={"max_auto_refnd": 50}, headers=key)
    assert typo.status_code == 422 and "max_auto_refnd" in typo.json()["detail"]
    assert (await api.http.get("/v1/policy", headers=key)).json() == default
    ok = await api.http.put("/v1/policy", json={"max_auto_refund": 250}, headers=key)
    assert ok.status_code == 200 and ok.json()["max_auto_refund"] == 250
    assert (await api.http.get("/v1/policy", headers=key)).json()["max_auto_refund"] == 250
    other = {"X-Api-Key": api.other.api_key}
    assert (await api.http.get("/v1/policy", headers=other)).json()["max_auto_refund"] is None
    chat_key = {"X-Api-Key": api.tenant.chat_key}
    assert (await api.http.put("/v1/policy", json={}, headers=chat_key)).status_code == 401
