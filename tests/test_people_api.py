"""The people behind the agents over the real API (uvicorn on loopback, real workers, the
Temporal dev server, the demo store): the inbox, claiming, replying on the customer's channel,
handing back, approvals within each operator's limit, and the audit entries they leave."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.identity.tokens import sign_identity_token
from supportflow.operators.accounts import create_operator
from supportflow.policy.store import PolicyStore
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import TEST_KEYRING, free_port, running_workers, serve_api, store_order

HUMAN = "yara.sanchez4385@example.com"  # asks for a person; has an account
APPROVE = ("mia.gonzalez7079@example.com", "#W8991836")  # pending, paid 1,996.55


@dataclass
class Desk:
    http: httpx.AsyncClient
    settings: Settings
    sessions: sessionmaker[Session]
    shop: CreatedTenant
    other: CreatedTenant

    def operator(
        self, role: str, limit: str | None = None, *, other: bool = False
    ) -> dict[str, str]:
        """Headers of a new operator's personal API token."""
        made = create_operator(
            self.sessions,
            (self.other if other else self.shop).tenant_id,
            f"{role}-{uuid.uuid4().hex[:6]}@shop.example",
            role,
            Decimal(limit) if limit is not None else None,
            actor="test",
        )
        return {"Authorization": f"Bearer {made.api_token}"}

    async def say(self, visitor: str, text: str, email: str) -> dict[str, Any]:
        secret = self.shop.identity_secret
        assert secret is not None
        r = await self.http.post(
            "/v1/chat/messages",
            headers={"X-Chat-Key": self.shop.chat_key},
            json={
                "visitor_id": visitor,
                "message_id": uuid.uuid4().hex,
                "text": text,
                "identity_token": sign_identity_token(secret, email=email),
            },
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def updates(self, visitor: str, after: int = 0) -> dict[str, Any]:
        r = await self.http.get(
            "/v1/chat/updates",
            params={"visitor_id": visitor, "after": after},
            headers={"X-Chat-Key": self.shop.chat_key},
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture
async def desk(dev_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Desk]:
    settings = settings.model_copy(
        update={"api_port": free_port(), "chat_reply_wait_seconds": 30.0}
    )
    url = settings.resolved_database_url
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    shop = create_tenant(sessions, "Desk Shop", keyring=TEST_KEYRING)
    other = create_tenant(sessions, "Other Shop", keyring=TEST_KEYRING)
    PolicyStore(sessions).put(shop.tenant_id, {"approval_above": 500})
    try:
        async with (
            running_workers(dev_env.client, settings),
            serve_api(settings, dev_env.client, http_timeout=60) as http,
        ):
            yield Desk(http, settings, sessions, shop, other)
    finally:
        engine.dispose()


async def test_an_operator_takes_a_handed_over_conversation_and_answers_in_the_chat(
    desk: Desk,
) -> None:
    agent, supervisor = desk.operator("agent", "100"), desk.operator("supervisor")
    outsider = desk.operator("admin", other=True)
    visitor = "v-" + uuid.uuid4().hex[:8]
    asked = await desk.say(visitor, "I want to talk to a human", HUMAN)
    customer = asked["customer_id"]
    assert "member of our support team" in asked["reply"]

    r = await desk.http.get("/v1/inbox", headers=agent)
    assert r.status_code == 200, r.text
    [line] = [i for i in r.json()["items"] if i["customer_id"] == customer]
    assert line["reason"] == "handoff" and line["held_by"] is None and line["channel"] == "chat"
    assert line["waiting_seconds"] >= 0 and "/workflows/sf%2F" in line["temporal_url"]
    assert (await desk.http.get("/v1/inbox", headers=outsider)).json()["items"] == []
    r = await desk.http.get(f"/v1/conversations/{customer}", headers=outsider)
    assert r.status_code == 404, "another tenant's operator never sees it"
    assert (await desk.http.get("/v1/inbox")).status_code == 401

    base = f"/v1/conversations/{customer}"
    r = await desk.http.post(f"{base}/replies", json={"text": "hi"}, headers=agent)
    assert r.status_code == 409, "reply before claiming"
    assert (await desk.http.post(f"{base}/claim", json={}, headers=agent)).status_code == 200
    r = await desk.http.post(f"{base}/claim", json={}, headers=supervisor)
    assert r.status_code == 409 and "another operator" in r.json()["detail"]
    r = await desk.http.post(f"{base}/claim", json={"take_over": True}, headers=agent)
    assert r.status_code == 403

    sent = await desk.http.post(
        f"{base}/replies",
        json={"text": "Hi, this is Sam from the shop. How can I help?", "reply_id": "r-1"},
        headers=agent,
    )
    assert sent.status_code == 201, sent.text
    again = await desk.http.post(
        f"{base}/replies",
        json={"text": "Hi, this is Sam from the shop. How can I help?", "reply_id": "r-1"},
        headers=agent,
    )
    assert again.json()["seq"] == sent.json()["seq"], "a retried reply is one reply"
    shown = await desk.updates(visitor)
    operator_lines = [m for m in shown["messages"] if m["role"] == "operator"]
    assert [m["text"] for m in operator_lines] == ["Hi, this is Sam from the shop. How can I help?"]
    later = await desk.updates(visitor, after=shown["last_seq"])
    assert later["messages"] == []

    held = await desk.say(visitor, "my parcel never came", HUMAN)
    assert held["held"] is True and held["reply"] == ""
    view = (await desk.http.get(base, headers=agent)).json()
    assert view["held_by"] is not None
    assert [e["role"] for e in view["entries"]][-3:] == ["agent", "operator", "customer"]
    profile = (await desk.http.get(f"{base}/profile", headers=agent)).json()
    assert profile["user"]["email"] == HUMAN and isinstance(profile["orders"], list)

    r = await desk.http.post(f"{base}/release", json={}, headers=supervisor)
    assert r.status_code == 409, "only the holder (or a supervisor forcing it) releases"
    assert (await desk.http.post(f"{base}/release", json={}, headers=agent)).status_code == 200
    assert [i for i in (await desk.http.get("/v1/inbox", headers=agent)).json()["items"]] == []
    back = await desk.say(visitor, "thanks!", HUMAN)
    assert back["held"] is False and back["reply"]

    r = await desk.http.get("/v1/audit", params={"action": "conversation"}, headers=supervisor)
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    actions = [e["action"] for e in entries]
    assert actions.count("conversation.claim") == 1 and actions.count("conversation.release") == 1
    assert actions.count("conversation.reply") == 1
    assert all(e["workflow_id"] == line["workflow_id"] for e in entries)
    assert not any("Sam" in str(e) for e in entries), "no message text in the audit"


async def test_an_approval_is_decided_within_the_operators_limit(desk: Desk) -> None:
    agent, supervisor = desk.operator("agent", "100"), desk.operator("supervisor")
    email, order_id = APPROVE
    visitor = "v-" + uuid.uuid4().hex[:8]
    await desk.say(visitor, f"cancel order {order_id}, I no longer need it", email)
    asked = await desk.say(visitor, "yes", email)
    assert "approv" in asked["reply"]
    [line] = (await desk.http.get("/v1/approvals", headers=agent)).json()["items"]
    approval = line["approval"]
    assert approval["order_id"] == order_id and approval["amount"] > 500
    url = f"/v1/approvals/{approval['approval_id']}"
    seen = (await desk.updates(visitor))["last_seq"]
    waiting = await desk.http.get(f"/v1/conversations/{line['customer_id']}", headers=agent)
    open_case = waiting.json()["open_case"]
    assert open_case["step"] == "approval" and open_case["order_id"] == order_id

    r = await desk.http.post(url, json={"decision": "approve"}, headers=agent)
    assert r.status_code == 403 and "limit" in r.json()["detail"]
    assert (await store_order(desk.settings, order_id))["status"] == "pending"
    r = await desk.http.post(url, json={"decision": "maybe"}, headers=supervisor)
    assert r.status_code == 422

    r = await desk.http.post(url, json={"decision": "approve"}, headers=supervisor)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    assert (await store_order(desk.settings, order_id))["status"] == "cancelled"
    told = (await desk.updates(visitor, after=seen))["messages"]
    assert len(told) == 1 and "cancelled" in told[0]["text"]
    r = await desk.http.post(url, json={"decision": "deny"}, headers=supervisor)
    assert r.status_code in (404, 409), "decided already: nothing changes"
    entries = (
        await desk.http.get("/v1/audit", params={"action": "approval"}, headers=supervisor)
    ).json()["entries"]
    assert [e["action"] for e in entries] == ["approval.approve"]
    # The conversation shows every action taken in it, to anyone who may read the inbox.
    customer = line["customer_id"]
    view = (await desk.http.get(f"/v1/conversations/{customer}", headers=agent)).json()
    taken = [(a["action"], a["actor_kind"]) for a in view["actions"]]
    assert ("approval.approve", "operator") in taken
    assert {"store.hold_order", "store.refund_order", "store.cancel_order"} <= {
        action for action, kind in taken if kind == "agent"
    }


async def test_sign_ins_and_operator_changes_are_in_the_audit_trail(desk: Desk) -> None:
    admin = {"X-Api-Key": desk.shop.api_key}
    r = await desk.http.post(
        "/v1/operators",
        json={"email": "new.agent@shop.example", "role": "agent", "approval_limit": "50"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    made = r.json()
    wrong = {"tenant_id": desk.shop.tenant_id, "email": "new.agent@shop.example"}
    async with httpx.AsyncClient(base_url=desk.settings.api_url) as browser:
        bad = await browser.post("/v1/auth/login", json={**wrong, "password": "not-it-at-all"})
        assert bad.status_code == 401
        ok = await browser.post("/v1/auth/login", json={**wrong, "password": made["password"]})
        assert ok.status_code == 200
    operator_id = made["operator"]["operator_id"]
    for _ in range(50):  # sign-ins are recorded just after the answer is sent
        page = await desk.http.get("/v1/audit", params={"action": "operator"}, headers=admin)
        entries = page.json()["entries"]
        if len(entries) >= 3:
            break
        await asyncio.sleep(0.1)
    got = sorted((e["action"], e["target"], e["actor_id"]) for e in entries)
    created = [e for e in entries if e["action"] == "operator.created"]
    assert [(e["target"], e["actor_kind"]) for e in created] == [(operator_id, "api_key")]
    assert ("operator.login", operator_id, operator_id) in got
    assert ("operator.login_failed", operator_id, operator_id) in got
    assert "new.agent@shop.example" not in page.text, "no emails in the audit trail"


async def test_an_operators_reply_is_pushed_to_the_customers_open_chat_socket(desk: Desk) -> None:
    agent = desk.operator("agent")
    visitor = "v-" + uuid.uuid4().hex[:8]
    ws_url = desk.settings.api_url.replace("http://", "ws://")
    secret = desk.shop.identity_secret
    assert secret is not None
    async with websockets.connect(
        f"{ws_url}/v1/chat/stream?chat_key={desk.shop.chat_key}&visitor_id={visitor}"
    ) as ws:
        await ws.send(
            json.dumps(
                {
                    "message_id": uuid.uuid4().hex,
                    "text": "can I talk to a person please",
                    "identity_token": sign_identity_token(secret, email=HUMAN),
                }
            )
        )
        answer = json.loads(await asyncio.wait_for(ws.recv(), 60))
        assert answer["type"] == "reply" and "support team" in answer["reply"]
        base = f"/v1/conversations/{answer['customer_id']}"
        assert (await desk.http.post(f"{base}/claim", json={}, headers=agent)).status_code == 200
        r = await desk.http.post(
            f"{base}/replies", json={"text": "Hello, Kim here."}, headers=agent
        )
        assert r.status_code == 201
        pushed = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert pushed["type"] == "message" and pushed["role"] == "operator"
        assert pushed["text"] == "Hello, Kim here." and pushed["seq"] == r.json()["seq"]
